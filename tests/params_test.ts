import { DuckDBInstance } from "@duckdb/node-api";
import {
  canonicalJson,
  diffParams,
  flattenParams,
  mergeParams,
  PARAM_LIMITS,
  type Params,
  type ParamValue,
  parseParamArgs,
  validateParams,
} from "../lib/specimen/params.ts";
import {
  expandSweep,
  MAX_SWEEP_COMBINATIONS,
  sweepIds,
  sweepSuffix,
} from "../lib/specimen/sweep.ts";
import { InvalidInputError } from "../lib/errors.ts";
import { isSpecimenId } from "../lib/specimen/id.ts";
import { assert, assertEquals, assertMatch, assertThrows } from "./utils.ts";

/** A small seeded generator so random cases repeat. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nest(depth: number): Params {
  let v: ParamValue = 1;
  for (let i = 1; i < depth; i++) v = { k: v };
  return { k: v };
}

Deno.test("validateParams() accepts nested records, lists and every scalar kind and returns a copy", () => {
  const input = {
    lr: 3e-4,
    layers: 12,
    name: "run",
    amp: true,
    note: null,
    optimizer: { name: "adam", betas: [0.9, 0.999], sched: { warmup: 100 } },
    grid: [[1, 2], [{ a: "x" }]],
    empty: {},
    none: [],
    "with-dash_9": -0,
  };
  const out = validateParams(input);
  assertEquals(out, { ...input, "with-dash_9": 0 });
  assert(Object.is(out["with-dash_9"], 0));
  assert(out.optimizer !== input.optimizer);
  const shared = { a: 1 };
  assertEquals(validateParams({ x: shared, y: shared }), {
    x: { a: 1 },
    y: { a: 1 },
  });
  assertEquals(validateParams(Object.assign(Object.create(null), { a: 1 })), {
    a: 1,
  });
});

Deno.test("validateParams() refuses non-finite numbers, naming the dotted path", async (t) => {
  for (
    const [value, path, word] of [
      [{ lr: NaN }, "lr", "NaN"],
      [{ opt: { lr: Infinity } }, "opt.lr", "Infinity"],
      [{ opt: { betas: [0.9, -Infinity] } }, "opt.betas[1]", "-Infinity"],
      [{ a: [[1, NaN]] }, "a[0][1]", "NaN"],
    ] as const
  ) {
    await t.step(path, () => {
      const e = assertThrows(() => validateParams(value), InvalidInputError);
      assert(e.message.includes(`"${path}" is ${word}`), e.message);
      assertMatch(e.message, /finite number/);
    });
  }
});

Deno.test("validateParams() refuses values JSON cannot hold: functions, symbols, bigints, undefined, Dates, typed arrays, class instances, Maps", async (t) => {
  class Config {
    lr = 1;
  }
  for (
    const [name, value, expect] of [
      ["function", () => 1, /"x" is a function/],
      ["symbol", Symbol("s"), /"x" is the symbol Symbol\(s\)/],
      ["bigint", 10n, /"x" is the bigint 10n.*Number\(x\)/],
      ["undefined", undefined, /"x" is undefined/],
      ["Date", new Date(0), /"x" is a Date.*ISO string/],
      ["Float32Array", new Float32Array(2), /"x" is a Float32Array/],
      ["Uint8Array", new Uint8Array(2), /"x" is a Uint8Array/],
      ["class instance", new Config(), /"x" is an instance of Config/],
      ["Map", new Map([["a", 1]]), /"x" is an instance of Map/],
      ["boxed number", new Number(1), /"x" is an instance of Number/],
      ["array subclass", new (class L extends Array {})(), /instance of L/],
    ] as const
  ) {
    await t.step(name, () => {
      assertThrows(
        () => validateParams({ deep: { list: [0] }, x: value }),
        InvalidInputError,
        expect,
      );
    });
  }
});

Deno.test("validateParams() refuses a top level that is not a record", async (t) => {
  for (
    const [value, expect] of [
      [null, /is null/],
      [[1, 2], /is a list/],
      [3, /the number 3/],
      ["lr=1", /the string "lr=1"/],
      [undefined, /undefined/],
      [new Date(0), /a Date/],
    ] as const
  ) {
    await t.step(String(value), () => {
      const e = assertThrows(() => validateParams(value), InvalidInputError);
      assertMatch(e.message, expect);
      assertMatch(e.message, /must be a record such as/);
    });
  }
});

Deno.test("validateParams() refuses cycles through records and lists", async (t) => {
  const a: Record<string, unknown> = { b: {} };
  (a.b as Record<string, unknown>).back = a;
  const list: unknown[] = [1];
  list.push(list);
  const deep: Record<string, unknown> = { x: { y: [{}] } };
  ((deep.x as Record<string, unknown[]>).y[0] as Record<string, unknown>).z =
    deep.x;
  for (
    const [name, value, path] of [
      ["record", a, "b.back"],
      ["list", { l: list }, "l[1]"],
      ["through a list", deep, "x.y[0].z"],
    ] as const
  ) {
    await t.step(name, () => {
      const e = assertThrows(() => validateParams(value), InvalidInputError);
      assert(e.message.includes(`"${path}" refers back`), e.message);
    });
  }
});

Deno.test("validateParams() refuses bad keys: dots, spaces, unicode, empty, __proto__, symbol keys", async (t) => {
  const withProto = JSON.parse('{"a": {"__proto__": 1}}');
  for (
    const [name, value, expect] of [
      ["dot", { "a.b": 1 }, /key "a\.b".*"\.".*nest a record/],
      [
        "space",
        { opt: { "learning rate": 1 } },
        /"opt" has the key "learning rate"/,
      ],
      ["unicode", { "λ": 1 }, /"λ"/],
      ["slash", { "a/b": 1 }, /"\/"/],
      ["empty", { "": 1 }, /empty key/],
      ["__proto__", withProto, /"a" has the key "__proto__"/],
      ["symbol key", { [Symbol("k")]: 1 }, /symbol key/],
      ["too long", { ["k".repeat(129)]: 1 }, /129 characters/],
    ] as const
  ) {
    await t.step(name, () => {
      assertThrows(() => validateParams(value), InvalidInputError, expect);
    });
  }
});

Deno.test("validateParams() refuses sparse lists and lone surrogates", () => {
  // deno-lint-ignore no-sparse-arrays
  assertThrows(
    () => validateParams({ l: [1, , 3] }),
    InvalidInputError,
    /"l\[1\]" is a hole/,
  );
  assertThrows(
    () => validateParams({ s: "a\ud800b" }),
    InvalidInputError,
    /lone UTF-16 surrogate/,
  );
});

Deno.test("validateParams() enforces each documented limit at its edge", async (t) => {
  await t.step("depth", () => {
    validateParams(nest(PARAM_LIMITS.maxDepth));
    assertThrows(
      () => validateParams(nest(PARAM_LIMITS.maxDepth + 1)),
      InvalidInputError,
      /nested 17 levels deep, over the limit of 16/,
    );
    assertThrows(
      () => validateParams({ a: [[[1]]] }, { maxDepth: 3 }),
      InvalidInputError,
      /"a\[0\]\[0\]" is nested 4/,
    );
  });
  await t.step("leaves", () => {
    const ok = Object.fromEntries(
      Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i]),
    );
    validateParams(ok);
    assertThrows(
      () => validateParams({ ...ok, extra: 1 }),
      InvalidInputError,
      /at most 10000 values/,
    );
    assertThrows(
      () => validateParams({ l: Array.from({ length: 10_001 }, () => 0) }),
      InvalidInputError,
      /"l\[10000\]" is one value too many/,
    );
  });
  await t.step("string length", () => {
    validateParams({ s: "x".repeat(8192) });
    assertThrows(
      () => validateParams({ s: "x".repeat(8193) }),
      InvalidInputError,
      /8193 characters, over the limit of 8192.*artifact/,
    );
  });
  await t.step("encoded size", () => {
    const big = Object.fromEntries(
      Array.from({ length: 40 }, (_, i) => [`s${i}`, "é".repeat(4000)]),
    );
    const e = assertThrows(() => validateParams(big), InvalidInputError);
    assertMatch(
      e.message,
      /"params" take \d+ bytes as JSON, over the limit of 262144/,
    );
    validateParams(big, { maxBytes: 1 << 20 });
  });
  await t.step("an option given as undefined keeps its default", () => {
    assertThrows(
      () => validateParams(nest(17), { maxDepth: undefined }),
      InvalidInputError,
      /over the limit of 16/,
    );
  });
  await t.step("label", () => {
    assertThrows(
      () => validateParams({ a: NaN }, { label: "params.json" }),
      InvalidInputError,
      /^Invalid params in params\.json: "a"/,
    );
  });
});

Deno.test("validateParams() round-trips through JSON unchanged", () => {
  const random = rng(7);
  for (let n = 0; n < 200; n++) {
    const p: Params = {};
    for (let i = 0; i < 5; i++) {
      const r = random();
      p[`k${i}`] = r < 0.25
        ? random() * 1e6 - 5e5
        : r < 0.5
        ? `s${r}`
        : r < 0.6
        ? r < 0.55
        : r < 0.7
        ? null
        : { x: [random(), "y"] };
    }
    assertEquals(validateParams(JSON.parse(JSON.stringify(p))), p);
  }
});

Deno.test("parseParamArgs() reads values as JSON where they parse and as strings otherwise", () => {
  assertEquals(
    parseParamArgs([
      "lr=3e-4",
      "layers=12",
      "neg=-1.5",
      "amp=true",
      "off=false",
      "none=null",
      "name=adam",
      'quoted="42"',
      "betas=[0.9,0.999]",
      'sched={"warmup":100}',
      "empty=",
      "nan=NaN",
      "inf=Infinity",
      "dot=1.",
      "url=http://x/?a=b",
      "spaced= 7 ",
    ]),
    {
      lr: 3e-4,
      layers: 12,
      neg: -1.5,
      amp: true,
      off: false,
      none: null,
      name: "adam",
      quoted: "42",
      betas: [0.9, 0.999],
      sched: { warmup: 100 },
      empty: "",
      nan: "NaN",
      inf: "Infinity",
      dot: "1.",
      url: "http://x/?a=b",
      spaced: 7,
    },
  );
});

Deno.test("parseParamArgs() builds nesting from dotted keys", () => {
  assertEquals(
    parseParamArgs([
      "optimizer.name=adam",
      "optimizer.betas=[0.9,0.99]",
      "a.b.c.d=1",
      "a.b.e=2",
      "data-set_2.path=x",
    ]),
    {
      optimizer: { name: "adam", betas: [0.9, 0.99] },
      a: { b: { c: { d: 1 }, e: 2 } },
      "data-set_2": { path: "x" },
    },
  );
  assertEquals(parseParamArgs([]), {});
});

Deno.test("parseParamArgs() refuses malformed arguments, naming each", async (t) => {
  for (
    const [args, expect] of [
      [["lr"], /--param "lr": no "="/],
      [["lr:3"], /no "="/],
      [[""], /no "="/],
      [["=3"], /--param "=3": the key is empty/],
      [["learning rate=3"], /"learning rate" contains " "/],
      [["lr$=3"], /contains "\$"/],
      [["λ=3"], /contains "λ"/],
      [["a/b=3"], /contains "\/"/],
      [[".a=1"], /empty level/],
      [["a.=1"], /empty level/],
      [["a..b=1"], /empty level/],
      [["__proto__.x=1"], /"__proto__" cannot be a key/],
      [
        ["lr=1", "lr=2"],
        /--param "lr=2": it gives the same key as --param "lr=1"/,
      ],
      [["a.b=1", "a=2"], /--param "a=2": it conflicts with --param "a\.b=1"/],
      [
        ["a=2", "a.b.c=1"],
        /--param "a\.b\.c=1": it conflicts with --param "a=2"/,
      ],
      [['o={"x":1}', "o.y=2"], /conflicts with/],
      [
        ['o={"a.b":1}'],
        /--param "o=\{\\"a\.b\\":1\}":.*"o" has the key "a\.b" \(at "o\.a\.b"\)/,
      ],
      [
        ["x=" + JSON.stringify("y".repeat(9000))],
        /--param "x=.*"x" is a string of 9000 characters/,
      ],
      [["x=1e999"], /--param "x=1e999": "x" is Infinity/],
      [["a.b=[1,-1e400]"], /"a\.b\[1\]" is -Infinity/],
    ] as const
  ) {
    await t.step(args.join(" "), () => {
      assertThrows(() => parseParamArgs([...args]), InvalidInputError, expect);
    });
  }
});

Deno.test("parseParamArgs() round-trips flattenParams() output for non-JSON-looking strings", () => {
  const p: Params = {
    lr: 3e-4,
    seed: 7,
    amp: false,
    opt: { name: "adamw", betas: [0.9, 0.95], extra: { k: null } },
  };
  const args = flattenParams(p).map((r) => `${r.key}=${r.value}`);
  assertEquals(parseParamArgs(args), p);
});

Deno.test("mergeParams() overrides leaves, keeps the rest, replaces lists whole and lists what changed", () => {
  const base: Params = {
    lr: 1e-3,
    seed: 1,
    optimizer: { name: "adam", betas: [0.9, 0.999], eps: 1e-8 },
    sched: "cos",
  };
  const { params, changed } = mergeParams(base, {
    lr: 1e-4,
    seed: 1,
    optimizer: { betas: [0.8], wd: 0.01 },
  });
  assertEquals(params, {
    lr: 1e-4,
    seed: 1,
    optimizer: { name: "adam", betas: [0.8], eps: 1e-8, wd: 0.01 },
    sched: "cos",
  });
  assertEquals(changed, ["lr", "optimizer.betas", "optimizer.wd"]);
  assertEquals(base.optimizer, {
    name: "adam",
    betas: [0.9, 0.999],
    eps: 1e-8,
  });
});

Deno.test("mergeParams() reports changes of shape both ways and ignores equal values", async (t) => {
  for (
    const [name, base, changes, params, changed] of [
      ["nothing", { a: 1 }, {}, { a: 1 }, []],
      ["same value", { a: { b: [1, { c: 2 }] } }, { a: { b: [1, { c: 2 }] } }, {
        a: { b: [1, { c: 2 }] },
      }, []],
      ["added to empty", {}, { x: { y: 1 } }, { x: { y: 1 } }, ["x.y"]],
      ["record replaces scalar", { a: 1 }, { a: { b: 2 } }, { a: { b: 2 } }, [
        "a",
        "a.b",
      ]],
      ["scalar replaces record", { a: { b: 2, c: 3 } }, { a: 5 }, { a: 5 }, [
        "a",
        "a.b",
        "a.c",
      ]],
      ["type change", { a: 1 }, { a: "1" }, { a: "1" }, ["a"]],
      ["null set", { a: 1 }, { a: null }, { a: null }, ["a"]],
      [
        "empty record keeps base",
        { a: { b: 1 } },
        { a: {} },
        { a: { b: 1 } },
        [],
      ],
      ["empty record added", {}, { a: {} }, { a: {} }, ["a"]],
      [
        "record key order ignored",
        { a: { x: 1, y: 2 } },
        { a: { y: 2, x: 1 } },
        { a: { x: 1, y: 2 } },
        [],
      ],
    ] as [string, Params, Params, Params, string[]][]
  ) {
    await t.step(name, () => {
      const out = mergeParams(base, changes);
      assertEquals(out.params, params);
      assertEquals(out.changed, changed);
    });
  }
});

Deno.test("mergeParams() refuses a result over the limits", () => {
  const half = Object.fromEntries(
    Array.from({ length: 6000 }, (_, i) => [`k${i}`, i]),
  );
  const other = Object.fromEntries(
    Array.from({ length: 6000 }, (_, i) => [`j${i}`, i]),
  );
  assertThrows(
    () => mergeParams(half, other),
    InvalidInputError,
    /at most 10000 values/,
  );
});

Deno.test("flattenParams() gives one sorted row per leaf, lists as one JSON leaf, num only for numbers", () => {
  assertEquals(
    flattenParams({
      lr: 3e-4,
      b: true,
      s: "3",
      n: null,
      opt: { betas: [0.9, 0.999], name: "adam", nested: [{ z: 1, a: 2 }] },
      e: {},
      l: [],
      big: 1e300,
    }),
    [
      { key: "b", value: "true", num: null },
      { key: "big", value: "1e+300", num: 1e300 },
      { key: "e", value: "{}", num: null },
      { key: "l", value: "[]", num: null },
      { key: "lr", value: "0.0003", num: 3e-4 },
      { key: "n", value: "null", num: null },
      { key: "opt.betas", value: "[0.9,0.999]", num: null },
      { key: "opt.name", value: "adam", num: null },
      { key: "opt.nested", value: '[{"a":2,"z":1}]', num: null },
      { key: "s", value: "3", num: null },
    ],
  );
  assertEquals(flattenParams({}), []);
});

Deno.test("flattenParams() sorts keys by code unit, as DuckDB orders them", () => {
  const keys = flattenParams({
    b: 1,
    B: 1,
    a_b: 1,
    "a-b": 1,
    a: { b: 1 },
    "0": 1,
  })
    .map((r) => r.key);
  assertEquals(keys, ["0", "B", "a-b", "a.b", "a_b", "b"]);
});

Deno.test("diffParams() lists the union of keys, each specimen's value and whether they differ", () => {
  const rows = diffParams([
    {
      id: "a",
      params: { lr: 1e-3, seed: 1, opt: { name: "adam", betas: [0.9, 0.99] } },
    },
    {
      id: "b",
      params: {
        lr: 1e-4,
        seed: 1,
        opt: { name: "adam", betas: [0.9, 0.99] },
        wd: 0.1,
      },
    },
    {
      id: "c",
      params: { lr: 1e-4, seed: 1, opt: { name: "adam", betas: [0.9, 0.95] } },
    },
  ]);
  assertEquals(rows, [
    { key: "lr", values: [1e-3, 1e-4, 1e-4], differs: true },
    {
      key: "opt.betas",
      values: [[0.9, 0.99], [0.9, 0.99], [0.9, 0.95]],
      differs: true,
    },
    { key: "opt.name", values: ["adam", "adam", "adam"], differs: false },
    { key: "seed", values: [1, 1, 1], differs: false },
    { key: "wd", values: [undefined, 0.1, undefined], differs: true },
  ]);
});

Deno.test("diffParams() handles none, one, and specimens without params", () => {
  assertEquals(diffParams([]), []);
  assertEquals(diffParams([{ id: "a", params: { x: 1 } }]), [
    { key: "x", values: [1], differs: false },
  ]);
  assertEquals(
    diffParams([{ id: "a", params: {} }, { id: "b", params: {} }]),
    [],
  );
  assertEquals(
    diffParams([{ id: "a", params: { x: null } }, { id: "b", params: {} }]),
    [{ key: "x", values: [null, undefined], differs: true }],
  );
  assertEquals(
    diffParams([{ id: "a", params: { x: 1 } }, {
      id: "b",
      params: { x: "1" },
    }])[0].differs,
    true,
  );
});

Deno.test("expandSweep() makes the cartesian product, first spec slowest, values in the order given", () => {
  const combos = expandSweep([
    "lr=1e-3,3e-4,1e-4",
    "batch=32,64",
    "opt.name=adam,sgd",
  ]);
  assertEquals(combos.length, 12);
  assertEquals(combos[0], { lr: 1e-3, batch: 32, opt: { name: "adam" } });
  assertEquals(combos[1], { lr: 1e-3, batch: 32, opt: { name: "sgd" } });
  assertEquals(combos[2], { lr: 1e-3, batch: 64, opt: { name: "adam" } });
  assertEquals(combos[11], { lr: 1e-4, batch: 64, opt: { name: "sgd" } });
  const order = combos.map((c) =>
    `${c.lr}/${c.batch}/${(c.opt as Params).name}`
  );
  const expected: string[] = [];
  for (const lr of [1e-3, 3e-4, 1e-4]) {
    for (const b of [32, 64]) {
      for (const o of ["adam", "sgd"]) expected.push(`${lr}/${b}/${o}`);
    }
  }
  assertEquals(order, expected);
  assertEquals(expandSweep(["seed=1"]), [{ seed: 1 }]);
});

Deno.test("expandSweep() keeps commas inside brackets and quoted strings in one value", () => {
  assertEquals(
    expandSweep([
      "betas=[0.9,0.99],[0.8,0.9]",
      'name="a,b",c,"say \\"x,y\\""',
      'o={"a":1,"b":[2,3]},null',
    ]),
    [
      [[0.9, 0.99], "a,b", { a: 1, b: [2, 3] }],
      [[0.9, 0.99], "a,b", null],
      [[0.9, 0.99], "c", { a: 1, b: [2, 3] }],
      [[0.9, 0.99], "c", null],
      [[0.9, 0.99], 'say "x,y"', { a: 1, b: [2, 3] }],
      [[0.9, 0.99], 'say "x,y"', null],
      [[0.8, 0.9], "a,b", { a: 1, b: [2, 3] }],
      [[0.8, 0.9], "a,b", null],
      [[0.8, 0.9], "c", { a: 1, b: [2, 3] }],
      [[0.8, 0.9], "c", null],
      [[0.8, 0.9], 'say "x,y"', { a: 1, b: [2, 3] }],
      [[0.8, 0.9], 'say "x,y"', null],
    ].map(([betas, name, o]) => ({ betas, name, o }) as Params),
  );
  const combos = expandSweep(["l=[1],[2]"]);
  (combos[0].l as number[]).push(9);
  assertEquals(expandSweep(["l=[1],[2]"])[0], { l: [1] });
});

Deno.test("expandSweep() refuses malformed specs, naming each", async (t) => {
  for (
    const [specs, expect] of [
      [[], /no --sweep given/],
      [["lr"], /--sweep "lr": no "="/],
      [["=1,2"], /the key is empty/],
      [["l r=1,2"], /contains " "/],
      [["a..b=1"], /empty level/],
      [["lr=1,2", "lr=3"], /same key as --sweep "lr=1,2"/],
      [["a=1", "a.b=2,3"], /conflicts with --sweep "a=1"/],
      [["lr=1,,2"], /an empty value/],
      [["lr=1,2,"], /an empty value/],
      [["lr="], /an empty value/],
      [["lr=1,1"], /the values "1" and "1" are the same/],
      [["lr=1,1.0"], /the values "1" and "1\.0" are the same/],
      [["x=[1,2"], /unbalanced brackets/],
      [['x="a,b'], /unbalanced quote/],
      [["x=1e999"], /"x" is Infinity/],
    ] as const
  ) {
    await t.step(JSON.stringify(specs), () => {
      assertThrows(() => expandSweep([...specs]), InvalidInputError, expect);
    });
  }
});

Deno.test("expandSweep() refuses more than 1,000 combinations unless max is raised", () => {
  const values = (n: number) =>
    Array.from({ length: n }, (_, i) => i).join(",");
  assertEquals(MAX_SWEEP_COMBINATIONS, 1000);
  assertEquals(
    expandSweep([`a=${values(10)}`, `b=${values(100)}`]).length,
    1000,
  );
  const e = assertThrows(
    () => expandSweep([`a=${values(11)}`, `b=${values(100)}`]),
    InvalidInputError,
  );
  assertMatch(
    e.message,
    /1100 combinations \(11 × 100\), over the limit of 1000; pass --max 1100/,
  );
  assertThrows(
    () => expandSweep(["a=1,2,3"], { max: 2 }),
    InvalidInputError,
    /3 combinations/,
  );
  assertEquals(
    expandSweep([`a=${values(11)}`, `b=${values(100)}`], { max: Infinity })
      .length,
    1100,
  );
});

Deno.test("sweepSuffix() makes numbers, strings and keys readable", async (t) => {
  for (
    const [combo, suffix] of [
      [{ lr: 3e-4, batch: 64 }, "_lr_3e_4_batch_64"],
      [{ lr: 0.001 }, "_lr_0_001"],
      [{ lr: 1e-4 }, "_lr_1e_4"],
      [{ lr: 1e-5 }, "_lr_1e_5"],
      [{ lr: 2.5e-4 }, "_lr_0_00025"],
      [{ x: -1 }, "_x_m1"],
      [{ x: -3e-4 }, "_x_m3e_4"],
      [{ x: 1e21 }, "_x_1e21"],
      [{ x: 1e-7 }, "_x_1e_7"],
      [{ steps: 100000 }, "_steps_100000"],
      [{ x: 0.5 }, "_x_0_5"],
      [{ x: 0 }, "_x_0"],
      [{ amp: true, n: null }, "_amp_true_n_null"],
      [{ "Opt-Name": "AdamW" }, "_opt_name_adamw"],
      [{ opt: { name: "adam" } }, "_opt_name_adam"],
      [{ s: "  weird // text  " }, "_s_weird_text"],
      [{ s: "" }, "_s_empty"],
      [{ s: "λ" }, "_s_empty"],
      [{ betas: [0.9, 0.999] }, "_betas_0_9_0_999"],
      [{ o: { a: 1, b: [2, "c"] } }, "_o_a_1_o_b_2_c"],
      [{}, ""],
    ] as [Params, string][]
  ) {
    await t.step(suffix, () => {
      assertEquals(sweepSuffix(combo), suffix);
      assertEquals(sweepSuffix(structuredClone(combo)), suffix);
    });
  }
});

Deno.test("sweepSuffix() gives distinct suffixes to distinct numeric combinations (5,000 random ones)", () => {
  const random = rng(42);
  const number = () => {
    const r = random();
    const sign = random() < 0.3 ? -1 : 1;
    if (r < 0.3) return sign * Math.floor(random() * 5000);
    if (r < 0.6) {
      return sign * Number((random() * 10).toFixed(Math.floor(random() * 6)));
    }
    if (r < 0.9) {
      return sign *
        Number(`${Math.ceil(random() * 9)}e-${Math.ceil(random() * 12)}`);
    }
    return sign * random() * 10 ** Math.floor(random() * 30 - 15);
  };
  const seen = new Map<string, string>();
  for (let n = 0; n < 5000; n++) {
    const combo: Params = {
      lr: number(),
      wd: number(),
      opt: { mom: number() },
    };
    const canon = JSON.stringify(combo);
    const suffix = sweepSuffix(combo);
    assertMatch(suffix, /^[a-z0-9_]+$/);
    const before = seen.get(suffix);
    assert(
      before === undefined || before === canon,
      `${suffix}: ${before} vs ${canon}`,
    );
    seen.set(suffix, canon);
  }
  assert(seen.size > 4900);
});

Deno.test("sweepIds() prefixes every suffix and gives ids that pass the specimen id rule", () => {
  const combos = expandSweep(["lr=1e-3,3e-4,1e-4", "batch=32,64"]);
  const ids = sweepIds("2026_11_27_sweep", combos);
  assertEquals(ids, [
    "2026_11_27_sweep_lr_0_001_batch_32",
    "2026_11_27_sweep_lr_0_001_batch_64",
    "2026_11_27_sweep_lr_3e_4_batch_32",
    "2026_11_27_sweep_lr_3e_4_batch_64",
    "2026_11_27_sweep_lr_1e_4_batch_32",
    "2026_11_27_sweep_lr_1e_4_batch_64",
  ]);
  assert(ids.every(isSpecimenId));
});

Deno.test("sweepIds() disambiguates suffixes that clash with a hash of the values, stable across order", () => {
  const combos = expandSweep(["name=Adam,adam,ADAM,sgd"]);
  const ids = sweepIds("s", combos);
  assertEquals(new Set(ids).size, 4);
  assertEquals(ids[3], "s_name_sgd");
  for (const id of ids.slice(0, 3)) {
    assertMatch(id, /^s_name_adam_h[0-9a-f]{8}$/);
  }
  assert(ids.every(isSpecimenId));
  const reversed = sweepIds("s", [...combos].reverse());
  assertEquals(reversed, [...ids].reverse());
  const mixed = sweepIds("p", expandSweep(['lr=3e-4,"3e_4"']));
  assertEquals(new Set(mixed).size, 2);
});

Deno.test("sweepIds() keeps 1,000 random string combinations distinct and valid", () => {
  const random = rng(3);
  const pieces = ["A", "a", " ", "-", "_", ".", "b", "B", "1", "é"];
  const word = () =>
    Array.from(
      { length: 1 + Math.floor(random() * 4) },
      () => pieces[Math.floor(random() * pieces.length)],
    ).join("");
  const unique = new Map<string, Params>();
  while (unique.size < 1000) {
    const combo: Params = { x: word(), y: word() };
    unique.set(JSON.stringify(combo), combo);
  }
  const ids = sweepIds("r", [...unique.values()]);
  assertEquals(new Set(ids).size, 1000);
  assert(ids.every(isSpecimenId));
});

Deno.test("sweepIds() refuses a bad prefix, equal combinations, over-long ids and ids that exist", async (t) => {
  const combos = expandSweep(["lr=1e-3,3e-4"]);
  for (const prefix of ["", "Run", "a-b", "a/b", "x y"]) {
    await t.step(`prefix ${JSON.stringify(prefix)}`, () => {
      assertThrows(
        () => sweepIds(prefix, combos),
        InvalidInputError,
        /Invalid --prefix.*lowercase letters, digits and _/,
      );
    });
  }
  await t.step("equal combinations", () => {
    assertThrows(
      () => sweepIds("s", [{ a: 1 }, { a: 1 }]),
      InvalidInputError,
      /combinations 0 and 1 are the same/,
    );
  });
  await t.step("too long", () => {
    const e = assertThrows(
      () => sweepIds("p".repeat(121), combos),
      InvalidInputError,
    );
    assertMatch(
      e.message,
      /2 of 2 ids are over 128 characters, the longest 130.*use a prefix of at most 119 characters/,
    );
    sweepIds("p".repeat(119), combos);
    const long = expandSweep([`${"k".repeat(100)}=${"v".repeat(100)}`]);
    assertThrows(
      () => sweepIds("p", long),
      InvalidInputError,
      /sweep fewer or shorter keys and values/,
    );
  });
  await t.step("existing", () => {
    const e = assertThrows(
      () => sweepIds("s", combos, { existing: ["other", "s_lr_3e_4"] }),
      InvalidInputError,
    );
    assertMatch(
      e.message,
      /1 id exist already \("s_lr_3e_4"\); choose another --prefix/,
    );
    assertEquals(sweepIds("s", combos, { existing: new Set(["s"]) }).length, 2);
  });
});

Deno.test("sweepIds() agrees with the specimen id rule at its length edge", () => {
  for (const len of [125, 126, 127, 128, 129]) {
    const prefix = "p".repeat(len - "_a_1".length);
    const ok = len <= 128;
    let id: string | undefined;
    try {
      id = sweepIds(prefix, [{ a: 1 }])[0];
    } catch (e) {
      assert(e instanceof InvalidInputError);
    }
    assertEquals(id !== undefined, ok);
    assertEquals(isSpecimenId(prefix + "_a_1"), ok);
  }
});

Deno.test("flattenParams() rows and the params JSON answer the issue's queries in DuckDB", async () => {
  const specimens: [string, Params][] = [
    ["a", {
      lr: 1e-3,
      optimizer: { name: "adam", betas: [0.9, 0.999] },
      "warm-up": 10,
    }],
    ["b", {
      lr: 3e-4,
      optimizer: { name: "sgd", betas: [0.8, 0.9] },
      amp: true,
    }],
    ["c", { lr: 1e-4, optimizer: { name: "adam", betas: [0.9, 0.95] } }],
  ];
  const instance = await DuckDBInstance.create(":memory:");
  const con = await instance.connect();
  try {
    await con.run(
      "CREATE TABLE params (specimen_id VARCHAR, key VARCHAR, value VARCHAR, num DOUBLE)",
    );
    await con.run("CREATE TABLE catalog (specimen_id VARCHAR, params JSON)");
    for (const [id, p] of specimens) {
      await con.run("INSERT INTO catalog VALUES ($1, $2)", [
        id,
        canonicalJson(p),
      ]);
      for (const r of flattenParams(p)) {
        await con.run("INSERT INTO params VALUES ($1, $2, $3, $4)", [
          id,
          r.key,
          r.value,
          r.num,
        ]);
      }
    }
    const rows = async (sql: string) =>
      (await con.runAndReadAll(sql)).getRowObjectsJS();
    assertEquals(
      await rows(
        "SELECT specimen_id FROM params WHERE key = 'lr' AND num < 1e-3 ORDER BY 1",
      ),
      [{ specimen_id: "b" }, { specimen_id: "c" }],
    );
    assertEquals(
      await rows(
        "SELECT c.specimen_id, c.params->>'$.optimizer.name' AS name FROM catalog c ORDER BY 1",
      ),
      [
        { specimen_id: "a", name: "adam" },
        { specimen_id: "b", name: "sgd" },
        { specimen_id: "c", name: "adam" },
      ],
    );
    assertEquals(
      await rows(
        "SELECT specimen_id, CAST(value::JSON->>1 AS DOUBLE) AS beta2 FROM params WHERE key = 'optimizer.betas' ORDER BY 1",
      ),
      [
        { specimen_id: "a", beta2: 0.999 },
        { specimen_id: "b", beta2: 0.9 },
        { specimen_id: "c", beta2: 0.95 },
      ],
    );
    assertEquals(
      await rows(
        `SELECT specimen_id, c.params->>'$."warm-up"' AS w FROM catalog c WHERE w IS NOT NULL`,
      ),
      [{ specimen_id: "a", w: "10" }],
    );
    assertEquals(
      await rows(
        "SELECT specimen_id, value, num FROM params WHERE key = 'amp'",
      ),
      [{ specimen_id: "b", value: "true", num: null }],
    );
    const order = await rows(
      "SELECT key FROM params WHERE specimen_id = 'a' ORDER BY key",
    );
    assertEquals(
      order.map((r) => r.key),
      flattenParams(specimens[0][1]).map((r) => r.key),
    );
  } finally {
    con.closeSync();
    instance.closeSync();
  }
});

Deno.test("sweepIds() resolves suffix clashes that digit-only keys cause", () => {
  const combos: Params[] = [{ "1": 0, "2": 2.5 }, { "1": 0.2, "2": 5 }];
  assertEquals(sweepSuffix(combos[0]), sweepSuffix(combos[1]));
  const ids = sweepIds("s", combos);
  assertEquals(new Set(ids).size, 2);
  assert(ids.every(isSpecimenId));
});
