/**
 * `deno task demo`: the whole workflow end to end on the example specimen,
 * in a throwaway vault: run its protocol, show what it wrote, index the
 * vault, query it and verify its seal.
 *
 * @module
 */
import { join, relative, resolve } from "../lib/_deps.ts";
import { parseTaskArgs, runMain } from "../lib/cli/cli.ts";
import { VaultError } from "../lib/errors.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";

const ROOT = resolve(import.meta.dirname!, "..");
const EXAMPLE = "example_2024_12_19_synthetic_demo";

/** The task's help text. */
export const HELP =
  `Run the example specimen end to end in a throwaway vault and print what
each step wrote.

Usage:
  deno task demo [--keep]

Options:
  --keep       keep the throwaway vault (its path is printed) instead of
               removing it at the end
  -h, --help   show this help

Exit codes: 0 the demo ran; 1 a step failed.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseTaskArgs(args, { keep: { type: "boolean" } });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const vault = await Deno.makeTempDir({ prefix: "specimen_vault_demo_" });
  try {
    await demo(vault);
  } finally {
    if (values.keep) console.log(`\nThe demo vault is kept at ${vault}`);
    else await Deno.remove(vault, { recursive: true });
  }
  return 0;
}

async function demo(vault: string): Promise<void> {
  const dir = join(vault, "specimens", EXAMPLE);
  step(1, `Copy the example specimen into a throwaway vault: ${vault}`);
  await Deno.mkdir(join(dir, "strata"), { recursive: true });
  for (const f of ["manifest.msgpack", "protocol.ts", "field_notes.md"]) {
    await Deno.copyFile(join(ROOT, "specimens", EXAMPLE, f), join(dir, f));
  }

  step(2, `Run its protocol: deno run -A specimens/${EXAMPLE}/protocol.ts`);
  // The vault lives outside this repository, so name the import map with --config.
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      join(dir, "protocol.ts"),
    ],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (run.code !== 0) {
    throw new VaultError(`The example protocol exited with code ${run.code}`);
  }

  step(3, "What it wrote");
  const storage = await SpecimenStorage.open(dir);
  for (const [name, a] of Object.entries(storage.artifacts)) {
    const what = a.format === "parquet"
      ? `${a.rows} rows: ${
        a.columns!.map((c) => `${c.name} ${c.type}`).join(", ")
      }`
      : `${a.dtype} ${a.shape!.join("×")}, chunks ${
        a.chunks!.join("×")
      }, codecs ${a.codecs!.join("+")}`;
    console.log(
      `  ${a.path.padEnd(26)} ${
        String(a.bytes).padStart(8)
      } bytes  ${name}: ${what}`,
    );
  }
  const m = await storage.readMetrics();
  console.log("\n  step  loss     accuracy entropy");
  for (const i of [0, 1, 2, 49, 99]) {
    const f = (c: string) => (m[c][i] as number).toFixed(4).padStart(8);
    console.log(
      `  ${String(m.step[i]).padStart(4)} ${f("loss")} ${f("accuracy")} ${
        f("entropy")
      }`,
    );
  }
  const row = await storage.readTensor("activations", [0, [0, 8]]);
  console.log(
    `\n  activations[0, 0:8] = ${
      [...row.data as Float32Array].map((v) => v.toFixed(3)).join(" ")
    }`,
  );
  console.log(
    `  (read lazily: one chunk of ${
      relative(vault, storage.strata)
    }/activations.zarr)`,
  );

  step(4, "Index the vault: deno task index");
  await task("index", ["--vault", vault]);

  step(5, "Query every run at once: deno task query");
  const queries = [
    `SELECT specimen_id, domain, method, tags, status, created FROM catalog WHERE array_contains(tags, 'gpt2')`,
    `SELECT c.method, count(DISTINCT specimen_id) AS runs, min(m.loss) AS best_loss, max(m.accuracy) AS best_accuracy FROM metrics m JOIN catalog c USING (specimen_id) GROUP BY c.method`,
    `SELECT step, loss, accuracy FROM exp_${EXAMPLE} WHERE step >= 97 ORDER BY step`,
    `SELECT specimen_id, name, shape, dtype, bytes FROM tensors`,
  ];
  for (const sql of queries) {
    console.log(`\n  $ deno task query "${sql}"`);
    await task("query", ["--vault", vault, sql]);
  }

  step(6, "Check the seal: deno task verify");
  await task("verify", ["--vault", vault]);
}

/** Runs `tasks/<name>.ts` as its own process, as `deno task <name>` would. */
async function task(name: string, args: string[]): Promise<void> {
  const { code } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tasks", `${name}.ts`), ...args],
    stdout: "inherit",
    stderr: "inherit",
  }).output();
  if (code !== 0) {
    throw new VaultError(`deno task ${name} exited with code ${code}`);
  }
}

function step(n: number, text: string): void {
  console.log(`\n[${n}] ${text}`);
}

if (import.meta.main) await runMain(main);
