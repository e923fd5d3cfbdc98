/**
 * `deno task demo`: the whole workflow end to end on the example specimen,
 * in a throwaway vault: run its protocol, show what it wrote, index the
 * vault, query it and verify its seal; then a 3-run learning-rate sweep
 * derived from it, run in one go and compared by params and final loss.
 *
 * @module
 */
import { join, resolve } from "../lib/_deps.ts";
import { parseTaskArgs, runMain, shownPath } from "../lib/cli/cli.ts";
import { VaultError } from "../lib/errors.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import { findPython } from "../lib/bridge/find_python.ts";

const ROOT = resolve(import.meta.dirname!, "..");
const EXAMPLE = "example_2024_12_19_synthetic_demo";
/** The example that trains a real model in Python through storage.exec. */
const DIGITS = "example_2026_11_27_digits_mlp";
/** The learning rates of the digits sweep. */
const DIGITS_LR = ["0.1", "0.01", "0.001"];
/** How to get what the digits example needs, on Debian and Ubuntu. */
const INSTALL_SKLEARN =
  "apt-get install -y --no-install-recommends python3-sklearn python3-numpy";

/** The task's help text. */
export const HELP =
  `Run the example specimen end to end in a throwaway vault and print what
each step wrote; then derive a 3-run learning-rate sweep from it (deno task
create --from --sweep), run the three (deno task run ID ID ID) and compare
their params and final loss. Then, when a Python 3 with numpy and
scikit-learn is found (/usr/bin/python3, python3, or $SPECIMEN_PYTHON), run
the digits example: a real MLPClassifier trained by train.py through
storage.exec, and a 3-run learning-rate sweep over it, compared by final
test accuracy (without them it says how to install them:
${INSTALL_SKLEARN}).

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

  step(
    2,
    `Run its protocol: deno run -A --config deno.json ${
      shownPath(join(dir, "protocol.ts"))
    }`,
  );
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
  printArtifacts(storage);
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
      shownPath(storage.strata)
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

  const sweep = ["--sweep", `lr=${SWEEP_LR.join(",")}`, "--prefix", "demo"];
  step(
    7,
    `Derive a learning-rate sweep from it: deno task create --from ${EXAMPLE} ${
      sweep.join(" ")
    }`,
  );
  const created = await task(
    "create",
    ["--vault", vault, "--from", EXAMPLE, ...sweep],
    { capture: true },
  );
  const ids = (created ?? "").trim().split("\n");
  for (const id of ids) console.log(`  ${id}`);

  step(8, `Run the three, one after another: deno task run ${ids.join(" ")}`);
  await task("run", ["--vault", vault, ...ids]);

  step(9, "Compare them by params and final loss");
  await task("index", ["--vault", vault]);
  const sql =
    `SELECT c.specimen_id, c.params->>'$.lr' AS lr, c.params->>'$.seed' AS seed, arg_max(m.loss, m.step) AS final_loss FROM catalog c JOIN metrics m USING (specimen_id) GROUP BY ALL ORDER BY final_loss`;
  const viaSql = await task("query", ["--vault", vault, sql], {
    capture: true,
    allowFail: true,
  });
  if (viaSql !== null) {
    console.log(`\n  $ deno task query "${sql}"\n${viaSql}`);
  } else {
    // A catalog without the params column: read the manifests instead.
    await compareFromManifests(vault, [EXAMPLE, ...ids]);
  }
  await digits(vault);
}

/** Steps 10 and 11: a real model trained in Python, and a sweep over it. */
async function digits(vault: string): Promise<void> {
  step(10, `Train a real model in Python: deno task run ${DIGITS}`);
  const py = await findPython({ imports: ["numpy", "sklearn"] });
  if (!py.found) {
    console.log(
      `  Skipped: no Python 3 with numpy and scikit-learn here (${
        py.tried.map((t) => `${t.python}: ${t.reason}`).join("; ")
      }).\n  Install them with: ${INSTALL_SKLEARN}\n  (or set SPECIMEN_PYTHON to an interpreter that has them), then run deno task demo again.`,
    );
    return;
  }
  console.log(`  Python ${py.version} at ${py.python}, with scikit-learn`);
  const dir = join(vault, "specimens", DIGITS);
  await Deno.mkdir(join(dir, "strata"), { recursive: true });
  for (
    const f of ["manifest.msgpack", "protocol.ts", "train.py", "field_notes.md"]
  ) {
    await Deno.copyFile(join(ROOT, "specimens", DIGITS, f), join(dir, f));
  }
  await task("run", ["--vault", vault, DIGITS]);
  const storage = await SpecimenStorage.open(dir);
  printArtifacts(storage);
  const m = await storage.readMetrics();
  const last = m.epoch.length - 1;
  console.log(
    `\n  epoch ${m.epoch[last]}: train loss ${
      (m.train_loss[last] as number).toFixed(4)
    }, test accuracy ${(m.test_accuracy[last] as number).toFixed(4)}`,
  );

  const sweep = ["--sweep", `lr=${DIGITS_LR.join(",")}`, "--prefix", "digits"];
  step(
    11,
    `Sweep its learning rate: deno task create --from ${DIGITS} ${
      sweep.join(" ")
    }, then deno task run the three`,
  );
  const created = await task(
    "create",
    ["--vault", vault, "--from", DIGITS, ...sweep],
    { capture: true },
  );
  const ids = (created ?? "").trim().split("\n");
  await task("run", ["--vault", vault, ...ids]);
  await task("index", ["--vault", vault]);
  const sql =
    `SELECT c.specimen_id, c.params->>'$.lr' AS lr, arg_max(m.train_loss, m.step) AS final_train_loss, arg_max(m.test_accuracy, m.step) AS final_test_accuracy FROM catalog c JOIN metrics m USING (specimen_id) WHERE c.specimen_id IN (${
      [DIGITS, ...ids].map((id) => `'${id}'`).join(", ")
    }) GROUP BY ALL ORDER BY final_test_accuracy DESC`;
  console.log(`\n  $ deno task query "${sql}"`);
  await task("query", ["--vault", vault, sql]);
}

/** One line per artifact of `storage`: path, size, and what it holds. */
function printArtifacts(storage: SpecimenStorage): void {
  for (const [name, a] of Object.entries(storage.artifacts)) {
    const what = a.format === "parquet"
      ? `${a.rows} rows: ${
        a.columns!.map((c) => `${c.name} ${c.type}`).join(", ")
      }`
      : a.format === "zarr"
      ? `${a.dtype} ${a.shape!.join("×")}, chunks ${
        a.chunks!.join("×")
      }, codecs ${a.codecs!.join("+")}`
      : a.format;
    console.log(
      `  ${a.path.padEnd(34)} ${
        String(a.bytes).padStart(8)
      } bytes  ${name}: ${what}`,
    );
  }
}

/** The learning rates of the demo's sweep. */
const SWEEP_LR = ["3e-3", "1e-3", "3e-4"];

/** Params and final loss of each specimen, read from its own files. */
async function compareFromManifests(
  vault: string,
  ids: string[],
): Promise<void> {
  const rows: string[][] = [];
  for (const id of ids) {
    const storage = await SpecimenStorage.open(join(vault, "specimens", id));
    const { step, loss } = await storage.readMetrics();
    let last = 0;
    for (let i = 1; i < step.length; i++) {
      if ((step[i] as number) > (step[last] as number)) last = i;
    }
    const p = storage.params;
    rows.push([id, String(p.lr), String(p.seed), String(loss[last])]);
  }
  rows.sort((a, b) => Number(a[3]) - Number(b[3]));
  const head = ["specimen_id", "lr", "seed", "final_loss"];
  const widths = head.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => r[i].length))
  );
  const line = (r: string[]) =>
    "  " + r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
  console.log(line(head));
  for (const r of rows) console.log(line(r));
}

/**
 * Runs `tasks/<name>.ts` as its own process, as `deno task <name>` would.
 * With `capture`, returns its stdout instead of showing it; with
 * `allowFail`, a failure returns null instead of throwing.
 */
async function task(
  name: string,
  args: string[],
  options: { capture?: boolean; allowFail?: boolean } = {},
): Promise<string | null> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", join(ROOT, "tasks", `${name}.ts`), ...args],
    stdout: options.capture ? "piped" : "inherit",
    stderr: options.allowFail ? "null" : "inherit",
  }).output();
  if (out.code !== 0) {
    if (options.allowFail) return null;
    throw new VaultError(`deno task ${name} exited with code ${out.code}`);
  }
  return options.capture ? new TextDecoder().decode(out.stdout) : "";
}

function step(n: number, text: string): void {
  console.log(`\n[${n}] ${text}`);
}

if (import.meta.main) await runMain(main);
