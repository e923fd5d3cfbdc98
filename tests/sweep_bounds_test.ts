/**
 * `deno task create --sweep` is bounded: more combinations than the limit
 * (1,000; 10,000 with --yes; --max N raises it) are refused naming the
 * count, the limit and the flag; a sweep shows progress on stderr; and it
 * checks the free disk space (the first specimen's size × the count)
 * before building the rest. See docs/RELIABILITY.md, "Sweeps".
 */
import { join } from "../lib/_deps.ts";
import { VaultError } from "../lib/errors.ts";
import { createSpecimen } from "../lib/specimen/create.ts";
import { createSweep } from "../lib/specimen/create_sweep.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  ROOT,
  runDeno,
  taskFlags,
  tempVault,
} from "./utils.ts";

const FLAGS = await taskFlags("create");

function create(vault: string, args: string[]) {
  return runDeno([
    "run",
    ...FLAGS,
    join(ROOT, "tasks", "create.ts"),
    "--vault",
    vault,
    ...args,
  ]);
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i).join(",");

async function names(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir), (e) => e.name)).sort();
}

async function parent(vault: string): Promise<void> {
  await createSpecimen({
    vault,
    id: "base",
    domain: "training",
    method: "fine_tuning",
    params: { lr: 0.1, seed: 0 },
  });
}

Deno.test("create --sweep refuses more combinations than its limit, naming the count, the limit and --max; nothing is created", async (t) => {
  await using vault = await tempVault();
  await parent(vault.path);
  const cases: [string, string[], RegExp][] = [
    [
      "default 1,000",
      ["--sweep", `seed=${range(40)}`, "--sweep", `lr=${range(30)}`],
      /makes 1200 combinations \(40 × 30\), over the limit of 1000; pass --max 1200/,
    ],
    [
      "--yes: 10,000",
      ["--sweep", `seed=${range(101)}`, "--sweep", `lr=${range(100)}`, "--yes"],
      /makes 10100 combinations \(101 × 100\), over the limit of 10000; pass --max 10100/,
    ],
    [
      "--max 5",
      ["--sweep", `seed=${range(6)}`, "--max", "5"],
      /makes 6 combinations \(6\), over the limit of 5; pass --max 6/,
    ],
    [
      "a million (the issue's)",
      [
        "--sweep",
        `seed=${range(1000)}`,
        "--sweep",
        `lr=${range(1000)}`,
        "--yes",
      ],
      /makes 1000000 combinations/,
    ],
  ];
  for (const [name, args, message] of cases) {
    await t.step(name, async () => {
      const r = await create(vault.path, [
        "--from",
        "base",
        "--prefix",
        "sw",
        ...args,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, message);
      assertEquals(await names(vault.specimens), ["base"]);
    });
  }
  for (const bad of ["0", "-3", "abc", "1.5", "2000000"]) {
    await t.step(`--max ${bad}`, async () => {
      const r = await create(vault.path, [
        "--from",
        "base",
        "--prefix",
        "sw",
        "--sweep",
        "seed=1,2",
        `--max=${bad}`,
      ]);
      assertEquals(r.code, 2, r.stderr);
      assertMatch(r.stderr, /Invalid --max/);
      assertEquals(await names(vault.specimens), ["base"]);
    });
  }
});

Deno.test("create --sweep --max N creates N specimens, with progress on stderr", async () => {
  await using vault = await tempVault();
  await parent(vault.path);
  const r = await create(vault.path, [
    "--from",
    "base",
    "--prefix",
    "p",
    "--sweep",
    `seed=${range(1200)}`,
    "--max",
    "1200",
  ]);
  assertEquals(r.code, 0, r.stderr);
  assertEquals((await names(vault.specimens)).length, 1201);
  const progress = r.stderr.match(
    /Building the sweep: \d+ of 1200 specimens/g,
  )!;
  assertEquals(progress.length, 10);
  assertEquals(progress.at(-1), "Building the sweep: 1200 of 1200 specimens");
  assertMatch(r.stderr, /Created 1200 specimens from base/);
});

Deno.test("createSweep checks the free disk space after building the first specimen: too little is refused naming the sizes, nothing is left", async () => {
  await using vault = await tempVault();
  await parent(vault.path);
  let asked = "";
  const e = await assertRejects(
    () =>
      createSweep({
        vault: vault.path,
        from: "base",
        sweep: [`seed=${range(500)}`],
        prefix: "d",
        freeBytes: (dir) => {
          asked = dir;
          return 32 * 1024 * 1024; // 500 specimens of ~20 kB fit, the 64 MiB margin does not
        },
        max: 500,
      }),
    VaultError,
  );
  assertEquals(asked, vault.specimens);
  assertMatch(
    e.message,
    /its 500 specimens need about [\d.]+ MB \([\d.]+ kB each, measured on the first\), and .* has 33\.6 MB free \(keeping 67\.1 MB spare\)/,
  );
  assertEquals(await names(vault.specimens), ["base"]);
  // Unknown free space (null) is not checked; ample space passes.
  const made = await createSweep({
    vault: vault.path,
    from: "base",
    sweep: ["seed=1,2,3"],
    prefix: "ok",
    freeBytes: () => null,
  });
  assertEquals(made.length, 3);
  const real = await createSweep({
    vault: vault.path,
    from: "base",
    sweep: ["seed=4,5"],
    prefix: "ok2",
  });
  assertEquals(real.length, 2);
  assert((await names(vault.specimens)).every((n) => !n.startsWith(".tmp")));
});
