/**
 * The adoption race (issue 22, item 5): a leftover process swaps the files
 * of `SPECIMEN_OUTPUTS`, over and over, for links to outside twins, FIFOs
 * nobody writes, and the inside files again (atomic renames), while
 * adoptions run. Invariants: every adoption ends, and nothing recorded (or
 * left in `strata/`) holds an outside byte. Used by
 * `tests/adopt_hostile_test.ts` and `deno task stress`.
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import {
  adoptOutputs,
  AdoptOutputsError,
} from "../../../lib/run/adopt_outputs.ts";
import { createSpecimen } from "../../../lib/specimen/create.ts";
import { SpecimenStorage } from "../../../lib/run/storage.ts";
import { PYTHON } from "../../_python.ts";

const NAMES = ["w.npy", "m.safetensors", "t.jsonl", "n.txt"];

function npy(values: Float64Array): Uint8Array {
  const dict =
    `{'descr': '<f8', 'fortran_order': False, 'shape': (${values.length},), }`;
  const text = new TextEncoder().encode(dict.padEnd(117, " ") + "\n");
  const head = new Uint8Array([
    0x93,
    0x4e,
    0x55,
    0x4d,
    0x50,
    0x59,
    1,
    0,
    118,
    0,
  ]);
  return new Uint8Array([...head, ...text, ...new Uint8Array(values.buffer)]);
}

function safetensors(values: Float32Array): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify({
    t: {
      dtype: "F32",
      shape: [values.length],
      data_offsets: [0, values.byteLength],
    },
  }));
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(json.length), true);
  return new Uint8Array([...len, ...json, ...new Uint8Array(values.buffer)]);
}

/** The four outputs holding `value` (and `text`). */
function files(value: number, text: string): Record<string, Uint8Array> {
  const enc = new TextEncoder();
  return {
    "w.npy": npy(new Float64Array(64).fill(value)),
    "m.safetensors": safetensors(new Float32Array(8).fill(value)),
    "t.jsonl": enc.encode(
      Array.from(
        { length: 5 },
        (_, i) => JSON.stringify({ step: i, v: value }) + "\n",
      ).join(""),
    ),
    "n.txt": enc.encode(text.repeat(10)),
  };
}

/**
 * Swaps each output for a link to its outside twin, a FIFO, and the inside
 * file again, up to argv[3] rounds or until stdin closes; "ready" first.
 */
const SWAPPER = `
import os, sys, shutil, select
out, outside, keep, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
names = ${JSON.stringify(NAMES)}
print('ready', flush=True)
for r in range(rounds):
    if select.select([sys.stdin], [], [], 0)[0]:
        break
    for n in names:
        path, tmp = os.path.join(out, n), os.path.join(out, '.swap')
        os.symlink(os.path.join(outside, n), tmp); os.rename(tmp, path)
        os.mkfifo(tmp); os.rename(tmp, path)
        shutil.copy(os.path.join(keep, n), tmp); os.rename(tmp, path)
`;

/** What the adoptions of one race did. */
export interface AdoptRaceCounts {
  /** Artifacts recorded (all checked to hold inside values only). */
  adopted: number;
  /** Files refused (a link, a FIFO, a file replaced or removed). */
  refused: number;
}

function fail(message: string): never {
  throw new Error(`adoption race: ${message}`);
}

/**
 * Runs `rounds` adoptions into fresh specimens of `vault` while a Python
 * process swaps the outputs; throws when an outside byte is recorded.
 * Needs `/usr/bin/python3` (no package).
 */
export async function adoptRace(
  vault: string,
  options: { rounds: number; prefix?: string },
): Promise<AdoptRaceCounts> {
  const tmp = await Deno.makeTempDir({ prefix: "sv_adopt_race_" });
  const out = join(tmp, "out"), outside = join(tmp, "outside");
  const keep = join(tmp, "keep");
  const inside = files(1, "inside");
  for (
    const [dir, set] of [[out, inside], [keep, inside], [
      outside,
      files(666, "OUTSIDE"),
    ]] as const
  ) {
    await Deno.mkdir(dir);
    for (const [n, bytes] of Object.entries(set)) {
      await Deno.writeFile(join(dir, n), bytes);
    }
  }
  const swapper = new Deno.Command(PYTHON, {
    args: ["-c", SWAPPER, out, outside, keep, "1000000"],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = swapper.stdout.pipeThrough(new TextDecoderStream()).getReader();
  const counts: AdoptRaceCounts = { adopted: 0, refused: 0 };
  try {
    if ((await lines.read()).value?.trim() !== "ready") fail("no swapper");
    for (let round = 0; round < options.rounds; round++) {
      const { dir } = await createSpecimen({
        vault,
        id: `${options.prefix ?? "race"}_${round}`,
        domain: "training",
        method: "fine_tuning",
      });
      const storage = await SpecimenStorage.open(dir);
      try {
        await adoptOutputs(storage, out);
      } catch (e) {
        if (!(e instanceof AdoptOutputsError)) throw e;
        counts.refused += e.report.refused.length;
      }
      for (const [name, record] of Object.entries(storage.artifacts)) {
        counts.adopted++;
        const where = `${name} (round ${round})`;
        if (record.format === "zarr") {
          const { data } = await storage.readTensor(name);
          for (const v of data as Float64Array) {
            if (v !== 1) fail(`${where} holds ${v}, an outside value`);
          }
        } else if (record.format === "parquet") {
          const t = await storage.readMetrics(name);
          if (!Array.from(t.v as ArrayLike<unknown>).every((v) => v === 1)) {
            fail(`${where} holds an outside value`);
          }
        } else {
          const bytes = await Deno.readFile(join(dir, record.path));
          const want = inside[record.source as string];
          if (
            !want || bytes.length !== want.length ||
            bytes.some((b, i) => b !== want[i])
          ) {
            fail(`${where} is not the inside file ${record.source}`);
          }
        }
      }
      for await (const e of Deno.readDir(join(dir, "strata"))) {
        if (e.name.startsWith(".tmp-")) fail(`${e.name} left in strata/`);
      }
    }
  } finally {
    await swapper.stdin.close();
    await swapper.status;
    await lines.cancel();
    await Deno.remove(tmp, { recursive: true });
  }
  if (counts.adopted + counts.refused < options.rounds * NAMES.length) {
    fail(`only ${counts.adopted} adopted + ${counts.refused} refused`);
  }
  return counts;
}

/** The race as a `deno task stress` scenario (a `ConcurrencyScenario`). */
export const adoptRaceScenario = {
  name: "outputs swapped while adopted",
  what:
    "a leftover process swaps 4 outputs for outside links, FIFOs and the files again while 4 adoptions run",
  async run(vault: { path: string }) {
    const counts = await adoptRace(vault.path, { rounds: 4 });
    return {
      label: "no outside byte recorded, no hang",
      counts: { ...counts },
    };
  },
};
