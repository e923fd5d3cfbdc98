import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CREATE = await taskFlags("create");
const RUN = await taskFlags("run");
const SEAL = await taskFlags("seal");
const VERIFY = await taskFlags("verify");

/**
 * Writes a table, prints READY and its pid, then waits for a signal —
 * unless given `finish`, when it writes a second table and ends. With
 * `fail`, it throws after the first table.
 */
const PROTOCOL = `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  await storage.writeMetrics({ step: [0, 1], loss: [1, 0.5] }, { name: "partial" });
  if (Deno.args[0] === "fail") throw new Error("diverged at step 1");
  if (Deno.args[0] !== "finish") {
    console.log("READY " + Deno.pid);
    await new Promise(() => setInterval(() => {}, 1000));
  }
  await storage.writeMetrics({ step: [0], acc: [0.9] }, { name: "final" });
});
`;

async function specimen(vault: string, id: string): Promise<string> {
  const r = await runDeno([
    "run",
    ...CREATE,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault,
    "--id",
    id,
    "--domain",
    "training",
    "--method",
    "fine_tuning",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const dir = join(vault, "specimens", id);
  await Deno.writeTextFile(join(dir, "protocol.ts"), PROTOCOL);
  return dir;
}

function task(name: string, flags: string[], args: string[]) {
  return runDeno(["run", ...flags, join(ROOT, "tasks", `${name}.ts`), ...args]);
}

/**
 * Starts `deno task run` on `ids` and waits for the protocol's READY line;
 * returns the runner, the protocol's pid and a promise of its whole output.
 */
async function startRun(vault: string, ids: string[]) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...RUN,
      join(ROOT, "tasks", "run.ts"),
      "--vault",
      vault,
      "--no-system-metrics",
      ...ids,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let pid = 0;
  while (pid === 0) {
    const { value, done } = await reader.read();
    if (done) {
      throw new Error(`the run ended before READY: ${out}${await stderr}`);
    }
    out += value;
    const m = /READY (\d+)/.exec(out);
    if (m) pid = Number(m[1]);
  }
  const rest = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return out;
      out += value;
    }
  })();
  return {
    child,
    pid,
    done: async () => {
      const status = await child.status;
      return { code: status.code, stdout: await rest, stderr: await stderr };
    },
  };
}

Deno.test("Ctrl-C (SIGINT to deno task run) records the run as interrupted, keeping what it wrote", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "a");
  const run = await startRun(vault.path, ["a"]);
  run.child.kill("SIGINT");
  const r = await run.done();
  assertEquals(r.code, 130, r.stderr);
  assertMatch(r.stderr, /INTERRUPTED/);
  assertMatch(r.stderr, /deno task run a/);
  assertMatch(r.stderr, /deno task seal a/);
  const m = await readManifest(dir);
  assertEquals(m.status, "interrupted");
  assertEquals(m.runs?.[0].status, "interrupted");
  assertEquals(m.runs?.[0].signal, "SIGINT");
  assertEquals(m.seal, undefined);
  assertEquals(Object.keys(m.artifacts), ["partial"]);
});

Deno.test("an interrupted run runs again: its partial results move under runs/<run>/strata/, and the new seal covers them", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "b");
  const first = await startRun(vault.path, ["b"]);
  first.child.kill("SIGTERM");
  assertEquals((await first.done()).code, 143);
  const runId = (await readManifest(dir)).runs![0].id;
  const again = await task("run", RUN, [
    "--vault",
    vault.path,
    "--no-system-metrics",
    "b",
    "--",
    "finish",
  ]);
  assertEquals(again.code, 0, again.stderr);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.runs?.map((r) => r.status), ["interrupted", "succeeded"]);
  const moved = `runs/${runId}/strata/partial.parquet`;
  assertEquals(m.runs![0].partial_results?.dir, `runs/${runId}/strata`);
  assertEquals(m.runs![0].partial_results?.artifacts.partial.path, moved);
  assertEquals(m.runs![0].partial_results?.entries, ["partial.parquet"]);
  assert((await Deno.stat(join(dir, moved))).isFile);
  assert(m.seal!.files[moved] !== undefined, "the moved table is sealed");
  assertEquals(Object.keys(m.artifacts).sort(), ["final", "partial"]);
  const verify = await task("verify", VERIFY, ["--vault", vault.path, "b"]);
  assertEquals(verify.code, 0, verify.stdout + verify.stderr);
});

Deno.test("a signal sent to the protocol itself (not the runner) also marks the run interrupted", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "c");
  const run = await startRun(vault.path, ["c"]);
  Deno.kill(run.pid, "SIGINT");
  const r = await run.done();
  assertEquals(r.code, 130, r.stderr);
  assertEquals((await readManifest(dir)).runs?.[0].status, "interrupted");
});

Deno.test("deno task seal keeps an interrupted run as it is: sealed, as_is recorded, verified, then refused by run", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "d");
  const run = await startRun(vault.path, ["d"]);
  run.child.kill("SIGINT");
  await run.done();
  const s = await task("seal", SEAL, ["--vault", vault.path, "d"]);
  assertEquals(s.code, 0, s.stderr);
  assertMatch(s.stdout, /Sealed d as it is \(its last run interrupted\)/);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.seal?.as_is, "interrupted");
  assert(m.seal!.files["strata/partial.parquet"] !== undefined);
  const verify = await task("verify", VERIFY, ["--vault", vault.path, "d"]);
  assertEquals(verify.code, 0, verify.stdout + verify.stderr);
  const again = await task("run", RUN, ["--vault", vault.path, "d"]);
  assertEquals(again.code, 3, again.stderr);
  const twice = await task("seal", SEAL, ["--vault", vault.path, "d"]);
  assertEquals(twice.code, 3, twice.stderr);
});

Deno.test("a failed run that wrote metrics runs again, or is sealed as it is", async () => {
  await using vault = await tempVault();
  const e = await specimen(vault.path, "e");
  const f = await specimen(vault.path, "f");
  for (const id of ["e", "f"]) {
    const r = await task("run", RUN, [
      "--vault",
      vault.path,
      "--no-system-metrics",
      id,
      "--",
      "fail",
    ]);
    assertEquals(r.code, 1, r.stderr);
    assertMatch(r.stderr, /FAILED.*\n.*deno task run/);
  }
  assertEquals((await readManifest(e)).status, "failed");
  const again = await task("run", RUN, [
    "--vault",
    vault.path,
    "--no-system-metrics",
    "e",
    "--",
    "finish",
  ]);
  assertEquals(again.code, 0, again.stderr);
  const me = await readManifest(e);
  assertEquals(me.status, "sealed");
  assertEquals(me.runs?.map((r) => r.status), ["failed", "succeeded"]);
  const sealed = await task("seal", SEAL, ["--vault", vault.path, "f"]);
  assertEquals(sealed.code, 0, sealed.stderr);
  assertEquals((await readManifest(f)).seal?.as_is, "failed");
});

Deno.test("deno task seal refuses a specimen that never ran, and an unknown id", async () => {
  await using vault = await tempVault();
  await specimen(vault.path, "g");
  const never = await task("seal", SEAL, ["--vault", vault.path, "g"]);
  assertEquals(never.code, 2, never.stderr);
  assertMatch(
    never.stderr,
    /only a failed or interrupted run is sealed as it is/,
  );
  const missing = await task("seal", SEAL, ["--vault", vault.path, "nope"]);
  assertEquals(missing.code, 4, missing.stderr);
  const usage = await task("seal", SEAL, ["--vault", vault.path]);
  assertEquals(usage.code, 2, usage.stderr);
});

Deno.test("Ctrl-C during a batch stops it: the rest is not run", async () => {
  await using vault = await tempVault();
  await specimen(vault.path, "h1");
  const second = await specimen(vault.path, "h2");
  const run = await startRun(vault.path, ["h1", "h2"]);
  run.child.kill("SIGINT");
  const r = await run.done();
  assertEquals(r.code, 1, r.stderr);
  assertMatch(r.stdout, /h1 +interrupted/);
  assertMatch(r.stdout, /h2 +not run .*stopped by SIGINT/);
  assertEquals((await readManifest(second)).runs, undefined);
});
