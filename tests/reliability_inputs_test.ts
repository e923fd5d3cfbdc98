/**
 * Bad inputs, attacked the way real mistakes and hostile input arrive: ids,
 * taxonomy, tags, manifests, Parquet, Zarr and SQL. Each case must give a
 * clear error naming the input with its documented exit code, lose nothing,
 * and leave every other specimen as it was. See docs/RELIABILITY.md.
 *
 * @module
 */
import { encodeMsgpack, join } from "../lib/_deps.ts";
import { indexVault } from "../lib/catalog/index_vault.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import {
  CorruptFileError,
  InvalidInputError,
  UnsupportedFormatError,
  VaultError,
} from "../lib/errors.ts";
import {
  encodeManifest,
  type Manifest,
  readManifest,
} from "../lib/specimen/manifest.ts";
import { VaultQuery } from "../lib/query/vault_query.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { verifySpecimen, verifyVault } from "../lib/specimen/verify.ts";
import {
  assertUnchanged,
  freshVault,
  PROVENANCE_STUB,
  sealedNeighbour,
  snapshot,
  tempLeftovers,
} from "./_tools/stress/stress.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runDeno,
  type RunResult,
  runTask,
} from "./utils.ts";

/** Runs a task with the permissions deno.json gives it. */
function task(name: string, args: string[]): Promise<RunResult> {
  const flags: Record<string, string[]> = {
    create: ["--allow-read", "--allow-write", "--allow-env=SPECIMEN_VAULT"],
    verify: ["--allow-read", "--allow-env=SPECIMEN_VAULT"],
    query: [
      "--allow-read",
      "--allow-write",
      "--allow-ffi",
      "--allow-env",
      "--allow-sys",
    ],
  };
  return runDeno([
    "run",
    ...(flags[name] ?? ["-A"]),
    join(ROOT, "tasks", `${name}.ts`),
    ...args,
  ]);
}

/** Runs `fns` at most `n` at a time (subprocesses on a 2-core machine). */
async function limited<T>(n: number, fns: (() => Promise<T>)[]): Promise<T[]> {
  const out: T[] = new Array(fns.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < fns.length) {
        const i = next++;
        out[i] = await fns[i]();
      }
    }),
  );
  return out;
}

/** A vault with two good specimens and a catalog: what must not change. */
async function goodVault() {
  const v = await freshVault();
  const neighbour = await sealedNeighbour(v.path);
  const { dir: taken } = await createSpecimen({
    vault: v.path,
    id: "taken",
    domain: "training",
    method: "fine_tuning",
    extra: { provenance: PROVENANCE_STUB },
  });
  await (await SpecimenStorage.open(taken)).writeMetrics({
    step: [0, 1],
    loss: [1, 0.5],
  });
  await indexVault({ vault: v.path });
  return Object.assign(v, { neighbour, taken });
}

const base = ["--domain", "training", "--method", "fine_tuning"];

/** The catalog (and its sidecar files) is a cache the tests rebuild: not part of the good state. */
const isCatalog = (path: string) =>
  path === "vault.duckdb" || path.startsWith("vault.duckdb.");

Deno.test("create refuses every bad id, taxonomy pair and tag list: exit 2 (3 for an existing id) naming the value; the vault is unchanged", async () => {
  await using v = await goodVault();
  const before = await snapshot(v.path);
  const tenThousand = Array.from({ length: 10_000 }, (_, i) => `t${i}`).join(
    ",",
  );
  const cases: [string, string[], number, RegExp][] = [
    [
      "../x",
      ["--id", "../x", ...base],
      2,
      /Invalid specimen id "\.\.\/x": it contains "\."/,
    ],
    [
      "a/b",
      ["--id", "a/b", ...base],
      2,
      /Invalid specimen id "a\/b": it contains "\/"/,
    ],
    [
      "a\\b",
      ["--id", "a\\b", ...base],
      2,
      /Invalid specimen id "a\\\\b": it contains "\\\\"/,
    ],
    [
      ".hidden",
      ["--id", ".hidden", ...base],
      2,
      /Invalid specimen id "\.hidden"/,
    ],
    [
      "SQL",
      ["--id", "x;DROP TABLE catalog", ...base],
      2,
      /Invalid specimen id "x;DROP TABLE catalog": it contains ";"/,
    ],
    [
      "quote comment",
      ["--id", "x'--", ...base],
      2,
      /Invalid specimen id "x'--": it contains "'"/,
    ],
    [
      "double quote",
      ["--id", 'a"b', ...base],
      2,
      /Invalid specimen id "a\\"b": it contains "\\""/,
    ],
    [
      "space",
      ["--id", "my run", ...base],
      2,
      /Invalid specimen id "my run": it contains " "/,
    ],
    [
      "fullwidth x",
      ["--id", "ｘ", ...base],
      2,
      /Invalid specimen id "ｘ": it contains "ｘ"/,
    ],
    [
      "Cyrillic a",
      ["--id", "dаta", ...base],
      2,
      /Invalid specimen id "dаta": it contains "а"/,
    ],
    ["Cyrillic s in select", ["--id", "ѕelect", ...base], 2, /it contains "ѕ"/],
    ["empty", ["--id", "", ...base], 2, /Invalid specimen id "": it is empty/],
    [
      "129 characters",
      ["--id", "a".repeat(129), ...base],
      2,
      /it is 129 characters long/,
    ],
    [
      "existing id",
      ["--id", "taken", ...base],
      3,
      /Specimen "taken" already exists/,
    ],
    [
      "unknown domain",
      ["--id", "n", "--domain", "chemistry", "--method", "fine_tuning"],
      2,
      /Unknown domain "chemistry": valid domains are interpretability, training, benchmarking, alignment/,
    ],
    [
      "unknown method",
      ["--id", "n", "--domain", "training", "--method", "telepathy"],
      2,
      /Invalid method "telepathy" for domain "training": valid methods for training are fine_tuning, ablation_study/,
    ],
    [
      "method of another domain",
      ["--id", "n", "--domain", "benchmarking", "--method", "sae_analysis"],
      2,
      /Invalid method "sae_analysis" for domain "benchmarking": valid methods for benchmarking are ablation_study/,
    ],
    [
      "empty domain",
      ["--id", "n", "--domain", "", "--method", "fine_tuning"],
      2,
      /Unknown domain ""/,
    ],
    [
      "empty method",
      ["--id", "n", "--domain", "training", "--method", ""],
      2,
      /Invalid method "" for domain "training"/,
    ],
    [
      "empty tag item",
      ["--id", "n", ...base, "--tags", "a,,b"],
      2,
      /Tag 2 of "a,,b" is empty/,
    ],
    [
      "trailing comma",
      ["--id", "n", ...base, "--tags", "a,b,"],
      2,
      /Tag 3 of "a,b," is empty/,
    ],
    [
      "only commas",
      ["--id", "n", ...base, "--tags", ",,"],
      2,
      /Tag 1 of ",," is empty/,
    ],
    [
      "10,000 tags",
      ["--id", "n", ...base, "--tags", tenThousand],
      2,
      /Too many tags \(10000\): at most 256/,
    ],
    [
      "control character",
      ["--id", "n", ...base, "--tags", "a\tb"],
      2,
      /Tag "a\\tb" contains a control character/,
    ],
    [
      "129-character tag",
      ["--id", "n", ...base, "--tags", "x".repeat(129)],
      2,
      /is 129 characters long: at most 128/,
    ],
  ];
  const results = await limited(
    4,
    cases.map(([, args]) => () => task("create", [...args, "--vault", v.path])),
  );
  for (const [i, [name, , code, message]] of cases.entries()) {
    const r = results[i];
    assertEquals(r.code, code, `${name}: ${r.stderr}`);
    assertMatch(r.stderr, /^error: /, name);
    assertMatch(r.stderr, message, name);
    assert(!/\n\s+at /.test(r.stderr), `${name}: a stack trace`);
  }
  assertEquals([...Deno.readDirSync(v.specimens)].map((e) => e.name).sort(), [
    "neighbour",
    "taken",
  ]);
  assertEquals(tempLeftovers(v.path), []);
  await assertUnchanged(v.path, before);
  assertEquals((await verifySpecimen(v.neighbour)).state, "ok");
});

Deno.test("tags: duplicates merge, quotes and unicode are kept, a comma inside a listed tag is refused; tags round-trip through manifest, catalog and SQL", async () => {
  await using v = await goodVault();
  const create = (id: string, tags: string[] | string) =>
    createSpecimen({
      vault: v.path,
      id,
      domain: "training",
      method: "fine_tuning",
      tags,
    });
  await create("quoted", ` gpt2, "quoted" ,it's, o'neil,gpt2 ,ünïcode, gpt2`);
  assertEquals((await readManifest(join(v.specimens, "quoted"))).tags, [
    "gpt2",
    '"quoted"',
    "it's",
    "o'neil",
    "ünïcode",
  ]);
  await create("many_copies", Array.from({ length: 10_000 }, () => "same"));
  assertEquals((await readManifest(join(v.specimens, "many_copies"))).tags, [
    "same",
  ]);
  await assertRejects(
    () => create("comma", ["a,b"]),
    InvalidInputError,
    `Tag "a,b" contains a comma: tags are written comma-separated, so give them as separate tags, e.g. ["a","b"]`,
  );
  await assertRejects(
    () => create("blank", ["ok", "  "]),
    InvalidInputError,
    "Tag 2",
  );
  await assertRejects(
    () => create("too_many", Array.from({ length: 10_000 }, (_, i) => `t${i}`)),
    InvalidInputError,
    "Too many tags (10000)",
  );
  assertEquals(
    [...Deno.readDirSync(v.specimens)].map((e) => e.name).sort(),
    ["many_copies", "neighbour", "quoted", "taken"],
  );
  await indexVault({ vault: v.path });
  using q = await VaultQuery.open({ vault: v.path });
  for (const tag of ["it's", "o'neil", '"quoted"', "ünïcode"]) {
    assertEquals((await q.specimens({ tag })).map((r) => r.specimen_id), [
      "quoted",
    ], tag);
  }
  const [r] = await q.search(
    `SELECT tags FROM catalog WHERE array_contains(tags, 'o''neil') AND list_contains(tags, '"quoted"')`,
  );
  assertEquals(r.tags, ["gpt2", '"quoted"', "it's", "o'neil", "ünïcode"]);
  // Through the command line too.
  const cli = await task("create", [
    "--vault",
    v.path,
    "--id",
    "cli_tags",
    ...base,
    "--tags",
    `it's,"q",it's`,
  ]);
  assertEquals(cli.code, 0, cli.stderr);
  assertEquals((await readManifest(join(v.specimens, "cli_tags"))).tags, [
    "it's",
    '"q"',
  ]);
});

Deno.test("ids that are SQL words (select, table, from, null, catalog, metrics) are ordinary specimens: their exp_ views and catalog rows work", async () => {
  await using v = await freshVault();
  const ids = [
    "select",
    "table",
    "from",
    "where",
    "null",
    "catalog",
    "metrics",
    "exp",
    "order_by",
    "a".repeat(128),
  ];
  for (const [n, id] of ids.entries()) {
    const { dir } = await createSpecimen({
      vault: v.path,
      id,
      domain: "training",
      method: "fine_tuning",
      tags: [id.slice(0, 100)],
      extra: { provenance: PROVENANCE_STUB },
    });
    const s = await SpecimenStorage.open(dir);
    await s.writeMetrics({ step: [0, 1, 2], loss: [n, n + 0.5, n + 0.25] });
  }
  const report = await indexVault({ vault: v.path });
  assertEquals([report.indexed, report.warnings], [ids.length, []]);
  using q = await VaultQuery.open({ vault: v.path });
  for (const [n, id] of ids.entries()) {
    const rows = await q.search(
      `SELECT step, loss FROM exp_${id} ORDER BY step`,
    );
    assertEquals(rows, [{ step: 0, loss: n }, { step: 1, loss: n + 0.5 }, {
      step: 2,
      loss: n + 0.25,
    }], id);
    assertEquals((await q.specimenMetrics(id)).length, 3, id);
    const [c] = await q.search(
      "SELECT specimen_id, metrics_rows FROM catalog WHERE specimen_id = $1",
      [id],
    );
    assertEquals(c, { specimen_id: id, metrics_rows: 3 });
  }
  assertEquals(
    (await q.search(
      `SELECT count(*) AS n FROM exp_select JOIN exp_table USING (step) JOIN exp_null USING (step)`,
    ))[0].n,
    3,
  );
  assertEquals(
    (await q.search(
      `SELECT count(*) AS n FROM metrics WHERE specimen_id = 'catalog'`,
    ))[0].n,
    3,
  );
  const cli = await task("query", [
    "--vault",
    v.path,
    "--format",
    "json",
    "SELECT max(loss) AS m FROM exp_from",
  ]);
  assertEquals(cli.code, 0, cli.stderr);
  assertEquals(JSON.parse(cli.stdout), [{ m: 2.5 }]);
});

// ---------------------------------------------------------------------------
// Manifests

const GOOD: Manifest = {
  specimen_id: "x",
  created: "2026-01-01T00:00:00Z",
  taxonomy: { domain: "training", method: "fine_tuning" },
  status: "active",
  artifacts: {},
  tags: ["t"],
  model: null,
  description: null,
  dependencies: {},
};

/** A manifest with `change` applied (undefined deletes a key). */
function variant(id: string, change: Record<string, unknown>): Uint8Array {
  const m: Record<string, unknown> = { ...GOOD, specimen_id: id, ...change };
  for (const [k, value] of Object.entries(change)) {
    if (value === undefined) delete m[k];
  }
  return encodeMsgpack(m);
}

Deno.test("manifests: each corrupt or mistyped one is named with its reason (storage exit 5, verify error, index skips it); valid oddities are accepted; other specimens untouched", async () => {
  await using v = await goodVault();
  const before = await snapshot(v.path, isCatalog);
  const truncated = encodeManifest({ ...GOOD, specimen_id: "m_truncated" })
    .subarray(0, 40);
  const random = Uint8Array.from(
    { length: 512 },
    (_, i) => (i * 131 + 7) % 251,
  );
  const bad: [string, Uint8Array, RegExp][] = [
    ["m_truncated", truncated, /not valid msgpack/],
    ["m_random", random, /not valid msgpack|expected a map|must match/],
    ["m_empty", new Uint8Array(0), /not valid msgpack/],
    [
      "m_list",
      encodeMsgpack([1, 2, 3]),
      /expected a map at the top level, found a list/,
    ],
    [
      "m_id_number",
      variant("x", { specimen_id: 42 }),
      /"specimen_id" must match .* found 42/,
    ],
    [
      "m_id_other",
      variant("someone_else", {}),
      /"specimen_id" is "someone_else" but the folder is "m_id_other"/,
    ],
    [
      "m_created_number",
      variant("m_created_number", { created: 1700000000 }),
      /"created" must be an ISO-8601 string, found number 1700000000/,
    ],
    [
      "m_created_text",
      variant("m_created_text", { created: "last tuesday" }),
      /"created" is not an ISO-8601 instant with an offset: "last tuesday"/,
    ],
    [
      "m_created_local",
      variant("m_created_local", { created: "2026-01-01T10:00:00" }),
      /not an ISO-8601 instant with an offset/,
    ],
    [
      "m_created_day99",
      variant("m_created_day99", { created: "2026-02-99T00:00:00Z" }),
      /not an ISO-8601 instant/,
    ],
    [
      "m_taxonomy_text",
      variant("m_taxonomy_text", { taxonomy: "training/fine_tuning" }),
      /"taxonomy" must be a map \{domain, method\}/,
    ],
    [
      "m_taxonomy_number",
      variant("m_taxonomy_number", { taxonomy: { domain: 1, method: "x" } }),
      /"taxonomy" must be a map/,
    ],
    [
      "m_status_number",
      variant("m_status_number", { status: 3 }),
      /"status" must be a string, found number 3/,
    ],
    [
      "m_artifacts_list",
      variant("m_artifacts_list", { artifacts: ["a"] }),
      /"artifacts" must be a map, found a list/,
    ],
    [
      "m_tags_text",
      variant("m_tags_text", { tags: "a,b" }),
      /"tags" must be a list of strings/,
    ],
    [
      "m_tags_numbers",
      variant("m_tags_numbers", { tags: ["a", 1] }),
      /"tags" must be a list of strings/,
    ],
    [
      "m_model_number",
      variant("m_model_number", { model: 7 }),
      /"model" must be a string or nil, found number 7/,
    ],
    [
      "m_description_map",
      variant("m_description_map", { description: { a: 1 } }),
      /"description" must be a string or nil, found a map/,
    ],
    [
      "m_dependencies_list",
      variant("m_dependencies_list", { dependencies: ["deno"] }),
      /"dependencies" must be a map of strings/,
    ],
    [
      "m_no_id",
      variant("x", { specimen_id: undefined }),
      /missing key "specimen_id"/,
    ],
    [
      "m_no_created",
      variant("m_no_created", { created: undefined }),
      /"created" must be an ISO-8601 string, found undefined/,
    ],
    [
      "m_no_taxonomy",
      variant("m_no_taxonomy", { taxonomy: undefined }),
      /"taxonomy" must be a map/,
    ],
  ];
  const future = new Date(Date.now() + 5 * 365 * 86_400_000).toISOString();
  const huge = "x".repeat(10 * 1024 * 1024);
  const good: [string, Uint8Array][] = [
    [
      "m_extra_keys",
      variant("m_extra_keys", { gpu: "A100", notes: { a: [1, 2] } }),
    ],
    [
      "m_minimal",
      variant("m_minimal", {
        status: undefined,
        artifacts: undefined,
        tags: undefined,
        model: undefined,
        description: undefined,
        dependencies: undefined,
      }),
    ],
    ["m_offset", variant("m_offset", { created: "2026-01-01T05:30:00+05:30" })],
    ["m_future", variant("m_future", { created: future })],
    ["m_10mb", variant("m_10mb", { description: huge })],
  ];
  for (const [id, bytes] of [...bad, ...good]) {
    await Deno.mkdir(join(v.specimens, id, "strata"), { recursive: true });
    await Deno.writeFile(join(v.specimens, id, "manifest.msgpack"), bytes);
  }
  // The library: a CorruptFileError (exit 5) naming the file and the reason.
  for (const [id, , reason] of bad) {
    const e = await assertRejects(
      () => SpecimenStorage.open(join(v.specimens, id)),
      CorruptFileError,
      reason,
    );
    assertEquals((e as CorruptFileError).exitCode, 5);
    assertMatch(e.message, new RegExp(`specimens/${id}/manifest\\.msgpack`));
  }
  for (const [id] of good) await SpecimenStorage.open(join(v.specimens, id));
  assertEquals(
    (await readManifest(join(v.specimens, "m_minimal"))).tags,
    [],
    "missing optional keys take their defaults",
  );
  // verify: each bad one is an error with its reason; the others are fine.
  const verified = new Map(
    (await verifyVault({ vault: v.path })).map((r) => [r.id, r]),
  );
  for (const [id, , reason] of bad) {
    assertEquals(verified.get(id)?.state, "error", id);
    assertMatch(verified.get(id)!.error!, reason);
  }
  for (const [id] of good) {
    assertEquals(verified.get(id)?.state, "unsealed", id);
  }
  assertEquals(verified.get("neighbour")?.state, "ok");
  // index: each bad one skipped with a warning naming it; the rest indexed.
  const report = await indexVault({ vault: v.path });
  for (const [id] of bad) {
    assert(
      report.warnings.some((w) =>
        w.includes(`specimens/${id}/manifest.msgpack`)
      ),
      `no warning names ${id}`,
    );
  }
  assertEquals(report.indexed, 2 + good.length);
  using q = await VaultQuery.open({ vault: v.path });
  const rows = await q.search(
    `SELECT specimen_id, created, manifest->>'$.gpu' AS gpu, length(description) AS d FROM catalog ORDER BY 1`,
  );
  const byId = Object.fromEntries(rows.map((r) => [r.specimen_id, r]));
  assertEquals(Object.keys(byId), [
    "m_10mb",
    "m_extra_keys",
    "m_future",
    "m_minimal",
    "m_offset",
    "neighbour",
    "taken",
  ]);
  assertEquals(byId.m_offset.created, new Date("2026-01-01T00:00:00Z"));
  assertEquals(byId.m_future.created, new Date(future));
  assertEquals(byId.m_extra_keys.gpu, "A100");
  assertEquals(byId.m_10mb.d, huge.length);
  // The task: exit 5 for a run of a corrupt specimen, naming the file.
  const run = await runTask("run", [
    "m_created_text",
  ], {
    env: { SPECIMEN_VAULT: v.path },
  });
  assertEquals(run.code, 5, run.stderr);
  assertMatch(
    run.stderr,
    /^error: Invalid manifest .*m_created_text\/manifest\.msgpack: "created" is not an ISO-8601 instant/,
  );
  await assertUnchanged(v.path, before);
});

Deno.test("a symlinked specimen folder is refused everywhere (index, verify, storage), naming the link; the real folder is untouched", async () => {
  await using v = await goodVault();
  await using elsewhere = await freshVault();
  const real = await sealedNeighbour(elsewhere.path, "linked");
  const before = await snapshot(elsewhere.path);
  await Deno.symlink(real, join(v.specimens, "linked"));
  const report = await indexVault({ vault: v.path, full: true });
  assert(
    report.warnings.some((w) =>
      /specimens\/linked is a symbolic link; skipped/.test(w)
    ),
    report.warnings.join("\n"),
  );
  assertEquals(report.indexed, 2);
  const verified = await verifyVault({ vault: v.path });
  assertEquals(verified.map((r) => [r.id, r.state]), [["linked", "error"], [
    "neighbour",
    "ok",
  ], ["taken", "unsealed"]]);
  assertMatch(
    verified[0].error!,
    /is a symbolic link \(to .*linked\): a specimen must be a real folder/,
  );
  const e = await assertRejects(
    () => SpecimenStorage.open(join(v.specimens, "linked")),
    InvalidInputError,
    "is a symbolic link",
  );
  assertEquals((e as InvalidInputError).exitCode, 2);
  const r = await task("verify", ["--vault", v.path, "linked"]);
  assertEquals(r.code, 1);
  assertMatch(r.stdout, /linked .*symbolic link/);
  await assertUnchanged(elsewhere.path, before);
});

// ---------------------------------------------------------------------------
// Parquet

async function parquetVault() {
  const v = await goodVault();
  const write = async (id: string, columns: Record<string, unknown[]>) => {
    const { dir } = await createSpecimen({
      vault: v.path,
      id,
      domain: "training",
      method: "fine_tuning",
      extra: { provenance: PROVENANCE_STUB },
    });
    const s = await SpecimenStorage.open(dir);
    // deno-lint-ignore no-explicit-any
    await s.writeMetrics(columns as any);
    return dir;
  };
  return { v, write };
}

Deno.test("Parquet: truncated, empty, not-Parquet files are named with the reason; zero rows and 1,000 columns work; the other specimens stay queryable", async () => {
  const { v, write } = await parquetVault();
  await using _ = v;
  const step = Array.from({ length: 100 }, (_, i) => i);
  const good = await write("good", {
    step,
    loss: step.map((s) => 1 / (s + 1)),
  });
  const goodFile = join(good, "strata", "metrics.parquet");
  const goodBytes = await Deno.readFile(goodFile);
  const broken: [string, Uint8Array, RegExp][] = [
    [
      "p_truncated",
      goodBytes.subarray(0, goodBytes.length >> 1),
      /not a Parquet file|truncated/,
    ],
    [
      "p_cut_footer",
      goodBytes.subarray(0, goodBytes.length - 9),
      /not a Parquet file|truncated/,
    ],
    ["p_empty", new Uint8Array(0), /it is empty \(0 bytes\)/],
    [
      "p_text",
      new TextEncoder().encode("step,loss\n0,1\n"),
      /not a Parquet file/,
    ],
  ];
  for (const [id, bytes] of broken) {
    const dir = await write(id, { step: [0] });
    const file = join(dir, "strata", "metrics.parquet");
    await Deno.remove(file);
    await Deno.writeFile(file, bytes);
  }
  await write("p_zero_rows", { step: [], loss: [] });
  const wide: Record<string, unknown[]> = { step: [0, 1, 2] };
  for (let c = 0; c < 1000; c++) wide[`c${c}`] = [c, c + 0.5, c + 0.25];
  await write("p_wide", wide);
  await write("p_clash", { step: ["a", "b"], loss: [1, 2] });
  const before = await snapshot(v.path, isCatalog);

  for (const [id, , reason] of broken) {
    const s = await SpecimenStorage.open(join(v.specimens, id));
    const e = await assertRejects(
      () => s.readMetrics(),
      CorruptFileError,
      reason,
    );
    assertMatch(e.message, new RegExp(`${id}/strata/metrics\\.parquet`));
    assertEquals((e as CorruptFileError).exitCode, 5);
  }
  const zero =
    await (await SpecimenStorage.open(join(v.specimens, "p_zero_rows")))
      .readMetrics();
  assertEquals(Object.keys(zero), ["step", "loss"]);
  assertEquals(zero.step.length, 0);
  const read = await (await SpecimenStorage.open(join(v.specimens, "p_wide")))
    .readMetrics();
  assertEquals([Object.keys(read).length, read.c999[2]], [1001, 999.25]);

  const report = await indexVault({ vault: v.path });
  for (const [id] of broken) {
    assert(
      report.warnings.some((w) =>
        w.startsWith(`specimens/${id}:`) && w.includes("metrics.parquet")
      ),
      `no warning names ${id}: ${report.warnings.join("\n")}`,
    );
  }
  assert(
    report.warnings.some((w) =>
      w.startsWith("specimens/p_clash:") && /column "step"/.test(w)
    ),
  );
  using q = await VaultQuery.open({ vault: v.path });
  // Every specimen has its catalog row, broken metrics or not.
  assertEquals((await q.search("SELECT count(*) AS n FROM catalog"))[0].n, 10);
  assertEquals(
    (await q.search("SELECT count(*) AS n FROM exp_p_zero_rows"))[0].n,
    0,
  );
  assertEquals(
    (await q.search("SELECT c999 FROM exp_p_wide ORDER BY step"))!.map((r) =>
      r.c999
    ),
    [999, 999.5, 999.25],
  );
  assertEquals(
    (await q.search("SELECT step FROM exp_p_clash ORDER BY step")).map((r) =>
      r.step
    ),
    ["a", "b"],
  );
  assertEquals(
    (await q.search("SELECT count(*) AS n FROM exp_good"))[0].n,
    100,
  );
  assertEquals(
    await q.search(
      "SELECT specimen_id, count(*) AS n FROM metrics GROUP BY ALL ORDER BY 1",
    ),
    [
      { specimen_id: "good", n: 100 },
      { specimen_id: "neighbour", n: 4 },
      { specimen_id: "taken", n: 2 },
    ],
  );
  // A file over 128 columns gets a table of its own (one wide specimen never
  // widens the shared `metrics`): its rows are there, and in exp_p_wide.
  assertEquals(
    (await q.search(
      "SELECT source FROM metric_tables WHERE specimen_id = 'p_wide'",
    ))[0].source !== "metrics",
    true,
  );
  await assertUnchanged(v.path, before);
  assertEquals((await verifySpecimen(v.neighbour)).state, "ok");
});

// ---------------------------------------------------------------------------
// Zarr

Deno.test("Zarr: a missing chunk reads as the fill value; a corrupt or contradicting chunk is a CorruptFileError, an unknown codec or data type an UnsupportedFormatError, each naming it", async (t) => {
  await using v = await goodVault();
  const before = await snapshot(v.path, isCatalog);
  const { dir } = await createSpecimen({
    vault: v.path,
    id: "tensors",
    domain: "training",
    method: "fine_tuning",
    extra: { provenance: PROVENANCE_STUB },
  });
  const s = await SpecimenStorage.open(dir);
  const data = Float32Array.from({ length: 16 * 8 }, (_, i) => i + 1);
  const write = (name: string, compression: "zstd" | "none" = "zstd") =>
    s.writeTensor(name, data, { shape: [16, 8], chunks: [4, 8], compression });
  const zarrJson = (name: string) =>
    join(dir, "strata", `${name}.zarr`, "zarr.json");
  const edit = async (
    name: string,
    change: (m: Record<string, unknown>) => void,
  ) => {
    const m = JSON.parse(await Deno.readTextFile(zarrJson(name)));
    change(m);
    await Deno.writeTextFile(zarrJson(name), JSON.stringify(m));
  };
  const chunk = (name: string, key: string) =>
    join(dir, "strata", `${name}.zarr`, ...key.split("/"));

  await t.step(
    "a missing chunk reads as the fill value (0), the rest as written",
    async () => {
      await write("missing");
      await Deno.remove(chunk("missing", "c/1/0"));
      const { data: got } = await s.readTensor("missing");
      assertEquals(
        [...got.subarray(24, 40)],
        [...data.subarray(24, 32), 0, 0, 0, 0, 0, 0, 0, 0].slice(0, 16),
      );
      assertEquals([...got.subarray(32, 64)], new Array(32).fill(0));
      assertEquals([...got.subarray(64)], [...data.subarray(64)]);
    },
  );
  const corrupt: [
    string,
    () => Promise<void>,
    RegExp,
    (typeof CorruptFileError | typeof UnsupportedFormatError)?,
  ][] = [
    ["garbage bytes in a chunk", async () => {
      await write("garbage");
      await Deno.writeFile(
        chunk("garbage", "c/2/0"),
        new Uint8Array(64).fill(7),
      );
    }, /chunk "c\/2\/0" does not decode/],
    ["a truncated chunk", async () => {
      await write("truncated");
      const bytes = await Deno.readFile(chunk("truncated", "c/0/0"));
      await Deno.writeFile(
        chunk("truncated", "c/0/0"),
        bytes.subarray(0, bytes.length >> 1),
      );
    }, /chunk "c\/0\/0" (does not decode|holds \d+ values, expected 32)/],
    ["data_type says float64, chunks hold float32", async () => {
      await write("wrong_dtype");
      await edit("wrong_dtype", (m) => m.data_type = "float64");
    }, /chunk "c\/\d\/0" (does not decode|holds 16 values, expected 32)/],
    ["chunk_shape says 8 rows, chunks hold 4", async () => {
      await write("wrong_chunks");
      await edit(
        "wrong_chunks",
        (m) =>
          (m.chunk_grid as { configuration: { chunk_shape: number[] } })
            .configuration.chunk_shape = [8, 8],
      );
    }, /chunk "c\/\d\/0" (does not decode|holds 32 values, expected 64)/],
    ["codecs say zstd, chunks are raw", async () => {
      await write("raw_as_zstd", "none");
      await edit(
        "raw_as_zstd",
        (m) =>
          (m.codecs as unknown[]).push({
            name: "zstd",
            configuration: { level: 1, checksum: false },
          }),
      );
    }, /chunk "c\/\d\/0" does not decode/],
    [
      "an unknown codec",
      async () => {
        await write("lzma");
        await edit(
          "lzma",
          (m) =>
            (m.codecs as unknown[])[1] = { name: "lzma_x", configuration: {} },
        );
      },
      /codec "lzma_x" is not supported/,
      UnsupportedFormatError,
    ],
    [
      "an unsupported data type",
      async () => {
        await write("complex");
        await edit("complex", (m) => m.data_type = "complex64");
      },
      /data type "complex64" is not supported/,
      UnsupportedFormatError,
    ],
    ["zarr.json that is not JSON", async () => {
      await write("notjson");
      await Deno.writeTextFile(zarrJson("notjson"), "{ shape: [16");
    }, /zarr\.json is not valid JSON/],
  ];
  for (const [name, damage, reason, kind = CorruptFileError] of corrupt) {
    await t.step(name, async () => {
      await damage();
      const tensor = (await readManifest(dir)).artifacts;
      const id = Object.keys(tensor).at(-1)!;
      const e = await assertRejects(
        () => s.readTensor(id),
        kind,
        reason,
      );
      assertEquals(
        (e as CorruptFileError).exitCode,
        kind === CorruptFileError ? 5 : 6,
      );
      assertMatch(e.message, new RegExp(`tensors/strata/${id}\\.zarr`));
    });
  }
  await t.step(
    "a shape larger than the chunks written reads the rest as the fill value",
    async () => {
      await write("grown");
      await edit("grown", (m) => m.shape = [20, 8]);
      const { data: got, shape } = await s.readTensor("grown");
      assertEquals(shape, [20, 8]);
      assertEquals([...got.subarray(0, 128)], [...data]);
      assertEquals([...got.subarray(128)], new Array(32).fill(0));
    },
  );
  await t.step(
    "the index lists every array by its metadata, and the other specimens are untouched",
    async () => {
      const report = await indexVault({ vault: v.path });
      assertEquals(report.indexed, 3);
      assert(
        report.warnings.some((w) =>
          /notjson\.zarr\/zarr\.json is not readable JSON/.test(w)
        ),
      );
      using q = await VaultQuery.open({ vault: v.path });
      const [n] = await q.search(
        "SELECT count(*) AS n FROM tensors WHERE specimen_id = 'tensors'",
      );
      // All but the one whose zarr.json is not JSON: missing, grown and 7 damaged.
      assertEquals(n.n, corrupt.length + 1);
      await assertUnchanged(v.path, before);
      assertEquals((await verifySpecimen(v.neighbour)).state, "ok");
    },
  );
});

// ---------------------------------------------------------------------------
// SQL

Deno.test("SQL: syntax errors, writes, ATTACH, COPY TO, file reads outside the catalog and runaway queries are refused or stopped, and the vault is unchanged", async (t) => {
  await using v = await goodVault();
  await using outside = await freshVault();
  const before = await snapshot(v.path);
  const listing = () => [...Deno.readDirSync(v.path)].map((e) => e.name).sort();
  const names = listing();
  using q = await VaultQuery.open({ vault: v.path, timeoutSeconds: 1 });
  const target = join(outside.path, "leak");
  const refused: [string, typeof VaultError, RegExp][] = [
    [
      "SELEC * FROM catalog",
      VaultError,
      /^Parser Error: syntax error at or near "SELEC"/,
    ],
    ["SELECT * FROM catalog WHERE", VaultError, /Parser Error/],
    ["SELECT 'unterminated", VaultError, /unterminated quoted string/],
    [
      "EXPLAIN ANALYZE CREATE TABLE t AS SELECT 1",
      InvalidInputError,
      /^Refusing to run an EXPLAIN statement\. Only SELECT queries run/,
    ],
    [
      "EXPLAIN ANALYZE INSERT INTO catalog (specimen_id) VALUES ('x')",
      InvalidInputError,
      /^Refusing to run an EXPLAIN statement/,
    ],
    [
      `EXPLAIN ANALYZE COPY (SELECT 1) TO '${target}.csv'`,
      InvalidInputError,
      /Refusing|Permission Error|read-only/,
    ],
    [
      `COPY (SELECT * FROM catalog) TO '${target}.parquet' (FORMAT parquet)`,
      InvalidInputError,
      /^Refusing/,
    ],
    [
      `ATTACH '${target}.duckdb' AS x`,
      InvalidInputError,
      /Refusing to run a ATTACH|Refusing/,
    ],
    ["ATTACH ':memory:' AS scratch", InvalidInputError, /Refusing/],
    // No replacement scans either: a quoted path is refused as a file.
    [
      `SELECT * FROM '/etc/passwd'`,
      InvalidInputError,
      /^Refusing to read "\/etc\/passwd": it names a file/,
    ],
    [
      `SELECT * FROM read_blob('/etc/hostname')`,
      InvalidInputError,
      /^Refusing to run read_blob\(\)/,
    ],
    [
      `SELECT * FROM read_json_auto('/etc/os-release')`,
      InvalidInputError,
      /^Refusing to run read_json_auto\(\)/,
    ],
    [
      `SELECT * FROM parquet_metadata('${
        join(v.specimens, "taken", "strata", "metrics.parquet")
      }')`,
      InvalidInputError,
      /^Refusing to run parquet_metadata\(\)/,
    ],
    [
      `SELECT * FROM sniff_csv('/etc/passwd')`,
      InvalidInputError,
      /^Refusing to run sniff_csv\(\)/,
    ],
    ["SET enable_external_access = true", InvalidInputError, /Refusing/],
    ["RESET lock_configuration", InvalidInputError, /Refusing/],
    ["PRAGMA enable_profiling = 'json'", InvalidInputError, /^Refusing/],
    [
      `PRAGMA profiling_output = '${target}.json'`,
      InvalidInputError,
      /^Refusing/,
    ],
    // Session functions: logging to a file it may not open aborted the
    // whole process; profiling printed to stdout; query() runs any text.
    [
      `SELECT * FROM enable_logging(storage = 'file', storage_path = '${target}.log')`,
      InvalidInputError,
      /^Refusing to run enable_logging\(\)/,
    ],
    [
      `CALL "Enable_Logging" /* quoted */ (storage = 'file', storage_path = '${target}.log')`,
      InvalidInputError,
      /^Refusing to run a CALL statement/,
    ],
    [
      "PRAGMA enable_profiling",
      InvalidInputError,
      /^Refusing to run a PRAGMA statement/,
    ],
    [
      "SELECT * FROM query('SELECT * FROM enable_' || 'profiling()')",
      InvalidInputError,
      /^Refusing to run query\(\)/,
    ],
    [
      "SELECT * FROM json_execute_serialized_sql(json_serialize_sql('SELECT 1'))",
      InvalidInputError,
      /^Refusing to run json_execute_serialized_sql\(\)/,
    ],
    [
      "PRAGMA force_checkpoint",
      InvalidInputError,
      /^Refusing to run a PRAGMA statement/,
    ],
    ["VACUUM", InvalidInputError, /Refusing/],
    ["CREATE MACRO m(x) AS x + 1", InvalidInputError, /Refusing/],
    [
      "CREATE TEMP VIEW exp_taken AS SELECT 666 AS loss",
      InvalidInputError,
      /Refusing/,
    ],
    [
      "SELECT 1; INSERT INTO catalog (specimen_id) VALUES ('x')",
      InvalidInputError,
      /^Refusing to run these 2 statements: one of them is not a SELECT query/,
    ],
  ];
  for (const [sql, kind, reason] of refused) {
    await t.step(sql.slice(0, 70), async () => {
      const e = await assertRejects(() => q.search(sql), kind, reason);
      assertEquals(
        (e as VaultError).exitCode,
        kind === InvalidInputError ? 2 : 1,
      );
    });
  }
  await t.step(
    "CHECKPOINT is refused and changes nothing",
    async () => {
      await assertRejects(
        () => q.search("CHECKPOINT"),
        InvalidInputError,
        /^Refusing to run a CHECKPOINT statement/,
      );
      await assertUnchanged(v.path, before);
    },
  );
  await t.step(
    "a runaway query is stopped at the time limit, and the connection still works",
    async () => {
      for (
        const sql of [
          "SELECT count(*) FROM range(1000000000000) a(x) WHERE x % 7 = 3",
          "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT count(*) FROM r",
          "SELECT count(*) FROM range(1000000) a, range(1000000) b",
        ]
      ) {
        // Each would run for hours: an answer at all is the limit's doing.
        await assertRejects(
          () => q.search(sql),
          VaultError,
          /^Query stopped after 1 s, the time limit/,
        );
      }
      assertEquals(
        (await q.search("SELECT count(*) AS n FROM catalog"))[0].n,
        2,
      );
      assertEquals(
        (await q.search("SELECT count(*) AS n FROM exp_taken"))[0].n,
        2,
      );
    },
  );
  await t.step(
    "the query task: exit 1 for a syntax error or the time limit, 2 for a file read or write",
    async () => {
      const cases: [string[], number, RegExp][] = [
        [["SELEC 1"], 1, /^error: Parser Error/],
        [
          [
            "--timeout",
            "1",
            "SELECT count(*) FROM range(1000000000000) a(x) WHERE x % 7 = 3",
          ],
          1,
          /^error: Query stopped after 1 s/,
        ],
        [
          ["--timeout", "soon", "SELECT 1"],
          2,
          /^error: Invalid --timeout "soon"/,
        ],
        [
          ["SELECT * FROM read_text('/etc/hostname')"],
          2,
          /^error: Refusing to run read_text\(\)/,
        ],
        [[`COPY catalog TO '${target}.csv'`], 2, /^error: Refusing/],
        [
          [`SELECT * FROM enable_logging(storage = 'file', storage_path = '${target}.log')`],
          2,
          /^error: Refusing to run enable_logging/,
        ],
        [
          ["PRAGMA enable_profiling; SELECT 1"],
          2,
          /^error: Refusing to run these 2 statements/,
        ],
      ];
      const results = await limited(
        3,
        cases.map(([args]) => () =>
          task("query", ["--vault", v.path, ...args])
        ),
      );
      for (const [i, [args, code, message]] of cases.entries()) {
        assertEquals(
          results[i].code,
          code,
          `${args.join(" ")}: ${results[i].stderr}`,
        );
        assertMatch(results[i].stderr, message);
        assertEquals(results[i].stdout, "", "nothing printed but the error");
      }
    },
  );
  assertEquals(listing(), names);
  assertEquals([...Deno.readDirSync(outside.path)].map((e) => e.name), [
    "specimens",
  ]);
  await assertUnchanged(v.path, before);
});
