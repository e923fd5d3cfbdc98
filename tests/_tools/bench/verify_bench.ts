/**
 * Verification benchmark: a sealed specimen of about 1 GB (a Zarr-like
 * folder of 240 chunk files of 4 MiB and a 16 MiB table) verified by
 * `verifySpecimen` and by the `verify` task as a subprocess, each beside
 * `sha256sum` over the same files in the same run (goal: at least 0.8× its
 * throughput); `openssl dgst -sha256` is shown too, as the fastest native
 * hasher here. Then the peak memory of verifying a 4 GiB tensor file.
 *
 * Run: `deno run -A tests/_tools/bench/verify_bench.ts` (about a minute).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import { createSpecimen } from "../../../lib/specimen/create.ts";
import { sealSpecimen } from "../../../lib/specimen/seal.ts";
import { verifySpecimen } from "../../../lib/specimen/verify.ts";
import { benchDir, report } from "./_bench.ts";

const CHUNKS = 240;
const CHUNK_BYTES = 4 * 1024 * 1024;
const TABLE_BYTES = 16 * 1024 * 1024;
const ROUNDS = 5;
const ROOT = join(import.meta.dirname!, "..", "..", "..");

function median(values: number[]): number {
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

/** Incompressible bytes (hashing speed does not depend on content). */
function noise(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  const words = new Uint32Array(out.buffer);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return out;
}

async function sealedSpecimen(vault: string): Promise<{
  dir: string;
  files: string[];
  bytes: number;
  sealMs: number;
}> {
  const { dir } = await createSpecimen({
    vault,
    id: "bench_1gb",
    domain: "training",
    method: "fine_tuning",
  });
  const block = noise(CHUNK_BYTES, 7);
  const files: string[] = [];
  await Deno.mkdir(join(dir, "strata", "acts.zarr", "c"), { recursive: true });
  await Deno.writeTextFile(join(dir, "strata", "acts.zarr", "zarr.json"), "{}");
  for (let i = 0; i < CHUNKS; i++) {
    block[0] = i & 255; // every chunk differs
    block[1] = i >> 8;
    const path = join(dir, "strata", "acts.zarr", "c", String(i));
    await Deno.mkdir(path);
    await Deno.writeFile(join(path, "0"), block);
    files.push(join(path, "0"));
  }
  await Deno.writeFile(
    join(dir, "strata", "metrics.parquet"),
    noise(TABLE_BYTES, 11),
  );
  files.push(join(dir, "strata", "metrics.parquet"));
  const t0 = performance.now();
  const m = await sealSpecimen(dir);
  const sealMs = performance.now() - t0;
  return { dir, files, bytes: m.seal!.bytes, sealMs };
}

async function hashTool(
  cmd: string,
  args: string[],
  files: string[],
): Promise<void> {
  const out = await new Deno.Command(cmd, {
    args: [...args, ...files],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

async function verifyTask(vault: string, id: string): Promise<void> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-env=SPECIMEN_VAULT",
      join(ROOT, "tasks", "verify.ts"),
      "--vault",
      vault,
      id,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
}

/** Peak RSS (MB) of a subprocess verifying a 4 GiB sparse tensor file. */
async function peakRssVerifying4GiB(vault: string): Promise<number> {
  const { dir } = await createSpecimen({
    vault,
    id: "bench_4gib",
    domain: "training",
    method: "fine_tuning",
  });
  {
    using f = await Deno.open(join(dir, "strata", "huge.bin"), {
      write: true,
      createNew: true,
    });
    await f.truncate(4 * 1024 ** 3);
  }
  await sealSpecimen(dir);
  const script = `
    import { verifySpecimen } from ${
    JSON.stringify(join(ROOT, "lib", "specimen", "verify.ts"))
  };
    const r = await verifySpecimen(${JSON.stringify(dir)});
    if (r.state !== "ok") throw new Error(r.state);
    const kb = /VmHWM:\\s+(\\d+) kB/.exec(Deno.readTextFileSync("/proc/self/status"))[1];
    console.log(Number(kb) / 1024);
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--config", join(ROOT, "deno.json"), script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  return Number(new TextDecoder().decode(out.stdout).trim());
}

/** Runs the verification benchmark and prints its figures. */
export async function benchVerify(): Promise<void> {
  await using tmp = await benchDir("sv_bench_verify_");
  const vault = tmp.path;
  const { dir, files, bytes, sealMs } = await sealedSpecimen(vault);
  const mb = bytes / 1e6;

  // Rounds interleaved so noise from other processes falls on all alike;
  // the first round is a warmup (it also brings the files into the cache).
  const cases: Record<string, () => Promise<unknown>> = {
    verifySpecimen: async () => {
      const r = await verifySpecimen(dir);
      if (r.state !== "ok") throw new Error(`verify: ${r.state}`);
    },
    sha256sum: () => hashTool("sha256sum", [], files),
    openssl: () => hashTool("openssl", ["dgst", "-sha256"], files),
    task: () => verifyTask(vault, "bench_1gb"),
  };
  const times: Record<string, number[]> = {};
  for (let round = 0; round <= ROUNDS; round++) {
    for (const [name, run] of Object.entries(cases)) {
      const t0 = performance.now();
      await run();
      if (round > 0) (times[name] ??= []).push(performance.now() - t0);
    }
  }
  const rate = (name: string) => mb / (median(times[name]) / 1000);
  const reference = { name: "sha256sum", value: rate("sha256sum") };
  report({
    name: `verifySpecimen ${files.length + 1} files, ${mb.toFixed(0)} MB`,
    value: rate("verifySpecimen"),
    unit: "MB/s",
    higherIsBetter: true,
    goal: 0.8 * reference.value,
    reference,
  });
  report({
    name: `  deno task verify (subprocess, with startup)`,
    value: rate("task"),
    unit: "MB/s",
    higherIsBetter: true,
    goal: 0.8 * reference.value,
    reference,
  });
  report({
    name: `  verifySpecimen beside openssl dgst -sha256 (SHA-NI)`,
    value: rate("verifySpecimen"),
    unit: "MB/s",
    higherIsBetter: true,
    reference: { name: "openssl", value: rate("openssl") },
  });
  report({
    name: `  sealSpecimen (first hash, once)`,
    value: mb / (sealMs / 1000),
    unit: "MB/s",
    higherIsBetter: true,
    reference,
  });
  if (Deno.build.os === "linux") {
    report({
      name: "peak RSS verifying a 4 GiB tensor file",
      value: await peakRssVerifying4GiB(vault),
      unit: "MB",
      higherIsBetter: false,
      goal: 200,
      reference: { name: "file size", value: 4 * 1024 ** 3 / 1e6 },
    });
  }
}

if (import.meta.main) {
  await benchVerify();
}
