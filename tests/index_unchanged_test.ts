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

Deno.test("index task: every kind of change is seen (the run without DuckDB fails, the whole path indexes it)", async (t) => {
  await using v = await tempVault();
  await vaultWith(v, ["a", "b", "c"]);
  const catalog = join(v.path, "vault.duckdb");
  const sidecar = catalog + SIDECAR_SUFFIX;
  await indexed(v.path);

  await t.step("a specimen added", async () => {
    await writeSpecimen(v.path, { id: "d" });
    await changeSeen(
      v.path,
      /Indexed \(incremental\): 4 specimen\(s\).*1 read/,
    );
    await indexed(v.path);
  });
  await t.step("a specimen removed", async () => {
    await Deno.remove(join(v.specimens, "d"), { recursive: true });
    await changeSeen(
      v.path,
      /Indexed \(incremental\): 3 specimen\(s\).*1 removed/,
    );
    await indexed(v.path);
  });
  await t.step("a manifest rewritten in place with the same size", async () => {
    const path = join(v.specimens, "b", "manifest.msgpack");
    const bytes = await Deno.readFile(path);
    using f = await Deno.open(path, { write: true });
    await f.write(bytes); // same bytes, same size: only the mtime moves
    f.close();
    await Deno.utime(path, past(30), past(30));
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
  });
  await t.step("a Parquet file added to strata/", async () => {
    using db = await openDatabase(":memory:");
    await db.connection.run(
      `COPY (SELECT 1 AS step) TO '${
        join(v.specimens, "c", "strata", "eval.parquet")
      }' (FORMAT parquet)`,
    );
    await Deno.utime(join(v.specimens, "c", "strata"), past(60), past(60));
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
  });
  await t.step("a metrics log part added", async () => {
    const parts = join(v.specimens, "a", "strata", "train.parts");
    await Deno.mkdir(parts);
    using db = await openDatabase(":memory:");
    // Backdated, strata/ too: the index trusts a folder's mtime only once it
    // has settled, so a specimen changed a moment ago is read once more by
    // the next index (by design), which would blur what these steps count.
    const part = async (n: number) => {
      const file = join(parts, `part-00000${n}.parquet`);
      await db.connection.run(
        `COPY (SELECT ${n} AS step, 0.5 AS loss) TO '${file}' (FORMAT parquet)`,
      );
      await Deno.utime(file, past(60), past(60));
      await Deno.utime(parts, past(60), past(60));
      await Deno.utime(join(parts, ".."), past(60), past(60));
    };
    await part(1);
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
    await part(2);
    await changeSeen(v.path, /Indexed \(incremental\).*1 read/);
    await indexed(v.path);
    assertEquals(await count(v.path, "SELECT count(*) FROM metrics__train"), 2);
  });
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
      const good = await Deno.readTextFile(sidecar);
      const data = JSON.parse(good);
      for (
        const bad of [
          null,
          "",
          "{not json",
          good.slice(0, good.length / 2),
          JSON.stringify({ ...data, version: data.version + 1 }),
          JSON.stringify({ ...data, schema: data.schema + 1 }),
          JSON.stringify({ ...data, format: "something else" }),
          JSON.stringify({ ...data, fingerprints: [], issues: 3 }),
          JSON.stringify({ ...data, fingerprints: "one\ntoo many" }),
          JSON.stringify({
            ...data,
            ids: data.ids.split("\n").reverse().join("\n"),
          }),
          JSON.stringify({ ...data, catalog: { ...data.catalog, ino: 1 } }),
        ]
      ) {
        if (bad === null) await Deno.remove(sidecar);
        else await Deno.writeTextFile(sidecar, bad);
        await changeSeen(v.path, /^Catalog up to date: 3 specimen\(s\)/);
        assertEquals(await Deno.readTextFile(sidecar), good); // written again
        await indexed(v.path);
      }
    },
  );
  await t.step("--views, and --full, take the whole path", async () => {
    const views = await index(v.path, NO_FFI, "--views");
    assert(views.code !== 0, views.stdout);
    const full = await index(v.path, NO_FFI, "--full");
    assert(full.code !== 0, full.stdout);
    await indexed(v.path);
  });
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

Deno.test("tasks/index.ts loads no DuckDB, Parquet or Zarr module until it needs one (static imports)", async () => {
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
});
