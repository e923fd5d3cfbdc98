import { assert, assertEquals, tempDir } from "./utils.ts";
import { dirname, join } from "node:path";

const SCRIPT = join(import.meta.dirname!, "_tools", "check_cycles.ts");

async function check(
  root?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      "--allow-run",
      "--allow-env",
      SCRIPT,
      ...(root ? ["--root", root] : []),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return {
    code: out.code,
    stdout: text.decode(out.stdout),
    stderr: text.decode(out.stderr),
  };
}

function assertIncludes(text: string, part: string): void {
  assert(text.includes(part), `expected ${JSON.stringify(part)} in:\n${text}`);
}

/** A throwaway project holding `files` (path → source), removed after use. */
async function fixture(
  files: Record<string, string>,
): Promise<AsyncDisposable & { path: string }> {
  const dir = await tempDir("check_cycles_");
  for (const [name, source] of Object.entries(files)) {
    await Deno.mkdir(dirname(join(dir.path, name)), { recursive: true });
    await Deno.writeTextFile(join(dir.path, name), source);
  }
  return dir;
}

Deno.test("the cycle check passes on this project", async () => {
  const r = await check();
  assertEquals(r.code, 0, r.stderr);
  assertIncludes(r.stdout, "No import cycles and no upward imports");
});

Deno.test("the cycle check fails on an import cycle and names its path", async (t) => {
  await t.step("a runtime cycle between two leaves", async () => {
    await using p = await fixture({
      "mod.ts": `export { a } from "./lib/a.ts";\n`,
      "lib/a.ts": `import { b } from "./b.ts";\nexport const a = () => b();\n`,
      "lib/b.ts":
        `import { a } from "./a.ts";\nexport const b = (): unknown => a;\n`,
    });
    const r = await check(p.path);
    assertEquals(r.code, 1, r.stdout);
    assertIncludes(r.stderr, "import cycle: lib/a.ts -> lib/b.ts -> lib/a.ts");
  });
  await t.step("a type-only cycle of three modules in one folder", async () => {
    await using p = await fixture({
      "mod.ts": `export { x } from "./lib/specimen/x.ts";\n`,
      "lib/specimen/x.ts":
        `import type { Y } from "./y.ts";\nexport const x: Y | null = null;\n`,
      "lib/specimen/y.ts":
        `import type { Z } from "./z.ts";\nexport type Y = { z: Z };\n`,
      "lib/specimen/z.ts":
        `import type { X } from "./x.ts";\nexport type Z = { x: X };\nexport type X = number;\n`,
    });
    const r = await check(p.path);
    assertEquals(r.code, 1, r.stdout);
    assertIncludes(
      r.stderr,
      "import cycle: lib/specimen/x.ts -> lib/specimen/y.ts -> lib/specimen/z.ts -> lib/specimen/x.ts",
    );
  });
  await t.step("a cycle reached only from a task entry point", async () => {
    await using p = await fixture({
      "tasks/go.ts": `import { c } from "../lib/cli/c.ts";\nc();\n`,
      "lib/cli/c.ts":
        `import { d } from "./d.ts";\nexport function c() { d(); }\n`,
      "lib/cli/d.ts":
        `import { c } from "./c.ts";\nexport function d() { if (false) c(); }\n`,
    });
    const r = await check(p.path);
    assertEquals(r.code, 1, r.stdout);
    assertIncludes(r.stderr, "import cycle: lib/cli/c.ts -> lib/cli/d.ts");
  });
});

Deno.test("the cycle check fails on an import up the layer order", async (t) => {
  const cases: [string, Record<string, string>, string][] = [
    [
      "specimen importing run",
      {
        "mod.ts": `export { s } from "./lib/specimen/s.ts";\n`,
        "lib/specimen/s.ts":
          `import { r } from "../run/r.ts";\nexport const s = r;\n`,
        "lib/run/r.ts": `export const r = 1;\n`,
      },
      "upward import: lib/specimen/s.ts (specimen) imports lib/run/r.ts (run)",
    ],
    [
      "a leaf importing the catalog by type only",
      {
        "mod.ts": `export { e } from "./lib/errors.ts";\n`,
        "lib/errors.ts":
          `import type { C } from "./catalog/c.ts";\nexport const e: C = 1;\n`,
        "lib/catalog/c.ts": `export type C = number;\n`,
      },
      "upward import: lib/errors.ts (leaves) imports lib/catalog/c.ts (catalog)",
    ],
    ["lib importing tooling", {
      "mod.ts": `export { q } from "./lib/query/q.ts";\n`,
      "lib/query/q.ts":
        `import { t } from "../../tests/_tools/t.ts";\nexport const q = t;\n`,
      "tests/_tools/t.ts": `export const t = 1;\n`,
    }, "upward import: lib/query/q.ts (query) imports tests/_tools/t.ts"],
  ];
  for (const [name, files, expected] of cases) {
    await t.step(name, async () => {
      await using p = await fixture(files);
      const r = await check(p.path);
      assertEquals(r.code, 1, r.stdout);
      assertIncludes(r.stderr, expected);
      assert(!r.stderr.includes("import cycle:"), r.stderr);
    });
  }
});

Deno.test("the cycle check accepts imports down the layer order and within a layer", async () => {
  await using p = await fixture({
    "mod.ts": `export { d } from "./lib/dashboard/d.ts";\n`,
    "tasks/t.ts": `import { d } from "../lib/dashboard/d.ts";\nd;\n`,
    "lib/dashboard/d.ts":
      `import { q } from "../query/q.ts";\nimport { f } from "../formats/f.ts";\nexport const d = q + f;\n`,
    "lib/query/q.ts":
      `import { e } from "../errors.ts";\nimport { c } from "../cli/c.ts";\nexport const q = e + c;\n`,
    "lib/formats/f.ts":
      `import { c } from "../cli/c.ts";\nexport const f = c;\n`,
    "lib/cli/c.ts": `export const c = 1;\n`,
    "lib/errors.ts": `export const e = 1;\n`,
  });
  const r = await check(p.path);
  assertEquals(r.code, 0, r.stderr);
  assertIncludes(r.stdout, "among 7 modules (2 entry points)");
});
