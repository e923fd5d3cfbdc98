/**
 * Reading the specimen a new one derives from (`create --from`, sweeps),
 * and checking the new params against the parent's. Not re-exported.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { exists, isTempName, readVaultFile } from "../_fs.ts";
import { NotFoundError } from "../errors.ts";
import { type Manifest, MANIFEST_FILE, readManifest } from "./manifest.ts";
import { validateSpecimenId } from "./id.ts";
import { checkParams, nearestKey, paramProblems } from "./param_check.ts";
import { diffParams, leafMap, type Params, type ParamValue } from "./params.ts";
import { InvalidInputError } from "../errors.ts";
import { vaultPaths } from "../vault.ts";

/** Files of a specimen's own, never copied from a parent. */
export const OWN_FILES = [MANIFEST_FILE, "field_notes.md", "protocol.ts"];

/**
 * The parent's manifest, protocol text and the other files beside it;
 * NotFoundError when missing.
 */
export async function readParent(
  vault: string,
  from: string,
): Promise<
  { parent: Manifest; protocol: string; files: Record<string, Uint8Array> }
> {
  validateSpecimenId(from);
  const parentDir = join(vaultPaths(vault).specimens, from);
  if (!(await exists(parentDir))) {
    throw new NotFoundError(
      `Cannot derive from "${from}": no specimen folder ${parentDir}. Check the id (ls ${
        vaultPaths(vault).specimens
      }) or pass --vault DIR`,
    );
  }
  const parent = await readManifest(parentDir);
  try {
    const protocol = new TextDecoder().decode(
      await readVaultFile(join(parentDir, "protocol.ts"), {
        root: parentDir,
        maxBytes: 16 * 1024 * 1024,
      }),
    );
    const files: Record<string, Uint8Array> = {};
    for await (const e of Deno.readDir(parentDir)) {
      if (!e.isFile || OWN_FILES.includes(e.name) || isTempName(e.name)) {
        continue;
      }
      files[e.name] = await readVaultFile(join(parentDir, e.name), {
        root: parentDir,
        maxBytes: 16 * 1024 * 1024,
      });
    }
    return { parent, protocol, files };
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new NotFoundError(
      `Cannot derive from "${from}": it has no protocol.ts to copy (${parentDir})`,
      { cause: e },
    );
  }
}

/**
 * The parent as a child starts from it, with the dotted `keys` taken out of
 * its params and `params_new` (`--drop-param`): for a key the parent has
 * that the protocol no longer declares, or a typo sealed before params were
 * checked. A key the parent lacks is an {@linkcode InvalidInputError} with
 * the nearest one it has.
 */
export function withoutParams(
  from: string,
  parent: Manifest,
  keys: readonly string[],
): Manifest {
  if (keys.length === 0) return parent;
  const params = structuredClone(parent.params ?? {});
  const leaves = [...leafMap(parent.params ?? {}).keys()];
  for (const key of keys) {
    const parts = key.split(".");
    let node: ParamValue = params;
    for (const p of parts.slice(0, -1)) {
      node = isRecord(node) && Object.hasOwn(node, p) ? node[p] : null;
    }
    const last = parts.at(-1)!;
    if (!isRecord(node) || !Object.hasOwn(node, last)) {
      const near = nearestKey(key, leaves);
      throw new InvalidInputError(
        `--drop-param ${key}: the parent "${from}" has no param "${key}"${
          near ? ` (did you mean "${near}"?)` : ""
        }; its params are ${leaves.join(", ") || "(none)"}`,
      );
    }
    delete node[last];
  }
  const dropped = (k: string) =>
    keys.some((d) => k === d || k.startsWith(`${d}.`));
  const paramsNew = (parent.params_new ?? []).filter((k) => !dropped(k));
  return {
    ...parent,
    params,
    ...(parent.params_new ? { params_new: paramsNew } : {}),
  };
}

/** The dotted keys whose values differ between `a` and `b` (either side). */
export function changedKeys(a: Params, b: Params): string[] {
  return diffParams([{ id: "a", params: a }, { id: "b", params: b }])
    .filter((r) => r.differs).map((r) => r.key);
}

function isRecord(v: ParamValue): v is { [key: string]: ParamValue } {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Refuses `changes` whose keys the parent's params do not have (with the
 * nearest one) or whose types differ, unless the key is in `newKeys` or
 * `allowNew` is set. A parent without params says nothing: the protocol's
 * declared params are checked when it runs. Returns the keys new to the
 * parent that `allowNew` let through, for the manifest's `params_new`.
 */
export function checkAgainstParent(
  from: string,
  parent: Manifest,
  changes: Params | undefined,
  newKeys: readonly string[],
  options: { flag?: string; allowNew?: boolean } = {},
): string[] {
  const known = parent.params ?? {};
  if (changes === undefined || leafMap(known).size === 0) return [];
  const allowed = [...newKeys, ...(parent.params_new ?? [])];
  const unknown = paramProblems(known, changes, allowed)
    .filter((p) => p.kind === "unknown").map((p) => p.key);
  checkParams(known, changes, {
    known: `the parent "${from}"`,
    allowNew: options.allowNew ? [...allowed, ...unknown] : allowed,
    fix:
      `Fix the key, or set a key the parent does not have on purpose: --new-param KEY=VALUE instead of ${
        options.flag ?? "--param"
      }, or --allow-new-params`,
  });
  return options.allowNew ? unknown : [];
}
