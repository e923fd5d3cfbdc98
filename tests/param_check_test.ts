import { join } from "../lib/_deps.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import {
  editDistance,
  nearestKey,
  paramProblems,
} from "../lib/specimen/param_check.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const CREATE_FLAGS = await taskFlags("create");
const RUN_FLAGS = await taskFlags("run");

function create(vault: string, args: string[]) {
  return runDeno([
    "run",
    ...CREATE_FLAGS,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault,
    ...args,
  ]);
}

/** `create --id <id> --from <parent> …args` in `vault`. */
function derive(vault: string, id: string, parent: string, args: string[]) {
  return create(vault, ["--id", id, "--from", parent, ...args]);
}

function run(vault: string, args: string[]) {
  return runDeno([
    "run",
    ...RUN_FLAGS,
    join(ROOT, "tasks", "run.ts"),
    "--vault",
    vault,
    "--no-system-metrics",
    ...args,
  ]);
}

const TAXONOMY = ["--domain", "training", "--method", "fine_tuning"];

async function names(dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(dir)) out.push(e.name);
  return out.sort();
}

/** A parent whose params are known: created with them. */
async function parentVault() {
  const vault = await tempVault();
  const r = await create(vault.path, [
    "--id",
    "base",
    ...TAXONOMY,
    "--params",
    await writeJson(vault.path, {
      lr: 0.01,
      hidden: 64,
      batch_size: 32,
      optimizer: { name: "adam", betas: [0.9, 0.999] },
      extra: {},
      scheduler: null,
    }),
  ]);
  assertEquals(r.code, 0, r.stderr);
  return vault;
}

async function writeJson(dir: string, value: unknown): Promise<string> {
  const path = join(dir, "params.json");
  await Deno.writeTextFile(path, JSON.stringify(value));
  return path;
}

/**
 * `create --id child --from base --param <arg>` exits 2 with each of
 * `wants` in its stderr, and creates nothing.
 */
async function assertRefused(
  vault: { path: string; specimens: string },
  arg: string,
  wants: RegExp[],
) {
  const r = await derive(vault.path, "child", "base", ["--param", arg]);
  assertEquals(r.code, 2, r.stderr);
  for (const want of wants) assertMatch(r.stderr, want);
  assertEquals(await names(vault.specimens), ["base"]);
}

Deno.test("nearestKey() finds typos, case slips and a key at another depth, and nothing for a far key", async (t) => {
  const known = ["lr", "hidden", "batch_size", "optimizer.name", "epochs"];
  const cases: [string, string | undefined][] = [
    ["lrr", "lr"],
    ["l", "lr"],
    ["hiddne", "hidden"],
    ["Hidden", "hidden"],
    ["batchsize", "batch_size"],
    ["optimizer.nmae", "optimizer.name"],
    ["name", "optimizer.name"],
    ["epoch", "epochs"],
    ["dropout", undefined],
    ["zz", undefined],
  ];
  for (const [key, want] of cases) {
    await t.step(`${key} → ${want}`, () => {
      assertEquals(nearestKey(key, known), want);
    });
  }
  assertEquals(editDistance("ab", "ba"), 1);
  assertEquals(editDistance("", "abc"), 3);
});

Deno.test("paramProblems() accepts known keys of the same type, null either way and keys under an empty record", () => {
  const known = {
    lr: 0.01,
    tags: ["a"],
    opt: { name: "adam" },
    extra: {},
    sched: null,
  };
  assertEquals(
    paramProblems(known, {
      lr: 3,
      tags: [],
      opt: { name: "sgd" },
      extra: { anything: 1 },
      sched: "cosine",
    }),
    [],
  );
  assertEquals(paramProblems(known, { lr: null }), []);
  const p = paramProblems(known, {
    lr: "fast",
    tags: "a",
    opt: "adam",
    sched: 1,
    lr2: 1,
  });
  assertEquals(p.map((x) => `${x.key}:${x.kind}`), [
    "lr:type",
    "lr2:unknown",
    "opt:type",
    "tags:type",
  ]);
  assertMatch(p[0].message, /string "fast".*number \(0\.01\)/);
  const deeper = paramProblems({ lr: 0.01 }, { lr: { base: 0.1 } });
  assertMatch(
    deeper[0].message,
    /makes "lr" a record, but the known "lr" is number/,
  );
  assertEquals(paramProblems({ a: 1 }, { b: 1 }, true), []);
  assertEquals(paramProblems({ a: 1 }, { b: { c: 1 } }, ["b"]), []);
});

Deno.test("create --from refuses an unknown --param with the nearest known key, and creates nothing", async (t) => {
  await using vault = await parentVault();
  const cases: [string, RegExp][] = [
    ["lrr=0.5", /"lrr" is not a known param \(did you mean "lr"\?\)/],
    ["batchsize=8", /"batchsize".*did you mean "batch_size"/],
    ["optimizer.nmae=sgd", /"optimizer.nmae".*did you mean "optimizer.name"/],
    ["dropout=0.1", /"dropout" is not a known param\. Known params/],
  ];
  for (const [arg, want] of cases) {
    await t.step(arg, async () => {
      await assertRefused(vault, arg, [want, /--new-param KEY=VALUE/]);
    });
  }
});

Deno.test("create --from refuses a value of another type, naming both types", async (t) => {
  await using vault = await parentVault();
  const cases: [string, RegExp][] = [
    [
      "hidden=big",
      /"hidden" is string "big", but the known "hidden" is number \(64\)/,
    ],
    ["lr=true", /"lr" is boolean true, but the known "lr" is number/],
    [
      "optimizer=adam",
      /"optimizer" is string "adam", but the known "optimizer" is record/,
    ],
    [
      "optimizer.betas=0.9",
      /"optimizer.betas" is number 0.9, but the known "optimizer.betas" is list/,
    ],
    [
      "hidden.size=3",
      /makes "hidden" a record, but the known "hidden" is number/,
    ],
  ];
  for (const [arg, want] of cases) {
    await t.step(arg, async () => {
      await assertRefused(vault, arg, [want]);
    });
  }
  await t.step("a --params file is checked as --param is", async () => {
    const file = await writeJson(vault.path, { hidden: "wide" });
    const r = await derive(vault.path, "child", "base", [
      "--params",
      file,
    ]);
    assertEquals(r.code, 2, r.stderr);
    assertMatch(r.stderr, /"hidden" is string "wide"/);
  });
});

Deno.test("create --from accepts known keys, null, keys under an empty record, and new keys given with --new-param", async () => {
  await using vault = await parentVault();
  const r = await derive(vault.path, "child", "base", [
    "--param",
    "lr=0.5",
    "--param",
    "scheduler=cosine",
    "--param",
    "extra.note=x",
    "--new-param",
    "warmup=100",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /new: +warmup/);
  const m = await readManifest(join(vault.specimens, "child"));
  assertEquals(m.params?.warmup, 100);
  assertEquals(m.params?.lr, 0.5);
  assertEquals(m.params_new, ["warmup"]);
  // A grandchild inherits the deliberate key as known.
  const g = await derive(vault.path, "grandchild", "child", [
    "--param",
    "warmup=10",
  ]);
  assertEquals(g.code, 0, g.stderr);
  assertEquals(
    (await readManifest(join(vault.specimens, "grandchild"))).params_new,
    ["warmup"],
  );
  const both = await derive(vault.path, "x", "base", [
    "--param",
    "lr=1",
    "--new-param",
    "lr=2",
  ]);
  assertEquals(both.code, 2);
  assertMatch(both.stderr, /both --param and --new-param/);
});

Deno.test("create --sweep refuses a mistyped or wrongly typed sweep key before creating any specimen", async (t) => {
  await using vault = await parentVault();
  const cases: [string[], RegExp][] = [
    [
      ["--sweep", "lrr=0.1,0.2"],
      /"lrr".*did you mean "lr".*instead of --sweep/,
    ],
    [["--sweep", "hidden=32,big"], /"hidden" is string "big"/],
    [
      ["--sweep", "lr=0.1,0.2", "--param", "hiden=3"],
      /"hiden".*did you mean "hidden"/,
    ],
  ];
  for (const [args, want] of cases) {
    await t.step(args.join(" "), async () => {
      const r = await create(vault.path, [
        "--from",
        "base",
        "--prefix",
        "s",
        ...args,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, want);
      assertEquals(await names(vault.specimens), ["base"]);
    });
  }
  await t.step(
    "a new key swept on purpose, and the parent's description kept",
    async () => {
      const made = await create(vault.path, [
        "--from",
        "base",
        "--prefix",
        "s",
        "--sweep",
        "lr=0.1,0.2",
        "--new-param",
        "tag=x",
      ]);
      assertEquals(made.code, 0, made.stderr);
      const m = await readManifest(join(vault.specimens, "s_lr_0_1"));
      assertEquals(m.params_new, ["tag"]);
    },
  );
});

const PROTOCOL = `import { runProtocol } from "specimen-vault";
await runProtocol(import.meta, async (storage, params) => {
  await Deno.writeTextFile(storage.dir + "/../body_ran_" + storage.id, "yes");
  await storage.writeMetrics({ step: [0], lr: [Number(params.lr)] });
}, { params: { lr: 0.01, hidden: 64, name: "mlp" } });
`;

async function protocolSpecimen(
  vault: string,
  id: string,
  args: string[],
): Promise<string> {
  const r = await create(vault, ["--id", id, ...TAXONOMY, ...args]);
  assertEquals(r.code, 0, r.stderr);
  const dir = join(vault, "specimens", id);
  await Deno.writeTextFile(join(dir, "protocol.ts"), PROTOCOL);
  return dir;
}

Deno.test("run refuses params the protocol does not declare, or of another type, before its body starts; nothing is sealed", async (t) => {
  await using vault = await tempVault();
  const cases: [string, string[], RegExp][] = [
    [
      "typo",
      ["--param", "lrr=0.5"],
      /"lrr" is not a known param \(did you mean "lr"\?\)/,
    ],
    [
      "type",
      ["--param", "hidden=big"],
      /"hidden" is string "big", but the known "hidden" is number \(64\)/,
    ],
    [
      "quoted",
      ["--param", "name=123"],
      /"name" is number 123, but the known "name" is string/,
    ],
    ["case", ["--param", "LR=0.5"], /did you mean "lr"/],
  ];
  for (const [id, args, want] of cases) {
    await t.step(id, async () => {
      const dir = await protocolSpecimen(vault.path, id, args);
      const r = await run(vault.path, [id]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, want);
      assertMatch(r.stderr, /The protocol declares \(runProtocol/);
      const m = await readManifest(dir);
      assertEquals(m.seal, undefined);
      assertEquals(Object.keys(m.artifacts), []);
      assert(!(await names(vault.specimens)).includes(`body_ran_${id}`));
    });
  }
  await t.step(
    "directly with deno run: refused and nothing recorded",
    async () => {
      const dir = await protocolSpecimen(vault.path, "direct", [
        "--param",
        "hiddenn=3",
      ]);
      const r = await runDeno([
        "run",
        "-A",
        "--config",
        join(ROOT, "deno.json"),
        join(dir, "protocol.ts"),
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /"hiddenn".*did you mean "hidden"/);
      const m = await readManifest(dir);
      assertEquals(m.runs, undefined);
      assertEquals(m.status, "active");
    },
  );
});

Deno.test("run accepts declared params, quoted text and keys created with --new-param, and seals", async () => {
  await using vault = await tempVault();
  const dir = await protocolSpecimen(vault.path, "good", [
    "--param",
    "lr=0.5",
    "--param",
    'name="123"',
    "--new-param",
    "note=by hand",
  ]);
  const r = await run(vault.path, ["good"]);
  assertEquals(r.code, 0, r.stderr);
  const m = await readManifest(dir);
  assertEquals(m.status, "sealed");
  assertEquals(m.params, { lr: 0.5, name: "123", note: "by hand", hidden: 64 });
  assert((await names(vault.specimens)).includes("body_ran_good"));
});

Deno.test("a specimen refused at run is fixed by the command the refusal prints: --drop-param, then the right key", async () => {
  await using vault = await tempVault();
  await protocolSpecimen(vault.path, "bad", [
    "--param",
    "lrr=0.5",
    "--param",
    "hidden=big",
  ]);
  const r = await run(vault.path, ["bad"]);
  assertEquals(r.code, 2, r.stderr);
  const m = /Derive a corrected specimen: deno task create (.*?);/.exec(
    r.stderr,
  );
  assert(m, r.stderr);
  assertEquals(
    m[1],
    "--id bad_v2 --from bad --drop-param hidden --param hidden=… --drop-param lrr --new-param lr=…",
  );
  const args = m[1].replace("hidden=…", "hidden=32").replace("lr=…", "lr=0.5")
    .split(" ");
  const fixed = await create(vault.path, args);
  assertEquals(fixed.code, 0, fixed.stderr);
  const child = await readManifest(join(vault.specimens, "bad_v2"));
  assertEquals(child.params, { hidden: 32, lr: 0.5 });
  assertEquals(child.params_changed, ["hidden", "lr", "lrr"]);
  const again = await run(vault.path, ["bad_v2"]);
  assertEquals(again.code, 0, again.stderr);
  assertEquals(
    (await readManifest(join(vault.specimens, "bad_v2"))).status,
    "sealed",
  );
});

Deno.test("--drop-param refuses a key the parent lacks (naming the nearest) and goes with --from only", async () => {
  await using vault = await parentVault();
  const r = await derive(vault.path, "c", "base", [
    "--drop-param",
    "hiden",
  ]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /the parent "base" has no param "hiden" \(did you mean "hidden"\?\)/,
  );
  const nested = await derive(vault.path, "c", "base", [
    "--drop-param",
    "optimizer.betas",
  ]);
  assertEquals(nested.code, 0, nested.stderr);
  const m = await readManifest(join(vault.specimens, "c"));
  assertEquals(m.params?.optimizer, { name: "adam" });
  assertEquals(m.params_changed, ["optimizer.betas"]);
  const alone = await create(vault.path, [
    "--id",
    "d",
    ...TAXONOMY,
    "--drop-param",
    "lr",
  ]);
  assertEquals(alone.code, 2);
  assertMatch(alone.stderr, /--drop-param lr goes with --from/);
});
