// The digits example's train.py on its own, with Debian's python3: the
// files storage.exec hands it (params, metrics, outputs) made by hand.
import { join } from "../lib/_deps.ts";
import { openNpy } from "../lib/formats/tensor_files/npy.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { validateTaxonomy } from "../lib/specimen/taxonomy.ts";
import { findPython } from "../lib/bridge/find_python.ts";
import { createSweep } from "../lib/specimen/create_sweep.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
} from "./utils.ts";
import { PYTHON } from "./_python.ts";

const EXAMPLE = join(ROOT, "specimens", "example_2026_11_27_digits_mlp");
const TRAIN = join(EXAMPLE, "train.py");
const sklearn = await findPython({
  imports: ["numpy", "sklearn"],
  candidates: [PYTHON],
});
const ignore = !sklearn.found;
if (ignore) {
  console.error(
    `skipped: ${PYTHON} with numpy and scikit-learn is missing: run "deno task test" as root (tasks/setup_tests.ts installs them) or apt-get install -y --no-install-recommends python3-sklearn python3-numpy`,
  );
}

interface EpochLine {
  step: number;
  epoch: number;
  train_loss: number;
  test_accuracy: number;
}

/** Starts train.py with the bridge's variables pointing into `dir`. */
async function startTrain(dir: string, params: Record<string, unknown>) {
  const files = {
    params: join(dir, "params.json"),
    metrics: join(dir, "metrics.jsonl"),
    outputs: join(dir, "outputs"),
  };
  await Deno.writeTextFile(files.params, JSON.stringify(params));
  await Deno.mkdir(files.outputs);
  const child = new Deno.Command(PYTHON, {
    args: [TRAIN],
    cwd: EXAMPLE,
    env: {
      SPECIMEN_PARAMS: files.params,
      SPECIMEN_METRICS: files.metrics,
      SPECIMEN_OUTPUTS: files.outputs,
    },
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  return { child, files };
}

/** The complete lines of `path` (a line being written is left out). */
async function lines(path: string): Promise<EpochLine[]> {
  const text = await Deno.readTextFile(path).catch(() => "");
  return text.split("\n").slice(0, -1).map((l) => JSON.parse(l));
}

Deno.test({
  name:
    "digits train.py: reads its params, appends one JSON line per epoch, and saves weights and a confusion matrix as .npy",
  ignore,
  fn: async () => {
    await using tmp = await tempDir();
    const { child, files } = await startTrain(tmp.path, {
      lr: 0.01,
      epochs: 12,
      hidden: 32,
      seed: 0,
    });
    const out = await child.output();
    const dec = new TextDecoder();
    assertEquals(out.code, 0, dec.decode(out.stderr));
    assert(
      /lr=0\.01 hidden=32 epochs=12 seed=0/.test(dec.decode(out.stdout)),
      dec.decode(out.stdout),
    );

    const rows = await lines(files.metrics);
    assertEquals(
      rows.map((r) => r.epoch),
      [...Array(12).keys()].map((i) => i + 1),
    );
    assertEquals(rows.map((r) => r.step), rows.map((r) => r.epoch));
    for (const r of rows) {
      assertEquals(Object.keys(r).sort(), [
        "epoch",
        "step",
        "test_accuracy",
        "train_loss",
      ]);
      assert(Number.isFinite(r.train_loss) && r.train_loss > 0);
      assert(r.test_accuracy >= 0 && r.test_accuracy <= 1);
    }
    const first = rows[0], last = rows.at(-1)!;
    assert(last.train_loss < first.train_loss / 2, JSON.stringify(rows));
    assert(last.test_accuracy > 0.9, `accuracy ${last.test_accuracy}`);

    // The .npy files, read by the vault's own reader (what adoption uses).
    {
      await using w = await openNpy(
        join(files.outputs, "first_layer_weights.npy"),
      );
      assertEquals(w.header.dtype, "float32");
      assertEquals(w.header.shape, [64, 32], "8×8 pixels × hidden units");
      let n = 0, sumAbs = 0;
      for await (const piece of w.pieces()) {
        const f = new Float32Array(piece.slice().buffer);
        n += f.length;
        for (const v of f) sumAbs += Math.abs(v);
      }
      assertEquals(n, 64 * 32);
      assert(sumAbs > 0 && Number.isFinite(sumAbs));
    }
    {
      await using c = await openNpy(
        join(files.outputs, "confusion_matrix.npy"),
      );
      assertEquals(c.header.dtype, "int64");
      assertEquals(c.header.shape, [10, 10]);
      const counts: number[] = [];
      for await (const piece of c.pieces()) {
        counts.push(
          ...Array.from(new BigInt64Array(piece.slice().buffer), Number),
        );
      }
      const total = counts.reduce((a, b) => a + b, 0);
      const diagonal = [...Array(10).keys()].reduce(
        (a, i) => a + counts[i * 11],
        0,
      );
      assertEquals(total, 450, "a quarter of the 1,797 digits, stratified");
      assertEquals(
        diagonal / total,
        last.test_accuracy,
        "the last epoch's accuracy",
      );
    }
  },
});

Deno.test({
  name:
    "digits train.py: the learning rate comes from SPECIMEN_PARAMS, and each line is on disk before the script ends",
  ignore,
  fn: async () => {
    const finals: number[] = [];
    for (const lr of [0.3, 0.001]) {
      await using tmp = await tempDir();
      const { child, files } = await startTrain(tmp.path, {
        lr,
        epochs: 30,
        hidden: 16,
        seed: 3,
      });
      // Lines are flushed one by one: some, not all, are readable while
      // it trains.
      const seen = new Set<number>();
      let done = false;
      const status = child.status.then((s) => {
        done = true;
        return s;
      });
      while (!done) {
        seen.add((await lines(files.metrics)).length);
        await new Promise((r) => setTimeout(r, 20));
      }
      const out = await child.output();
      assertEquals(
        (await status).code,
        0,
        new TextDecoder().decode(out.stderr),
      );
      assert(
        [...seen].some((n) => n > 0 && n < 30),
        `line counts seen while running: ${[...seen]}`,
      );
      const rows = await lines(files.metrics);
      assertEquals(rows.length, 30);
      finals.push(rows.at(-1)!.train_loss);
    }
    assert(finals[0] !== finals[1], `final losses ${finals}`);
  },
});

Deno.test("the digits example: a specimen of a valid taxonomy whose params are the protocol's defaults", async () => {
  const m = await readManifest(EXAMPLE);
  validateTaxonomy(m.taxonomy.domain, m.taxonomy.method);
  assertEquals(m.params, { lr: 0.01, epochs: 30, hidden: 64, seed: 0 });
  assertEquals(m.status, "active");
  assertEquals(m.runs, undefined);
  const protocol = await Deno.readTextFile(join(EXAMPLE, "protocol.ts"));
  assert(
    protocol.includes(
      "const PARAMS = { lr: 0.01, epochs: 30, hidden: 64, seed: 0 };",
    ),
    "protocol.ts declares the same defaults",
  );
  assert(protocol.includes(`storage.exec([py.python, "train.py"]`));
});

Deno.test("deriving the digits example copies train.py beside the protocol, not its results, logs or links", async () => {
  await using vault = await tempDir();
  const specimens = join(vault.path, "specimens");
  const parent = join(specimens, "example_2026_11_27_digits_mlp");
  await Deno.mkdir(join(parent, "strata"), { recursive: true });
  for (const f of ["manifest.msgpack", "protocol.ts", "train.py"]) {
    await Deno.copyFile(join(EXAMPLE, f), join(parent, f));
  }
  await Deno.writeTextFile(join(parent, "field_notes.md"), "parent's notes");
  await Deno.writeTextFile(join(parent, "strata", "x.bin"), "result");
  await Deno.mkdir(join(parent, "runs"));
  await Deno.symlink("/etc/hostname", join(parent, "link.txt"));
  const created = await createSweep({
    vault: vault.path,
    from: "example_2026_11_27_digits_mlp",
    sweep: ["lr=0.1,0.001"],
    prefix: "d",
  });
  assertEquals(created.length, 2);
  const train = await Deno.readFile(TRAIN);
  for (const c of created) {
    const names = [...Deno.readDirSync(c.dir)].map((e) => e.name).sort();
    assertEquals(names, [
      "field_notes.md",
      "manifest.msgpack",
      "protocol.ts",
      "strata",
      "train.py",
    ]);
    assertEquals(await Deno.readFile(join(c.dir, "train.py")), train);
    assertEquals([...Deno.readDirSync(join(c.dir, "strata"))], []);
    assert(
      !(await Deno.readTextFile(join(c.dir, "field_notes.md"))).includes(
        "parent's notes",
      ),
    );
  }
});

Deno.test({
  name:
    "the digits example end to end: deno task run trains it in Python, adopts its arrays, seals it; a derived lr runs too",
  ignore,
  fn: async () => {
    await using vault = await repoVault();
    const id = "example_2026_11_27_digits_mlp";
    const dir = join(vault.specimens, id);
    await Deno.mkdir(join(dir, "strata"), { recursive: true });
    for (
      const f of [
        "manifest.msgpack",
        "protocol.ts",
        "train.py",
        "field_notes.md",
      ]
    ) {
      await Deno.copyFile(join(EXAMPLE, f), join(dir, f));
    }
    const RUN_FLAGS = await taskFlags("run");
    const run = (args: string[]) =>
      runDeno([
        "run",
        ...RUN_FLAGS,
        join(ROOT, "tasks", "run.ts"),
        "--vault",
        vault.path,
        "--system-interval",
        "0.2",
        ...args,
      ], { env: { SPECIMEN_PYTHON: PYTHON } });
    const r = await run([id]);
    assertEquals(r.code, 0, r.stderr);
    const m = await readManifest(dir);
    assertEquals(m.status, "sealed");
    const storage = await SpecimenStorage.open(dir);
    const metrics = await storage.readMetrics();
    assertEquals(
      Array.from(metrics.epoch, Number),
      [...Array(30).keys()].map((i) => i + 1),
    );
    assert(Number(metrics.test_accuracy[29]) > 0.9);
    assertEquals((await storage.tensorInfo("first_layer_weights")).shape, [
      64,
      64,
    ]);
    assertEquals((await storage.tensorInfo("confusion_matrix")).shape, [
      10,
      10,
    ]);
    const sys = await storage.readMetrics("system");
    assert(
      Math.max(...Array.from(sys.procs, Number)) >= 2,
      "Python is in the tree",
    );

    const create = await runDeno([
      "run",
      ...await taskFlags("create"),
      join(ROOT, "tasks", "create.ts"),
      "--vault",
      vault.path,
      "--from",
      id,
      "--id",
      "digits_fast",
      "--param",
      "lr=0.1",
    ]);
    assertEquals(create.code, 0, create.stderr);
    const again = await run(["digits_fast"]);
    assertEquals(again.code, 0, again.stderr);
    const fast =
      await (await SpecimenStorage.open(join(vault.specimens, "digits_fast")))
        .readMetrics();
    assert(Number(fast.train_loss[29]) !== Number(metrics.train_loss[29]));
  },
});
