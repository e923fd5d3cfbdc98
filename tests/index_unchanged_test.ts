/**
 * The index's "nothing changed" path: decided from the catalog's
 * fingerprints sidecar and a scan, without loading DuckDB (proved by running
 * the task without `--allow-ffi`: DuckDB cannot load there, so a run that
 * succeeds never touched it, and a run that fails had to). Every kind of
 * change must still reach the whole path.
 *
 * @module
 */
import { join } from "../lib/_deps.ts";
import { readPrevious } from "../lib/catalog/_plan.ts";
import { readSidecar, SIDECAR_SUFFIX } from "../lib/catalog/_sidecar.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { openDatabase } from "../lib/duckdb/duckdb.ts";
import { readManifest, writeManifest } from "../lib/specimen/manifest.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { CHANGES_FILE } from "../lib/vault_changes.ts";
import {
  catalogCount as count,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const TASK_FLAGS = await taskFlags("index");
/** The index task's flags without `--allow-ffi`: DuckDB cannot load. */
const NO_FFI = TASK_FLAGS.filter((f) => f !== "--allow-ffi");
const INDEX = join(ROOT, "tasks", "index.ts");

function index(vault: string, flags = TASK_FLAGS, ...args: string[]) {
  return runDeno(["run", ...flags, INDEX, "--vault", vault, ...args]);
}

/** Indexes `vault` (whole path) and checks the sidecar now lets a run skip DuckDB. */
async function indexed(vault: string) {
  const r = await index(vault);
  assertEquals(r.code, 0, r.stderr);
  const fast = await index(vault, NO_FFI);
  assertEquals(fast.code, 0, fast.stderr);
  assertMatch(fast.stdout, /^Catalog up to date: /);
  return fast;
}

/** Asserts that a run without DuckDB fails (the change was seen), then indexes. */
async function changeSeen(vault: string, expect: RegExp) {
  const fast = await index(vault, NO_FFI);
  assert(
    fast.code !== 0,
    `the change was missed: ${fast.stdout}${fast.stderr}`,
  );
  assertMatch(fast.stderr, /ffi|FFI/);
  const r = await index(vault);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, expect, r.stderr);
}

const past = (s: number) => new Date(Date.now() - s * 1000);

async function vaultWith(v: { path: string }, ids: string[]) {
  for (const id of ids) await writeSpecimen(v.path, { id });
}

Deno.test("index task finds nothing changed without DuckDB, and repeats the recorded warnings as the whole path does", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "noted",
    artifacts: { gone: { path: "strata/gone.parquet", format: "parquet" } },
  });
  await writeSpecimen(v.path, { id: "plain" });
  const first = await index(v.path);
  assertEquals(first.code, 0, first.stderr);
  // The whole path (no sidecar) once more, for its output.
  await Deno.remove(join(v.path, "vault.duckdb" + SIDECAR_SUFFIX));
  const whole = await index(v.path);
  assertEquals(whole.code, 0, whole.stderr);
  assertMatch(whole.stderr, /warning: specimens\/noted: .*gone\.parquet/);
  const fast = await index(v.path, NO_FFI);
  assertEquals(fast.code, 0, fast.stderr);
  assertEquals(fast.stderr, whole.stderr);
  assertEquals(
    fast.stdout.replace(/ in [\d.]+ s/, ""),
    whole.stdout.replace(/ in [\d.]+ s/, ""),
  );
  // --strict with a warning must fail as the whole path does: it does not
  // take the fast path (and so needs DuckDB).
  const strict = await index(v.path, TASK_FLAGS, "--strict");
  assertEquals(strict.code, 1);
  assertMatch(strict.stderr, /error: --strict: 1 warning/);
});

/**
 * Backdates `specimens/` and everything in it, so that the next index trusts
 * every mtime, however long the steps before took (no wall-clock race).
 */
async function settle(v: { specimens: string }) {
  const walk = async (dir: string) => {
    for await (const e of Deno.readDir(dir)) {
      const path = join(dir, e.name);
      if (e.isDirectory) await walk(path);
      if (!e.isSymlink) await Deno.utime(path, past(60), past(60));
    }
  };
  await walk(v.specimens);
  await Deno.utime(v.specimens, past(60), past(60));
}

Deno.test("a folder whose mtimes settle after an index is not read again (freshly written folders are read once)", async () => {
  await using v = await tempVault();
  await vaultWith(v, ["a", "b", "c"]);
  // Too recent to trust at the first index, whatever the clock says: a
  // future mtime is never "settled".
  const future = new Date(Date.now() + 3_600_000);
  for (const id of ["a", "b", "c"]) {
    await Deno.utime(join(v.specimens, id, "strata"), future, future);
  }
  assertEquals((await indexVault({ vault: v.path })).read, 3);
  // Settled now, and specimens/ changed (a new folder): every folder is
  // looked at, but only the new one is read.
  for (const id of ["a", "b", "c"]) {
    await Deno.utime(join(v.specimens, id, "strata"), past(60), past(60));
  }
  await writeSpecimen(v.path, { id: "d" });
  const r = await indexVault({ vault: v.path, rescan: true });
  assertEquals([r.mode, r.read, r.indexed], ["incremental", 1, 4]);
  const again = await indexVault({ vault: v.path, rescan: true });
  assertEquals([again.read, again.indexed], [0, 4]);
});

Deno.test("index task: every kind of change is seen (the run without DuckDB fails, the whole path indexes it)", async (t) => {
  await using v = await tempVault();
  await vaultWith(v, ["a", "b", "c"]);
  const catalog = join(v.path, "vault.duckdb");
  await settle(v);
  await indexed(v.path);

  await t.step("a specimen folder added, by hand", async () => {
    await writeSpecimen(v.path, { id: "d" });
    await changeSeen(
      v.path,
      /Indexed \(incremental\): 4 specimen\(s\).*1 read/,
    );
    await indexed(v.path);
  });
  await t.step("a specimen folder removed, by hand", async () => {
    await Deno.remove(join(v.specimens, "d"), { recursive: true });
    await changeSeen(
      v.path,
      /Indexed \(incremental\): 3 specimen\(s\).*1 removed/,
    );
    await indexed(v.path);
  });
  await t.step("a specimen folder replaced, by hand", async () => {
    const b = join(v.specimens, "b");
    await Deno.rename(b, join(v.path, "b.old"));
    await writeSpecimen(v.path, { id: "b", description: "a new b" });
    await changeSeen(
      v.path,
      /Indexed \(incremental\): 3 specimen\(s\).*1 read/,
    );
    await indexed(v.path);
    assertEquals(
      await count(
        v.path,
        "SELECT count(*) FROM catalog WHERE description = 'a new b'",
      ),
      1,
    );
  });
  // From here on specimens/ is settled: only the journal can tell.
  await settle(v);
  await indexed(v.path);
  await t.step("a manifest written by the library", async () => {
    const dir = join(v.specimens, "b");
    const manifest = await readManifest(dir);
    await writeManifest(dir, { ...manifest, description: "edited" });
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
  });
  await t.step("a metrics table written by SpecimenStorage", async () => {
    const storage = await SpecimenStorage.open(join(v.specimens, "c"));
    await storage.writeMetrics({ step: [1, 2], acc: [0.5, 0.6] }, {
      name: "eval",
    });
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
    assertEquals(await count(v.path, "SELECT count(*) FROM metrics__eval"), 2);
  });
  await t.step("a tensor written by SpecimenStorage", async () => {
    const storage = await SpecimenStorage.open(join(v.specimens, "c"));
    await storage.writeTensor("w", new Float32Array(6), { shape: [2, 3] });
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
    assertEquals(await count(v.path, "SELECT count(*) FROM tensors"), 1);
  });
  await t.step("metrics log parts flushed by a live logger", async () => {
    const storage = await SpecimenStorage.open(join(v.specimens, "a"));
    await using log = await storage.logger("train", { flushSeconds: 3600 });
    for (const n of [1, 2]) {
      log.log({ step: n, loss: 1 / n });
      await log.flush();
      await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
      assertEquals(
        await count(v.path, "SELECT count(*) FROM metrics__train"),
        n,
      );
    }
    await log.close();
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
  });
  await t.step(
    "changes made by hand inside a folder: seen by --rescan",
    async () => {
      const rescanSeen = async (expect: RegExp) => {
        // Not in the journal: the fast path cannot know (documented).
        const fast = await index(v.path, NO_FFI);
        assertMatch(fast.stdout, /^Catalog up to date/, fast.stderr);
        const quick = await index(v.path, NO_FFI, "--rescan");
        assert(quick.code !== 0, `--rescan missed it: ${quick.stdout}`);
        const r = await index(v.path, TASK_FLAGS, "--rescan");
        assertEquals(r.code, 0, r.stderr);
        assertMatch(r.stdout, expect, r.stderr);
        await indexed(v.path);
      };
      // A manifest rewritten in place, same bytes: only the mtime moves.
      const path = join(v.specimens, "b", "manifest.msgpack");
      const bytes = await Deno.readFile(path);
      using f = await Deno.open(path, { write: true });
      await f.write(bytes);
      f.close();
      await Deno.utime(path, past(30), past(30));
      await rescanSeen(/Indexed \(incremental\)/);
      // A Parquet file copied into strata/.
      using db = await openDatabase(":memory:");
      const strata = join(v.specimens, "a", "strata");
      await db.connection.run(
        `COPY (SELECT 1 AS step) TO '${
          join(strata, "extra.parquet")
        }' (FORMAT parquet)`,
      );
      await Deno.utime(strata, past(60), past(60));
      await rescanSeen(/Indexed \(incremental\)/);
      assertEquals(
        await count(v.path, "SELECT count(*) FROM metrics__extra"),
        1,
      );
    },
  );
  await t.step("vault.duckdb deleted", async () => {
    await Deno.remove(catalog);
    await changeSeen(v.path, /Indexed \(full\): 3 specimen\(s\)/);
    await indexed(v.path);
  });
  await t.step(
    "vault.duckdb replaced by an older catalog, in place and by rename",
    async () => {
      const old = join(v.path, "old.duckdb");
      await Deno.copyFile(catalog, old);
      await writeSpecimen(v.path, { id: "e" });
      await changeSeen(v.path, /4 specimen\(s\)/);
      await indexed(v.path);
      // In place: same inode, the old content (and mtime: cp -p).
      const s = await Deno.stat(old);
      await Deno.writeFile(catalog, await Deno.readFile(old));
      await Deno.utime(catalog, s.atime!, s.mtime!);
      await changeSeen(
        v.path,
        /Indexed \(incremental\): 4 specimen\(s\).*1 read/,
      );
      await indexed(v.path);
      await Deno.copyFile(catalog, old + ".new");
      await Deno.remove(join(v.specimens, "e"), { recursive: true });
      await changeSeen(v.path, /1 removed/);
      await Deno.rename(old + ".new", catalog); // has e, which is gone
      await changeSeen(
        v.path,
        /Indexed \(incremental\): 3 specimen\(s\).*1 removed/,
      );
      await indexed(v.path);
      assertEquals(await count(v.path, "SELECT count(*) FROM catalog"), 3);
    },
  );
  await t.step(
    "the sidecar missing, corrupt, of another version or schema",
    async () => {
      const sidecar = catalog + SIDECAR_SUFFIX;
      const good = await Deno.readTextFile(sidecar);
      const [headLine, bodyLine] = good.split("\n");
      const head = JSON.parse(headLine);
      const body = JSON.parse(bodyLine);
      const file = (h: unknown, b: unknown = body) =>
        `${JSON.stringify(h)}\n${JSON.stringify(b)}\n`;
      for (
        const bad of [
          null,
          "",
          "{not json",
          headLine,
          good.slice(0, good.length / 2),
          JSON.stringify({ ...head, ...body }),
          file({ ...head, version: head.version + 1 }),
          file({ ...head, schema: head.schema + 1 }),
          file({ ...head, format: "something else" }),
          file({ ...head, issues: 3 }),
          file({ ...head, body: head.body + 1 }),
          file({ ...head, logs: ["a"] }),
          file({ ...head, catalog: { ...head.catalog, ino: 1 } }),
          file(head, { ...body, fingerprints: "one\ntoo many" }),
        ]
      ) {
        if (bad === null) await Deno.remove(sidecar);
        else await Deno.writeTextFile(sidecar, bad);
        await changeSeen(v.path, /^Catalog up to date: 3 specimen\(s\)/);
        // Written again: the same record (the vault's state may differ).
        const again = (await Deno.readTextFile(sidecar)).split("\n");
        assertEquals(again[1], bodyLine);
        assertEquals(
          { ...JSON.parse(again[0]), scan: undefined },
          { ...head, scan: undefined },
        );
        await indexed(v.path);
      }
      // A body of the same length that disagrees with the header: the whole
      // read refuses it (an index with nothing to do reads the header alone,
      // and trusts it: its answer needs nothing from the body).
      for (
        const bad of [
          file({ ...head, count: head.count + 1 }),
          file(head, {
            ...body,
            ids: body.ids.split("\n").reverse().join("\n"),
          }),
        ]
      ) {
        await Deno.writeTextFile(sidecar, bad);
        assertEquals(readSidecar(catalog, false), undefined);
      }
      await Deno.writeTextFile(sidecar, good);
    },
  );
  await t.step("--views and --full take the whole path", async () => {
    for (const flag of ["--views", "--full"]) {
      const r = await index(v.path, NO_FFI, flag);
      assert(r.code !== 0, r.stdout);
    }
    await indexed(v.path);
  });
});

Deno.test("the change journal: read from where the last index stopped, replaced when too long, a torn last line left for later", async () => {
  await using v = await tempVault();
  await vaultWith(v, ["a", "b"]);
  await settle(v);
  await indexed(v.path);
  const journal = join(v.path, CHANGES_FILE);
  // Names of folders that do not exist, or are unchanged: nothing to read.
  await Deno.writeTextFile(journal, "zz\na\n", { append: true });
  const r = await index(v.path, NO_FFI);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /^Catalog up to date: 2 specimen/);
  // Recorded how far it read: the next run needs no scan at all.
  const header = JSON.parse(
    (await Deno.readTextFile(join(v.path, "vault.duckdb" + SIDECAR_SUFFIX)))
      .split("\n")[0],
  );
  assertEquals(header.scan.journal.size, (await Deno.stat(journal)).size);
  // A torn line (a writer mid-append): read once it is whole.
  await Deno.writeTextFile(journal, "b", { append: true });
  await indexed(v.path);
  const dir = join(v.specimens, "b");
  await writeManifest(dir, { ...await readManifest(dir), description: "x" });
  await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
  // Past 1 MiB, the journal is removed before a scan of every folder.
  await Deno.writeTextFile(journal, "a\n".repeat(600_000), { append: true });
  const rotated = await index(v.path, NO_FFI);
  assertEquals(rotated.code, 0, rotated.stderr);
  assertMatch(rotated.stdout, /^Catalog up to date: 2 specimen/);
  assert(!(await Deno.stat(journal).then(() => true, () => false)));
  await settle(v);
  await indexed(v.path);
  await writeManifest(dir, { ...await readManifest(dir), description: "y" });
  assert(await Deno.stat(journal).then(() => true, () => false));
  await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
});

Deno.test("the sidecar records what the catalog records, after full, incremental and unchanged indexes", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, {
    id: "noted",
    artifacts: { gone: { path: "strata/gone.parquet", format: "parquet" } },
  });
  await writeSpecimen(v.path, { id: "plain" });
  const catalog = join(v.path, "vault.duckdb");
  const same = async () => {
    const fromFile = await readPrevious(catalog, false);
    const fromSidecar = readSidecar(catalog, false)?.previous();
    assert(fromFile && fromSidecar);
    assertEquals(fromSidecar, fromFile);
  };
  assertEquals((await indexVault({ vault: v.path })).mode, "full");
  await same();
  await writeSpecimen(v.path, { id: "third", metrics: null });
  assertEquals((await indexVault({ vault: v.path })).mode, "incremental");
  await same();
  await Deno.remove(catalog + SIDECAR_SUFFIX);
  assertEquals((await indexVault({ vault: v.path })).mode, "unchanged");
  await same();
  // Another views setting: not this sidecar.
  assertEquals(readSidecar(catalog, true), undefined);
});

Deno.test("tasks/index.ts loads no DuckDB, Parquet or Zarr module, and no npm package, until it needs one (static imports)", async () => {
  const r = await runDeno(["info", "--json", INDEX]);
  assertEquals(r.code, 0, r.stderr);
  const graph = JSON.parse(r.stdout) as {
    modules: {
      specifier: string;
      dependencies?: {
        specifier: string;
        code?: { specifier: string };
        isDynamic?: boolean;
      }[];
    }[];
    roots: string[];
    redirects?: Record<string, string>;
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const resolve = (s: string) => graph.redirects?.[s] ?? s;
  const seen = new Set<string>();
  const stack = [resolve(graph.roots[0])];
  while (stack.length) {
    const s = stack.pop()!;
    if (seen.has(s)) continue;
    seen.add(s);
    for (const d of bySpecifier.get(s)?.dependencies ?? []) {
      if (d.isDynamic || !d.code) continue;
      stack.push(resolve(d.code.specifier));
    }
  }
  assert(seen.size > 5, `${seen.size} modules: the graph was not walked`);
  const heavy = [...seen].filter((s) =>
    /duckdb|hyparquet|zarrita|numcodecs/.test(s) &&
    !s.endsWith("/schema_version.ts")
  );
  assertEquals(heavy, []);
  // Nor any npm package (each costs ~80 ms to start), nor lib/_deps.ts.
  const npm = [...seen].filter((s) =>
    s.startsWith("npm:") || s.includes("registry.npmjs.org") ||
    s.endsWith("/lib/_deps.ts")
  );
  assertEquals(npm, []);
});

Deno.test("a journal that cannot be written: the write succeeds, one warning names the fix, and the index looks at every folder", async () => {
  await using v = await tempVault();
  await vaultWith(v, ["a", "b"]);
  await settle(v);
  await indexed(v.path);
  // Something else in the journal's place: appends fail, reads cannot tell.
  const journal = join(v.path, CHANGES_FILE);
  await Deno.remove(journal).catch(() => {});
  await Deno.mkdir(journal);
  const dir = join(v.specimens, "a");
  const script = `
    import { readManifest, writeManifest } from "${
    join(ROOT, "lib", "specimen", "manifest.ts")
  }";
    const dir = ${JSON.stringify(dir)};
    for (const d of ["one", "two"]) {
      await writeManifest(dir, { ...await readManifest(dir), description: d });
    }`;
  const r = await runDeno(["eval", script]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(
    r.stderr.match(/warning: could not record a change/g)?.length,
    1,
  );
  assertMatch(r.stderr, /--rescan/);
  // The index cannot trust the journal: it looks at every folder.
  await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
  assertEquals(
    await count(
      v.path,
      "SELECT count(*) FROM catalog WHERE description = 'two'",
    ),
    1,
  );
});
