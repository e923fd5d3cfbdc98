/**
 * Tensor benchmark: a 100,000 × 768 float32 tensor (307 MB, embedding-like
 * values) through `writeZarr` uncompressed and with zstd(1), beside one
 * `Deno.writeFile` of the same bytes (the disk's limit in this run); then a
 * one-row `readZarr` slice, beside reading the whole array.
 *
 * Run: `deno run -A tests/_tools/bench/tensors_bench.ts` (about half a minute).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import {
  createZarrWriter,
  readZarr,
  type Selection,
  writeZarr,
} from "../../../lib/formats/zarr/zarr.ts";
import { benchDir, medianMs, report } from "./_bench.ts";

const ROWS = 100_000;
const COLS = 768;
const RUNS = 5;

/** Embedding-like values: roughly normal, as zstd sees real activations. */
function embeddings(): Float32Array {
  const data = new Float32Array(ROWS * COLS);
  let seed = 42;
  const next = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  for (let i = 0; i < data.length; i++) {
    data[i] = next() + next() + next() - 1.5;
  }
  return data;
}

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/**
 * Runs each case once per round, rounds interleaved so that noise from other
 * processes falls on all of them alike; outputs are removed between runs
 * (untimed) so dirty pages do not pile up. The first round is a warmup.
 */
async function interleaved(
  cases: Record<string, (i: number) => Promise<string>>,
  rounds: number,
): Promise<Record<string, number>> {
  const times: Record<string, number[]> = {};
  for (let round = 0; round <= rounds; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now();
      const output = await run(round);
      const ms = performance.now() - t0;
      if (round > 0) (times[name] ??= []).push(ms);
      await Deno.remove(output, { recursive: true });
    }
  }
  return Object.fromEntries(
    Object.entries(times).map(([name, ms]) => [name, median(ms)]),
  );
}

/** Reads `selection` and returns the bytes and chunk files read. */
async function observedRead(path: string, selection?: Selection) {
  let bytes = 0;
  const chunks = new Set<string>();
  await readZarr(path, selection, {
    onRead: (key, n) => {
      bytes += n;
      if (key.startsWith("c/")) chunks.add(key);
    },
  });
  return { bytes, chunks: chunks.size };
}

/** Prints the tensor figures. */
export async function benchTensors(): Promise<void> {
  await using dir = await benchDir("sv_bench_tensors_");
  const data = embeddings();
  const bytes = new Uint8Array(data.buffer);
  const mb = bytes.byteLength / 1e6;
  const shape = [ROWS, COLS];
  const out = (name: string, i: number) => join(dir.path, `${name}-${i}`);

  const ms = await interleaved({
    reference: async (i) => {
      await Deno.writeFile(out("ref.bin", i), bytes);
      return out("ref.bin", i);
    },
    none: async (i) => {
      await writeZarr(out("none.zarr", i), data, {
        shape,
        compression: "none",
      });
      return out("none.zarr", i);
    },
    zstd: async (i) => {
      await writeZarr(out("zstd.zarr", i), data, { shape });
      return out("zstd.zarr", i);
    },
    streamed: async (i) => {
      // Blocks of 1,000 rows do not align with the 1,365-row chunks.
      await using writer = await createZarrWriter(out("streamed.zarr", i), {
        shape,
        dtype: "float32",
      });
      for (let row = 0; row < ROWS; row += 1000) {
        await writer.write(data.subarray(row * COLS, (row + 1000) * COLS));
      }
      await writer.close();
      return out("streamed.zarr", i);
    },
  }, RUNS);
  const reference = {
    name: "one Deno.writeFile",
    value: mb / ms.reference * 1000,
  };
  const label = `100k×${COLS} float32`;
  report({
    name: `writeZarr ${label}, uncompressed`,
    value: mb / ms.none * 1000,
    unit: "MB/s",
    higherIsBetter: true,
    goal: 1000,
    reference,
  });
  report({
    name: `writeZarr ${label}, zstd(1)`,
    value: mb / ms.zstd * 1000,
    unit: "MB/s",
    higherIsBetter: true,
    goal: 450,
    reference,
  });
  report({
    name: `createZarrWriter 100k×${COLS}, zstd(1), 1k-row blocks`,
    value: mb / ms.streamed * 1000,
    unit: "MB/s",
    higherIsBetter: true,
    reference,
  });

  for (const compression of ["none", "zstd"] as const) {
    const path = join(dir.path, `read-${compression}.zarr`);
    const info = await writeZarr(path, data, { shape, compression });
    let row = 0;
    const oneRow = await medianMs(() => {
      row = (row + 7919) % ROWS;
      return readZarr(path, [row]);
    }, { runs: 21, warmup: 2 });
    const whole = await medianMs(() => readZarr(path), { runs: 3 });
    report({
      name: `readZarr one row of ${label}, ${
        compression === "none" ? "uncompressed" : "zstd(1)"
      }`,
      value: oneRow,
      unit: "ms",
      higherIsBetter: false,
      goal: 10,
      reference: { name: "whole array", value: whole },
    });
    const one = await observedRead(path, [ROWS / 2]);
    const all = await observedRead(path);
    const chunkBytes = (await Deno.stat(join(path, "c", "36", "0"))).size;
    const metaBytes = (await Deno.stat(join(path, "zarr.json"))).size;
    report({
      name: `  bytes read for it (${one.chunks} of ${all.chunks} chunk files)`,
      value: one.bytes,
      unit: "bytes",
      higherIsBetter: false,
      goal: chunkBytes + metaBytes,
      reference: { name: "whole array", value: all.bytes },
    });
    console.log(
      `  (${info.chunks.join("×")} chunks, ${
        (info.bytes / 1e6).toFixed(1)
      } MB on disk; goal: one chunk file plus zarr.json)`,
    );
  }
}

if (import.meta.main) {
  await benchTensors();
}
