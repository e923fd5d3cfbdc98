/**
 * YAML nested deeper than anything real (Lightning's `hparams.yaml`): a
 * clear error naming the file, with its exit code, never the parser's
 * "Maximum call stack size exceeded". See docs/RELIABILITY.md.
 */
import { join } from "../lib/_deps.ts";
import { MAX_YAML_DEPTH, parseYaml } from "../lib/importers/_deps.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertThrows,
  INTEROP,
  ROOT,
  runDeno,
  taskFlags,
  tempDir,
} from "./utils.ts";

const SHAPES: Record<string, (depth: number) => string> = {
  "flow lists": (d) => `a: ${"[".repeat(d)}${"]".repeat(d)}\n`,
  "flow maps": (d) => `${"{a: ".repeat(d)}1${"}".repeat(d)}\n`,
  "block maps": (d) =>
    Array.from({ length: d }, (_, i) => `${"  ".repeat(i)}a:\n`).join("") +
    `${"  ".repeat(d)}1\n`,
  "block lists": (d) =>
    Array.from({ length: d }, (_, i) => `${"  ".repeat(i)}-\n`).join("") +
    `${"  ".repeat(d)}1\n`,
};

Deno.test("parseYaml refuses nesting past the limit with a SyntaxError saying so, and reads what is within it", async (t) => {
  for (const [name, make] of Object.entries(SHAPES)) {
    await t.step(name, () => {
      for (const depth of [MAX_YAML_DEPTH + 1, 5_000]) {
        const e = assertThrows(() => parseYaml(make(depth)), SyntaxError);
        assertMatch(e.message, /nest/);
        assert(!/call stack/.test(e.message), e.message);
      }
      parseYaml(make(MAX_YAML_DEPTH - 2));
    });
  }
  // Aliases that share a node are not nesting.
  assertEquals(parseYaml("a: &x [1]\nb: *x\n"), { a: [1], b: [1] });
});

Deno.test("deno task import of a Lightning run with a deeply nested hparams.yaml fails with the file named, exit 5, and creates nothing", async (t) => {
  const flags = await taskFlags("import");
  for (const [name, make] of Object.entries(SHAPES)) {
    await t.step(name, async () => {
      await using dir = await tempDir();
      const src = join(dir.path, "logs");
      await Deno.mkdir(join(src, "lightning_logs", "version_0"), {
        recursive: true,
      });
      const from = join(
        INTEROP,
        "trackers",
        "lightning_csv",
        "lightning_logs",
        "version_0",
      );
      const to = join(src, "lightning_logs", "version_0");
      await Deno.copyFile(join(from, "metrics.csv"), join(to, "metrics.csv"));
      await Deno.writeTextFile(join(to, "hparams.yaml"), make(3_000));
      const vault = join(dir.path, "vault");
      await Deno.mkdir(join(vault, "specimens"), { recursive: true });
      const r = await runDeno([
        "run",
        ...flags,
        join(ROOT, "tasks", "import.ts"),
        "lightning",
        src,
        "--vault",
        vault,
        "--prefix",
        "deep",
      ]);
      assertEquals(r.code, 5, r.stderr);
      assertMatch(r.stderr, /hparams\.yaml": its lists and maps nest/);
      assert(!/call stack/.test(r.stderr), r.stderr);
      assertEquals(
        await Array.fromAsync(Deno.readDir(join(vault, "specimens"))),
        [],
      );
    });
  }
});
