/**
 * `deno task stress` races of `storage.exec` (issue 22): a grandchild
 * writer racing its parent's exit and the run's sealing, and children
 * writing very wide rows and many tables, measured by peak RSS.
 * Structurally `ConcurrencyScenario`s of `stress.ts` (which lists them).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { createSpecimen } from "../../../lib/specimen/create.ts";
import { readManifest } from "../../../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../../../lib/run/storage.ts";
import { MAX_TABLES } from "../../../lib/run/exec.ts";
import { MAX_COLUMNS } from "../../../lib/metrics_log/options.ts";
import { assert, assertEquals, ROOT } from "../../utils.ts";

/** Debian's Python (the one on PATH may be another). */
const PYTHON = "/usr/bin/python3";

const randInt = (lo: number, hi: number) =>
  lo + Math.floor(Math.random() * (hi - lo + 1));

function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}

async function run(args: string[], timed = false) {
  const argv = [Deno.execPath(), ...args];
  const o = await new Deno.Command(timed ? "/usr/bin/time" : argv[0], {
    args: timed ? ["-f", "peak %M", ...argv] : argv.slice(1),
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return {
    code: o.code,
    stdout: dec.decode(o.stdout),
    stderr: dec.decode(o.stderr),
  };
}

/**
 * A child starts a background writer (stdio detached) and exits at once:
 * the writer ends on its own within the grace (its rows all sealed), or
 * runs on and is stopped after it (its rows up to then sealed); either way
 * a warning, no process of the group left, no scratch folder left.
 */
export const grandchildRace = {
  name: "grandchild writer",
  what:
    "deno task run; the exec's child starts a detached writer of 20-120 rows (or an endless one, a third of rounds) and exits at once",
  async run(vault: { path: string; specimens: string }) {
    const forever = Math.random() < 1 / 3;
    const rows = randInt(20, 120);
    const pause = randInt(0, 10) / 1000;
    const grace = forever ? randInt(100, 600) : 10_000;
    const { dir } = await createSpecimen({
      vault: vault.path,
      id: "bg",
      domain: "training",
      method: "fine_tuning",
    });
    await Deno.writeTextFile(
      join(dir, "writer.py"),
      `import json, os, time
i = 0
while ${forever ? "True" : `i < ${rows}`}:
    with open(os.environ["SPECIMEN_METRICS"], "a") as f:
        f.write(json.dumps({"step": i}) + "\\n")
    with open("tally.txt", "a") as f:
        f.write("x\\n")
    i += 1
    time.sleep(${pause})
`,
    );
    await Deno.writeTextFile(
      join(dir, "protocol.ts"),
      `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  await storage.exec(["sh", "-c", ${
        JSON.stringify(
          `${PYTHON} writer.py </dev/null >/dev/null 2>&1 & echo $! > pid.txt`,
        )
      }], { echo: false, groupGraceMs: ${grace} });
});
`,
    );
    const r = await run([
      "run",
      "-A",
      join(ROOT, "tasks", "run.ts"),
      "--vault",
      vault.path,
      "bg",
    ]);
    assertEquals(r.code, 0, r.stderr);
    const pid = Number(await Deno.readTextFile(join(dir, "pid.txt")));
    assert(!alive(pid), `the writer ${pid} outlived the run`);
    const names = await Array.fromAsync(Deno.readDir(dir), (e) => e.name);
    assert(!names.some((n) => n.startsWith(".tmp-")), names.join(", "));
    const m = await readManifest(dir);
    assertEquals(m.status, "sealed");
    const logged =
      (m.runs![0].execs![0].rows as Record<string, number>).metrics ?? 0;
    const tally = (await Deno.readTextFile(join(dir, "tally.txt")))
      .length / 2;
    const stored =
      (await (await SpecimenStorage.open(dir)).readMetrics()).step.length;
    assertEquals(stored, logged);
    if (forever) {
      assert(logged >= tally && logged <= tally + 1, `${logged} of ${tally}`);
      assert(/then stopped/.test(r.stderr), r.stderr);
      return { label: "stopped after the grace", counts: { rows: logged } };
    }
    assertEquals(logged, rows, r.stderr);
    // A fast writer may be done before the child's exit is seen.
    return {
      label: /followed until they ended/.test(r.stderr)
        ? "followed to its end"
        : "done before the child exited",
      counts: { rows: logged },
    };
  },
};

/** Peak RSS allowed for one exec of the many-keys race. */
const PEAK_BYTES = 600e6;

/**
 * A child writes one wide row (1,000-3,000 keys), one row past the column
 * limit (10,001-50,000 keys) and 0-24 one-key tables: the wide row is
 * kept, the too-wide one refused naming its line, tables past the limit
 * refused line by line, and the peak RSS stays under 600 MB.
 */
export const manyKeysRace = {
  name: "many keys",
  what:
    "storage.exec of a child writing a 1,000-3,000-key row, a 10,001-50,000-key row and 0-24 more tables, under /usr/bin/time",
  async run(vault: { path: string; specimens: string }) {
    const wide = randInt(1_000, 3_000);
    const huge = randInt(MAX_COLUMNS + 1, 50_000);
    const extra = randInt(0, 24);
    const { dir } = await createSpecimen({
      vault: vault.path,
      id: "keys",
      domain: "training",
      method: "fine_tuning",
    });
    const py = `import json, os
with open(os.environ["SPECIMEN_METRICS"], "a") as f:
    f.write(json.dumps({"_table": "wide", **{"k%d" % i: i for i in range(${wide})}}) + "\\n")
    f.write(json.dumps({"_table": "huge", **{"k%d" % i: i for i in range(${huge})}}) + "\\n")
    for t in range(${extra}):
        f.write(json.dumps({"_table": "t%d" % t, "x": t}) + "\\n")
`;
    const main = join(vault.path, "measure.ts");
    await Deno.writeTextFile(
      main,
      `import { SpecimenStorage } from ${
        JSON.stringify(join(ROOT, "lib/run/storage.ts"))
      };
const storage = await SpecimenStorage.open(${JSON.stringify(dir)});
const r = await storage.exec([${JSON.stringify(PYTHON)}, "-c", ${
        JSON.stringify(py)
      }], { echo: false });
console.log(JSON.stringify({ rows: r.rows, problems: r.problems }));
`,
    );
    const r = await run(["run", "-A", main], true);
    assertEquals(r.code, 0, r.stderr);
    const peak = Number(/peak (\d+)\s*$/.exec(r.stderr)![1]) * 1024;
    const out = JSON.parse(r.stdout) as {
      rows: Record<string, number>;
      problems: { line: number; kind: string; message: string }[];
    };
    assert(peak < PEAK_BYTES, `peak RSS ${(peak / 1e6).toFixed(0)} MB`);
    // "wide" and "huge" open 2 tables; the others fill up to the limit.
    const kept = Math.min(extra, MAX_TABLES - 2);
    assertEquals(out.rows.wide, 1);
    assertEquals(out.rows.huge, undefined);
    assertEquals(Object.keys(out.rows).length, 1 + kept);
    const [first, ...rest] = out.problems;
    assertEquals([first.line, first.kind], [2, "rejected"]);
    assert(
      first.message.includes(`${huge} keys`) &&
        first.message.includes(`at most ${MAX_COLUMNS} columns`),
      first.message,
    );
    assertEquals(rest.length, extra - kept);
    for (const p of rest) assertEquals(p.kind, "bad_table");
    return {
      label: extra > kept ? "tables over the limit" : "tables within it",
      counts: { "peak MB (max)": Math.round(peak / 1e6) },
    };
  },
};

/** The exec races, in the order `deno task stress` runs them. */
export const EXEC_RACES = [grandchildRace, manyKeysRace];
