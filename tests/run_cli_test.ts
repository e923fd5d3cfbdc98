import { join, relative } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { ImmutableArtifactError } from "../lib/errors.ts";
import {
  type Manifest,
  readManifest,
  writeManifest,
} from "../lib/specimen/manifest.ts";
import type { Provenance } from "../lib/run/provenance.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
  webSha256,
} from "./utils.ts";

/** The run task's permission flags, as in deno.json. */
const RUN_FLAGS = await taskFlags("run");

function runTaskCli(args: string[], opts: { cwd?: string } = {}) {
  return runDeno(
    ["run", ...RUN_FLAGS, join(ROOT, "tasks", "run.ts"), ...args],
    opts,
  );
}

/** A specimen whose protocol.ts runs `body` inside runProtocol. */
async function specimen(
  vault: string,
  id: string,
  body: string,
  options = "",
): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  await writeProtocol(dir, body, options);
  return dir;
}

async function writeProtocol(dir: string, body: string, options = "") {
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
${body}
}${options ? `, ${options}` : ""});
`,
  );
}

const SUCCEEDS = `
  console.log("args:", JSON.stringify(Deno.args));
  console.error("to stderr");
  await storage.writeMetrics({ step: [0, 1], loss: [1, 0.5] });`;

const FAILS_AFTER_WRITING = `
  await storage.writeMetrics({ step: [0] });
  console.log("about to fail");
  throw new Error("diverged at step 3");`;

Deno.test("run task: a successful run is recorded with provenance, seeds and logs, then sealed", async () => {
  await using vault = await repoVault();
  const dir = await specimen(
    vault.path,
    "ok_run",
    SUCCEEDS,
    `{ seeds: { data: 42, init: "0xbeef" } }`,
  );
  const r = await runTaskCli(
    ["--vault", vault.path, "ok_run", "--", "--lr", "0.1", "x y"],
  );
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout, `args: ["--lr","0.1","x y"]\n`, "teed live");
  assertMatch(r.stderr, /^to stderr\n/);
  assertMatch(
    r.stderr,
    // protocol.ts, metrics and system tables, the two logs.
    /Run \S+ succeeded in [\d.]+ s\. Sealed ok_run: 5 files/,
  );

  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.seeds, { data: 42, init: "0xbeef" });
  assertEquals(m.runs!.length, 1);
  const run = m.runs![0];
  assertEquals(run.via, "deno task run");
  assertEquals(run.status, "succeeded");
  assertEquals([run.exit_code, run.signal, run.error], [0, null, null]);
  assert(run.sealed);
  assert(
    run.duration_ms! >= 0 && Date.parse(run.ended!) >= Date.parse(run.started),
  );
  assertEquals(run.command, [
    "deno",
    "run",
    "-A",
    relative(ROOT, join(dir, "protocol.ts")),
    "--lr",
    "0.1",
    "x y",
  ]);
  assertEquals(run.cwd, ROOT);
  assertEquals(
    run.protocol_sha256,
    await webSha256(await Deno.readFile(join(dir, "protocol.ts"))),
  );
  assertEquals(run.stdout, `runs/${run.id}/stdout.log`);
  assertEquals(await Deno.readTextFile(join(dir, run.stdout!)), r.stdout);
  assertEquals(await Deno.readTextFile(join(dir, run.stderr!)), "to stderr\n");

  const p = m.provenance as Provenance;
  assertEquals(p.captured_by, "deno task run");
  assertEquals(p.protocol.sha256, run.protocol_sha256);
  assertEquals(p.runtime.deno, Deno.version.deno);
  assert(p.npm_packages.length > 0);

  assertEquals(Object.keys(m.seal!.files).sort(), [
    "protocol.ts",
    run.stderr,
    run.stdout,
    "strata/metrics.parquet",
    "strata/system.parquet",
  ]);
  assertEquals(m.seal!.run, run.id);
  assertEquals((await verifySpecimen(dir)).state, "ok");
});

Deno.test("run task: running a sealed specimen again is refused, pointing to create --from, and changes nothing", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "once", SUCCEEDS);
  assertEquals((await runTaskCli(["--vault", vault.path, "once"])).code, 0);
  const before = await Deno.readFile(join(dir, "manifest.msgpack"));
  const runsBefore = [...Deno.readDirSync(join(dir, "runs"))].length;
  const r = await runTaskCli(["--vault", vault.path, "once"]);
  assertEquals(r.code, 3);
  assertMatch(
    r.stderr,
    /^error: Specimen "once" has already run and is sealed \(since .*\): its results are final, so nothing was changed\. For a variation: deno task create --id once_v2 --from once\n$/,
  );
  assertEquals(r.stdout, "", "the protocol did not start");
  assertEquals(await Deno.readFile(join(dir, "manifest.msgpack")), before);
  assertEquals([...Deno.readDirSync(join(dir, "runs"))].length, runsBefore);

  // Run directly, it is refused the same way.
  const direct = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(direct.code, 3);
  assertMatch(direct.stderr, /has already run and is sealed/);
  assertEquals(await Deno.readFile(join(dir, "manifest.msgpack")), before);
});

Deno.test("run task: a protocol that throws is recorded as failed with its logs and partial results, never sealed", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "boom", FAILS_AFTER_WRITING);
  const r = await runTaskCli(["--vault", vault.path, "boom"]);
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /diverged at step 3/);
  assertMatch(
    r.stderr,
    /Run \S+ FAILED after [\d.]+ s \(exit code 1\)\. boom is marked failed/,
  );
  const m = await readManifest(dir);
  assertEquals(m.status, "failed");
  assertEquals(m.seal, undefined);
  const run = m.runs![0];
  assertEquals([run.status, run.exit_code, run.sealed], ["failed", 1, false]);
  assertEquals(
    await Deno.readTextFile(join(dir, run.stdout!)),
    "about to fail\n",
  );
  assertMatch(
    await Deno.readTextFile(join(dir, run.stderr!)),
    /Error: diverged at step 3/,
  );
  assert((await Deno.stat(join(dir, "strata/metrics.parquet"))).isFile);

  // It may run again: the first run's results move under its run record.
  const again = await runTaskCli(["--vault", vault.path, "boom"]);
  assertEquals(again.code, 1);
  const moved = `runs/${run.id}/strata/metrics.parquet`;
  assert((await Deno.stat(join(dir, moved))).isFile);
  assertEquals(
    (await readManifest(dir)).runs![0].partial_results?.artifacts.metrics.path,
    moved,
  );
  const storage = await SpecimenStorage.open(dir);
  await assertRejects(
    () => storage.writeMetrics({ a: [1] }, { name: "patch" }),
    ImmutableArtifactError,
    "is marked failed",
  );
  assertEquals((await verifySpecimen(dir)).state, "unsealed");
});

Deno.test("run task: a non-zero Deno.exit is passed on and recorded; a fixed protocol that wrote nothing may run again", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "exit7", `Deno.exit(7);`);
  const r = await runTaskCli(["--vault", vault.path, "exit7"]);
  assertEquals(r.code, 7);
  let m = await readManifest(dir);
  assertEquals([m.status, m.runs![0].status, m.runs![0].exit_code], [
    "failed",
    "failed",
    7,
  ]);
  const failedHash = m.runs![0].protocol_sha256;

  await writeProtocol(dir, SUCCEEDS);
  const retry = await runTaskCli(["--vault", vault.path, "exit7"]);
  assertEquals(retry.code, 0, retry.stderr);
  m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.runs!.map((x) => x.status), ["failed", "succeeded"]);
  assert(
    m.runs![1].protocol_sha256 !== failedHash,
    "each run pins its protocol",
  );
  assertEquals(m.seal!.files["protocol.ts"].sha256, m.runs![1].protocol_sha256);
  assertEquals(
    Object.keys(m.seal!.files).filter((p) => p.startsWith("runs/")).length,
    5,
    "the logs of both runs, and the failed run's system metrics, are sealed",
  );
});

Deno.test("run task: a protocol that writes nothing succeeds without sealing and stays runnable", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "empty", `console.log("nothing");`);
  const r = await runTaskCli(["--vault", vault.path, "empty"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /wrote nothing to strata\/, so empty is not sealed/);
  const m = await readManifest(dir);
  assertEquals([m.status, m.runs![0].status, m.seal], [
    "active",
    "succeeded",
    undefined,
  ]);
  assertEquals((await runTaskCli(["--vault", vault.path, "empty"])).code, 0);
});

Deno.test("deno run of a protocol records the run itself: sealed on success, failed on an uncaught error", async () => {
  await using vault = await repoVault();
  const ok = await specimen(
    vault.path,
    "direct_ok",
    SUCCEEDS,
    `{ seeds: { s: 1 } }`,
  );
  let r = await runDeno(["run", "-A", join(ok, "protocol.ts"), "a1"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /Sealed specimen direct_ok: 2 files/);
  let m: Manifest = await readManifest(ok);
  assertEquals(m.status, "sealed");
  assertEquals(m.seeds, { s: 1 });
  assertEquals(m.runs![0].via, "deno run");
  assertEquals(m.runs![0].stdout, null, "no logs without deno task run");
  assertEquals(m.runs![0].command.slice(-1), ["a1"]);
  assertEquals((m.provenance as Provenance).captured_by, "runProtocol");
  assertEquals((await verifySpecimen(ok)).state, "ok");

  const bad = await specimen(vault.path, "direct_bad", FAILS_AFTER_WRITING);
  r = await runDeno(["run", "-A", join(bad, "protocol.ts")]);
  assertEquals(r.code, 1);
  m = await readManifest(bad);
  assertEquals(m.status, "failed");
  assertEquals(m.runs![0].status, "failed");
  assertEquals(m.runs![0].error, "Error: diverged at step 3");
});

Deno.test("runProtocol rejects seeds that are not numbers or strings, before writing anything", async () => {
  await using vault = await repoVault();
  const dir = await specimen(
    vault.path,
    "badseed",
    SUCCEEDS,
    `{ seeds: { data: Number.NaN } }`,
  );
  const before = await Deno.readFile(join(dir, "manifest.msgpack"));
  const r = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /^error: Seed "data" is NaN: a seed must be a finite number or a string/,
  );
  assertEquals(await Deno.readFile(join(dir, "manifest.msgpack")), before);
});

Deno.test("run task takes a protocol path from any folder, and a vault outside the repository", async () => {
  await using inside = await repoVault();
  const dir = await specimen(inside.path, "by_path", SUCCEEDS);
  let r = await runTaskCli(["specimens/by_path/protocol.ts"], {
    cwd: inside.path,
  });
  assertEquals(r.code, 0, r.stderr);
  let m = await readManifest(dir);
  assertEquals(m.runs![0].command[3], "specimens/by_path/protocol.ts");
  assertEquals(m.runs![0].cwd, inside.path);

  // Outside the repository no deno.json is above the protocol: the task
  // passes the library's own with --config.
  await using outside = await tempVault();
  const far = await specimen(outside.path, "far", SUCCEEDS);
  r = await runTaskCli(["--vault", outside.path, "far"]);
  assertEquals(r.code, 0, r.stderr);
  m = await readManifest(far);
  assertEquals(m.status, "sealed");
  assertEquals(m.runs![0].command.slice(3, 5), [
    "--config",
    relative(ROOT, join(ROOT, "deno.json")),
  ]);
});

Deno.test("run task: SIGTERM is passed on to the protocol, and the run is recorded as interrupted with the signal", async () => {
  if (Deno.build.os === "windows") return;
  await using vault = await repoVault();
  const dir = await specimen(
    vault.path,
    "long",
    `console.log("started");
  await new Promise((r) => setTimeout(r, 60_000));`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...RUN_FLAGS,
      join(ROOT, "tasks", "run.ts"),
      "--vault",
      vault.path,
      "long",
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const reader = child.stdout.getReader();
  let seen = "";
  while (!seen.includes("started")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += new TextDecoder().decode(value);
  }
  child.kill("SIGTERM");
  reader.releaseLock();
  const [status, err] = await Promise.all([
    child.status,
    new Response(child.stderr).text(),
    child.stdout.cancel(),
  ]);
  assertEquals(status.code, 143, err);
  assertMatch(err, /INTERRUPTED after .*\(Stopped by SIGTERM\)/);
  const m = await readManifest(dir);
  assertEquals(m.status, "interrupted");
  assertEquals([m.runs![0].status, m.runs![0].signal], [
    "interrupted",
    "SIGTERM",
  ]);
  assertEquals(
    await Deno.readTextFile(join(dir, m.runs![0].stdout!)),
    "started\n",
  );
});

Deno.test("run task: --help, usage errors (exit 2) and unknown specimens (exit 4)", async () => {
  await using vault = await tempVault();
  let r = await runTaskCli(["--help"]);
  assertEquals(r.code, 0);
  assertMatch(
    r.stdout,
    /deno task run ID \[options\] \[-- PROTOCOL_ARGS\.\.\.\]/,
  );
  assertMatch(r.stdout, /Exit codes:/);
  r = await runTaskCli([]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /^error: Missing the specimen/);
  // Several ids run in turn; one that is no specimen says where protocol
  // arguments go.
  r = await runTaskCli(["--vault", vault.path, "a", "b"]);
  assertEquals(r.code, 4);
  assertMatch(
    r.stderr,
    /arguments for the protocol go after --, e\.g\. deno task run a -- b/,
  );
  r = await runTaskCli(["--vault", vault.path, "Bad-Id"]);
  assertEquals(r.code, 2);
  r = await runTaskCli(["--vault", vault.path, "ghost"]);
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /No specimen "ghost" in /);
  r = await runTaskCli([join(vault.path, "nowhere", "protocol.ts")]);
  assertEquals(r.code, 4);
});

Deno.test("run task: a run in progress blocks another; one whose process is gone is marked interrupted", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "stale", SUCCEEDS);
  const claim = async (pid: number) => {
    const m = await readManifest(dir);
    m.status = "running";
    m.runs = [{
      id: "2026-01-01T00-00-00.000Z",
      via: "deno task run",
      status: "running",
      started: "2026-01-01T00:00:00.000Z",
      ended: null,
      duration_ms: null,
      exit_code: null,
      signal: null,
      error: null,
      command: ["deno", "run", "-A", "protocol.ts"],
      cwd: null,
      pid,
      hostname: Deno.hostname(),
      protocol_sha256: null,
      git_commit: null,
      git_dirty: null,
      stdout: null,
      stderr: null,
      sealed: false,
    }];
    await writeManifest(dir, m);
  };
  // This test process is alive: the claim holds.
  await claim(Deno.pid);
  let r = await runTaskCli(["--vault", vault.path, "stale"]);
  assertEquals(r.code, 8, "a specimen being run: exit 8 (busy), as documented");
  assertMatch(
    r.stderr,
    /^error: Specimen "stale" is being run right now \(run 2026-01-01T00-00-00\.000Z, pid \d+/,
  );

  // A process that has exited: its run is marked interrupted, and this one goes ahead.
  const gone = new Deno.Command(Deno.execPath(), {
    args: ["--version"],
    stdout: "null",
  }).spawn();
  await gone.status;
  await claim(gone.pid);
  r = await runTaskCli(["--vault", vault.path, "stale"]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(dir);
  assertEquals(m.runs!.map((x) => x.status), ["interrupted", "succeeded"]);
  assertEquals(m.status, "sealed");
});

Deno.test("run task accepts the separator deno task passes on before the id", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "dashed", SUCCEEDS);
  const r = await runTaskCli(["--", "--vault", vault.path, "dashed"]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await readManifest(dir)).status, "sealed");
});
