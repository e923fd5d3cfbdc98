/**
 * MLflow metric files are streamed, and refused when too large (issue 22,
 * item 12): the peak RSS of a real `deno task import` process, measured by
 * `/usr/bin/time -f %M`, on a 2-million-line file generated here, and a
 * sparse file of 1.5 GB that must be refused by its size, unread.
 */
import { join } from "../lib/_deps.ts";
import { MAX_METRIC_FILE_BYTES } from "../lib/importers/mlflow.ts";
import { writeMlflowStore } from "./_mlflow_store.ts";
import { HAS_TIME, taskMeasured } from "./_measured.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  tempDir,
  tempVault,
} from "./utils.ts";

const importMeasured = (args: string[]) => taskMeasured("import", args);

/** Appends `n` lines "timestamp value step" to `path`. */
async function writeMetricLines(path: string, n: number) {
  using f = await Deno.open(path, { write: true, create: true, append: true });
  const enc = new TextEncoder();
  for (let i = 0; i < n; i += 20_000) {
    let s = "";
    for (let j = i; j < Math.min(n, i + 20_000); j++) {
      s += `${1795779100000 + j} ${(1 / (j + 1)).toPrecision(9)} ${j}\n`;
    }
    const bytes = enc.encode(s);
    let at = 0;
    while (at < bytes.length) at += await f.write(bytes.subarray(at));
  }
}

Deno.test({
  name:
    "deno task import mlflow streams a 2-million-line metric file: every row kept, peak RSS under 520 MB (it was 693 MB)",
  ignore: !HAS_TIME,
  async fn() {
    await using vault = await tempVault();
    await using store = await tempDir();
    const { ids, exp } = await writeMlflowStore(store.path);
    const big = join(exp, ids[0], "metrics", "big");
    await writeMetricLines(big, 2_000_000);
    const r = await importMeasured([
      "mlflow",
      join(store.path, "mlruns"),
      "--vault",
      vault.path,
    ]);
    assertEquals(r.code, 0, r.stderr);
    assert(r.rssMb < 520, `peak RSS ${r.rssMb.toFixed(0)} MB`);
    // Every line became a row: the table's rows are in the manifest.
    const { readManifest } = await import("../lib/specimen/manifest.ts");
    const id = /→ (\w+)/.exec(r.stdout.split("\n")[0])![1];
    const m = await readManifest(join(vault.specimens, id));
    const rows = JSON.stringify(m.artifacts);
    assertMatch(rows, /2000000/);
  },
});

Deno.test({
  name:
    "deno task import mlflow refuses a 1.5 GB (sparse) metric file by its size, naming it, unread",
  ignore: !HAS_TIME,
  async fn() {
    await using vault = await tempVault();
    await using store = await tempDir();
    const { ids, exp } = await writeMlflowStore(store.path);
    for (const size of [1.5 * 2 ** 30, MAX_METRIC_FILE_BYTES + 1]) {
      const huge = join(exp, ids[1], "metrics", "huge");
      await Deno.writeTextFile(huge, "1795779100000 1 0\n");
      await Deno.truncate(huge, size);
      const r = await importMeasured([
        "mlflow",
        join(store.path, "mlruns"),
        "--vault",
        vault.path,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(
        r.stderr,
        new RegExp(
          `Cannot import "${huge}": it holds ${size} bytes, more than the ${MAX_METRIC_FILE_BYTES} an MLflow metric file may`,
        ),
      );
      assert(!/TypeError| {4}at /.test(r.stderr), r.stderr);
      assert(r.rssMb < 300, `peak RSS ${r.rssMb.toFixed(0)} MB`);
      assertEquals([...Deno.readDirSync(vault.specimens)], []);
    }
  },
});
