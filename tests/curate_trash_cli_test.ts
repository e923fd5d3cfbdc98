import { join } from "../lib/_deps.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen } from "../lib/specimen/verify.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

async function task(name: string, args: string[], vault: string) {
  return await runDeno([
    "run",
    ...(await taskFlags(name)),
    join(ROOT, "tasks", `${name}.ts`),
    ...args,
    "--vault",
    vault,
  ]);
}

async function sealed(vault: string, id: string): Promise<string> {
  const { dir } = await createSpecimen({
    vault,
    id,
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  await storage.writeMetrics({ step: [0, 1, 2], loss: [3, 2, 1] });
  await sealSpecimen(dir);
  return dir;
}

async function ids(vault: string): Promise<string[]> {
  await using q = await VaultQuery.open({ vault });
  return (await q.search("SELECT specimen_id FROM catalog ORDER BY 1"))
    .map((r) => String(r.specimen_id));
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Bytes of the files under `dir` (lstat). */
async function treeBytes(dir: string): Promise<number> {
  let n = 0;
  for await (const e of Deno.readDir(dir)) {
    const p = join(dir, e.name);
    const s = await Deno.lstat(p);
    n += s.isDirectory ? await treeBytes(p) : s.size;
  }
  return n;
}

Deno.test("discard moves a whole specimen to trash/, the index drops it, restore brings it back still matching its seal", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "keep");
  const dir = await sealed(vault.path, "junk");
  assertEquals((await task("index", [], vault.path)).code, 0);
  assertEquals(await ids(vault.path), ["junk", "keep"]);

  const d = await task(
    "discard",
    ["junk", "--reason", "diverged at step 40"],
    vault.path,
  );
  assertEquals(d.code, 0, d.stderr);
  assertMatch(d.stdout, /discarded\s+junk/);
  assert(!(await exists(dir)));
  assert(await exists(join(vault.path, "trash", "junk", "manifest.msgpack")));
  assertEquals(
    (await verifySpecimen(join(vault.path, "trash", "junk"))).state,
    "ok",
  );

  const ix = await task("index", [], vault.path);
  assertEquals(ix.code, 0, ix.stderr);
  assertEquals(await ids(vault.path), ["keep"]);

  const l = await task("trash", ["list", "--format", "json"], vault.path);
  assertEquals(l.code, 0, l.stderr);
  const listed = JSON.parse(l.stdout).specimens;
  assertEquals(listed.length, 1);
  assertEquals(listed[0].id, "junk");
  assertEquals(listed[0].reason, "diverged at step 40");
  assertEquals(
    listed[0].bytes,
    await treeBytes(join(vault.path, "trash", "junk")),
  );

  const r = await task("trash", ["restore", "junk"], vault.path);
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await verifySpecimen(dir)).state, "ok");
  assert(!(await exists(join(vault.path, "trash", "junk.discard.json"))));
  assertEquals((await task("index", [], vault.path)).code, 0);
  assertEquals(await ids(vault.path), ["junk", "keep"]);
  const v = await runDeno([
    "run",
    ...(await taskFlags("verify")),
    join(ROOT, "tasks", "verify.ts"),
    "junk",
    "--vault",
    vault.path,
  ]);
  assertEquals(v.code, 0, v.stdout + v.stderr);
});

Deno.test("trash empty --older-than deletes only old discards and reports the bytes freed", async () => {
  await using vault = await tempVault();
  await sealed(vault.path, "old_one");
  await sealed(vault.path, "new_one");
  assertEquals(
    (await task("discard", ["old_one", "new_one"], vault.path)).code,
    0,
  );
  // Age one record (the task reads when from it): no clock, no sleep.
  const rec = join(vault.path, "trash", "old_one.discard.json");
  const r = JSON.parse(await Deno.readTextFile(rec));
  r.discarded_at = new Date(Date.now() - 40 * 86_400_000).toISOString();
  await Deno.writeTextFile(rec, JSON.stringify(r));
  const bytes = await treeBytes(join(vault.path, "trash", "old_one"));

  const dry = await task(
    "trash",
    ["empty", "--older-than", "30d", "--dry-run"],
    vault.path,
  );
  assertEquals(dry.code, 0, dry.stderr);
  assertMatch(dry.stdout, /would delete\s+old_one/);
  assert(await exists(join(vault.path, "trash", "old_one")));

  const e = await task("trash", [
    "empty",
    "--older-than",
    "30d",
    "--format",
    "json",
  ], vault.path);
  assertEquals(e.code, 0, e.stderr);
  const report = JSON.parse(e.stdout);
  assertEquals(report.deleted.map((d: { id: string }) => d.id), ["old_one"]);
  assertEquals(report.bytes, bytes);
  assertEquals(report.kept, 1);
  assert(!(await exists(join(vault.path, "trash", "old_one"))));
  assert(!(await exists(rec)));
  assert(await exists(join(vault.path, "trash", "new_one")));

  const all = await task("trash", ["empty"], vault.path);
  assertEquals(all.code, 0, all.stderr);
  assertMatch(all.stdout, /1 specimen\(s\) deleted for good, .* bytes\) freed/);
  const left = [...Deno.readDirSync(join(vault.path, "trash"))].map((x) =>
    x.name
  );
  assertEquals(left, [".lock"], "only the trash's lock file is left");
});

Deno.test("trash empty removes a link in the trash as a link and never deletes outside the vault", async () => {
  await using vault = await tempVault();
  await using outside = await tempDir();
  await Deno.writeTextFile(join(outside.path, "precious.txt"), "keep me");
  await Deno.mkdir(join(outside.path, "folder"));
  await Deno.writeTextFile(
    join(outside.path, "folder", "also.txt"),
    "keep me too",
  );
  const dir = await sealed(vault.path, "junk");
  // A link inside the specimen, to a folder and a file outside the vault.
  await Deno.symlink(
    join(outside.path, "folder"),
    join(dir, "strata", "link_dir"),
  );
  await Deno.symlink(
    join(outside.path, "precious.txt"),
    join(dir, "link_file"),
  );
  assertEquals((await task("discard", ["junk"], vault.path)).code, 0);
  // And a link put in the trash by hand, named like a specimen.
  await Deno.symlink(outside.path, join(vault.path, "trash", "sneaky"));
  const e = await task("trash", ["empty"], vault.path);
  assertEquals(e.code, 0, e.stderr);
  assertEquals(
    await Deno.readTextFile(join(outside.path, "precious.txt")),
    "keep me",
  );
  assertEquals(
    await Deno.readTextFile(join(outside.path, "folder", "also.txt")),
    "keep me too",
  );
  assert(!(await exists(join(vault.path, "trash", "junk"))));

  // trash/ itself a link out of the vault: refused.
  await using v2 = await tempVault();
  await Deno.symlink(outside.path, join(v2.path, "trash"));
  const r = await task("trash", ["empty"], v2.path);
  assertEquals(r.code, 2, r.stderr);
  assertMatch(r.stderr, /symbolic link/);
  assert(await exists(join(outside.path, "precious.txt")));
});

Deno.test("discard and restore refuse bad ids with documented exit codes", async (t) => {
  await using vault = await tempVault();
  await sealed(vault.path, "a");
  await sealed(vault.path, "b");
  assertEquals((await task("discard", ["b"], vault.path)).code, 0);
  await sealed(vault.path, "c");
  await t.step("an unknown id: 4", async () => {
    const r = await task("discard", ["nope"], vault.path);
    assertEquals(r.code, 4);
    assertMatch(r.stderr, /No specimen "nope"/);
  });
  await t.step("an invalid id: 2", async () => {
    const r = await task("discard", ["../a"], vault.path);
    assertEquals(r.code, 2);
  });
  await t.step(
    "already discarded: 3, and the others given still are",
    async () => {
      const r = await task("discard", ["b", "c"], vault.path);
      assertEquals(r.code, 3);
      assertMatch(r.stderr, /already discarded \(since /);
      assertMatch(r.stdout, /discarded\s+c/);
    },
  );
  await t.step("restore of an id not in the trash: 4", async () => {
    const r = await task("trash", ["restore", "a"], vault.path);
    assertEquals(r.code, 4);
    assertMatch(r.stderr, /not discarded/);
  });
  await t.step(
    "restore when a specimen of that id exists again: 3",
    async () => {
      await sealed(vault.path, "b"); // made again since the discard
      const r = await task("trash", ["restore", "b"], vault.path);
      assertEquals(r.code, 3);
      assertMatch(r.stderr, /exists again/);
      assert(await exists(join(vault.path, "trash", "b", "manifest.msgpack")));
      // Discarding the new one while the old one holds trash/b: 3, named.
      const d = await task("discard", ["b"], vault.path);
      assertEquals(d.code, 3);
      assertMatch(d.stderr, /earlier discarded specimen of the same id/);
      assert(await exists(join(vault.specimens, "b", "manifest.msgpack")));
    },
  );
  await t.step(
    "trash empty of an unknown id: 4; a bad duration: 2",
    async () => {
      assertEquals((await task("trash", ["empty", "zzz"], vault.path)).code, 4);
      const r = await task(
        "trash",
        ["empty", "--older-than", "30 days"],
        vault.path,
      );
      assertEquals(r.code, 2);
      assertMatch(r.stderr, /Invalid duration "30 days"/);
    },
  );
  await t.step(
    "--format json lists what was discarded and what was refused",
    async () => {
      await sealed(vault.path, "d");
      const r = await task(
        "discard",
        ["d", "nope", "--format", "json"],
        vault.path,
      );
      assertEquals(r.code, 4, r.stderr);
      const out = JSON.parse(r.stdout);
      assertEquals(out.discarded, ["d"]);
      assertEquals(
        out.refused.map((
          x: { id: string; exit_code: number },
        ) => [x.id, x.exit_code]),
        [["nope", 4]],
      );
    },
  );
  await t.step("tag of a discarded specimen: 4, naming restore", async () => {
    const r = await task("tag", ["c", "+x"], vault.path);
    assertEquals(r.code, 4);
    assertMatch(r.stderr, /trash restore c/);
  });
});

Deno.test("discard refuses a specimen a logger or a live run is writing (exit 8) and moves nothing", async () => {
  await using vault = await tempVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "live",
    domain: "training",
    method: "fine_tuning",
  });
  const storage = await SpecimenStorage.open(dir);
  const log = await storage.logger("train", { flushSeconds: Infinity });
  log.log({ step: 0, loss: 1 });
  const r = await task("discard", ["live"], vault.path);
  assertEquals(r.code, 8, r.stderr);
  assertMatch(r.stderr, /logger is writing strata\/train\.parts/);
  assert(await exists(join(dir, "manifest.msgpack")));
  await log.close();

  // A run recorded as running by a live process (this one).
  const m = await readManifest(dir);
  m.status = "running";
  m.runs = [...(m.runs ?? []), {
    id: "r1",
    status: "running",
    started: new Date().toISOString(),
    pid: Deno.pid,
    hostname: Deno.hostname(),
  } as never];
  await writeManifest(dir, m);
  const r2 = await task("discard", ["live"], vault.path);
  assertEquals(r2.code, 8, r2.stderr);
  assertMatch(r2.stderr, /being run right now/);
  assert(await exists(join(dir, "manifest.msgpack")));
});
