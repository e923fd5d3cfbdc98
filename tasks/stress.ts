/**
 * `deno task stress`: the long reliability loops. Each writing operation is
 * killed with SIGKILL at random moments, trial after trial, and every race
 * is run round after round; each trial checks that the previous good state
 * is intact, that nothing partial is visible, and that a rerun succeeds.
 * See {@linkcode HELP} and docs/RELIABILITY.md.
 *
 * @module
 */
import { parseTaskArgs, runMain, stderrIsTerminal } from "../lib/cli/cli.ts";
import { InvalidInputError } from "../lib/errors.ts";
import {
  CONCURRENCY_SCENARIOS,
  FAULT_SCENARIOS,
  type LoopReport,
  runConcurrencyTrial,
  runKillLoop,
} from "../tests/_tools/stress/stress.ts";
import {
  fuzzCases,
  fuzzVault,
  runGateFuzz,
} from "../tests/_tools/stress/gate_fuzz.ts";

/** The name of the SQL gate's fuzz loop in --only. */
const GATE_FUZZ = "gate_fuzz";

/** The task's help text. */
export const HELP =
  `Run the reliability loops: SIGKILL at random moments during every writing
operation, and real processes racing, many times over.

Usage:
  deno task stress [--trials N] [--rounds N] [--cases N] [--seed N]
                   [--only NAME,...] [--json FILE]

Options:
  --trials N     Kill trials per operation (default 50). The first trial runs
                 uncut to time the operation; of the others, a third are
                 killed after a random delay from 0 to 1.25 times its length,
                 a third from 0.8 to 1.15 times it, and a third the moment
                 the result appears under its real name (before the manifest
                 records it).
  --rounds N     Rounds of each race (default 20)
  --cases N      Cases of the SQL gate's fuzz loop (default 10000): random
                 mixes of quoting syntaxes, comments, casing and statements,
                 refused names hidden in strings and comments (must run) or
                 called for real (must be refused), run in child processes
                 so that an abort is seen
  --seed N       Seed of the fuzz loop (default: random; printed)
  --only NAMES   Only these cases, comma-separated, e.g. --only writeMetrics,index
                 (kills: ${FAULT_SCENARIOS.map((s) => s.name).join(", ")};
                 races: ${
    CONCURRENCY_SCENARIOS.map((s) => JSON.stringify(s.name)).join(", ")
  }; fuzz: ${GATE_FUZZ})
  --json FILE    Also write the results as JSON to FILE
  -h, --help     Show this help

Each trial runs in its own temp vault. After a kill it checks: every file of
the previous good state unchanged, the manifest valid, each file under a real
name complete or absent, the other specimen still verifying; then it reruns
the operation, seals and verifies. A failing trial's vault is kept and named.

Output: a Markdown table (the one in docs/RELIABILITY.md), one row per case.

Exit codes: 0 every trial held; 1 a trial failed; 2 invalid arguments.`;

/** One row of the results. */
interface Row {
  name: string;
  what: string;
  trials: number;
  killed: number | null;
  outcomes: Record<string, number>;
  maxDelayMs: number | null;
  failures: string[];
  /** Counts added up over the rounds of a race (queries run, …). */
  counts?: Record<string, number>;
  ms: number;
}

function count(value: string | undefined, flag: string, fallback: number) {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new InvalidInputError(
      `Invalid ${flag} ${
        JSON.stringify(value)
      }: give a whole number ≥ 1, e.g. ${flag} 50`,
    );
  }
  return n;
}

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseTaskArgs(args, {
    trials: { type: "string" },
    rounds: { type: "string" },
    only: { type: "string" },
    json: { type: "string" },
    cases: { type: "string" },
    seed: { type: "string" },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const trials = count(values.trials as string | undefined, "--trials", 50);
  const rounds = count(values.rounds as string | undefined, "--rounds", 20);
  const cases = count(values.cases as string | undefined, "--cases", 10_000);
  const seed = values.seed === undefined
    ? Math.floor(Math.random() * 2 ** 31)
    : count(values.seed as string, "--seed", 1);
  const all = [
    ...FAULT_SCENARIOS.map((s) => s.name),
    ...CONCURRENCY_SCENARIOS.map((s) => s.name),
    GATE_FUZZ,
  ];
  const only = values.only === undefined
    ? undefined
    : new Set((values.only as string).split(",").map((s) => s.trim()));
  for (const name of only ?? []) {
    if (!all.includes(name)) {
      throw new InvalidInputError(
        `Unknown case ${JSON.stringify(name)} in --only: the cases are ${
          all.map((n) => JSON.stringify(n)).join(", ")
        }`,
      );
    }
  }
  const tty = stderrIsTerminal();
  const encoder = new TextEncoder();
  const tick = (text: string) => {
    if (tty) Deno.stderr.writeSync(encoder.encode(text));
  };

  const rows: Row[] = [];
  for (const scenario of FAULT_SCENARIOS) {
    if (only && !only.has(scenario.name)) continue;
    tick(`SIGKILL during ${scenario.name} `);
    const r: LoopReport = await runKillLoop(
      scenario,
      trials,
      (_, result) => tick(result instanceof Error ? "F" : "."),
    );
    tick("\n");
    rows.push({ ...r, name: `SIGKILL during ${r.name}` });
    for (const f of r.failures) console.error(`FAILED ${scenario.name}: ${f}`);
  }
  for (const scenario of CONCURRENCY_SCENARIOS) {
    if (only && !only.has(scenario.name)) continue;
    rows.push(await concurrencyRow(scenario, rounds, tick));
  }

  if (!only || only.has(GATE_FUZZ)) {
    rows.push(await gateFuzzRow(seed, cases, tick));
  }

  console.log(table(rows));
  if (values.json) {
    await Deno.writeTextFile(
      values.json as string,
      JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + "\n",
    );
  }
  return rows.some((r) => r.failures.length) ? 1 : 0;
}

/** `rounds` rounds of a race, as one table row. */
async function concurrencyRow(
  scenario: (typeof CONCURRENCY_SCENARIOS)[number],
  rounds: number,
  tick: (text: string) => void,
): Promise<Row> {
  tick(`${scenario.name} `);
  const started = performance.now();
  const row: Row = {
    name: scenario.name,
    what: scenario.what,
    trials: 0,
    killed: null,
    outcomes: {},
    maxDelayMs: null,
    failures: [],
    ms: 0,
  };
  for (let i = 0; i < rounds; i++) {
    row.trials++;
    try {
      const { label, counts } = await runConcurrencyTrial(scenario, {
        keep: true,
      });
      row.outcomes[label] = (row.outcomes[label] ?? 0) + 1;
      for (const [k, n] of Object.entries(counts ?? {})) {
        row.counts ??= {};
        row.counts[k] = k === "states seen" || k.endsWith("(max)")
          ? Math.max(row.counts[k] ?? 0, n)
          : (row.counts[k] ?? 0) + n;
      }
      tick(".");
    } catch (e) {
      row.failures.push(`round ${i + 1}: ${(e as Error).message}`);
      console.error(
        `FAILED ${scenario.name}: round ${i + 1}: ${(e as Error).message}`,
      );
      tick("F");
    }
  }
  tick("\n");
  row.ms = performance.now() - started;
  return row;
}

/** The SQL-gate fuzz loop (`cases` cases from `seed`), as one table row. */
async function gateFuzzRow(
  seed: number,
  cases: number,
  tick: (text: string) => void,
): Promise<Row> {
  tick(`${GATE_FUZZ} (seed ${seed}) `);
  await using v = await fuzzVault();
  const r = await runGateFuzz(
    v.path,
    fuzzCases(seed, cases, v.id),
    500,
    () => tick("."),
  );
  tick("\n");
  for (const f of r.failures) console.error(`FAILED ${GATE_FUZZ}: ${f}`);
  return {
    name: GATE_FUZZ,
    what: `SQL gate fuzz, seed ${seed}`,
    trials: r.cases,
    killed: null,
    outcomes: { "ran read-only": r.ran, refused: r.refused },
    maxDelayMs: null,
    failures: r.failures,
    ms: r.ms,
  };
}

function table(rows: Row[]): string {
  const lines = [
    "| case | trials | killed mid-operation | outcomes seen | failures | time |",
    "| --- | ---: | ---: | --- | ---: | ---: |",
  ];
  for (const r of rows) {
    const outcomes = Object.entries(r.outcomes)
      .sort((a, b) => b[1] - a[1])
      .map(([label, n]) => `${n}× ${label}`)
      .join("; ") +
      (r.counts
        ? ` (${
          Object.entries(r.counts).map(([k, n]) =>
            `${n.toLocaleString("en")} ${k}`
          ).join(", ")
        })`
        : "");
    lines.push(
      `| ${r.name} | ${r.trials} | ${
        r.killed === null
          ? "—"
          : `${r.killed} (delays up to ${Math.round(r.maxDelayMs ?? 0)} ms)`
      } | ${outcomes} | ${r.failures.length} | ${(r.ms / 1000).toFixed(0)} s |`,
    );
  }
  return lines.join("\n");
}

if (import.meta.main) await runMain(main);
