/**
 * `deno task verify`: recompute the hashes of sealed specimens and report
 * what changed.
 *
 * @module
 */
import {
  parseTaskArgs,
  runMain,
  tableOrJson,
  taskVault,
} from "../lib/cli/cli.ts";
import { formatBytes, ProgressLine } from "../lib/cli/progress.ts";
import {
  type SpecimenVerification,
  verifyVault,
} from "../lib/specimen/verify.ts";

/** The task's help text. */
export const HELP =
  `Verify sealed specimens: recompute the SHA-256 of every sealed file
(protocol.ts, strata/, runs/) and compare it with the seal in the manifest.

Usage:
  deno task verify [ID...] [options]

Arguments:
  ID...                specimens to verify (default: every specimen)

Options:
  --format table|json  output for people (default) or programs
  --require-sealed     also fail when a specimen is not sealed
  --vault DIR          the vault (default: $SPECIMEN_VAULT, else the nearest
                       folder at or above the working directory with specimens/)
  -h, --help           show this help

Per specimen: ok; MISMATCH with each modified, missing and extra file by
name; unsealed (not run yet, running, or failed); error (unreadable manifest
or file). field_notes.md stays editable and is not checked.

Exit codes: 0 every sealed specimen matches its seal; 1 a mismatch or an
error (with --require-sealed, also an unsealed specimen); 2 invalid usage;
4 no vault, or no specimen with a given id.`;

/** Runs the task with `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const { values, positionals, help } = parseTaskArgs(args, {
    format: { type: "string", default: "table" },
    "require-sealed": { type: "boolean" },
    vault: { type: "string" },
  }, { allowPositionals: true });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const format = tableOrJson(values.format);
  const vault = await taskVault(values.vault as string | undefined);
  const progress = new ProgressLine();
  const t0 = performance.now();
  let results: SpecimenVerification[];
  try {
    results = await verifyVault({
      vault: vault.root,
      ids: positionals.length ? positionals : undefined,
      onProgress: (p) =>
        progress.update(() => {
          const s = (performance.now() - t0) / 1000;
          const pct = p.bytesTotal
            ? ` (${Math.floor((100 * p.bytesDone) / p.bytesTotal)}%)`
            : "";
          return `verify: ${p.specimensDone}/${p.specimensTotal} specimens, ${
            formatBytes(p.bytesDone)
          } of ${formatBytes(p.bytesTotal)}${pct}, ${
            formatBytes(p.bytesDone / Math.max(s, 1e-3))
          }/s  ${p.specimen}`;
        }),
    });
  } finally {
    progress.clear();
  }
  const seconds = (performance.now() - t0) / 1000;
  const count = (state: string) =>
    results.filter((r) => r.state === state).length;
  const summary = {
    specimens: results.length,
    ok: count("ok"),
    mismatch: count("mismatch"),
    unsealed: count("unsealed"),
    error: count("error"),
    bytes: results.reduce((n, r) => n + r.bytes, 0),
    seconds: Math.round(seconds * 1000) / 1000,
  };
  if (format === "json") {
    console.log(JSON.stringify({ summary, specimens: results }, null, 2));
  } else {
    printTable(results, summary);
  }
  const failed = summary.mismatch + summary.error +
    (values["require-sealed"] ? summary.unsealed : 0);
  return failed > 0 ? 1 : 0;
}

function printTable(
  results: SpecimenVerification[],
  summary: Record<string, number>,
): void {
  const color = !Deno.noColor && Deno.stdout.isTerminal();
  const paint = (code: number, s: string) =>
    color ? `\x1b[${code}m${s}\x1b[0m` : s;
  const width = Math.max(0, ...results.map((r) => r.id.length));
  for (const r of results) {
    const id = r.id.padEnd(width);
    switch (r.state) {
      case "ok":
        console.log(
          `${paint(32, "ok      ")}  ${id}  ${r.files} files, ${
            formatBytes(r.bytes)
          }`,
        );
        break;
      case "mismatch":
        console.log(
          `${paint(31, "MISMATCH")}  ${id}  ${
            [
              [r.modified.length, "modified"],
              [r.missing.length, "missing"],
              [r.extra.length, "extra"],
            ].filter(([n]) => n).map(([n, w]) => `${n} ${w}`).join(", ")
          }`,
        );
        for (const p of r.modified) console.log(`            modified  ${p}`);
        for (const p of r.missing) console.log(`            missing   ${p}`);
        for (const p of r.extra) console.log(`            extra     ${p}`);
        break;
      case "unsealed":
        console.log(
          `${paint(33, "unsealed")}  ${id}  status ${r.status}: ${
            r.status === "failed"
              ? "its run failed (see its runs/ logs)"
              : r.status === "running"
              ? "a run is in progress"
              : `not run yet (deno task run ${r.id})`
          }`,
        );
        break;
      default:
        console.log(`${paint(31, "ERROR   ")}  ${id}  ${r.error}`);
    }
  }
  console.log(
    `\n${summary.specimens} specimen${
      summary.specimens === 1 ? "" : "s"
    }: ${summary.ok} ok, ${summary.mismatch} mismatch, ${summary.unsealed} unsealed, ${summary.error} error (${
      formatBytes(summary.bytes)
    } hashed in ${summary.seconds.toFixed(2)} s)`,
  );
}

if (import.meta.main) await runMain(main);
