/**
 * The environment a child program runs in, for a run's provenance: the
 * resolved executable and its SHA-256; for Python, its version, installed
 * packages (through `importlib.metadata`, so no pip is needed) and torch with
 * CUDA when torch imports; the GPUs when `nvidia-smi` exists.
 *
 * Every part that cannot be read becomes `{ reason }` instead of a value,
 * never an exception; every probe is a child process with a time limit.
 *
 * Permissions: `--allow-read` (PATH lookup, hashing), `--allow-run` (the
 * interpreter and `nvidia-smi`), `--allow-env=PATH` unless `env.PATH` is
 * given.
 *
 * @module
 */
import { createHash, isAbsolute, resolve } from "../_deps.ts";

/** A part that could not be read, and why. */
export interface Unavailable {
  /** Why it could not be read, e.g. `"nvidia-smi is not on PATH"`. */
  reason: string;
}

/** The program that runs. */
export interface ExecutableInfo {
  /** Where the command was found (PATH lookup, or as given). */
  path: string;
  /** The file it resolves to (symlinks followed). */
  realpath: string;
  /** SHA-256 of that file, hex. */
  sha256: string;
  /** Its size in bytes. */
  bytes: number;
}

/** Torch, as the child's Python sees it. */
export interface TorchInfo {
  /** `torch.__version__`. */
  version: string;
  /** `torch.cuda.is_available()`. */
  cuda_available: boolean;
  /** The CUDA version torch was built with, or null for a CPU build. */
  cuda_version: string | null;
  /** `torch.cuda.get_device_name(0)` when CUDA is available. */
  device_name: string | null;
}

/** The child's Python. */
export interface PythonInfo {
  /** What `python --version` prints, e.g. `"Python 3.11.2"`. */
  version: string | Unavailable;
  /** Installed distributions and their versions. */
  packages: Record<string, string> | Unavailable;
  /** Torch, or why not (e.g. it is not installed). */
  torch: TorchInfo | Unavailable;
}

/** One GPU, from `nvidia-smi`. */
export interface GpuInfo {
  /** The model, e.g. `"NVIDIA A100-SXM4-40GB"`. */
  name: string;
  /** The driver's version. */
  driver_version: string;
  /** Its memory in bytes. */
  memory_total_bytes: number;
}

/** The child's environment, for the manifest's `provenance`. */
export interface ChildEnvironment {
  /** The command as given. */
  command: string[];
  /** The program that runs, or why it could not be found or read. */
  executable: ExecutableInfo | Unavailable;
  /** Present when the executable is a Python interpreter. */
  python?: PythonInfo;
  /** The GPUs `nvidia-smi` lists, or why there is no list. */
  gpus: GpuInfo[] | Unavailable;
}

/** Options of {@linkcode probeChildEnvironment}. */
export interface ProbeOptions {
  /**
   * The child's environment (its `PATH` is used for the lookup).
   * @default this process's environment
   */
  env?: Record<string, string>;
  /**
   * The child's working directory (a relative command is resolved there).
   * @default the current directory
   */
  cwd?: string;
  /**
   * The longest each probe may run before it is stopped.
   * @default 10000
   */
  timeoutMs?: number;
}

const PACKAGES_SCRIPT = `
import json, importlib.metadata as m
out = {}
for d in m.distributions():
    name = d.metadata["Name"]
    if name: out[name] = d.version
print(json.dumps(out, sort_keys=True))
`;

const TORCH_SCRIPT = `
import json
try:
    import torch
except Exception as e:
    print(json.dumps({"reason": "torch does not import: %s: %s" % (type(e).__name__, e)}))
else:
    cuda = bool(torch.cuda.is_available())
    print(json.dumps({
        "version": str(torch.__version__),
        "cuda_available": cuda,
        "cuda_version": torch.version.cuda,
        "device_name": torch.cuda.get_device_name(0) if cuda else None,
    }))
`;

/**
 * Describes the environment `command` would run in: its executable (path and
 * SHA-256), Python details when it is a Python interpreter, and the GPUs.
 * Probes run in parallel, each stopped after `timeoutMs`.
 *
 * Needs `--allow-read`, `--allow-run`, and `--allow-env=PATH` unless
 * `options.env` has `PATH`.
 *
 * @param command The child's command line, e.g. `["python3", "train.py"]`.
 * @param options Its environment, working directory, and the time limit.
 * @returns Each part, or the reason it could not be read.
 * @example
 * ```ts
 * import { probeChildEnvironment } from "./child_env.ts";
 * const env = await probeChildEnvironment(["sh", "-c", "true"]);
 * if ("sha256" in env.executable) console.log(env.executable.path, env.executable.sha256);
 * console.assert(env.python === undefined);
 * ```
 */
export async function probeChildEnvironment(
  command: string[],
  options: ProbeOptions = {},
): Promise<ChildEnvironment> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const cwd = options.cwd ?? Deno.cwd();
  const gpus = probeGpus(options, timeoutMs);
  const executable = await resolveExecutable(command[0], options, cwd);
  const result: ChildEnvironment = {
    command,
    executable,
    gpus: { reason: "" },
  };
  const name = (command[0] ?? "").split("/").at(-1)!;
  const real = "realpath" in executable
    ? executable.realpath.split("/").at(-1)!
    : "";
  if (/^python[\d.]*$/.test(name) || /^python[\d.]*$/.test(real)) {
    const exe = "path" in executable ? executable.path : command[0];
    const [version, packages, torch] = await Promise.all([
      run(exe, ["--version"], options, timeoutMs).then((r) =>
        "reason" in r ? r : { ok: r.ok.trim() }
      ),
      run(exe, ["-c", PACKAGES_SCRIPT], options, timeoutMs).then(json),
      run(exe, ["-c", TORCH_SCRIPT], options, timeoutMs).then(json),
    ]);
    result.python = {
      version: "reason" in version ? version : version.ok as string,
      packages: packages as Record<string, string> | Unavailable,
      torch: torch as TorchInfo | Unavailable,
    };
  }
  result.gpus = await gpus;
  return result;
}

function json(r: { ok: string } | Unavailable): unknown {
  if ("reason" in r) return r;
  try {
    return JSON.parse(r.ok);
  } catch {
    return {
      reason: `printed ${JSON.stringify(r.ok.slice(0, 200))}, not JSON`,
    };
  }
}

async function resolveExecutable(
  cmd: string | undefined,
  options: ProbeOptions,
  cwd: string,
): Promise<ExecutableInfo | Unavailable> {
  if (!cmd) return { reason: "the command is empty" };
  let path: string | undefined;
  if (cmd.includes("/")) {
    path = isAbsolute(cmd) ? cmd : resolve(cwd, cmd);
    if (!(await isExecutable(path))) {
      return { reason: `"${path}" is not an executable file` };
    }
  } else {
    let pathVar: string | undefined;
    try {
      pathVar = options.env?.PATH ?? Deno.env.get("PATH");
    } catch (e) {
      return { reason: `PATH cannot be read: ${(e as Error).message}` };
    }
    for (const dir of (pathVar ?? "").split(":")) {
      const candidate = resolve(cwd, dir || ".", cmd);
      if (await isExecutable(candidate)) {
        path = candidate;
        break;
      }
    }
    if (!path) {
      return {
        reason: `"${cmd}" was not found on PATH (${pathVar ?? "unset"})`,
      };
    }
  }
  try {
    const realpath = await Deno.realPath(path);
    const { sha256, bytes } = await hashFile(realpath);
    return { path, realpath, sha256, bytes };
  } catch (e) {
    return { reason: `"${path}" cannot be read: ${(e as Error).message}` };
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}

async function hashFile(
  path: string,
): Promise<{ sha256: string; bytes: number }> {
  using file = await Deno.open(path, { read: true });
  const hash = createHash("sha256");
  const buf = new Uint8Array(1 << 20);
  let bytes = 0;
  for (;;) {
    const n = await file.read(buf);
    if (n === null) break;
    hash.update(buf.subarray(0, n));
    bytes += n;
  }
  return { sha256: hash.digest("hex"), bytes };
}

/** Runs a probe; its stdout, or why it failed. */
async function run(
  exe: string,
  args: string[],
  options: ProbeOptions,
  timeoutMs: number,
): Promise<{ ok: string } | Unavailable> {
  const what = `${exe.split("/").at(-1)} ${
    args[0] === "-c" ? "-c <probe>" : args.join(" ")
  }`;
  let out: Deno.CommandOutput;
  try {
    out = await new Deno.Command(exe, {
      args,
      cwd: options.cwd,
      env: options.env,
      clearEnv: options.env !== undefined,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(timeoutMs),
    }).output();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      return { reason: `${what}: not found` };
    }
    if (
      (e as Error).name === "TimeoutError" || (e as Error).name === "AbortError"
    ) {
      return { reason: `${what} took over ${timeoutMs} ms and was stopped` };
    }
    return { reason: `${what} failed: ${(e as Error).message}` };
  }
  const text = new TextDecoder();
  if (out.signal) {
    return {
      reason: `${what} was stopped by ${out.signal}${
        out.signal === "SIGTERM" ? ` (over ${timeoutMs} ms)` : ""
      }`,
    };
  }
  if (!out.success) {
    const err = text.decode(out.stderr).trim().split("\n").at(-1) ?? "";
    return { reason: `${what} exited with code ${out.code}: ${err}` };
  }
  // Python 2 printed its version on stderr.
  const stdout = text.decode(out.stdout);
  return { ok: stdout.trim() ? stdout : text.decode(out.stderr) };
}

async function probeGpus(
  options: ProbeOptions,
  timeoutMs: number,
): Promise<GpuInfo[] | Unavailable> {
  const r = await run(
    "nvidia-smi",
    [
      "--query-gpu=name,driver_version,memory.total",
      "--format=csv,noheader,nounits",
    ],
    options,
    timeoutMs,
  );
  if ("reason" in r) {
    return {
      reason: r.reason.endsWith("not found")
        ? "nvidia-smi is not on PATH (no NVIDIA driver here)"
        : r.reason,
    };
  }
  const gpus: GpuInfo[] = [];
  for (const line of r.ok.trim().split("\n")) {
    const [name, driver, mem] = line.split(",").map((s) => s.trim());
    if (!name || !driver || isNaN(Number(mem))) {
      return {
        reason: `nvidia-smi printed ${
          JSON.stringify(line)
        }, not name, driver, memory`,
      };
    }
    gpus.push({
      name,
      driver_version: driver,
      memory_total_bytes: Number(mem) * 1024 * 1024,
    });
  }
  return gpus;
}
