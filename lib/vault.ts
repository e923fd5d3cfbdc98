/**
 * Finding the vault and the paths inside it. A vault is any folder with a
 * `specimens/` folder in it; the catalog `vault.duckdb` sits beside it.
 *
 * @module
 */
import { dirname, join, resolve } from "./_deps/node.ts";
import { NotFoundError } from "./errors.ts";

/** Folder of specimens inside a vault. */
export const SPECIMENS_DIR = "specimens";
/**
 * Folder of results inside a specimen.
 *
 * @example
 * ```ts
 * import { STRATA_DIR } from "./vault.ts";
 * console.assert(STRATA_DIR === "strata");
 * ```
 */
export const STRATA_DIR = "strata";
/** The catalog's file name inside a vault. */
export const CATALOG_FILE = "vault.duckdb";
/** Environment variable naming the vault when `--vault` is not given. */
export const VAULT_ENV = "SPECIMEN_VAULT";

/** Paths of one vault. */
export interface VaultPaths {
  /** The vault root (absolute). */
  root: string;
  /** `<root>/specimens` */
  specimens: string;
  /** `<root>/vault.duckdb` */
  catalog: string;
}

/**
 * Returns the paths of the vault at `root`.
 *
 * @example
 * ```ts
 * import { vaultPaths } from "./vault.ts";
 * console.assert(vaultPaths("/data/v").catalog === "/data/v/vault.duckdb");
 * ```
 */
export function vaultPaths(root: string): VaultPaths {
  const abs = resolve(root);
  return {
    root: abs,
    specimens: join(abs, SPECIMENS_DIR),
    catalog: join(abs, CATALOG_FILE),
  };
}

/**
 * Finds the vault: `explicit` if given, else `$SPECIMEN_VAULT`, else the
 * nearest folder at or above `from` (default: the working directory) that
 * has a `specimens/` folder. Throws {@linkcode NotFoundError} with the fix.
 *
 * Needs `--allow-read` (and `--allow-env=SPECIMEN_VAULT`).
 *
 * @example
 * ```ts ignore
 * import { findVault } from "./vault.ts";
 * console.log((await findVault()).root);
 * ```
 */
export async function findVault(
  explicit?: string,
  from: string = Deno.cwd(),
): Promise<VaultPaths> {
  const given = explicit ?? envVault();
  if (given !== undefined && given !== "") {
    const paths = vaultPaths(given);
    if (!(await isDir(paths.root))) {
      throw new NotFoundError(
        `Vault folder ${
          JSON.stringify(given)
        } does not exist: pass an existing folder with --vault (or ${VAULT_ENV})`,
      );
    }
    return paths;
  }
  let dir = resolve(from);
  while (true) {
    if (await isDir(join(dir, SPECIMENS_DIR))) return vaultPaths(dir);
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  throw new NotFoundError(
    `No vault found at or above ${from}: no folder there has a "${SPECIMENS_DIR}/" folder. Run from inside a vault, or pass --vault DIR (or set ${VAULT_ENV})`,
  );
}

function envVault(): string | undefined {
  try {
    return Deno.env.get(VAULT_ENV);
  } catch {
    return undefined; // no env permission: only --vault and the cwd count
  }
}

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
