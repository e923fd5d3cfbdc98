/**
 * Files that are not what they seem: FIFOs, devices, folders and symbolic
 * links where the vault expects a regular file, and files whose content
 * nests deeper or holds bigger numbers than anything real. No tool may hang
 * on one, read through one to outside the vault, or let one bad file stop
 * the others. See docs/RELIABILITY.md ("Files that are not regular files",
 * "One bad file never stops the index").
 *
 * @module
 */
import { encodeMsgpack, join } from "../lib/_deps.ts";
import {
  exists,
  openVaultFile,
  openVaultFileSync,
  readVaultFile,
  readVaultFileSync,
} from "../lib/_fs.ts";
import { FileHasher } from "../lib/_hash.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { createSpecimen, deriveSpecimen } from "../lib/specimen/create.ts";
import { CorruptFileError, UnsafeFileError } from "../lib/errors.ts";
import { type Manifest, readManifest } from "../lib/specimen/manifest.ts";
import { readMetricTable } from "../lib/metrics_log/table.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifyVault } from "../lib/specimen/verify.ts";
import { sealedNeighbour } from "./_tools/stress/stress.ts";
import { writeSpecimen } from "./testdata/catalog_fixtures.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  assertThrows,
  ROOT,
  runDeno,
  tempDir,
  tempVault,
} from "./utils.ts";

/** Makes a FIFO (named pipe) at `path`. */
async function mkfifo(path: string): Promise<void> {
  const out = await new Deno.Command("mkfifo", { args: [path] }).output();
  if (!out.success) throw new Error(`mkfifo ${path} failed`);
}

/** Fails (instead of hanging the suite) when `p` takes more than `ms`. */
async function within<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} took more than ${ms} ms: it hangs`)),
      ms,
    );
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs a task as `deno task` would, killed (and failed) after `ms`. */
async function taskWithin(
  ms: number,
  name: string,
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const command: string = config.tasks[name].command;
  const flags = command.slice(0, command.indexOf(`tasks/${name}.ts`))
    .split(/\s+/).filter((a) => a.startsWith("--"));
  const started = Date.now();
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...flags, join(ROOT, "tasks", `${name}.ts`), ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(ms),
  }).output();
  const dec = new TextDecoder();
  const result = {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
  assert(
    Date.now() - started < ms - 100 && out.signal === null,
    `deno task ${name} did not finish within ${ms} ms (it hangs): ${result.stderr}`,
  );
  return result;
}

// ---------------------------------------------------------------------------
// openVaultFile itself

Deno.test("openVaultFile and readVaultFile open regular files inside the root, follow links that stay inside, and refuse the rest at once", async (t) => {
  await using d = await tempDir();
  const root = join(d.path, "vault");
  await Deno.mkdir(join(root, "sub"), { recursive: true });
  await Deno.writeTextFile(join(root, "sub", "a.txt"), "inside");
  await Deno.writeTextFile(join(d.path, "secret.txt"), "outside");
  await Deno.mkdir(join(d.path, "elsewhere"));
  await Deno.writeTextFile(join(d.path, "elsewhere", "b.txt"), "outside");
  await Deno.symlink(join(root, "sub", "a.txt"), join(root, "link_in"));
  await Deno.symlink("sub/a.txt", join(root, "relative_link_in"));
  await Deno.symlink(join(d.path, "secret.txt"), join(root, "link_out"));
  await Deno.symlink("../secret.txt", join(root, "relative_link_out"));
  await Deno.symlink(join(d.path, "elsewhere"), join(root, "linked_dir"));
  await Deno.symlink(join(root, "fifo"), join(root, "link_to_fifo"));
  await Deno.symlink(join(root, "nothing"), join(root, "dangling"));
  await mkfifo(join(root, "fifo"));

  await t.step(
    "regular files and links that stay inside are read",
    async () => {
      for (const name of ["sub/a.txt", "link_in", "relative_link_in"]) {
        const path = join(root, name);
        assertEquals(
          new TextDecoder().decode(await readVaultFile(path, { root })),
          "inside",
        );
        assertEquals(readVaultFileSync(path, { root }).length, 6);
        using f = await openVaultFile(path, { root });
        assertEquals((await f.stat()).size, 6);
        using g = openVaultFileSync(path, { root });
        assertEquals(g.statSync().size, 6);
      }
    },
  );

  const refused: [string, string, RegExp][] = [
    ["a FIFO", join(root, "fifo"), /is a FIFO \(named pipe\)/],
    ["a link to a FIFO", join(root, "link_to_fifo"), /is a FIFO/],
    ["a directory", join(root, "sub"), /is a directory/],
    [
      "a link leading out",
      join(root, "link_out"),
      /symbolic link leading outside .* \(to .*secret\.txt/,
    ],
    [
      "a relative link leading out",
      join(root, "relative_link_out"),
      /symbolic link leading outside .*\.\.\/secret\.txt/,
    ],
    [
      "a file under a linked folder leading out",
      join(root, "linked_dir", "b.txt"),
      /real path .*elsewhere\/b\.txt is outside/,
    ],
    ["a character device", "/dev/null", /is a character device/],
  ];
  for (const [what, path, message] of refused) {
    await t.step(`${what} is refused, naming it`, async () => {
      const r = what === "a character device" ? "/dev" : root;
      const e = await within(
        60_000,
        what,
        assertRejects(() => readVaultFile(path, { root: r }), UnsafeFileError),
      );
      assertMatch(e.message, message);
      assert(e.message.includes(path), e.message);
      assertEquals((e as UnsafeFileError).exitCode, 2);
      await assertRejects(
        () => openVaultFile(path, { root: r }),
        UnsafeFileError,
      );
      assertThrows(() => openVaultFileSync(path, { root: r }), UnsafeFileError);
      assertThrows(() => readVaultFileSync(path, { root: r }), UnsafeFileError);
    });
  }

  await t.step("a missing file or a dangling link is NotFound", async () => {
    for (const name of ["nothing", "dangling"]) {
      await assertRejects(
        () => readVaultFile(join(root, name), { root }),
        Deno.errors.NotFound,
      );
      assertThrows(
        () => openVaultFileSync(join(root, name), { root }),
        Deno.errors.NotFound,
      );
    }
  });

  await t.step("a file above maxBytes is refused with its size", async () => {
    const path = join(root, "sub", "a.txt");
    const e = await assertRejects(
      () => readVaultFile(path, { root, maxBytes: 5 }),
      UnsafeFileError,
    );
    assertMatch(e.message, /holds 6 bytes, more than the limit of 5/);
    assertThrows(
      () => readVaultFileSync(path, { root, maxBytes: 5 }),
      UnsafeFileError,
    );
    assertEquals((await readVaultFile(path, { root, maxBytes: 6 })).length, 6);
  });

  await t.step(
    "the hasher behind seal and verify refuses the same",
    async () => {
      const hasher = new FileHasher();
      assertEquals(
        (await hasher.hash(join(root, "link_in"), undefined, root)).bytes,
        6,
      );
      for (const name of ["fifo", "link_out", "linked_dir/b.txt"]) {
        await within(
          60_000,
          name,
          assertRejects(
            () => hasher.hash(join(root, name), undefined, root),
            UnsafeFileError,
          ),
        );
      }
    },
  );
});

// ---------------------------------------------------------------------------
// FIFOs and links in each file the tools open

/** A Parquet file outside the vault with 777 rows: must never be read. */
async function outsideParquet(dir: string): Promise<string> {
  await Deno.mkdir(join(dir, "specimens"), { recursive: true });
  const spec = await writeSpecimen(dir, {
    id: "outside",
    metrics: "SELECT range AS step, 0.5 AS loss FROM range(777)",
  });
  return join(spec, "strata", "metrics.parquet");
}

Deno.test("readVaultFile(Sync) and readMetricTable work with read access to the folder alone (its parents unreadable)", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "a" });
  const dir = join(v.specimens, "a");
  const script = `
    import { readVaultFile, readVaultFileSync } from "${
    join(ROOT, "lib", "_fs.ts")
  }";
    import { readMetricTable } from "${
    join(ROOT, "lib", "metrics_log", "table.ts")
  }";
    const dir = ${JSON.stringify(dir)};
    for (let i = 0; i < 2; i++) {
      const path = dir + "/manifest.msgpack";
      const sync = readVaultFileSync(path, { root: dir });
      const bytes = await readVaultFile(path, { root: dir });
      const table = await readMetricTable(dir, "metrics");
      console.log(bytes.length === sync.length, table.rows > 0);
    }`;
  const file = join(v.path, "probe.ts");
  await Deno.writeTextFile(file, script);
  // Read access to the specimen folder (and the script, and lib/) only.
  const r = await runDeno([
    "run",
    `--allow-read=${dir},${file},${ROOT}`,
    file,
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals(r.stdout.trim().split("\n"), ["true true", "true true"]);
});

Deno.test("index finishes with a FIFO or a link leading out in any file it reads: each is an issue of its specimen, the rest is indexed, the lock is released", async () => {
  await using v = await tempVault();
  await using out = await tempDir();
  const secret = await outsideParquet(out.path);
  await writeSpecimen(v.path, { id: "good" });
  const s = (id: string) => join(v.specimens, id);
  // The manifest is a FIFO.
  await Deno.mkdir(join(s("fifo_manifest"), "strata"), { recursive: true });
  await mkfifo(join(s("fifo_manifest"), "manifest.msgpack"));
  // A manifest that links outside (to a real manifest).
  await writeSpecimen(out.path, { id: "linked_manifest" });
  await Deno.mkdir(s("linked_manifest"));
  await Deno.symlink(
    join(out.path, "specimens", "linked_manifest", "manifest.msgpack"),
    join(s("linked_manifest"), "manifest.msgpack"),
  );
  // strata/metrics.parquet is a FIFO; strata/x.parquet links outside.
  await writeSpecimen(v.path, { id: "fifo_metrics", metrics: null });
  await mkfifo(join(s("fifo_metrics"), "strata", "metrics.parquet"));
  await writeSpecimen(v.path, { id: "linked_table" });
  await Deno.symlink(secret, join(s("linked_table"), "strata", "x.parquet"));
  // A log's parts: a FIFO part, a part linking outside, a linked .parts.
  await writeSpecimen(v.path, { id: "odd_parts" });
  const parts = join(s("odd_parts"), "strata", "train.parts");
  await Deno.mkdir(parts);
  await mkfifo(join(parts, "part-000000.parquet"));
  await Deno.symlink(secret, join(parts, "part-000001.parquet"));
  await writeSpecimen(v.path, { id: "linked_parts" });
  await Deno.mkdir(join(out.path, "log.parts"));
  await Deno.copyFile(
    secret,
    join(out.path, "log.parts", "part-000000.parquet"),
  );
  await Deno.symlink(
    join(out.path, "log.parts"),
    join(s("linked_parts"), "strata", "log.parts"),
  );
  // A Zarr array whose zarr.json is a FIFO.
  await writeSpecimen(v.path, { id: "fifo_zarr" });
  await Deno.mkdir(join(s("fifo_zarr"), "strata", "t.zarr"));
  await mkfifo(join(s("fifo_zarr"), "strata", "t.zarr", "zarr.json"));
  // field_notes.md and a run log are FIFOs (the index does not open them).
  await writeSpecimen(v.path, { id: "fifo_notes" });
  await mkfifo(join(s("fifo_notes"), "field_notes.md"));
  await Deno.mkdir(join(s("fifo_notes"), "runs", "r1"), { recursive: true });
  await mkfifo(join(s("fifo_notes"), "runs", "r1", "stdout.log"));

  for (const round of ["first", "second (the lock was released)"]) {
    const r = await taskWithin(60_000, "index", [
      "--vault",
      v.path,
      "--full",
    ]);
    assertEquals(r.code, 0, `${round}: ${r.stderr}`);
    assertMatch(r.stderr, /fifo_manifest\/manifest\.msgpack: it is a FIFO/);
    assertMatch(
      r.stderr,
      /linked_manifest\/manifest\.msgpack: it is a symbolic link leading outside/,
    );
    assertMatch(r.stderr, /fifo_metrics.*metrics\.parquet is not a regular/);
    assertMatch(r.stderr, /linked_table.*x\.parquet is a symbolic link/);
    assertMatch(r.stderr, /fifo_zarr.*zarr\.json is not readable.*FIFO/);
  }
  using q = await VaultQuery.open({ vault: v.path });
  const ids = (await q.search(
    "SELECT specimen_id FROM catalog ORDER BY specimen_id",
  )).map((row) => row.specimen_id);
  assertEquals(ids, [
    "fifo_metrics",
    "fifo_notes",
    "fifo_zarr",
    "good",
    "linked_parts",
    "linked_table",
    "odd_parts",
  ]);
  // Nothing outside the vault was read: no table has its 777 rows.
  const leaked = await q.search(
    "SELECT specimen_id, name FROM metric_tables WHERE rows = 777",
  );
  assertEquals(leaked, []);
});

Deno.test("SpecimenStorage.open, readManifest, readMetricTable and verify refuse a FIFO or an outside link at once, naming it", async () => {
  await using v = await tempVault();
  await using out = await tempDir();
  const secret = await outsideParquet(out.path);
  const fifoDir = join(v.specimens, "fifo_manifest");
  await Deno.mkdir(fifoDir);
  await mkfifo(join(fifoDir, "manifest.msgpack"));
  const e = await within(
    60_000,
    "SpecimenStorage.open",
    assertRejects(() => SpecimenStorage.open(fifoDir), UnsafeFileError),
  );
  assertMatch(e.message, /manifest\.msgpack: it is a FIFO/);
  await within(
    60_000,
    "readManifest",
    assertRejects(() => readManifest(fifoDir), UnsafeFileError),
  );

  const tables = await writeSpecimen(v.path, { id: "tables" });
  await mkfifo(join(tables, "strata", "piped.parquet"));
  await Deno.symlink(secret, join(tables, "strata", "linked.parquet"));
  await Deno.mkdir(join(out.path, "log.parts"));
  await Deno.copyFile(
    secret,
    join(out.path, "log.parts", "part-000000.parquet"),
  );
  await Deno.symlink(
    join(out.path, "log.parts"),
    join(tables, "strata", "log.parts"),
  );
  for (
    const [name, message] of [
      ["piped", /is a FIFO/],
      ["linked", /symbolic link leading outside/],
      ["log", /real path .*log\.parts\/part-000000\.parquet is outside/],
    ] as const
  ) {
    const err = await within(
      60_000,
      `readMetricTable ${name}`,
      assertRejects(() => readMetricTable(tables, name), UnsafeFileError),
    );
    assertMatch(err.message, message);
  }
  assertEquals((await readMetricTable(tables, "metrics")).rows, 10);

  // Sealed specimens whose files became a FIFO or a link after sealing.
  const a = await sealedNeighbour(v.path, "sealed_fifo");
  await Deno.remove(join(a, "strata", "metrics.parquet"));
  await mkfifo(join(a, "strata", "metrics.parquet"));
  const b = await sealedNeighbour(v.path, "sealed_link");
  await Deno.remove(join(b, "strata", "metrics.parquet"));
  await Deno.symlink(secret, join(b, "strata", "metrics.parquet"));
  const c = await sealedNeighbour(v.path, "sealed_log");
  await Deno.mkdir(join(c, "runs", "r1"), { recursive: true });
  await mkfifo(join(c, "runs", "r1", "stdout.log"));
  const results = await within(
    10_000,
    "verifyVault",
    verifyVault({ vault: v.path }),
  );
  const byId = Object.fromEntries(results.map((r) => [r.id, r]));
  assertEquals(byId.fifo_manifest.state, "error");
  assertMatch(byId.fifo_manifest.error!, /manifest\.msgpack: it is a FIFO/);
  assertEquals(byId.sealed_fifo.state, "mismatch");
  assertEquals(byId.sealed_fifo.modified, ["strata/metrics.parquet"]);
  assertEquals(byId.sealed_link.modified, ["strata/metrics.parquet"]);
  assertEquals(byId.sealed_log.state, "mismatch");
  assertEquals(byId.sealed_log.extra, ["runs/r1/stdout.log"]);

  const r = await taskWithin(60_000, "verify", [
    "--vault",
    v.path,
    "fifo_manifest",
  ]);
  assertEquals(r.code, 1);
  assertMatch(r.stdout, /fifo_manifest .*FIFO/);
});

// ---------------------------------------------------------------------------
// One bad file never stops the index

/**
 * A valid manifest for `id` whose extra key `deep` holds `depth` nested
 * arrays (or one-key maps), built as bytes: encoding such a value with a
 * recursive encoder would itself overflow the stack.
 */
function deepManifest(id: string, depth: number, kind: "array" | "map") {
  const m: Manifest & { deep: null } = {
    specimen_id: id,
    created: "2024-01-01T00:00:00+00:00",
    taxonomy: { domain: "training", method: "fine_tuning" },
    status: "active",
    artifacts: {},
    tags: [],
    model: null,
    description: null,
    dependencies: {},
    deep: null,
  };
  const head = encodeMsgpack(m);
  assertEquals(head.at(-1), 0xc0); // `deep: null` is last
  const unit = kind === "array" ? [0x91] : [0x81, 0xa1, 0x6b]; // [x] / {k: x}
  const bytes = new Uint8Array(head.length - 1 + depth * unit.length + 1);
  bytes.set(head.subarray(0, -1));
  for (let i = 0; i < depth; i++) {
    bytes.set(unit, head.length - 1 + i * unit.length);
  }
  bytes[bytes.length - 1] = 0xc0;
  return bytes;
}

const ZARR_JSON = {
  zarr_format: 3,
  node_type: "array",
  shape: [4, 4],
  data_type: "float32",
  chunk_grid: { name: "regular", configuration: { chunk_shape: [4, 4] } },
  chunk_key_encoding: { name: "default" },
  fill_value: 0,
  codecs: [{ name: "bytes", configuration: { endian: "little" } }],
};

Deno.test("index: manifests nested 5,000 and 100,000 deep and tensor shapes DuckDB cannot hold are issues of their specimen; the rest is indexed", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  const tensor = async (id: string, meta: Record<string, unknown>) => {
    const dir = await writeSpecimen(v.path, { id });
    await Deno.mkdir(join(dir, "strata", "t.zarr"));
    await Deno.writeTextFile(
      join(dir, "strata", "t.zarr", "zarr.json"),
      JSON.stringify({ ...ZARR_JSON, ...meta }),
    );
  };
  await tensor("good_tensor", {});
  const deep: string[] = [];
  for (const depth of [5_000, 100_000]) {
    for (const kind of ["array", "map"] as const) {
      const id = `deep_${kind}_${depth}`;
      deep.push(id);
      const dir = join(v.specimens, id);
      await Deno.mkdir(dir);
      await Deno.writeFile(
        join(dir, "manifest.msgpack"),
        deepManifest(id, depth, kind),
      );
      // Every reader refuses it as corrupt, without a stack overflow.
      const e = await assertRejects(() => readManifest(dir), CorruptFileError);
      assertMatch(e.message, /nested more than 64 deep/);
    }
  }
  const shapes: Record<string, [Record<string, unknown>, RegExp]> = {
    shape_1e19: [
      { shape: [1e19, 2] },
      /shape dimension 0 is 10000000000000000000,/,
    ],
    shape_negative: [{ shape: [4, -1] }, /shape dimension 1 is -1/],
    shape_fraction: [{ shape: [2.5] }, /shape dimension 0 is 2\.5/],
    shape_string: [{ shape: ["x"] }, /shape dimension 0 is "x"/],
    shape_number: [{ shape: 5 }, /shape is number, not a list/],
    shape_many_dims: [
      { shape: Array(100).fill(1) },
      /shape has 100 dimensions/,
    ],
    chunks_1e19: [
      {
        chunk_grid: { name: "regular", configuration: { chunk_shape: [1e19] } },
      },
      /chunk shape dimension 0 is 10000000000000000000,/,
    ],
    shape_huge_int: [{ shape: [2 ** 60] }, /not a whole number from 0/],
  };
  for (const [id, [meta]] of Object.entries(shapes)) await tensor(id, meta);
  // A zarr.json that is JSON nested 100,000 deep (V8 parses it; nothing
  // recursive may run on it).
  const dir = await writeSpecimen(v.path, { id: "deep_zarr" });
  await Deno.mkdir(join(dir, "strata", "t.zarr"));
  await Deno.writeTextFile(
    join(dir, "strata", "t.zarr", "zarr.json"),
    `{"shape": ${"[".repeat(100_000)}${"]".repeat(100_000)}}`,
  );

  const report = await indexVault({ vault: v.path, full: true });
  const warnings = report.warnings.join("\n");
  for (const id of deep) {
    assertMatch(
      warnings,
      new RegExp(`${id}/manifest\\.msgpack: arrays and maps nested more`),
    );
  }
  for (const [id, [, message]] of Object.entries(shapes)) {
    const line = report.warnings.find((w) => w.includes(`/${id}:`)) ?? "";
    assertMatch(line, message, warnings);
    assertMatch(line, /not indexed as a tensor/);
  }
  assertMatch(warnings, /deep_zarr.*zarr\.json: shape dimension 0 is a list/);
  // Everything but the deep manifests is indexed; only good tensors are.
  assertEquals(report.indexed, 3 + Object.keys(shapes).length);
  using q = await VaultQuery.open({ vault: v.path });
  const t = await q.search(
    "SELECT specimen_id, shape::VARCHAR AS shape FROM tensors ORDER BY 1",
  );
  assertEquals(t, [{ specimen_id: "good_tensor", shape: "[4, 4]" }]);
});

// ---------------------------------------------------------------------------
// The dashboard

/** Starts `deno task serve` on a free port; returns its URL and the child. */
async function serve(vault: string) {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  const command: string = config.tasks.serve.command;
  const flags = command.slice(0, command.indexOf("tasks/serve.ts"))
    .split(/\s+/).filter((a) => a.startsWith("--"));
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...flags,
      "tasks/serve.ts",
      "--vault",
      vault,
      "--port",
      "0",
    ],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let out = "";
  let url: string | undefined;
  const deadline = Date.now() + 30_000;
  while (!url && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    out += value;
    url = /Open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
  }
  reader.releaseLock();
  child.stdout.cancel().catch(() => {});
  if (!url) {
    child.kill("SIGKILL");
    await child.status;
    throw new Error(`serve printed no URL: ${out}`);
  }
  return { url, child };
}

Deno.test("dashboard: a FIFO, a link leading out or a folder as field_notes.md leaves the notes out with a note; 40 requests at once do not stall the server; SIGINT and SIGTERM stop it", async (t) => {
  await using v = await tempVault();
  await using out = await tempDir();
  await Deno.writeTextFile(join(out.path, "secret.md"), "# TOP SECRET");
  const fifo = await writeSpecimen(v.path, { id: "fifo_notes" });
  await mkfifo(join(fifo, "field_notes.md"));
  const link = await writeSpecimen(v.path, { id: "linked_notes" });
  await Deno.symlink(
    join(out.path, "secret.md"),
    join(link, "field_notes.md"),
  );
  const folder = await writeSpecimen(v.path, { id: "folder_notes" });
  await Deno.mkdir(join(folder, "field_notes.md"));
  const inside = await writeSpecimen(v.path, { id: "inside_link_notes" });
  await Deno.writeTextFile(join(inside, "notes_v2.md"), "# Kept notes");
  await Deno.symlink("notes_v2.md", join(inside, "field_notes.md"));
  const good = await writeSpecimen(v.path, { id: "good" });
  await Deno.writeTextFile(join(good, "field_notes.md"), "# Good notes");
  await indexVault({ vault: v.path });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    await t.step(
      `requests answer, then ${signal} stops the server`,
      async () => {
        const { url, child } = await serve(v.path);
        try {
          const get = async (id: string) => {
            const res = await fetch(new URL(`/api/specimens/${id}`, url), {
              signal: AbortSignal.timeout(20_000),
            });
            return { status: res.status, body: await res.json() };
          };
          const many = await within(
            30_000,
            "40 requests for a specimen with a FIFO field_notes.md",
            Promise.all(Array.from({ length: 40 }, () => get("fifo_notes"))),
          );
          for (const r of many) {
            assertEquals(r.status, 200);
            assertEquals(r.body.specimen.specimen_id, "fifo_notes");
            assertMatch(r.body.notes_issue, /field_notes\.md: it is a FIFO/);
            assertMatch(r.body.notes_html, /notes-issue.*left out/);
          }
          const linked = await get("linked_notes");
          assertEquals(linked.status, 200);
          assertMatch(linked.body.notes_issue, /symbolic link leading outside/);
          assert(!JSON.stringify(linked.body).includes("TOP SECRET"));
          const dir = await get("folder_notes");
          assertEquals(dir.status, 200);
          assertMatch(dir.body.notes_issue, /is a directory/);
          const kept = await get("inside_link_notes");
          assertEquals(kept.body.notes_issue, null);
          assertMatch(kept.body.notes_html, /Kept notes/);
          const fine = await get("good");
          assertMatch(fine.body.notes_html, /Good notes/);
          assertEquals(fine.body.notes_issue, null);
        } finally {
          child.kill(signal);
        }
        const status = await within(60_000, `stop on ${signal}`, child.status);
        assertEquals(status.code, 0);
      },
    );
  }
});

Deno.test("deriveSpecimen refuses a parent whose protocol.ts is a FIFO or links outside, at once and naming it", async () => {
  await using v = await tempVault();
  await using out = await tempDir();
  await Deno.writeTextFile(join(out.path, "evil.ts"), "// outside");
  for (
    const [id, make, message] of [
      ["piped", (p: string) => mkfifo(p), /is a FIFO/],
      [
        "linked",
        (p: string) => Deno.symlink(join(out.path, "evil.ts"), p),
        /symbolic link leading outside/,
      ],
    ] as const
  ) {
    const { dir } = await createSpecimen({
      vault: v.path,
      id,
      domain: "training",
      method: "fine_tuning",
    });
    await Deno.remove(join(dir, "protocol.ts"));
    await make(join(dir, "protocol.ts"));
    const e = await within(
      60_000,
      `derive from ${id}`,
      assertRejects(
        () => deriveSpecimen({ vault: v.path, from: id, id: `${id}_v2` }),
        UnsafeFileError,
      ),
    );
    assertMatch(e.message, message);
    assertEquals(await exists(join(v.specimens, `${id}_v2`)), false);
  }
});

Deno.test("index: manifest values DuckDB's types cannot take as they are (lone surrogates, 2^63, a large binary) are stored or skipped per specimen, never failing the run", async () => {
  await using v = await tempVault();
  await writeSpecimen(v.path, { id: "good" });
  const cases: Record<string, Record<string, unknown>> = {
    lone_description: { description: "cut emoji \ud83d" },
    lone_tag: { tags: ["x\udfff"] },
    lone_dependency_key: { dependencies: { "k\ud800": "v" } },
    lone_provenance: { provenance: { q: "\ud800" } },
    int64_max: { provenance: { n: 2n ** 63n - 1n } },
    big_binary: { provenance: { blob: new Uint8Array(300_000) } },
    nan: { provenance: { n: NaN, m: -Infinity } },
  };
  for (const [id, extra] of Object.entries(cases)) {
    const dir = join(v.specimens, id);
    await Deno.mkdir(dir);
    await Deno.writeFile(
      join(dir, "manifest.msgpack"),
      encodeMsgpack({
        specimen_id: id,
        created: "2024-01-01T00:00:00+00:00",
        taxonomy: { domain: "training", method: "fine_tuning" },
        status: "active",
        artifacts: {},
        tags: [],
        model: null,
        description: null,
        dependencies: {},
        ...extra,
      }, { useBigInt64: true }),
    );
  }
  const report = await indexVault({ vault: v.path, full: true });
  assertEquals(
    report.indexed,
    1 + Object.keys(cases).length,
    report.warnings.join("\n"),
  );
  using q = await VaultQuery.open({ vault: v.path });
  const [row] = await q.search(
    "SELECT description, tags FROM catalog WHERE specimen_id = 'lone_description'",
  );
  assertEquals(row.description, "cut emoji \ufffd");
  const [tag] = await q.search(
    "SELECT tags[1] AS t FROM catalog WHERE specimen_id = 'lone_tag'",
  );
  assertEquals(tag.t, "x\ufffd");
});
