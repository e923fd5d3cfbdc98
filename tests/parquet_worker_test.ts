/**
 * The fast path on two threads (`_pool.ts`): columns decoded by the decode
 * worker equal those decoded on the main thread, damage gives the same
 * error class either way, and a process that used the worker still exits
 * at once.
 */
import { DuckDBInstance } from "@duckdb/node-api";
import { join } from "../lib/_deps.ts";
import {
  decodeParquet,
  decodeParquetFile,
} from "../lib/formats/parquet/_decode.ts";
import {
  stopDecodeWorker,
  type WorkerMode,
  workerStats,
} from "../lib/formats/parquet/_pool.ts";
import {
  type DecodedMetrics,
  encodeMetrics,
} from "../lib/formats/parquet/parquet.ts";
import { assert, assertEquals, INTEROP, runDeno, tempDir } from "./utils.ts";

type Outcome = DecodedMetrics | { error: string };

async function fromBytes(bytes: Uint8Array, worker: WorkerMode) {
  try {
    return await decodeParquet(bytes, "x.parquet", { fast: true, worker });
  } catch (e) {
    return { error: (e as Error).name };
  }
}

async function fromFile(path: string, worker: WorkerMode): Promise<Outcome> {
  try {
    return await decodeParquetFile(path, join(path, ".."), worker);
  } catch (e) {
    return { error: (e as Error).name };
  }
}

/**
 * The file read with the worker and without, from bytes and from the file:
 * all four the same. Returns how many columns the worker decoded.
 */
async function assertSameOnWorker(path: string): Promise<number> {
  const before = workerStats.columns;
  const bytes = await Deno.readFile(path);
  const main = await fromBytes(bytes, "never");
  assertEquals(await fromBytes(bytes, "always"), main, `${path} (bytes)`);
  assertEquals(await fromFile(path, "always"), main, `${path} (file)`);
  assertEquals(await fromFile(path, "never"), main, `${path} (file)`);
  return workerStats.columns - before;
}

function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** Our writer's columns of `n` rows: typed, plain, with nulls, INT64 wide. */
function ourColumns(n: number) {
  const r = random(n);
  return {
    step: Int32Array.from({ length: n }, (_, i) => i),
    loss: Float64Array.from({ length: n }, (_, i) => Math.exp(-i / n) + r()),
    holes: Array.from({ length: n }, (_, i) => i % 7 === 3 ? null : r()),
    wide: Array.from({ length: n }, (_, i) => BigInt(i) * 2n ** 40n),
    counts: Array.from({ length: n }, (_, i) => i % 11),
    f32: Float32Array.from({ length: n }, (_, i) => i / 3),
  };
}

Deno.test("the decode worker reads files exactly as the main thread does: ours, DuckDB's, polars' and pyarrow's", async (t) => {
  await using dir = await tempDir();
  try {
    for (
      const [name, n, compression] of [
        ["ours, zstd, 300k rows", 300_000, "zstd"],
        ["ours, snappy, two row groups", (1 << 20) + 5000, "snappy"],
        ["ours, uncompressed, 3 rows", 3, "none"],
      ] as const
    ) {
      await t.step(name, async () => {
        const path = join(dir.path, "ours.parquet");
        const { bytes } = await encodeMetrics(ourColumns(n), { compression });
        await Deno.writeFile(path, bytes);
        assert(await assertSameOnWorker(path) >= 6, "the worker was not used");
      });
    }
    await t.step(
      "DuckDB's: dictionaries, nulls, v2 pages, row groups",
      async () => {
        const instance = await DuckDBInstance.create(":memory:");
        const con = await instance.connect();
        try {
          for (const options of ["COMPRESSION zstd", "PARQUET_VERSION V2"]) {
            const path = join(dir.path, "duck.parquet");
            await con.run(`COPY (SELECT i::BIGINT AS step,
              (i * 0.001 - 3)::DOUBLE AS loss, (i % 17)::DOUBLE AS few,
              (i % 1000)::INTEGER AS i32, (i * 0.5)::FLOAT AS f32,
              (i * 4611686018427)::BIGINT AS huge,
              CASE WHEN i % 9 = 0 THEN NULL ELSE i * 1.5 END AS holes,
              CASE WHEN i % 4 = 0 THEN NULL ELSE i % 3 END::BIGINT AS dh
            FROM range(200000) r(i)) TO '${path}' (FORMAT parquet, ${options})`);
            const used = await assertSameOnWorker(path);
            // v2: the worker's delta-encoded columns come back to this thread.
            if (options.includes("zstd")) assert(used >= 2, options);
          }
        } finally {
          con.closeSync();
          instance.closeSync();
        }
      },
    );
    await t.step("polars' and pyarrow's interop files", async () => {
      const files = [join(
        INTEROP,
        "python_vault/specimens/2024_01_01_run_000000/strata/metrics.parquet",
      )];
      for await (const e of Deno.readDir(join(INTEROP, "parquet_edge"))) {
        if (e.name.endsWith(".parquet")) {
          files.push(join(INTEROP, "parquet_edge", e.name));
        }
      }
      let used = 0;
      for (const path of files) used += await assertSameOnWorker(path);
      assert(used > 0, "the worker was never used");
    });
  } finally {
    stopDecodeWorker();
  }
});

Deno.test("damaged files give the same values or the same error class through the decode worker", async () => {
  try {
    const sources = [
      (await encodeMetrics(ourColumns(3000), { compression: "none" })).bytes,
      (await encodeMetrics(ourColumns(3000), { compression: "snappy" })).bytes,
      (await encodeMetrics(ourColumns(3000))).bytes,
    ];
    const r = random(16);
    let errors = 0;
    for (const source of sources) {
      for (let trial = 0; trial < 60; trial++) {
        const bytes = source.slice();
        const flips = 1 + Math.floor(r() * 3);
        for (let k = 0; k < flips; k++) {
          const at = 4 + Math.floor(r() * (bytes.length * 0.8));
          bytes[at] ^= 1 << Math.floor(r() * 8);
        }
        const main = await fromBytes(bytes, "never");
        assertEquals(await fromBytes(bytes, "always"), main, `trial ${trial}`);
        if ("error" in main) errors++;
      }
    }
    assert(errors > 0, "no damage was ever detected");
  } finally {
    stopDecodeWorker();
  }
});

Deno.test("a process that read metrics on the decode worker exits at once, and one without read access to lib/ reads them on its own thread", async (t) => {
  await using dir = await tempDir();
  const path = join(dir.path, "m.parquet");
  const { bytes } = await encodeMetrics(ourColumns(300_000));
  await Deno.writeFile(path, bytes);
  const lib = new URL("../lib/formats/parquet/", import.meta.url).href;
  const script = join(dir.path, "read.ts");
  await Deno.writeTextFile(
    script,
    `import { decodeParquetFile } from "${lib}_decode.ts";
import { workerStats } from "${lib}_pool.ts";
const mode = Deno.args[1] === "default" ? undefined : Deno.args[1];
let rows = 0;
for (let i = 0; i < 3; i++) {
  rows += (await decodeParquetFile(Deno.args[0], ${
      JSON.stringify(dir.path)
    }, mode)).rows;
}
// Since the process began: the rest of its wall time is its exit.
console.log(JSON.stringify({ rows, ...workerStats, ms: performance.now() }));
`,
  );
  for (
    const [name, flags, mode, used] of [
      ["worker used", ["--allow-read"], "always", true],
      // Off unless asked for: one thread measured faster on 2 cores.
      ["by default, no worker", ["--allow-read"], "default", false],
      ["worker booting or idle at the end", ["--allow-read"], "auto", null],
      [
        "no read access to the worker's module",
        [
          `--allow-read=${dir.path}`,
        ],
        "always",
        false,
      ],
    ] as const
  ) {
    await t.step(name, async () => {
      const t0 = performance.now();
      const out = await runDeno(["run", ...flags, script, path, mode]);
      const ms = performance.now() - t0;
      assertEquals(out.code, 0, out.stderr);
      const stats = JSON.parse(out.stdout);
      assertEquals(stats.rows, 3 * 300_000);
      if (used !== null) assertEquals(stats.columns > 0, used, out.stdout);
      // A worker left ref'd would hold the process forever.
      const exit = ms - stats.ms;
      assert(exit < 60_000, `the process took ${exit.toFixed(0)} ms to end`);
    });
  }
});
