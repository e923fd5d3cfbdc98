import { join } from "../lib/_deps.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { generateVault } from "./_tools/bench/gen_vault.ts";
import {
  catalogCount as count,
  copyPythonSpecimens,
  writeSpecimen,
} from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  runTask,
  taskFlags,
  tempDir,
  tempVault,
} from "./utils.ts";

/** The permissions deno.json's `index` task grants: they must be enough. */
const TASK_FLAGS = await taskFlags("index");

function spawnIndex(vault: string, ...args: string[]) {
  return new Deno.Command(Deno.execPath(), {
    args: ["run", ...TASK_FLAGS, join(ROOT, "tasks", "index.ts"), ...args],
    cwd: vault,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

Deno.test("index task --help prints the usage and exit codes", async () => {
  const r = await runTask("index", ["--help"]);
  assertEquals(r.code, 0);
  assertMatch(r.stdout, /Usage:\n {2}deno task index/);
  assertMatch(r.stdout, /Exit codes:/);
});

Deno.test("index task rejects an unknown option with exit 2", async () => {
  const r = await runTask("index", ["--fast"]);
  assertEquals(r.code, 2);
  assertMatch(r.stderr, /^error: .*--fast/);
});

Deno.test("index task indexes the Python vault with the task's own permissions, from inside the vault", async () => {
  await using v = await tempVault();
  await copyPythonSpecimens(v.path);
  const r = await runDeno(
    ["run", ...TASK_FLAGS, join(ROOT, "tasks", "index.ts")],
    { cwd: join(v.specimens, "2024_01_01_run_000001") },
  );
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /Indexed \(full\): 3 specimen\(s\)/);
  assertEquals(r.stderr, ""); // no progress line when stderr is not a terminal
  assertEquals(await count(v.path, "SELECT count(*) FROM metrics"), 150);
});

Deno.test("index task prints warnings on stderr and exits 0; with --strict exits 1", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  await Deno.mkdir(join(v.specimens, "stray"));
  let r = await runTask("index", ["--vault", v.path]);
  assertEquals(r.code, 0);
  assertMatch(r.stderr, /^warning: specimens\/stray: no manifest\.msgpack/m);
  assertMatch(r.stdout, /1 specimen\(s\).*1 skipped, 1 warning/);
  const before = await Deno.readFile(join(v.path, "vault.duckdb"));
  await writeSpecimen(v.path, { id: "good2" });
  r = await runTask("index", ["--vault", v.path, "--strict"]);
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /warning: specimens\/stray/);
  assertMatch(r.stderr, /error: --strict: 1 warning\(s\).*not replaced/);
  assertEquals(await Deno.readFile(join(v.path, "vault.duckdb")), before);
});

Deno.test("index task with no valid specimen exits 1 and keeps the old catalog", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  assertEquals((await runTask("index", ["--vault", v.path])).code, 0);
  await Deno.writeTextFile(join(v.specimens, "a", "manifest.msgpack"), "x");
  // Written by hand (not in the change journal): --rescan looks at it.
  const r = await runTask("index", ["--vault", v.path, "--rescan"]);
  assertEquals(r.code, 1);
  assertMatch(r.stderr, /warning: .*specimens\/a\/manifest\.msgpack/);
  assertMatch(r.stderr, /error: No valid specimens found to index/);
  assertEquals(await count(v.path, "SELECT count(*) FROM catalog"), 1);
});

Deno.test("index task outside any vault exits 4 naming the fix", async () => {
  await using d = await tempDir();
  const r = await runTask("index", [], { cwd: d.path });
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /No vault found.*--vault DIR/);
});

Deno.test("index task killed with SIGKILL mid-index leaves the old catalog intact; a rerun succeeds", async () => {
  await using v = await tempVault();
  await generateVault(v.path, { specimens: 300, steps: 2000 });
  assertEquals((await runTask("index", ["--vault", v.path])).code, 0);
  await generateVault(v.path, { specimens: 100, steps: 2000, first: 300 });
  let killedMidway = false;
  for (let attempt = 0; attempt < 5 && !killedMidway; attempt++) {
    const child = spawnIndex(v.path, "--full");
    // The temp catalog appears once DuckDB starts writing: kill it then.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const temp = [...Deno.readDirSync(v.path)].some((e) =>
        e.name.startsWith(".tmp-vault.duckdb-")
      );
      if (temp) {
        child.kill("SIGKILL");
        killedMidway = true;
        break;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const status = await child.status;
    await child.stdout.cancel();
    await child.stderr.cancel();
    if (killedMidway) assertEquals(status.signal, "SIGKILL");
  }
  assert(killedMidway, "the index never got to writing its temp catalog");
  // The old catalog is whole: 300 specimens, their rows, queryable.
  {
    using q = await VaultQuery.open({ vault: v.path });
    const [r] = await q.search(
      "SELECT (SELECT count(*) FROM catalog) AS specimens, (SELECT count(*) FROM metrics) AS rows",
    );
    assertEquals(r, { specimens: 300, rows: 600_000 });
  }
  const r = await runTask("index", ["--vault", v.path]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /400 specimen\(s\)/);
  const leftovers = [...Deno.readDirSync(v.path)].filter((e) =>
    e.name.startsWith(".tmp-")
  );
  assertEquals(leftovers, []);
  assertEquals(await count(v.path, "SELECT count(*) FROM metrics"), 800_000);
});

Deno.test("index task waits while another indexer holds the lock, then runs", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  const lock = await Deno.open(join(v.path, "vault.duckdb.lock"), {
    create: true,
    write: true,
  });
  await lock.lock(true);
  const child = spawnIndex(v.path);
  const stderr = child.stderr.pipeThrough(new TextDecoderStream())
    .getReader();
  let seen = "";
  while (!/Waiting for/.test(seen)) {
    const { value, done } = await stderr.read();
    if (done) break;
    seen += value;
  }
  assertMatch(seen, /Waiting for .* to finish indexing this vault/);
  assert(!(await exists(join(v.path, "vault.duckdb"))), "ran without the lock");
  await lock.unlock();
  lock.close();
  const status = await child.status;
  // Cancelling the reader cancels the whole pipe, and so the child's stderr.
  await stderr.cancel();
  const out = await new Response(child.stdout).text();
  assertEquals(status.code, 0);
  assertMatch(out, /Indexed \(full\): 1 specimen/);
});

Deno.test("index task: two indexers at once both succeed, one after the other", async () => {
  await using v = await tempVault();
  await generateVault(v.path, { specimens: 50, steps: 100 });
  const [a, b] = [spawnIndex(v.path, "--full"), spawnIndex(v.path, "--full")];
  const [ra, rb] = await Promise.all([a.output(), b.output()]);
  assertEquals([ra.code, rb.code], [0, 0]);
  assertEquals(await count(v.path, "SELECT count(*) FROM catalog"), 50);
});

Deno.test("a query during an index sees the old or the new catalog, never a partial one", async () => {
  await using v = await tempVault();
  await generateVault(v.path, { specimens: 200, steps: 500 });
  assertEquals((await runTask("index", ["--vault", v.path])).code, 0);
  const extra = await generateVault(v.path, {
    specimens: 100,
    steps: 500,
    first: 200,
  });
  const seen = new Set<string>();
  for (let round = 0; round < 4; round++) {
    // Flip between 300 and 200 specimens (dot-folders are not specimens).
    for (const id of extra) {
      const [from, to] = round % 2 ? [id, `.${id}`] : [`.${id}`, id];
      await Deno.rename(join(v.specimens, from), join(v.specimens, to)).catch(
        () => {},
      );
    }
    const child = spawnIndex(v.path);
    let done = false;
    const status = child.status.then((s) => {
      done = true;
      return s;
    });
    while (!done) {
      using q = await VaultQuery.open({ vault: v.path });
      const [r] = await q.search(
        "SELECT (SELECT count(*) FROM catalog) AS s, (SELECT count(*) FROM metrics) AS m",
      );
      seen.add(`${r.s}/${r.m}`);
    }
    assertEquals((await status).code, 0);
    await child.stdout.cancel();
    await child.stderr.cancel();
  }
  assertEquals([...seen].sort(), ["200/100000", "300/150000"]);
});

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
