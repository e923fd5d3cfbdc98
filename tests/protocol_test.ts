import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  repoVault,
  ROOT,
  runDeno,
  runTask,
} from "./utils.ts";

const EXAMPLE = "example_2024_12_19_synthetic_demo";

async function copyExample(specimens: string): Promise<string> {
  const from = join(ROOT, "specimens", EXAMPLE);
  const to = join(specimens, EXAMPLE);
  await Deno.mkdir(join(to, "strata"), { recursive: true });
  for (const f of ["manifest.msgpack", "protocol.ts", "field_notes.md"]) {
    await Deno.copyFile(join(from, f), join(to, f));
  }
  return to;
}

async function snapshot(dir: string): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const walk = async (d: string, prefix: string) => {
    for await (const e of Deno.readDir(d)) {
      const p = join(d, e.name);
      if (e.isDirectory) await walk(p, `${prefix}${e.name}/`);
      else out[`${prefix}${e.name}`] = (await Deno.stat(p)).mtime!.getTime();
    }
  };
  await walk(dir, "");
  return out;
}

Deno.test("the example protocol runs from the repo root, its own folder and elsewhere, with identical results", async () => {
  await using vault = await repoVault();
  const results: Record<string, unknown>[] = [];
  for (const where of ["root", "own", "elsewhere"] as const) {
    const sub = join(vault.path, where);
    await Deno.mkdir(join(sub, "specimens"), { recursive: true });
    const dir = await copyExample(join(sub, "specimens"));
    const cwd = where === "root" ? ROOT : where === "own" ? dir : "/";
    const script = where === "own" ? "protocol.ts" : join(dir, "protocol.ts");
    const r = await runDeno(["run", "-A", script], { cwd });
    assertEquals(r.code, 0, `${where}: ${r.stderr}`);
    assertMatch(r.stdout, /Wrote 100 steps/);
    const storage = await SpecimenStorage.open(dir);
    const m = storage.manifest;
    assertEquals(Object.keys(m.artifacts).sort(), ["activations", "metrics"]);
    assertEquals(
      m.artifacts.metrics.columns!.map((c) => `${c.name}:${c.type}`),
      [
        "step:INT64",
        "loss:DOUBLE",
        "accuracy:DOUBLE",
        "entropy:DOUBLE",
      ],
    );
    assertEquals(m.artifacts.activations.shape, [100, 512]);
    assertEquals(m.artifacts.activations.dtype, "float32");
    const metrics = await storage.readMetrics();
    assertEquals(metrics.step.length, 100);
    const loss = [...metrics.loss] as number[];
    assert(loss[0] > 2 && loss[99] < 0.5, "loss decays like training");
    const acc = [...metrics.accuracy] as number[];
    assert(acc[99] > acc[0], "accuracy rises");
    const acts = await storage.readTensor("activations");
    assertEquals(acts.shape, [100, 512]);
    results.push({
      loss,
      firstRow: [...(acts.data as Float32Array).subarray(0, 8)],
    });
  }
  assertEquals(results[1], results[0], "seeded: same numbers every run");
  assertEquals(results[2], results[0]);
});

Deno.test("running the example protocol twice is refused clearly and changes nothing", async () => {
  await using vault = await repoVault();
  const dir = await copyExample(vault.specimens);
  const first = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(first.code, 0, first.stderr);
  const before = await snapshot(dir);
  const second = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(second.code, 3);
  assertMatch(
    second.stderr,
    /^error: Specimen "example_2024_12_19_synthetic_demo" has already run/,
  );
  assertMatch(
    second.stderr,
    /deno task create --id example_2024_12_19_synthetic_demo_v2/,
  );
  assert(!second.stderr.includes("    at "), "no stack trace");
  assertEquals(await snapshot(dir), before);
});

Deno.test("a freshly created protocol runs as is and writes nothing", async () => {
  await using vault = await repoVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "fresh",
    domain: "alignment",
    method: "probe_training",
  });
  const r = await runDeno(["run", "-A", join(dir, "protocol.ts")], {
    cwd: "/",
  });
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Specimen fresh has no experiment yet: edit/);
  assertEquals([...Deno.readDirSync(join(dir, "strata"))], []);
  assertEquals((await readManifest(dir)).artifacts, {});
});

Deno.test("a protocol that leaves a logger open is sealed with the log compacted", async () => {
  await using vault = await repoVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "forgot_close",
    domain: "training",
    method: "fine_tuning",
  });
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  const log = await storage.logger("train", { flushRows: 10 });
  for (let step = 0; step < 25; step++) log.log({ step, loss: 1 / (step + 1) });
});
`,
  );
  const r = await runDeno(["run", "-A", join(dir, "protocol.ts")]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stderr, /left logger\(s\) train open; closed them/);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.artifacts.train.rows, 25);
  assertEquals([...Deno.readDirSync(join(dir, "strata"))].map((e) => e.name), [
    "train.parquet",
  ]);
  const v = await runTask("verify", [
    "--vault",
    vault.path,
  ]);
  assertEquals(v.code, 0, v.stdout + v.stderr);
});
