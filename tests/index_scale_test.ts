/**
 * An index after a folder is added or removed costs what changed, not the
 * vault (issue 24): `specimens/` is listed once, and only the new folders
 * and those the change journal names are looked at; the others keep the
 * fingerprints the last index recorded.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { sparePath } from "../lib/catalog/_spare.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import {
  catalogCount as count,
  catalogRows,
  copyTree,
  metricsSql,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

const past = (s: number) => new Date(Date.now() - s * 1000);

/** Rewrites a manifest in place by hand (not through the library: no journal line). */
async function touchByHand(path: string) {
  const bytes = await Deno.readFile(path);
  await Deno.writeFile(path, bytes);
  await Deno.utime(path, past(30), past(30));
}

/** A specimen written in another vault, copied in by hand (no journal line here). */
async function copyInByHand(vault: string, id: string, description: string) {
  await using elsewhere = await tempVault();
  const dir = await writeSpecimen(elsewhere.path, { id, description });
  await copyTree(dir, join(vault, "specimens", id));
  const strata = join(vault, "specimens", id, "strata");
  await Deno.utime(strata, past(60), past(60));
}

Deno.test("index after folders are added or removed by hand reads only the new ones (a hand edit elsewhere waits for --rescan)", async (t) => {
  await using v = await tempVault();
  for (const id of ["a", "b", "c", "d"]) await writeSpecimen(v.path, { id });
  assertEquals((await indexVault({ vault: v.path })).read, 4);

  await t.step("one folder copied in", async () => {
    // A change by hand inside a known folder: not looked at by this index.
    await touchByHand(join(v.specimens, "b", "manifest.msgpack"));
    await copyInByHand(v.path, "e", "copied e");
    const r = await indexVault({ vault: v.path });
    assertEquals([r.mode, r.read, r.indexed], ["incremental", 1, 5]);
    assertEquals(
      await count(
        v.path,
        "SELECT count(*) FROM catalog WHERE description = 'copied e'",
      ),
      1,
    );
    // --rescan looks at every folder: the hand edit is seen now.
    const rescan = await indexVault({ vault: v.path, rescan: true });
    assertEquals([rescan.read, rescan.indexed], [1, 5]);
  });

  await t.step("one folder removed and two added in one go", async () => {
    await Deno.remove(join(v.specimens, "c"), { recursive: true });
    await copyInByHand(v.path, "f", "copied f");
    await copyInByHand(v.path, "g", "copied g");
    const r = await indexVault({ vault: v.path });
    assertEquals(
      [r.mode, r.read, r.indexed, r.removed],
      ["incremental", 2, 6, 1],
    );
    assertEquals(
      await count(
        v.path,
        "SELECT count(*) FROM catalog WHERE specimen_id IN ('c', 'f', 'g')",
      ),
      2,
    );
    const again = await indexVault({ vault: v.path });
    assertEquals([again.mode, again.read], ["unchanged", 0]);
  });

  await t.step(
    "a folder added through the library beside a journal line",
    async () => {
      await writeSpecimen(v.path, { id: "h" });
      await touchByHand(join(v.specimens, "a", "manifest.msgpack"));
      const r = await indexVault({ vault: v.path });
      assertEquals([r.read, r.indexed], [1, 7]);
    },
  );

  await t.step("--rescan sees the hand edit left behind", async () => {
    const r = await indexVault({ vault: v.path, rescan: true });
    assertEquals([r.read, r.indexed], [1, 7]); // a's hand edit
  });
});

const catalogPath = (vault: string) => join(vault, "vault.duckdb");
const inode = (path: string) => Deno.statSync(path).ino;

/** What a catalog holds, without its build times. */
async function contents(vault: string) {
  return {
    catalog: await catalogRows(
      vault,
      "SELECT specimen_id, description, metrics_rows, issues, artifacts FROM catalog ORDER BY 1",
    ),
    metrics: await catalogRows(
      vault,
      "SELECT specimen_id, count(*) AS n, sum(step) AS steps, sum(loss) AS loss FROM metrics GROUP BY 1 ORDER BY 1",
    ),
    tables: await catalogRows(
      vault,
      "SELECT table_name, estimated_size FROM duckdb_tables() WHERE NOT temporary ORDER BY 1",
    ),
    info: await catalogRows(
      vault,
      "SELECT key, value FROM vault_info WHERE key <> 'built_at' ORDER BY 1",
    ),
  };
}

/** The same vault's catalog built by a full index of a copy. */
async function fullContents(vault: string) {
  await using copy = await tempVault();
  await Deno.remove(copy.specimens);
  await copyTree(join(vault, "specimens"), copy.specimens);
  await indexVault({ vault: copy.path, full: true });
  return await contents(copy.path);
}

Deno.test("incremental indexes update the spare catalog in place and build what a full index builds", async (t) => {
  await using v = await tempVault();
  for (const id of ["a", "b", "c", "d"]) await writeSpecimen(v.path, { id });
  await indexVault({ vault: v.path });
  const spare = sparePath(catalogPath(v.path));
  const steps: [string, () => Promise<unknown>][] = [
    ["a folder added", () => writeSpecimen(v.path, { id: "e" })],
    ["a manifest changed", async () => {
      const dir = join(v.specimens, "b");
      await writeManifest(dir, {
        ...(await readManifest(dir)),
        description: "changed b",
      });
    }],
    [
      "a folder removed",
      () => Deno.remove(join(v.specimens, "c"), { recursive: true }),
    ],
    ["a table added", async () => {
      const s = await SpecimenStorage.open(join(v.specimens, "d"));
      await s.writeMetrics({ step: [1, 2], acc: [0.5, 0.75] }, {
        name: "eval",
      });
    }],
    ["two folders added, one changed", async () => {
      await writeSpecimen(v.path, { id: "f", metrics: metricsSql(20, 2) });
      await writeSpecimen(v.path, { id: "g" });
      await writeSpecimen(v.path, { id: "e", description: "new e" });
    }],
  ];
  let spareUsed = 0;
  for (const [name, change] of steps) {
    await t.step(name, async () => {
      const before = await Deno.stat(spare).then((s) => s.ino, () => null);
      await change();
      const r = await indexVault({ vault: v.path });
      assertEquals(r.mode, "incremental");
      if (before !== null && inode(catalogPath(v.path)) === before) {
        spareUsed++;
      }
      assertEquals(await contents(v.path), await fullContents(v.path));
    });
  }
  // A first index keeps no spare, so the next one copies; every later one
  // updated its spare in place.
  assertEquals(spareUsed, steps.length - 1);
});

Deno.test("a spare catalog that a reader holds is left to it: the index copies the catalog instead", async (t) => {
  await using v = await tempVault();
  for (const id of ["a", "b"]) await writeSpecimen(v.path, { id });
  await indexVault({ vault: v.path });
  await writeSpecimen(v.path, { id: "c" });
  await indexVault({ vault: v.path });
  const spare = sparePath(catalogPath(v.path));

  await t.step("a reader in this process (a dashboard)", async () => {
    const held = inode(spare);
    using db = await openDatabase(spare, { access_mode: "READ_ONLY" });
    await writeSpecimen(v.path, { id: "d" });
    await indexVault({ vault: v.path });
    assert(inode(catalogPath(v.path)) !== held, "the held spare was written");
    const rows = await db.connection.runAndReadAll(
      "SELECT count(*) FROM catalog",
    );
    assertEquals(Number(rows.getRows()[0][0]), 2); // as it was
    assertEquals(await contents(v.path), await fullContents(v.path));
  });

  await t.step(
    "a reader in this process, with the index task's permissions (no /proc)",
    async () => {
      const held = inode(spare);
      await writeSpecimen(v.path, { id: "d2" });
      await using dir = await tempDir();
      const script = join(dir.path, "held.ts");
      await Deno.writeTextFile(
        script,
        `import { openDatabase } from ${
          JSON.stringify(join(ROOT, "lib", "duckdb", "duckdb.ts"))
        };
      import { indexVault } from ${
          JSON.stringify(join(ROOT, "lib", "catalog", "index_vault.ts"))
        };
      using db = await openDatabase(${
          JSON.stringify(spare)
        }, { access_mode: "READ_ONLY" });
      await indexVault({ vault: ${JSON.stringify(v.path)} });
      const r = await db.connection.runAndReadAll("SELECT count(*) FROM catalog");
      console.log(String(r.getRows()[0][0]));`,
      );
      const r = await runDeno(["run", ...(await taskFlags("index")), script]);
      assertEquals(r.code, 0, r.stderr);
      assert(inode(catalogPath(v.path)) !== held, "the held spare was written");
      assertEquals(r.stdout.trim(), "3"); // its catalog, as it was
      assertEquals(await contents(v.path), await fullContents(v.path));
    },
  );

  await t.step("a reader in another process (DuckDB's file lock)", async () => {
    const held = inode(spare);
    const reader = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { openDatabase } from ${
          JSON.stringify(join(ROOT, "lib", "duckdb", "duckdb.ts"))
        };
        using db = await openDatabase(${
          JSON.stringify(spare)
        }, { access_mode: "READ_ONLY" });
        console.log("open");
        for await (const _ of Deno.stdin.readable) break;
        const r = await db.connection.runAndReadAll("SELECT count(*) FROM catalog");
        console.log(String(r.getRows()[0][0]));`,
      ],
      stdin: "piped",
      stdout: "piped",
    }).spawn();
    const lines = reader.stdout.pipeThrough(new TextDecoderStream())
      .getReader();
    let seen = "";
    while (!seen.includes("open\n")) seen += (await lines.read()).value ?? "";
    await writeSpecimen(v.path, { id: "e" });
    const r = await indexVault({ vault: v.path });
    assertEquals([r.mode, r.read], ["incremental", 1]);
    assert(inode(catalogPath(v.path)) !== held, "the locked spare was taken");
    const w = reader.stdin.getWriter();
    await w.write(new Uint8Array([10]));
    await w.close();
    while (true) {
      const { value, done } = await lines.read();
      if (done) break;
      seen += value;
    }
    assertEquals((await reader.status).code, 0);
    assertEquals(seen.trim().split("\n").at(-1), "4"); // its catalog, whole
    assertEquals(await contents(v.path), await fullContents(v.path));
  });
});
