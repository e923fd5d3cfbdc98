import { join } from "../lib/_deps.ts";
import { probeChildEnvironment } from "../lib/bridge/child_env.ts";
import { assert, assertEquals, assertMatch, tempDir } from "./utils.ts";
import { hasNumpy, NO_NUMPY, PYTHON, runPython } from "./_python.ts";

const numpy = await hasNumpy();
if (!numpy) console.warn(`child_env_test: ${NO_NUMPY}`);

async function sha256sum(path: string): Promise<string> {
  const out = await new Deno.Command("sha256sum", { args: [path] }).output();
  return new TextDecoder().decode(out.stdout).split(" ")[0];
}

Deno.test({
  name:
    "probeChildEnvironment() records Debian Python: version, packages with numpy's version, torch's absence, executable hash",
  ignore: !numpy,
  async fn() {
    const env = await probeChildEnvironment([PYTHON, "train.py"]);
    assert("sha256" in env.executable, JSON.stringify(env.executable));
    if (!("sha256" in env.executable)) return;
    assertEquals(env.executable.path, PYTHON);
    assertEquals(env.executable.realpath, await Deno.realPath(PYTHON));
    assertEquals(env.executable.sha256, await sha256sum(PYTHON));
    const python = env.python!;
    const version =
      (await runPython("import platform; print(platform.python_version())"))
        .trim();
    assertEquals(python.version, `Python ${version}`);
    assert(!("reason" in python.packages), JSON.stringify(python.packages));
    const numpyVersion =
      (await runPython("import numpy; print(numpy.__version__)")).trim();
    assertEquals(
      (python.packages as Record<string, string>).numpy,
      numpyVersion,
    );
    const hasTorch = (await runPython(
      "import importlib.util as u; print(u.find_spec('torch') is not None)",
    )).trim() === "True";
    if (hasTorch) {
      assert("version" in python.torch, JSON.stringify(python.torch));
    } else {assertMatch(
        (python.torch as { reason: string }).reason,
        /torch does not import: ModuleNotFoundError/,
      );}
  },
});

Deno.test("probeChildEnvironment() finds a command on the child's PATH and hashes what it resolves to", async () => {
  await using dir = await tempDir();
  const bin = join(dir.path, "bin");
  await Deno.mkdir(bin);
  const tool = join(bin, "mytool");
  await Deno.writeTextFile(tool, "#!/bin/sh\necho hi\n", { mode: 0o755 });
  await Deno.symlink(tool, join(bin, "alias"));
  await Deno.writeTextFile(join(bin, "notexec"), "x", { mode: 0o644 });
  const env = { PATH: `${bin}:/usr/bin:/bin` };
  const found = await probeChildEnvironment(["alias", "--flag"], { env });
  assertEquals(found.command, ["alias", "--flag"]);
  assert("sha256" in found.executable);
  if ("sha256" in found.executable) {
    assertEquals(found.executable.path, join(bin, "alias"));
    assertEquals(found.executable.realpath, tool);
    assertEquals(found.executable.sha256, await sha256sum(tool));
    assertEquals(found.executable.bytes, 18);
  }
  assertEquals(found.python, undefined);
  const cases: [string[], RegExp][] = [
    [["no-such-tool"], /"no-such-tool" was not found on PATH/],
    [["notexec"], /was not found on PATH/],
    [["./missing"], /is not an executable file/],
    [[], /the command is empty/],
  ];
  for (const [command, reason] of cases) {
    const r = await probeChildEnvironment(command, { env, cwd: dir.path });
    assert("reason" in r.executable, JSON.stringify(r.executable));
    if ("reason" in r.executable) assertMatch(r.executable.reason, reason);
  }
});

Deno.test("probeChildEnvironment() gives a reason, never an error, for a Python that hangs or fails", async () => {
  await using dir = await tempDir();
  const hanging = join(dir.path, "hang", "python3");
  const failing = join(dir.path, "fail", "python3");
  await Deno.mkdir(join(dir.path, "hang"));
  await Deno.mkdir(join(dir.path, "fail"));
  await Deno.writeTextFile(hanging, "#!/bin/sh\nexec sleep 3600\n", {
    mode: 0o755,
  });
  await Deno.writeTextFile(
    failing,
    "#!/bin/sh\necho 'boom: broken install' >&2\nexit 3\n",
    { mode: 0o755 },
  );
  const started = performance.now();
  const hung = await probeChildEnvironment([hanging], { timeoutMs: 500 });
  // It would hang for an hour: the bound only guards against that.
  assert(performance.now() - started < 60_000);
  for (
    const part of [
      hung.python!.version,
      hung.python!.packages,
      hung.python!.torch,
    ]
  ) {
    assertMatch((part as { reason: string }).reason, /over 500 ms/);
  }
  const failed = await probeChildEnvironment([failing]);
  for (
    const part of [
      failed.python!.version,
      failed.python!.packages,
      failed.python!.torch,
    ]
  ) {
    assertMatch(
      (part as { reason: string }).reason,
      /exited with code 3: boom: broken install/,
    );
  }
});

Deno.test("probeChildEnvironment() says why there are no GPUs when nvidia-smi is absent", async () => {
  let hasSmi = true;
  try {
    await new Deno.Command("nvidia-smi", { stdout: "null" }).output();
  } catch {
    hasSmi = false;
  }
  const env = await probeChildEnvironment(["sh"]);
  if (hasSmi) {
    assert(Array.isArray(env.gpus));
    return;
  }
  assertEquals(env.gpus, {
    reason: "nvidia-smi is not on PATH (no NVIDIA driver here)",
  });
});
