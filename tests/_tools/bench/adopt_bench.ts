/**
 * Adoption benchmark: a float32 `.npy` (1 GB by default, 1024 columns,
 * roughly normal values) left in SPECIMEN_OUTPUTS, adopted by `adoptOutputs`
 * into a Zarr v3 array with zstd(1), beside `writeTensor` of the same array
 * (already in memory) in the same run, by wall time and by CPU time (which a
 * shared machine disturbs far less). Each case runs in its own process, so
 * the adopting process's peak RSS (`VmHWM`) is its own; rounds alternate the
 * two cases so that noise falls on both alike, and the medians are reported.
 *
 * The `.npy` is written by Debian's numpy (`/usr/bin/python3`, in slices, so
 * Python's memory stays small), or by this script when numpy is missing.
 *
 * Run: `deno run -A tests/_tools/bench/adopt_bench.ts [--mb 1024] [--rounds 3]`
 * (about a minute at 1 GB).
 *
 * @module
 */
import { join, parseArgs } from "../../../lib/_deps.ts";
import { createSpecimen } from "../../../lib/specimen/create.ts";
import { SpecimenStorage } from "../../../lib/run/storage.ts";
import { adoptOutputs } from "../../../lib/run/adopt_outputs.ts";
import { benchDir, report } from "./_bench.ts";

const COLS = 1024;
const PYTHON = "/usr/bin/python3";

/** Writes `rows × COLS` float32 values as a `.npy` with numpy, in slices. */
const WRITE_NPY = `
import sys, numpy as np
path, rows = sys.argv[1], int(sys.argv[2])
a = np.lib.format.open_memmap(path, mode='w+', dtype='<f4', shape=(rows, ${COLS}))
rng = np.random.default_rng(1)
step = 4096
for i in range(0, rows, step):
    n = min(step, rows - i)
    a[i:i + n] = rng.standard_normal((n, ${COLS}), dtype=np.float32)
a.flush()
`;

/** The same file without numpy: a version 1.0 header, then the values. */
async function writeNpyHere(path: string, rows: number): Promise<void> {
  const dict =
    `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${COLS}), }`;
  const text = dict.padEnd(128 - 10 - 1, " ") + "\n";
  const head = new Uint8Array(10 + text.length);
  head.set([0x93, ...new TextEncoder().encode("NUMPY"), 1, 0]);
  new DataView(head.buffer).setUint16(8, text.length, true);
  head.set(new TextEncoder().encode(text), 10);
  using f = await Deno.open(path, { write: true, create: true });
  await f.write(head);
  let seed = 42;
  const next = () => {
    seed = (seed * 1664525 + 1013904223) >>> 0;
    return seed / 2 ** 32;
  };
  const block = new Float32Array(4096 * COLS);
  for (let r = 0; r < rows; r += 4096) {
    const n = Math.min(4096, rows - r) * COLS;
    for (let i = 0; i < n; i++) block[i] = next() + next() + next() - 1.5;
    const bytes = new Uint8Array(block.buffer, 0, n * 4);
    for (let off = 0; off < bytes.length;) {
      off += await f.write(bytes.subarray(off));
    }
  }
}

/** Peak resident memory of this process, from `/proc/self/status`. */
function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(
    Deno.readTextFileSync("/proc/self/status"),
  );
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * CPU time of this process so far (all threads, user + system), in ms, from
 * `/proc/self/stat`: on a shared machine it moves far less than wall time.
 */
function cpuMs(): number {
  const stat = Deno.readTextFileSync("/proc/self/stat");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 (12 and 13 after the name), in ticks.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** One measured case, in this (child) process; prints `{ ms, cpu, rssMb }`. */
async function child(mode: string, vault: string, id: string, src: string) {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  // Untimed: the first record captures provenance (git, deno info), which a
  // run has done before its protocol writes anything.
  await storage.writeMetrics({ step: [0] }, { name: "warm" });
  let ms: number;
  let cpu = cpuMs();
  if (mode === "adopt") {
    const t0 = performance.now();
    await adoptOutputs(storage, src);
    ms = performance.now() - t0;
    cpu = cpuMs() - cpu;
  } else {
    // The reference holds the whole array in memory, as writeTensor needs.
    const bytes = await Deno.readFile(join(src, "acts.npy"));
    const offset = 10 + new DataView(bytes.buffer).getUint16(8, true);
    const data = new Float32Array(bytes.buffer, offset);
    cpu = cpuMs();
    const t0 = performance.now();
    await storage.writeTensor("acts", data, {
      shape: [data.length / COLS, COLS],
    });
    ms = performance.now() - t0;
    cpu = cpuMs() - cpu;
  }
  console.log(JSON.stringify({ ms, cpu, rssMb: peakRssMb() }));
}

async function runChild(
  mode: string,
  vault: string,
  id: string,
  src: string,
): Promise<Measured> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", import.meta.filename!, "--child", mode, vault, id, src],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  if (!out.success) throw new Error(`the ${mode} child failed (${out.code})`);
  const text = new TextDecoder().decode(out.stdout).trim().split("\n").pop()!;
  return JSON.parse(text);
}

interface Measured {
  ms: number;
  cpu: number;
  rssMb: number;
}

function median(values: number[]): number {
  const s = values.slice().sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(args: string[]) {
  if (args[0] === "--child") {
    return await child(args[1], args[2], args[3], args[4]);
  }
  const { values } = parseArgs({
    args,
    options: {
      mb: { type: "string", default: "1024" },
      rounds: { type: "string", default: "3" },
    },
    strict: true,
  });
  const mb = Number(values.mb);
  const rounds = Math.max(1, Number(values.rounds));
  const rows = Math.max(1, Math.round(mb * 1024 * 1024 / (COLS * 4)));
  const realMb = rows * COLS * 4 / 1e6;
  await using tmp = await benchDir("sv_bench_adopt_");
  const src = join(tmp.path, "outputs");
  await Deno.mkdir(src);
  const npy = join(src, "acts.npy");
  const py = await new Deno.Command(PYTHON, {
    args: ["-c", WRITE_NPY, npy, String(rows)],
    stdout: "null",
    stderr: "piped",
  }).output().catch(() => null);
  const by = py?.success ? "numpy" : "this script (no numpy)";
  if (!py?.success) await writeNpyHere(npy, rows);
  console.log(
    `float32 .npy ${rows} × ${COLS} (${
      realMb.toFixed(0)
    } MB) written by ${by}; ${rounds} round(s), medians`,
  );
  const vault = join(tmp.path, "vault");
  await Deno.mkdir(join(vault, "specimens"), { recursive: true });
  const adopt: Measured[] = [];
  const write: Measured[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const [mode, into] of [["adopt", adopt], ["write", write]] as const) {
      const id = `${mode}_${r}`;
      into.push(await runChild(mode, vault, id, src));
      await Deno.remove(join(vault, "specimens", id), { recursive: true });
    }
  }
  const mbps = (ms: number) => realMb / (ms / 1000);
  const adoptMbps = median(adopt.map((x) => mbps(x.ms)));
  const writeMbps = median(write.map((x) => mbps(x.ms)));
  report({
    name: `adoptOutputs .npy → Zarr zstd(1), ${realMb.toFixed(0)} MB`,
    value: adoptMbps,
    unit: "MB/s",
    higherIsBetter: true,
    goal: 0.8 * writeMbps,
    reference: { name: "writeTensor", value: writeMbps },
  });
  report({
    name: "adoptOutputs per CPU second (load-independent)",
    value: median(adopt.map((x) => realMb / (x.cpu / 1000))),
    unit: "MB/CPU-s",
    higherIsBetter: true,
    reference: {
      name: "writeTensor",
      value: median(write.map((x) => realMb / (x.cpu / 1000))),
    },
  });
  report({
    name: "adoptOutputs peak RSS (its own process)",
    value: median(adopt.map((x) => x.rssMb)),
    unit: "MB",
    higherIsBetter: false,
    goal: 300,
    reference: {
      name: "writeTensor's process",
      value: median(write.map((x) => x.rssMb)),
    },
  });
  console.log(
    `spread: adopt ${
      adopt.map((x) => mbps(x.ms).toFixed(0)).join(", ")
    } MB/s; writeTensor ${
      write.map((x) => mbps(x.ms).toFixed(0)).join(", ")
    } MB/s; CPU s adopt ${
      adopt.map((x) => (x.cpu / 1000).toFixed(1)).join(", ")
    }, writeTensor ${
      write.map((x) => (x.cpu / 1000).toFixed(1)).join(", ")
    }; adopt RSS ${adopt.map((x) => x.rssMb.toFixed(0)).join(", ")} MB`,
  );
}

if (import.meta.main) await main(Deno.args);
