/**
 * What the task entry points share: argument parsing
 * ({@linkcode parseTaskArgs}), one `runMain` mapping the error family to
 * exit codes, the user's paths and vault, progress lines, and
 * {@linkcode show} for an offending value in a message.
 *
 * @example
 * ```ts
 * import { formatBytes, show } from "./mod.ts";
 * console.assert(formatBytes(1_500_000) === "1.50 MB");
 * console.assert(show("x") === '"x"');
 * ```
 *
 * @module
 */
export {
  type ArgSpec,
  assertOutsideSpecimens,
  parseTaskArgs,
  runMain,
  stderrIsTerminal,
  taskVault,
  userCwd,
  userPath,
} from "./cli.ts";
export { formatBytes, ProgressLine } from "./progress.ts";
export { show } from "./show.ts";
