/**
 * Refusals and reports that said the wrong thing: a run refused because the
 * same specimen is being run right now exits 8, busy (documented in `run --help`
 * and the README), not 1 (a failed protocol); `deno task repair` calls a
 * sealed specimen with no log left clean, not "sealed with logs left".
 */
import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  repoVault,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
  until,
} from "./utils.ts";

Deno.test("deno task run of a specimen another live run holds exits 8 (busy) with the run named; --help and the README document it", async () => {
  await using vault = await repoVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "busy",
    domain: "training",
    method: "fine_tuning",
  });
  // The first run waits until the test lets it go.
  await Deno.writeTextFile(
    join(dir, "protocol.ts"),
    `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage) => {
  await Deno.writeTextFile(new URL("started", import.meta.url), "");
  while (true) {
    try { await Deno.stat(new URL("go", import.meta.url)); break; } catch { await new Promise((r) => setTimeout(r, 20)); }
  }
  await storage.writeMetrics({ step: [1] });
});
`,
  );
  const flags = await taskFlags("run");
  const args = ["run", ...flags, join(ROOT, "tasks", "run.ts"), "--vault"];
  const first = new Deno.Command(Deno.execPath(), {
    args: [...args, vault.path, "busy"],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  await until(
    () => Deno.stat(join(dir, "started")).then(() => true, () => false),
    "the first run to start",
  );
  const second = await runDeno([...args, vault.path, "busy"]);
  await Deno.writeTextFile(join(dir, "go"), "");
  const done = await first.output();
  assertEquals(done.code, 0, new TextDecoder().decode(done.stderr));
  assertEquals(second.code, 8, second.stderr);
  assertMatch(second.stderr, /Specimen "busy" is being run right now \(run /);

  const help = await runDeno([...args, vault.path, "--help"]);
  assertMatch(
    help.stdout,
    /8 the specimen\s+is\s+busy:\s+being run right now/,
  );
  const readme = await Deno.readTextFile(join(ROOT, "README.md"));
  assertMatch(
    readme,
    /8 the specimen is\s+busy \(being run right now/,
  );
});

Deno.test("deno task repair on sealed specimens with no log left reports them clean, and 0 sealed with logs left", async () => {
  await using vault = await tempVault();
  for (const id of ["a", "b", "c"]) {
    const { dir } = await createSpecimen({
      vault: vault.path,
      id,
      domain: "training",
      method: "fine_tuning",
    });
    const storage = await SpecimenStorage.open(dir);
    await storage.writeMetrics({ step: [1, 2] });
    await sealSpecimen(dir);
  }
  const flags = await taskFlags("repair");
  const repair = (more: string[]) =>
    runDeno([
      "run",
      ...flags,
      join(ROOT, "tasks", "repair.ts"),
      "--vault",
      vault.path,
      ...more,
    ]);
  const text = await repair([]);
  assertEquals(text.code, 0, text.stderr);
  assertMatch(
    text.stdout,
    /3 specimens: 0 logs compacted, 0 live, 0 sealed with logs left/,
  );
  assert(!/^sealed/m.test(text.stdout), text.stdout);
  const json = await repair(["--format", "json"]);
  const out = JSON.parse(json.stdout);
  assertEquals(out.summary.sealed, 0);
  assertEquals(
    out.specimens.map((s: { state: string }) => s.state),
    ["clean", "clean", "clean"],
  );
});
