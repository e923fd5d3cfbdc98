/**
 * Provenance: where a result came from. {@linkcode captureProvenance} records
 * the git state of the vault repository, the runtime and host, the SHA-256
 * of the protocol and of `deno.lock`, and the npm packages the protocol
 * resolves to. Every part is best effort: what cannot be captured (no git,
 * no permission) is left empty and named in `errors`, never guessed.
 *
 * @module
 */
import { cpus, dirname, join, relative, resolve, totalmem } from "../_deps.ts";
import { sha256File, sha256Hex } from "../_hash.ts";
import { errorMessage } from "../errors.ts";
import type { GitState, Provenance } from "../specimen/manifest_types.ts";

export type { GitState, Provenance } from "../specimen/manifest_types.ts";

/** The protocol's file name inside a specimen folder. */
export const PROTOCOL_FILE = "protocol.ts";

/** Most dirty paths listed in {@linkcode GitState.dirty_files}. */
export const MAX_DIRTY_FILES = 200;

/** Options for {@linkcode captureProvenance}. */
export interface CaptureProvenanceOptions {
  /** The specimen folder (holding `protocol.ts`). */
  specimenDir: string;
  /** Recorded as `captured_by`. @default "SpecimenStorage" */
  capturedBy?: string;
  /**
   * The `deno.json` the protocol runs with, when none is found at or above
   * the specimen folder (a vault outside the repository).
   */
  config?: string;
  /** Skip `deno info` and list the lock file's packages instead (faster). @default false */
  skipModuleGraph?: boolean;
}

/**
 * Captures the provenance of a run of the specimen at `specimenDir`. Never
 * throws for a missing piece: it is left null and explained in `errors`.
 *
 * Uses `--allow-read`; `--allow-run` (git, deno info) and `--allow-sys`
 * (host details) for the full record.
 *
 * @example
 * ```ts ignore
 * import { captureProvenance } from "./provenance.ts";
 * const p = await captureProvenance({ specimenDir: "specimens/my_run" });
 * console.log(p.git.commit, p.protocol.sha256, p.npm_packages);
 * ```
 */
export async function captureProvenance(
  options: CaptureProvenanceOptions,
): Promise<Provenance> {
  const dir = resolve(options.specimenDir);
  const errors: string[] = [];
  const attempt = async <T>(what: string, fn: () => T | Promise<T>) => {
    try {
      return await fn();
    } catch (e) {
      errors.push(`${what}: ${errorMessage(e)}`);
      return null;
    }
  };

  // Ask only for what is granted: a missing permission must not prompt.
  const may = (d: Deno.PermissionDescriptor, what: string) => {
    if (granted(d)) return true;
    errors.push(`${what}: no permission (${permissionFlag(d)})`);
    return false;
  };
  const protocolPath = join(dir, PROTOCOL_FILE);
  // Outside the repository no deno.json is above the protocol: it was run
  // with the library's own (--config), which is what resolved its imports.
  const config = options.config ?? await attempt(
    "deno.json",
    () => findDenoConfig(dir),
  ) ?? LIBRARY_CONFIG;
  const [protocol, git, lockfile, cpuInfo] = await Promise.all([
    attempt("protocol", () => sha256File(protocolPath, dir)),
    may({ name: "run", command: "git" }, "git")
      ? attempt("git", () => gitState(dir))
      : null,
    attempt("lockfile", () => lockfileOf(dir, config)),
    may({ name: "sys", kind: "cpus" }, "cpu") ? attempt("cpu", cpus) : null,
  ]);
  const graph = !options.skipModuleGraph && granted({ name: "read" }) &&
    may({ name: "run" }, "deno info");
  const packages = await attempt(
    "npm packages",
    () => npmPackages(dir, protocolPath, config, lockfile, graph, errors),
  );
  const sys = async <T>(
    kind: NonNullable<Deno.SysPermissionDescriptor["kind"]>,
    fn: () => T,
  ) => may({ name: "sys", kind }, kind) ? await attempt(kind, fn) : null;
  return {
    captured: new Date().toISOString(),
    captured_by: options.capturedBy ?? "SpecimenStorage",
    protocol: {
      path: PROTOCOL_FILE,
      sha256: protocol?.sha256 ?? null,
      bytes: protocol?.bytes ?? null,
    },
    git: git ?? {
      commit: null,
      branch: null,
      dirty: null,
      dirty_files: [],
      dirty_files_total: 0,
      excluded: null,
    },
    runtime: { ...Deno.version },
    host: {
      os: Deno.build.os,
      os_release: await sys("osRelease", () => Deno.osRelease()),
      arch: Deno.build.arch,
      cpu_model: cpuInfo?.[0]?.model?.trim() || null,
      cpu_count: cpuInfo?.length || navigator.hardwareConcurrency || null,
      memory_bytes: await sys("systemMemoryInfo", () => totalmem()),
      hostname: await sys("hostname", () => Deno.hostname()),
    },
    lockfile: lockfile === null
      ? null
      : { path: lockfile.path, sha256: lockfile.sha256 },
    npm_packages: packages?.list ?? [],
    npm_packages_source: packages?.source ?? null,
    errors,
  };
}

/**
 * The `deno.json` (or `deno.jsonc`) Deno would use for a script in `dir`:
 * the nearest one at or above it, or null.
 *
 * @example
 * ```ts ignore
 * import { findDenoConfig } from "./provenance.ts";
 * console.log(await findDenoConfig("specimens/my_run")); // ".../deno.json"
 * ```
 */
export async function findDenoConfig(dir: string): Promise<string | null> {
  let at = resolve(dir);
  while (true) {
    for (const name of ["deno.json", "deno.jsonc"]) {
      try {
        if ((await Deno.stat(join(at, name))).isFile) return join(at, name);
      } catch (e) {
        if (!(e instanceof Deno.errors.NotFound)) throw e;
      }
    }
    const up = dirname(at);
    if (up === at) return null;
    at = up;
  }
}

/** The library's own deno.json, for protocols in a vault outside the repository. */
export const LIBRARY_CONFIG: string = resolve(
  import.meta.dirname ?? ".",
  "..",
  "..",
  "deno.json",
);

/** Runs a command, returning stdout; throws with its stderr when it fails. */
async function output(
  cmd: string,
  args: string[],
  cwd: string,
): Promise<string> {
  const out = await new Deno.Command(cmd, {
    args,
    cwd,
    // Read-only: git may not take the index lock or refresh the index.
    env: { GIT_OPTIONAL_LOCKS: "0", NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim().split("\n")[0];
    throw new Error(`${cmd} ${args[0]} exited with ${out.code}: ${err}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function gitState(dir: string): Promise<GitState> {
  const top = (await output("git", ["rev-parse", "--show-toplevel"], dir))
    .trim();
  const excluded = relative(await Deno.realPath(top), await Deno.realPath(dir))
    .replaceAll("\\", "/");
  const status = await output("git", [
    "status",
    "--porcelain=v2",
    "--branch",
    "-z",
    "--untracked-files=all",
    "--",
    ":(top)",
    ":(exclude).",
  ], dir);
  let commit: string | null = null;
  let branch: string | null = null;
  const dirty: string[] = [];
  const fields = status.split("\0");
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i];
    if (f === "") continue;
    if (f.startsWith("# branch.oid ")) {
      const oid = f.slice(13);
      commit = /^[0-9a-f]{40,64}$/.test(oid) ? oid : null;
    } else if (f.startsWith("# branch.head ")) {
      const head = f.slice(14);
      branch = head === "(detached)" ? null : head;
    } else if (f.startsWith("? ")) dirty.push(`?? ${f.slice(2)}`);
    else if (f.startsWith("1 ") || f.startsWith("u ")) {
      const parts = f.split(" ");
      const path = parts.slice(f[0] === "1" ? 8 : 10).join(" ");
      dirty.push(`${parts[1].replaceAll(".", " ")} ${path}`);
    } else if (f.startsWith("2 ")) {
      const parts = f.split(" ");
      dirty.push(
        `${parts[1].replaceAll(".", " ")} ${parts.slice(9).join(" ")}`,
      );
      i++; // the original path of a rename follows
    }
  }
  return {
    commit,
    branch,
    dirty: dirty.length > 0,
    dirty_files: dirty.slice(0, MAX_DIRTY_FILES),
    dirty_files_total: dirty.length,
    excluded: excluded === "" ? "." : excluded,
  };
}

interface Lockfile {
  path: string;
  sha256: string;
  json: {
    specifiers?: Record<string, string>;
    npm?: Record<string, { os?: string[]; cpu?: string[] }>;
  };
}

async function lockfileOf(
  dir: string,
  config: string | undefined,
): Promise<Lockfile | null> {
  if (config === undefined) return null;
  const path = join(dirname(config), "deno.lock");
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return {
    path: relative(dir, path).replaceAll("\\", "/"),
    sha256: sha256Hex(bytes),
    json: JSON.parse(new TextDecoder().decode(bytes)),
  };
}

interface DenoInfo {
  modules?: {
    kind?: string;
    npmPackage?: string;
    error?: string;
    dependencies?: {
      specifier?: string;
      code?: { error?: string };
      type?: { error?: string };
    }[];
  }[];
  npmPackages?: Record<string, { dependencies?: string[] }>;
}

async function npmPackages(
  dir: string,
  protocolPath: string,
  config: string | undefined,
  lock: Lockfile | null,
  graph: boolean,
  errors: string[],
): Promise<{ list: string[]; source: "deno info" | "deno.lock" } | null> {
  if (graph) {
    try {
      const info: DenoInfo = JSON.parse(
        await output(Deno.execPath(), [
          "info",
          "--json",
          ...(config ? ["--config", config] : []),
          protocolPath,
        ], dir),
      );
      // An import that does not resolve leaves the graph incomplete: say so.
      for (const m of info.modules ?? []) {
        if (m.error) errors.push(`deno info: ${m.error}`);
        for (const d of m.dependencies ?? []) {
          const err = d.code?.error ?? d.type?.error;
          if (err) errors.push(`deno info: ${err}`);
        }
      }
      return { list: usedPackages(info, lock), source: "deno info" };
    } catch (e) {
      errors.push(`deno info: ${(e as Error).message}`);
    }
  }
  if (lock === null) return null;
  const pinned = Object.entries(lock.json.specifiers ?? {})
    .filter(([spec]) => spec.startsWith("npm:"))
    .map(([spec, version]) => {
      const name = /^npm:(@?[^@]+)/.exec(spec)![1];
      return `${name}@${version}`;
    });
  return { list: [...new Set(pinned)].sort(), source: "deno.lock" };
}

/**
 * The packages the module graph imports, and theirs transitively, leaving
 * out optional builds for other platforms (per the lock file's os/cpu).
 */
function usedPackages(info: DenoInfo, lock: Lockfile | null): string[] {
  const all = info.npmPackages ?? {};
  const os = ({ windows: "win32" } as Record<string, string>)[Deno.build.os] ??
    Deno.build.os;
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[
    Deno.build.arch
  ] ?? Deno.build.arch;
  const fits = (id: string) => {
    const entry = lock?.json.npm?.[id];
    return (!entry?.os || entry.os.includes(os)) &&
      (!entry?.cpu || entry.cpu.includes(arch));
  };
  const seen = new Set<string>();
  const visit = (id: string) => {
    if (seen.has(id) || !fits(id)) return;
    seen.add(id);
    for (const dep of all[id]?.dependencies ?? []) visit(dep);
  };
  for (const m of info.modules ?? []) {
    if (m.kind === "npm" && m.npmPackage) visit(m.npmPackage);
  }
  return [...seen].sort();
}

function granted(desc: Deno.PermissionDescriptor): boolean {
  try {
    return Deno.permissions.querySync(desc).state === "granted";
  } catch {
    return false;
  }
}

function permissionFlag(d: Deno.PermissionDescriptor): string {
  if (d.name === "run") return `--allow-run${d.command ? `=${d.command}` : ""}`;
  if (d.name === "sys") return `--allow-sys${d.kind ? `=${d.kind}` : ""}`;
  return `--allow-${d.name}`;
}
