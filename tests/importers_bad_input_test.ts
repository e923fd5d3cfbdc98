/**
 * Bad input for every importer: each case a clear error of the vault's error
 * family that names the offending file. Inputs are copies of the real
 * fixtures, damaged in a temp folder (a byte flipped, a file cut, a key
 * removed); the few records no tool would write are framed by tests/_tfevents.ts.
 */
import { CorruptFileError, NotFoundError } from "../lib/errors.ts";
import { join } from "../lib/_deps.ts";
import {
  columnPoints,
  importLightning,
  importMlflow,
  importRuns,
  importTable,
  importTensorBoard,
  importTrainer,
} from "../lib/importers/mod.ts";
import {
  fileVersionEvent,
  frame,
  Proto,
  scalarEvent,
  scalarEventFile,
} from "./_tfevents.ts";
import {
  assert,
  assertEquals,
  assertRejects,
  INTEROP,
  tempDir,
} from "./utils.ts";

const TRACKERS = join(INTEROP, "trackers");
const RUN_A_EVENTS = join(
  TRACKERS,
  "tensorboard",
  "run_a",
  "events.out.tfevents.1795779300.vm",
);
const EVENT_NAME = "events.out.tfevents.1795779300.vm";

/** A copy of run_a's main event file in a fresh run folder, changed by `edit`. */
async function damagedRun(
  dir: string,
  edit: (bytes: Uint8Array) => Uint8Array,
): Promise<string> {
  const run = join(dir, "run");
  await Deno.mkdir(run, { recursive: true });
  await Deno.writeFile(
    join(run, EVENT_NAME),
    edit(await Deno.readFile(RUN_A_EVENTS)),
  );
  return run;
}

/** Byte offsets of the records of a TFRecord file. */
function recordOffsets(bytes: Uint8Array): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: number[] = [];
  for (let p = 0; p + 12 <= bytes.length;) {
    out.push(p);
    p += 16 + view.getUint32(p, true);
  }
  return out;
}

Deno.test("every importer rejects a folder with no runs, naming the folder", async (t) => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.path, "notes.txt"), "nothing here");
  for (
    const [name, fn] of [
      ["detect", () => importRuns(undefined, tmp.path)],
      ["tensorboard", () => importTensorBoard(tmp.path)],
      ["lightning", () => importLightning(tmp.path)],
      ["hf-trainer", () => importTrainer(tmp.path)],
      ["mlflow", () => importMlflow(tmp.path)],
    ] as const
  ) {
    await t.step(name, async () => {
      const e = await assertRejects(fn, NotFoundError, tmp.path);
      assertEquals((e as NotFoundError).exitCode, 4);
    });
  }
});

Deno.test("importTensorBoard() rejects a file that is not an event file, naming it", async (t) => {
  for (
    const [name, bytes] of [
      ["text", new TextEncoder().encode("hello, this is not TensorBoard\n")],
      ["short", new Uint8Array([1, 2, 3])],
      [
        "png header",
        new Uint8Array([
          0x89,
          0x50,
          0x4e,
          0x47,
          13,
          10,
          26,
          10,
          0,
          0,
          0,
          13,
          73,
          72,
          68,
          82,
        ]),
      ],
      ["zeros", new Uint8Array(4096)],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const run = await damagedRun(tmp.path, () => bytes);
      const e = await assertRejects(
        () => importTensorBoard(run),
        CorruptFileError,
        "not a TensorBoard event file",
      );
      assert(e.message.includes(EVENT_NAME), e.message);
      assertEquals((e as CorruptFileError).exitCode, 5);
    });
  }
});

Deno.test("importTensorBoard() fails on a CRC mismatch unless skipCorrupt, and then reports it", async (t) => {
  const original = await Deno.readFile(RUN_A_EVENTS);
  const offsets = recordOffsets(original);
  const [clean] = await importTensorBoard(
    join(TRACKERS, "tensorboard", "run_a"),
  );
  const cleanPoints = columnPoints(clean.tables[0], "train/loss").steps.length;
  // a byte flipped in the data of record 50, in its data CRC, in record 200
  for (
    const [name, at] of [
      ["data byte", offsets[50] + 12 + 3],
      ["data CRC", offsets[51] - 2],
      ["later record", offsets[200] + 14],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const run = await damagedRun(tmp.path, (b) => {
        const c = b.slice();
        c[at] ^= 0x40;
        return c;
      });
      const e = await assertRejects(
        () => importTensorBoard(run),
        CorruptFileError,
        "fails its CRC-32C check",
      );
      assert(e.message.includes(EVENT_NAME), e.message);
      assert(e.message.includes("--skip-corrupt"), e.message);
      const [kept] = await importTensorBoard(run, { skipCorrupt: true });
      assertEquals(kept.warnings.length, 1);
      assert(/fails its CRC-32C check, skipped/.test(kept.warnings[0]));
      // one record lost at most, everything else kept
      const total = kept.tables[0].columns.size;
      assert(total >= 3);
      const n = columnPoints(kept.tables[0], "train/loss").steps.length;
      assert(n === cleanPoints || n === cleanPoints - 1, `${n}`);
    });
  }
  await t.step("length CRC (not skippable: the framing is lost)", async () => {
    await using tmp = await tempDir();
    const run = await damagedRun(tmp.path, (b) => {
      const c = b.slice();
      c[offsets[10] + 9] ^= 1;
      return c;
    });
    await assertRejects(
      () => importTensorBoard(run, { skipCorrupt: true }),
      CorruptFileError,
      `length of the record at byte ${offsets[10]} fails its CRC-32C check`,
    );
  });
});

Deno.test("importTensorBoard() rejects a record whose protobuf does not decode", async (t) => {
  for (
    const [name, data] of [
      ["all 0xff", new Uint8Array(24).fill(0xff)],
      ["field past the record", new Uint8Array([0x2a, 0x50, 0x0a, 0x01])],
      [
        "cut varint",
        new Uint8Array([0x09, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f, 0x10, 0xff]),
      ],
      ["wire type 7", new Uint8Array([0x0f, 0x00])],
      [
        "summary value cut short",
        new Proto().varint(2, 3).bytes(
          5,
          new Uint8Array([0x0a, 0x09, 0x0a, 0x01, 0x61]),
        )
          .finish(),
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const run = join(tmp.path, "run");
      await Deno.mkdir(run);
      await Deno.writeFile(
        join(run, "events.out.tfevents.1.test"),
        frame([
          fileVersionEvent(),
          scalarEvent("loss", 0, 1),
          data,
          scalarEvent("loss", 1, 2),
        ]),
      );
      const e = await assertRejects(
        () => importTensorBoard(run),
        CorruptFileError,
        "does not decode as an Event protobuf",
      );
      assert(e.message.includes("events.out.tfevents.1.test"), e.message);
      const [kept] = await importTensorBoard(run, { skipCorrupt: true });
      assertEquals(columnPoints(kept.tables[0], "loss").steps, [0, 1]);
      assertEquals(kept.warnings.length, 1);
    });
  }
});

Deno.test("importLightning() and importTable() reject a CSV with a ragged row, naming the file", async (t) => {
  const csv = await Deno.readTextFile(
    join(
      TRACKERS,
      "lightning_csv",
      "lightning_logs",
      "version_0",
      "metrics.csv",
    ),
  );
  for (
    const [name, edit] of [
      [
        "extra cell",
        (s: string) =>
          s.replace("0,5,0.4835498631000519,,", "0,5,0.4835498631000519,,,7"),
      ],
      [
        "missing cell",
        (s: string) =>
          s.replace("0,5,0.4835498631000519,,", "0,5,0.4835498631000519"),
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const dir = join(tmp.path, "lightning_logs", "version_0");
      await Deno.mkdir(dir, { recursive: true });
      const damaged = edit(csv);
      assert(damaged !== csv);
      await Deno.writeTextFile(join(dir, "metrics.csv"), damaged);
      const e = await assertRejects(
        () => importLightning(tmp.path),
        CorruptFileError,
        "ragged row",
      );
      assert(e.message.includes("version_0/metrics.csv"), e.message);
      const e2 = await assertRejects(
        () => importTable(join(dir, "metrics.csv")),
        CorruptFileError,
        "ragged row",
      );
      assert(e2.message.includes("metrics.csv"), e2.message);
    });
  }
});

Deno.test("importTrainer() rejects a trainer_state.json without log_history, naming it", async (t) => {
  const state = JSON.parse(
    await Deno.readTextFile(
      join(TRACKERS, "hf_trainer", "tiny-bert-a", "trainer_state.json"),
    ),
  );
  for (
    const [name, text, message] of [
      [
        "key removed",
        JSON.stringify({ ...state, log_history: undefined }),
        'no "log_history" list',
      ],
      [
        "not a list",
        JSON.stringify({ ...state, log_history: { a: 1 } }),
        'no "log_history" list',
      ],
      ["a list", JSON.stringify([state]), 'no "log_history" list'],
      ["not JSON", JSON.stringify(state).slice(0, 100), "it is not JSON"],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const dir = join(tmp.path, "out");
      await Deno.mkdir(dir);
      await Deno.writeTextFile(join(dir, "trainer_state.json"), text);
      const e = await assertRejects(
        () => importTrainer(tmp.path),
        CorruptFileError,
        message,
      );
      assert(e.message.includes("out/trainer_state.json"), e.message);
    });
  }
});

Deno.test("importMlflow() rejects a metric line without exactly three fields, naming file and line", async (t) => {
  for (
    const [name, line, message] of [
      ["2 fields", "1795779100000 0.5", "has 2 field(s)"],
      ["4 fields", "1795779100000 0.5 3 9", "has 4 field(s)"],
      ["value not a number", "1795779100000 abc 3", "is not"],
      ["step not an integer", "1795779100000 0.5 1.5", "is not"],
    ] as const
  ) {
    await t.step(name, async () => {
      await using tmp = await tempDir();
      const exp = join(tmp.path, "mlruns", "0");
      const run = join(exp, "abc123");
      await Deno.mkdir(join(run, "metrics"), { recursive: true });
      await Deno.writeTextFile(
        join(exp, "meta.yaml"),
        "experiment_id: '0'\nname: Default\n",
      );
      await Deno.writeTextFile(
        join(run, "meta.yaml"),
        "run_id: abc123\nexperiment_id: '0'\nstart_time: 1795779100000\nstatus: 3\n",
      );
      await Deno.writeTextFile(
        join(run, "metrics", "loss"),
        `1795779100000 0.9 0\n${line}\n`,
      );
      const e = await assertRejects(
        () => importMlflow(join(tmp.path, "mlruns")),
        CorruptFileError,
        message,
      );
      assert(e.message.includes(join(run, "metrics", "loss")), e.message);
      assert(e.message.includes("line 2"), e.message);
    });
  }
});

function heapBytes(): number {
  const m = Deno.memoryUsage();
  return m.heapUsed + m.external;
}

Deno.test("importTensorBoard() reads 10,000 tags in one event file with bounded memory", async (t) => {
  await t.step(
    "tags sharing their steps: one table of 10,000 columns",
    async () => {
      await using tmp = await tempDir();
      const run = join(tmp.path, "run");
      await Deno.mkdir(run);
      await Deno.writeFile(
        join(run, "events.out.tfevents.1.many"),
        scalarEventFile(200_000, 10_000),
      );
      const before = heapBytes();
      const [imported] = await importTensorBoard(run);
      const grown = heapBytes() - before;
      assertEquals(imported.tables.length, 1);
      const table = imported.tables[0];
      assertEquals(table.columns.size, 10_001);
      assertEquals(table.rows, 20);
      assertEquals(columnPoints(table, "tag/9999").steps.length, 20);
      assert(grown < 200 * 2 ** 20, `heap grew ${grown} bytes`);
    },
  );
  await t.step(
    "each tag at its own step: split into tables, no quadratic null grid",
    async () => {
      await using tmp = await tempDir();
      const run = join(tmp.path, "run");
      await Deno.mkdir(run);
      const records = [fileVersionEvent()];
      for (let k = 0; k < 10_000; k++) {
        records.push(scalarEvent(`tag/${k}`, k, k));
      }
      await Deno.writeFile(
        join(run, "events.out.tfevents.1.sparse"),
        frame(records),
      );
      const before = heapBytes();
      const [imported] = await importTensorBoard(run);
      const grown = heapBytes() - before;
      // a single 10,000 × 10,000 table would need 900 MB
      assert(grown < 300 * 2 ** 20, `heap grew ${grown} bytes`);
      let points = 0, cells = 0;
      for (const table of imported.tables) {
        cells += table.rows * table.columns.size;
        for (const k of table.columns.keys()) {
          if (k !== "wall_time") points += columnPoints(table, k).steps.length;
        }
      }
      assertEquals(points, 10_000);
      assert(imported.tables.length > 1);
      assert(cells < 30_000_000, `${cells} cells`);
    },
  );
});

Deno.test("importTensorBoard() keeps every value of a step logged again after a restart, in file order", async () => {
  await using tmp = await tempDir();
  const run = join(tmp.path, "run");
  await Deno.mkdir(run);
  await Deno.writeFile(
    join(run, "events.out.tfevents.1.restart"),
    frame([
      fileVersionEvent(),
      ...[0, 1, 2].map((s) => scalarEvent("loss", s, 10 + s)),
      scalarEvent("acc", 2, 0.5),
      // the run restarted from step 1
      ...[1, 2, 3].map((s) => scalarEvent("loss", s, 20 + s)),
    ]),
  );
  const [imported] = await importTensorBoard(run);
  const table = imported.tables[0];
  // A step is not a key (issue 25): the restart's rows follow the first run's.
  assertEquals([...table.step], [0, 1, 2, 1, 2, 3]);
  assertEquals(columnPoints(table, "loss").values, [10, 11, 12, 21, 22, 23]);
  assertEquals(columnPoints(table, "acc"), { steps: [2], values: [0.5] });
  assertEquals(table.columns.get("wall_time")!.values[5], 1.7e9 + 3);
});
