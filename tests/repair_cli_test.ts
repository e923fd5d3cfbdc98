/**
 * `deno task repair` as a real subprocess, with deno.json's permissions: it
 * compacts the log a SIGKILLed logger left, never touches a sealed
 * specimen, leaves what no logger wrote, and exits 2 / 4 for a bad or an
 * unknown id.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { readMetricTable } from "../lib/metrics_log/table.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CHILD = join(ROOT, "tests", "testdata", "logger_child.ts");
const FLAGS = await taskFlags("repair");

function repair(args: string[], cwd = ROOT) {
  return runDeno(["run", ...FLAGS, join(ROOT, "tasks", "repair.ts"), ...args], {
    cwd,
  });
}

async function specimen(vault: string, id: string): Promise<string> {
  return (await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  })).dir;
}

/** Runs the logger child in `mode` on `dir` to its end (its log left in parts). */
async function endedLog(dir: string, rows: number, name = "metrics") {
  const r = await runDeno([
    "run",
    "-A",
    CHILD,
    dir,
    "end",
    JSON.stringify({ rows, flushRows: 100, name }),
  ]);
  assertEquals(r.code, 0, r.stderr);
  assert(Deno.statSync(join(dir, "strata", `${name}.parts`)).isDirectory);
}

/** Every entry under `dir` with its size and mtime, to prove nothing changed. */
function tree(dir: string, prefix = ""): string[] {
  const out: string[] = [];
  for (
    const e of [...Deno.readDirSync(dir)].sort((a, b) =>
      a.name < b.name ? -1 : 1
    )
  ) {
    const st = Deno.lstatSync(join(dir, e.name));
    out.push(`${prefix}${e.name} ${st.size} ${st.mtime?.getTime()}`);
    if (e.isDirectory) {
      out.push(...tree(join(dir, e.name), `${prefix}${e.name}/`));
    }
  }
  return out;
}

Deno.test("deno task repair compacts the log of a logger killed with SIGKILL, records it as interrupted, and then has nothing left to do", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "killed");
  const clean = await specimen(vault.path, "clean");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", CHILD, dir, "run", JSON.stringify({ flushRows: 100 })],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  while ((out.match(/^flushed \d+$/gm) ?? []).length < 3) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
  }
  child.kill("SIGKILL");
  await reader.cancel();
  assertEquals((await child.status).signal, "SIGKILL");
  const flushed = (await readMetricTable(dir, "metrics")).rows;
  assert(flushed >= 300 && flushed % 100 === 0, `flushed ${flushed}`);
  const cleanBefore = tree(clean);

  const r = await repair(["--vault", vault.path]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^repaired\s+killed\s+compacted metrics$/m);
  assertMatch(r.stdout, /2 specimens: 1 log compacted/);
  assertEquals(
    [...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name),
    ["metrics.parquet"],
  );
  const m = await readManifest(dir);
  assertEquals(m.artifacts.metrics.interrupted, true);
  assertEquals(m.artifacts.metrics.rows, flushed);
  assertEquals((await readMetricTable(dir, "metrics")).rows, flushed);
  assertEquals(tree(clean), cleanBefore);

  // Again, as JSON, for one id: nothing to do.
  const again = await repair([
    "killed",
    "--vault",
    vault.path,
    "--format",
    "json",
  ]);
  assertEquals(again.code, 0, again.stderr);
  const json = JSON.parse(again.stdout);
  assertEquals(json.summary.repaired, 0);
  assertEquals(json.specimens, [
    { id: "killed", state: "clean", repaired: [], live: [], notes: [] },
  ]);
});

Deno.test("deno task repair never touches a sealed specimen: it reports its logs and exits 0", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "sealed");
  await endedLog(dir, 250);
  await sealSpecimen(dir);
  Deno.mkdirSync(join(dir, "strata", "empty.parts"));
  const before = tree(dir);
  for (const args of [[], ["sealed"], ["sealed", "--format", "json"]]) {
    const r = await repair([...args, "--vault", vault.path]);
    assertEquals(r.code, 0, r.stderr);
    assertEquals(tree(dir), before);
    if (args.includes("json")) {
      const [s] = JSON.parse(r.stdout).specimens;
      assertEquals(s.state, "sealed");
      assertEquals(s.repaired, []);
      assertEquals(s.notes.length, 2);
    } else {
      assertMatch(r.stdout, /^sealed\s+sealed$/m);
      assertMatch(
        r.stdout,
        /metrics: the specimen is sealed with an interrupted log \(3 parts/,
      );
      assertMatch(
        r.stdout,
        /empty: .* holds no part, but the specimen is sealed/,
      );
    }
  }
});

Deno.test("deno task repair removes only what a logger wrote: a stray file keeps its folder, and the exit code is 1", async () => {
  await using vault = await tempVault();
  const dir = await specimen(vault.path, "stray");
  await endedLog(dir, 120, "train");
  Deno.writeTextFileSync(
    join(dir, "strata", "train.parts", "notes.txt"),
    "mine",
  );
  const r = await repair(["stray", "--vault", vault.path]);
  assertEquals(r.code, 1, r.stdout);
  assertMatch(r.stdout, /^problems\s+stray\s+compacted train$/m);
  assertMatch(
    r.stdout,
    /train: strata\/train\.parts\/ holds "notes\.txt", which no logger wrote/,
  );
  assertEquals(
    [...Deno.readDirSync(join(dir, "strata", "train.parts"))]
      .map((e) => e.name).sort(),
    [".lock", "notes.txt"],
  );
  assertEquals((await readManifest(dir)).artifacts.train.rows, 120);
});

Deno.test("deno task repair --help, a bad id (exit 2), an unknown id or no vault (exit 4), a bad --format (exit 2)", async (t) => {
  await using vault = await tempVault();
  await specimen(vault.path, "known");
  await t.step("--help", async () => {
    const r = await repair(["--help"]);
    assertEquals(r.code, 0);
    assertMatch(r.stdout, /Usage:\n {2}deno task repair \[ID\.\.\.\]/);
    assertMatch(r.stdout, /Exit codes:/);
  });
  for (const bad of ["../known", "a/b", "bad id", ""]) {
    await t.step(`bad id ${JSON.stringify(bad)}`, async () => {
      const r = await repair([bad, "--vault", vault.path]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /^error: Invalid specimen id/m);
    });
  }
  for (const ids of [["nope"], ["known", "nope", "gone"]]) {
    await t.step(`unknown ${ids.join(",")}`, async () => {
      const r = await repair([...ids, "--vault", vault.path]);
      assertEquals(r.code, 4, r.stderr);
      assertMatch(r.stderr, /^error: No specimen "nope"/m);
      assertEquals(r.stdout, "");
    });
  }
  await t.step("no vault", async () => {
    const empty = await Deno.makeTempDir();
    try {
      const r = await repair(["--vault", empty]);
      assertEquals(r.code, 4, r.stderr);
    } finally {
      await Deno.remove(empty, { recursive: true });
    }
  });
  await t.step("--format csv", async () => {
    const r = await repair(["--format", "csv", "--vault", vault.path]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /Unknown --format "csv"/);
  });
});

Deno.test("deno task run compacts a log the protocol left in parts (Deno.exit(0) without close) before sealing", async () => {
  await using vault = await repoVault();
  const dir = await specimen(vault.path, "left_open");
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  const log = await storage.logger("train", { flushRows: 50 });
  for (let step = 0; step < 175; step++) log.log({ step, loss: 1 / (step + 1) });
  Deno.exit(0);
});
`,
  );
  const r = await runDeno([
    "run",
    ...await taskFlags("run"),
    join(ROOT, "tasks", "run.ts"),
    "--vault",
    vault.path,
    "left_open",
  ]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.artifacts.train.rows, 175);
  assertEquals(m.artifacts.train.interrupted, true);
  assertEquals(
    [...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name).sort(),
    ["system.parquet", "train.parquet"], // and the run's system metrics
  );
  assert(Object.keys(m.seal!.files).includes("strata/train.parquet"));
});
