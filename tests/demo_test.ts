import { join } from "../lib/_deps.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  ROOT,
  runDeno,
  taskFlags,
} from "./utils.ts";

Deno.test("deno task demo runs the whole workflow with the task's own permissions", async () => {
  const flags = await taskFlags("demo");
  const r = await runDeno(["run", ...flags, join(ROOT, "tasks", "demo.ts")], {
    cwd: "/",
  });
  assertEquals(r.code, 0, r.stdout + r.stderr);
  for (const step of [1, 2, 3, 4, 5, 6]) {
    assertMatch(r.stdout, new RegExp(`\\[${step}\\] `));
  }
  assertMatch(r.stdout, /Wrote 100 steps/);
  assertMatch(r.stdout, /Indexed \(full\): 1 specimen/);
  assertMatch(r.stdout, /sae_analysis +1 +0\.34067956940011584/);
  assertMatch(r.stdout, /\(3 rows\)/);
  assertMatch(r.stdout, /activations +\[100, 512\] +float32/);
  assertMatch(r.stdout, /1 specimen: 1 ok, 0 mismatch/);
  // The sweep: three specimens derived with different lr, run in one go,
  // compared by params and final loss (the default lr gives the same loss).
  for (const step of [7, 8, 9]) {
    assertMatch(r.stdout, new RegExp(`\\[${step}\\] `));
  }
  assertMatch(r.stdout, /3 runs: 3 succeeded, 0 failed/);
  assertMatch(r.stdout, /demo_lr_3e_4\W+0\.0003\W+20241219/);
  assertMatch(r.stdout, /demo_lr_0_003\W+0\.003\W+20241219/);
  assertMatch(
    r.stdout,
    /demo_lr_0_001\W+0\.001\W+20241219\W+0\.34067956940011584/,
  );
  // The digits example trains in Python (the test setup installs numpy and
  // scikit-learn), then a sweep of its learning rate runs and is compared.
  for (const step of [10, 11]) {
    assertMatch(r.stdout, new RegExp(`\\[${step}\\] `));
  }
  assertMatch(
    r.stdout,
    /epoch 30: train loss \d\.\d{4}, test accuracy 0\.9\d{3}/,
  );
  assertMatch(r.stdout, /strata\/first_layer_weights\.zarr .* float32 64×64/);
  assertEquals(r.stdout.match(/3 runs: 3 succeeded, 0 failed/g)?.length, 2);
  assertMatch(r.stdout, /\(4 rows\)/);
  // Paths are relative to the folder the demo was run from, or absolute.
  assertEquals((r.stdout + r.stderr).match(/\.\.\/\S*/g), null);
  const vault = /throwaway vault: (\S+)/.exec(r.stdout)![1];
  assert(
    !(await Deno.stat(vault).then(() => true, () => false)),
    "the throwaway vault is removed",
  );
});

Deno.test("every task answers --help with usage and exit codes, and exits 0", async (t) => {
  for await (const e of Deno.readDir(join(ROOT, "tasks"))) {
    if (!e.name.endsWith(".ts")) continue;
    await t.step(e.name, async () => {
      const r = await runDeno([
        "run",
        "-A",
        join(ROOT, "tasks", e.name),
        "--help",
      ]);
      assertEquals(r.code, 0, r.stderr);
      assertMatch(r.stdout, /Usage:/);
      assertMatch(r.stdout, /Exit codes?/i);
    });
  }
});

Deno.test("every deno.json task has a description and every script task exists", async () => {
  const config = JSON.parse(await Deno.readTextFile(join(ROOT, "deno.json")));
  for (
    const [name, task] of Object.entries(config.tasks) as [
      string,
      { description?: string; command: string },
    ][]
  ) {
    assert(
      task.description && task.description.length > 10,
      `task ${name} has a description`,
    );
    for (const m of task.command.matchAll(/tasks\/\w+\.ts/g)) {
      await Deno.stat(join(ROOT, m[0]));
    }
  }
});
