/**
 * Private CLI helpers shared by every task: argument parsing with `--help`,
 * error reporting, exit codes.
 *
 * Exit codes: 0 success; 1 failure; 2 invalid input or usage; 3 exists /
 * immutable; 4 not found; 5 corrupt file.
 *
 * @module
 */
import {
  basename,
  dirname,
  isAbsolute,
  join,
  parseArgs,
  relative,
  resolve,
  SEPARATOR,
} from "../_deps/node.ts";
import type { VaultPaths } from "../vault.ts";
import { fsErrorHint } from "../_fs.ts";
import { errorMessage, InvalidInputError, VaultError } from "../errors.ts";

/** `parseArgs` options (the subset the tasks use). */
export type ArgSpec = Record<
  string,
  {
    type: "string" | "boolean";
    short?: string;
    multiple?: boolean;
    default?: string | boolean;
  }
>;

/**
 * Parses `args` strictly against `spec` (plus `--help`). Unknown options and
 * missing values become an {@linkcode InvalidInputError} (exit 2).
 */
export function parseTaskArgs<T extends ArgSpec>(
  args: string[],
  spec: T,
  { allowPositionals = false } = {},
): {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  help: boolean;
} {
  try {
    const { values, positionals } = parseArgs({
      // `deno task x -- --flag` passes the separator on: skip a leading one.
      args: args[0] === "--" ? args.slice(1) : args,
      options: { ...spec, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals,
    });
    const all = values as Record<
      string,
      string | boolean | string[] | undefined
    >;
    const help = all.help === true;
    delete all.help;
    return {
      values: values as Record<string, string | boolean | string[] | undefined>,
      positionals,
      help,
    };
  } catch (e) {
    throw new InvalidInputError(`${(e as Error).message} (see --help)`);
  }
}

/**
 * Checks a task's `--format` value where the choices are `table` and
 * `json`; anything else is an {@linkcode InvalidInputError} (exit 2).
 *
 * @example
 * ```ts
 * import { tableOrJson } from "./cli.ts";
 * console.assert(tableOrJson("json") === "json");
 * ```
 */
export function tableOrJson(format: unknown): "table" | "json" {
  if (format !== "table" && format !== "json") {
    throw new InvalidInputError(
      `Unknown --format ${JSON.stringify(format)}: use table or json`,
    );
  }
  return format;
}

/** Whether stderr is a terminal (progress output only then). */
export function stderrIsTerminal(): boolean {
  try {
    return Deno.stderr.isTerminal();
  } catch {
    return false;
  }
}

/**
 * Runs a task's `main`, printing `error: ...` and exiting with the error's
 * code when it throws. Unexpected errors print their stack and exit 1.
 */
export async function runMain(
  main: (args: string[]) => Promise<number | void>,
  args: string[] = Deno.args,
): Promise<never> {
  let code = 0;
  try {
    code = (await main(args)) ?? 0;
  } catch (e) {
    const hint = e instanceof VaultError ? undefined : fsErrorHint(e);
    if (e instanceof VaultError) {
      console.error(`error: ${e.message}`);
      code = e.exitCode;
    } else if (hint) {
      // The file system said no: the message names the path, no stack needed.
      console.error(`error: ${(e as Error).message}\n${hint}`);
      code = 1;
    } else {
      console.error(
        `error: ${errorMessage(e, { stack: true })}`,
      );
      code = 1;
    }
  }
  Deno.exit(code);
}

export { shownPath, taskVault, userCwd, userPath } from "./task_vault.ts";

/**
 * Refuses an output file inside the vault's specimens (results are
 * write-once: only the library writes there), comparing real paths: the
 * target's folder with every symlink resolved against the real specimens
 * folder, so a symlinked folder, a symlinked vault path or a name such as
 * `specimens/..evil.csv` cannot lead into it. Returns the path to write:
 * the real folder joined with the file name (so the check and the write
 * name the same folder). A folder that does not exist is refused too.
 */
export async function assertOutsideSpecimens(
  out: string,
  vault: VaultPaths,
): Promise<string> {
  const target = resolve(out);
  const folder = dirname(target);
  let realFolder: string;
  try {
    realFolder = await Deno.realPath(folder);
  } catch (e) {
    throw new InvalidInputError(
      `Cannot write ${out}: its folder ${folder} cannot be opened (${
        errorMessage(e)
      }). Create the folder first, or write elsewhere`,
      { cause: e },
    );
  }
  const specimens = await Deno.realPath(vault.specimens).catch(() =>
    resolve(vault.specimens)
  );
  const rel = relative(specimens, realFolder);
  const inside = rel === "" ||
    (rel !== ".." && !rel.startsWith(`..${SEPARATOR}`) && !isAbsolute(rel));
  if (inside) {
    throw new InvalidInputError(
      `Refusing to write ${out}: it is inside ${vault.specimens}${
        realFolder === folder ? "" : ` (its folder is really ${realFolder})`
      }, and specimens are write-once. Write the output elsewhere (e.g. --out results.csv in your working folder)`,
    );
  }
  return join(realFolder, basename(target));
}
