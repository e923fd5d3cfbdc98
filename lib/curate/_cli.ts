/**
 * Private: what the curating tasks share: splitting `+label`/`-label`
 * words from a command line before strict option parsing, and turning
 * per-id outcomes into lines and an exit code.
 *
 * @module
 */
import { InvalidInputError } from "../errors.ts";
import type { CurateOutcome } from "./discard.ts";

/**
 * Splits `args` into the `+label` and `-label` words and the rest (for
 * `parseTaskArgs`). A word after an option in `valued` is that option's
 * value, never a label; `-h` stays the help flag.
 *
 * @example
 * ```ts
 * import { splitLabelWords } from "./_cli.ts";
 * const s = splitLabelWords(["a", "+best", "-buggy", "--vault", "-x"], ["--vault"]);
 * console.assert(s.add.join() === "best" && s.remove.join() === "buggy");
 * console.assert(s.rest.join() === "a,--vault,-x");
 * ```
 */
export function splitLabelWords(
  args: string[],
  valued: string[],
): { add: string[]; remove: string[]; rest: string[] } {
  const add: string[] = [];
  const remove: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (valued.includes(a)) {
      rest.push(a);
      if (i + 1 < args.length) rest.push(args[++i]);
    } else if (/^\+[^+]/.test(a)) add.push(a.slice(1));
    else if (/^-[A-Za-z0-9]/.test(a) && a !== "-h") remove.push(a.slice(1));
    else rest.push(a);
  }
  return { add, remove, rest };
}

/**
 * Prints each refusal of `outcomes` on stderr (`error: …`) and returns the
 * exit code: 0 when all were done, else the first refusal's code.
 */
export function outcomesExitCode(outcomes: CurateOutcome[]): number {
  let code = 0;
  for (const o of outcomes) {
    if (!o.error) continue;
    console.error(`error: ${o.error.message}`);
    if (code === 0) code = o.error.exitCode;
  }
  return code;
}

/**
 * Checks that a curating task was given either ids or `--where` (not both,
 * not neither) and returns how to find its specimens once the vault is
 * known: the ids as given, or those the catalog's `where` picks (the
 * catalog is opened only then).
 *
 * @example
 * ```ts
 * import { idSelection } from "./_cli.ts";
 * const ids = await idSelection(undefined, ["a", "b"])("/vault");
 * console.assert(ids.join() === "a,b");
 * ```
 */
export function idSelection(
  where: string | undefined,
  positionals: string[],
): (vault: string) => Promise<string[]> {
  if (where !== undefined && positionals.length) {
    throw new InvalidInputError(
      `Give ids or --where, not both (got ${positionals.length} id(s) and --where)`,
    );
  }
  if (where === undefined && positionals.length === 0) {
    throw new InvalidInputError(
      "No specimen given: name ids, or choose them with --where (see --help)",
    );
  }
  return async (vault) =>
    where === undefined
      ? positionals
      : await (await import("./where.ts")).idsWhere({
        vault,
        predicate: where,
      });
}
