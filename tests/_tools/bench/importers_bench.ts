/**
 * Import benchmark: a TensorBoard event file of 1,000,000 simple_value
 * scalar events (4 tags, framed by tests/_tfevents.ts) read by
 * `importTensorBoard` (bytes, SHA-256, CRCs, protobuf, tables), beside
 * reading the same file's bytes and checking its CRCs alone in the same run
 * (goal: at least 0.5× of that, and 1,000,000 events/s). Then a W&B run
 * file of about 1.1M history values (the real offline run's records
 * repeated, `_wandb_file.ts`) read by `importWandb`, beside reading its bytes
 * and checking its CRCs alone (goal: 1,000,000 history values/s).
 *
 * Run: `deno run -A tests/_tools/bench/importers_bench.ts`.
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import process from "node:process";
import { importTensorBoard } from "../../../lib/importers/tensorboard.ts";
import { readRecords } from "../../../lib/importers/tfrecord.ts";
import { planImport } from "../../../lib/import/plan.ts";
import { writeImports } from "../../../lib/import/to_specimen.ts";
import { scalarEventFile } from "../../_tfevents.ts";
import { importWandb } from "../../../lib/importers/wandb.ts";
import { readWandbLog } from "../../../lib/importers/_wandb_log.ts";
import { benchDir, medianMs, report } from "./_bench.ts";
import { repeatedWandbFile } from "./_wandb_file.ts";

const EVENTS = 1_000_000;

await using dir = await benchDir();
const run = join(dir.path, "run");
await Deno.mkdir(run);
const file = join(run, "events.out.tfevents.1.bench");
await Deno.writeFile(file, scalarEventFile(EVENTS, 4));

/** The file's bytes, read as the importer reads them (one buffer). */
async function readBytes(path: string): Promise<Uint8Array> {
  using f = await Deno.open(path);
  const buf = new Uint8Array((await f.stat()).size);
  for (let o = 0; o < buf.length;) {
    const n = await f.read(buf.subarray(o));
    if (n === null) break;
    o += n;
  }
  return buf;
}

let records = 0;
const framingMs = await medianMs(async () => {
  records = readRecords(await readBytes(file), file, () => {}).records;
});
if (records !== EVENTS + 1) throw new Error(`read ${records} records`);
let points = 0;
const importMs = await medianMs(async () => {
  const [r] = await importTensorBoard(run);
  points = r.tables[0].rows * 4;
});
if (points !== EVENTS) throw new Error(`imported ${points} points`);

const reference = {
  name: "bytes + CRCs alone",
  value: EVENTS / (framingMs / 1000),
};
report({
  name: `importTensorBoard 1M scalar events (ratio goal ≥ 0.5×)`,
  value: EVENTS / (importMs / 1000),
  unit: "events/s",
  higherIsBetter: true,
  goal: 1_000_000,
  reference,
});

// The whole import: read, then a sealed specimen (Parquet, manifest, seal),
// into a fresh vault each time.
let vaults = 0;
const sealedMs = await medianMs(async () => {
  const specimensDir = join(dir.path, `vault${vaults++}`, "specimens");
  const plans = await planImport(await importTensorBoard(run), {
    specimensDir,
    id: "bench",
  });
  await writeImports(plans, { specimensDir });
}, { runs: 3 });
report({
  name: "import 1M scalar events as a sealed specimen",
  value: EVENTS / (sealedMs / 1000),
  unit: "events/s",
  higherIsBetter: true,
  reference: {
    name: "importTensorBoard alone",
    value: EVENTS / (importMs / 1000),
  },
});

// W&B: the real run's history records repeated to ~1.1M values.
const wandb = await repeatedWandbFile(4200);
const wandbFile = join(dir.path, "run-bench.wandb");
await Deno.writeFile(wandbFile, wandb.bytes);
let chunks = 0;
const wandbFramingMs = await medianMs(async () => {
  chunks = readWandbLog(await readBytes(wandbFile), wandbFile, () => {})
    .records;
});
if (chunks < 4200 * 41) throw new Error(`read ${chunks} W&B records`);
let wandbRows = 0;
const cpu0 = process.cpuUsage();
const wandbMs = await medianMs(async () => {
  const [r] = await importWandb(wandbFile);
  wandbRows = r.tables[0].rows;
}, { runs: 5, warmup: 1 });
const cpu = process.cpuUsage(cpu0);
if (wandbRows !== 4200 * 41) throw new Error(`imported ${wandbRows} rows`);
report({
  name: `importWandb ${(wandb.historyValues / 1e6).toFixed(2)}M history values`,
  value: wandb.historyValues / (wandbMs / 1000),
  unit: "values/s",
  higherIsBetter: true,
  goal: 1_000_000,
  reference: {
    name: "bytes + CRCs alone",
    value: wandb.historyValues / (wandbFramingMs / 1000),
  },
});
// CPU time as well: on a shared machine the wall clock also counts the time
// other processes hold both cores (6 imports ran between the two readings).
report({
  name: "importWandb per CPU-second (this process, GC included)",
  value: (6 * wandb.historyValues) / ((cpu.user + cpu.system) / 1e6),
  unit: "values/s",
  higherIsBetter: true,
  goal: 1_000_000,
});
