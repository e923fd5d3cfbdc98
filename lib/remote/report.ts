/**
 * The summary tables push and pull print, and their exit codes.
 *
 * @module
 */
import { formatBytes } from "../cli/progress.ts";
import type { PushedSpecimen, TransferProgress } from "./push.ts";
import type { PulledSpecimen } from "./pull.ts";

type Row = PushedSpecimen | PulledSpecimen;

/**
 * A table of `rows` (one line per specimen that did not simply match, and a
 * count line), for people.
 *
 * @example
 * ```ts
 * import { transferTable } from "./report.ts";
 * const text = transferTable("push", [{ id: "a", state: "pushed", files: 3, bytes: 10 }], 1.5);
 * console.assert(text.includes("pushed") && text.includes("1 pushed"));
 * ```
 */
export function transferTable(
  verb: "push" | "pull",
  rows: Row[],
  seconds: number,
): string {
  const lines: string[] = [];
  const width = Math.max(2, ...rows.map((r) => r.id.length));
  for (const r of rows) {
    if (r.state === "present") continue;
    const size = r.files !== undefined
      ? `${r.files} files, ${formatBytes(r.bytes ?? 0)}`
      : "";
    const detail = [
      size,
      r.reason ?? "",
      "remoteConflict" in r && r.remoteConflict
        ? `note: the remote logged other content for this id too (${
          r.remoteConflict.map((d) => d.slice(0, 12) + "…").join(", ")
        }); this is the first claimed`
        : "",
    ].filter(Boolean).join("; ");
    lines.push(`${r.state.padEnd(9)} ${r.id.padEnd(width)}  ${detail}`);
  }
  const counts = new Map<string, number>();
  for (const r of rows) counts.set(r.state, (counts.get(r.state) ?? 0) + 1);
  const bytes = rows.reduce(
    (n, r) =>
      n + (r.state === "pushed" || r.state === "pulled" ? r.bytes ?? 0 : 0),
    0,
  );
  lines.push(
    `${verb}: ${
      [...counts].map(([s, n]) => `${n} ${s}`).join(", ") || "nothing to do"
    }; ${formatBytes(bytes)} in ${seconds.toFixed(1)} s`,
  );
  return lines.join("\n");
}

/** The progress line's text. */
export function progressText(
  verb: string,
  p: TransferProgress,
  t0: number,
): string {
  const s = Math.max((performance.now() - t0) / 1000, 1e-3);
  return `${verb}: ${p.specimensDone}/${p.specimensTotal} specimens, ${p.files} files, ${
    formatBytes(p.bytes)
  } (${formatBytes(p.bytes / s)}/s)`;
}

/**
 * The exit code of a push or pull: 1 a specimen failed, 5 one was refused
 * (corrupt or tampered), 3 a conflict, 4 an id not found on the remote, else 0.
 *
 * @example
 * ```ts
 * import { transferExitCode } from "./report.ts";
 * console.assert(transferExitCode([{ id: "a", state: "conflict" }]) === 3);
 * ```
 */
export function transferExitCode(rows: Row[]): number {
  const has = (s: string) => rows.some((r) => r.state === s);
  if (has("failed")) return 1;
  if (has("refused")) return 5;
  if (has("conflict")) return 3;
  if (has("missing")) return 4;
  return 0;
}
