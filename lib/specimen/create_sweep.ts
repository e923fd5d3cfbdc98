/**
 * `createSweep`: one specimen per combination of `--sweep` values, derived
 * from a parent, all created or none.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { placeDir, removeStaleTemps, tempPathFor } from "../_fs.ts";
import { InvalidInputError, SpecimenExistsError } from "../errors.ts";
import { type CreatedSpecimen, createSpecimen } from "./create.ts";
import {
  changedKeys,
  checkAgainstParent,
  readParent,
  withoutParams,
} from "./_parent.ts";
import {
  expandSweep,
  MAX_SWEEP_COMBINATIONS,
  MAX_SWEEP_LIMIT,
  MAX_SWEEP_WITH_YES,
  sweepIds,
} from "./sweep.ts";
import { checkSweepSpace, diskUsage, freeBytes } from "./_sweep_space.ts";
import { leafMap, mergeParams, type Params } from "./params.ts";
import { vaultPaths } from "../vault.ts";
import { readVaultTaxonomy } from "./taxonomy.ts";

/** Options for {@linkcode createSweep}. */
export interface CreateSweepOptions {
  /** The vault root (the folder holding `specimens/`). */
  vault: string;
  /** The id of the specimen every combination derives from. */
  from: string;
  /** The values of the repeated `--sweep key=v1,v2` option. */
  sweep: string[];
  /** The start of every id; each gets `sweepSuffix` of its combination. */
  prefix: string;
  /**
   * Allow up to {@linkcode MAX_SWEEP_WITH_YES} combinations (`--yes`)
   * instead of {@linkcode MAX_SWEEP_COMBINATIONS}.
   */
  yes?: boolean;
  /**
   * The most combinations allowed (`--max N`, at most
   * {@linkcode MAX_SWEEP_LIMIT}); wins over `yes`.
   * @default 1,000 (10,000 with `yes`)
   */
  max?: number;
  /** Told after each specimen is built (`done` of `total`). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Free bytes where the sweep is built (null: unknown, not checked).
   * @default node:fs statfsSync of the specimens folder
   */
  freeBytes?: (dir: string) => number | null;
  /** Changes applied to every combination (`--param`), before the sweep's. */
  params?: Params;
  /**
   * Keys the parent does not have, set on purpose in every combination
   * (`--new-param`): not checked against the parent's params, and recorded
   * as the manifest's `params_new`.
   */
  newParams?: Params;
  /**
   * Let keys the parent does not have through (`--allow-new-params`), from
   * `params` and the sweep alike; recorded as `params_new`.
   * @default false
   */
  allowNewParams?: boolean;
  /**
   * Dotted keys of the parent's params every combination leaves out
   * (`--drop-param`).
   * @default []
   */
  dropParams?: string[];
  /** Tags. @default the parent's tags */
  tags?: string[] | string;
  /** One line on what the sweep is. @default the parent's description */
  description?: string | null;
}

/**
 * Creates one specimen per combination of `sweep` (see `expandSweep`), each
 * derived from `from` as {@linkcode deriveSpecimen} does, its params the
 * parent's merged with the combination, ids `prefix` + `sweepSuffix`.
 * Every key of `params` and of the sweep must be one of the parent's params
 * (when it has any), with a value of the same type, as for
 * {@linkcode deriveSpecimen}; `newParams` are exempt.
 *
 * All or none: every specimen is built in one hidden temp folder under
 * `specimens/`, then renamed into place one by one; if any rename fails, the
 * ones already placed are removed. Generated ids that exist already, or more
 * combinations than `max` (default 1,000; 10,000 with `yes`), are an
 * {@linkcode InvalidInputError} before anything is written. Once the first
 * specimen is built, its size on disk times the count must fit in the free
 * space (`VaultError` otherwise, nothing placed).
 *
 * @example
 * ```ts
 * import { createSpecimen } from "./create.ts";
 * import { createSweep } from "./create_sweep.ts";
 * const vault = await Deno.makeTempDir();
 * await createSpecimen({ vault, id: "base", domain: "training", method: "fine_tuning", params: { lr: 1e-3 } });
 * const made = await createSweep({ vault, from: "base", sweep: ["lr=1e-3,1e-4"], prefix: "s" });
 * console.assert(made.map((c) => c.id).join() === "s_lr_0_001,s_lr_1e_4");
 * await Deno.remove(vault, { recursive: true });
 * ```
 */
export async function createSweep(
  options: CreateSweepOptions,
): Promise<CreatedSpecimen[]> {
  const combos = expandSweep(options.sweep, { max: sweepLimit(options) });
  if (options.params !== undefined && combos.length > 0) {
    const swept = [...leafMap(combos[0]).keys()];
    for (const key of leafMap(options.params).keys()) {
      const other = swept.find((k) =>
        k === key || k.startsWith(`${key}.`) || key.startsWith(`${k}.`)
      );
      if (other !== undefined) {
        throw new InvalidInputError(
          `--param ${key} overlaps --sweep ${other}: the sweep would override it; give the key in one of them only`,
        );
      }
    }
  }
  const read = await readParent(options.vault, options.from);
  const { protocol, files } = read;
  const parent = withoutParams(
    options.from,
    read.parent,
    options.dropParams ?? [],
  );
  const newKeys = [...leafMap(options.newParams ?? {}).keys()];
  const allowNew = options.allowNewParams === true;
  const drop = options.dropParams ?? [];
  newKeys.push(
    ...checkAgainstParent(options.from, parent, options.params, [
      ...newKeys,
      ...drop,
    ], {
      allowNew,
    }),
  );
  for (const combo of combos) {
    const added = checkAgainstParent(options.from, parent, combo, [
      ...newKeys,
      ...drop,
    ], {
      flag: "--sweep",
      allowNew,
    });
    newKeys.push(...added.filter((k) => !newKeys.includes(k)));
  }
  const changes = options.newParams === undefined
    ? options.params
    : mergeParams(options.params ?? {}, options.newParams).params;
  const paramsNew = [...new Set([...(parent.params_new ?? []), ...newKeys])];
  const paths = vaultPaths(options.vault);
  const existing: string[] = [];
  for await (const e of Deno.readDir(paths.specimens)) existing.push(e.name);
  const ids = sweepIds(options.prefix, combos, { existing });
  const base = changes === undefined
    ? parent.params ?? {}
    : mergeParams(parent.params ?? {}, changes).params;
  const taxonomy = await readVaultTaxonomy(options.vault);
  await removeStaleTemps(paths.specimens, ".tmp-sweep-");
  const staging = tempPathFor(join(paths.specimens, "sweep"));
  const made: CreatedSpecimen[] = [];
  const placed: string[] = [];
  try {
    await Deno.mkdir(staging);
    for (let i = 0; i < ids.length; i++) {
      const { params } = mergeParams(base, combos[i]);
      const changed = changedKeys(read.parent.params ?? {}, params);
      const built = await createSpecimen({
        vault: staging,
        id: ids[i],
        domain: parent.taxonomy.domain,
        method: parent.taxonomy.method,
        taxonomy,
        tags: options.tags ?? parent.tags,
        model: parent.model,
        description: options.description ?? parent.description ?? null,
        parent: options.from,
        protocol,
        files,
        params,
        extra: {
          params_changed: changed,
          ...(paramsNew.length ? { params_new: paramsNew } : {}),
        },
      });
      made.push({ ...built, dir: join(paths.specimens, ids[i]) });
      if (i === 0 && ids.length > 1) {
        checkSweepSpace({
          count: ids.length,
          each: await diskUsage(built.dir),
          free: (options.freeBytes ?? freeBytes)(paths.specimens),
          where: paths.specimens,
        });
      }
      options.onProgress?.(i + 1, ids.length);
    }
    for (const c of made) {
      try {
        await placeDir(join(vaultPaths(staging).specimens, c.id), c.dir);
      } catch (e) {
        if (e instanceof Deno.errors.AlreadyExists) {
          throw new SpecimenExistsError(
            `Specimen "${c.id}" appeared while the sweep was being created: nothing was created; choose another --prefix`,
          );
        }
        throw e;
      }
      placed.push(c.dir);
    }
  } catch (e) {
    for (const dir of placed) {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
    throw e;
  } finally {
    await Deno.remove(staging, { recursive: true }).catch(() => {});
  }
  return made;
}

/** The most combinations `options` allow; a bad `max` is refused. */
function sweepLimit(options: CreateSweepOptions): number {
  const max = options.max;
  if (max === undefined) {
    return options.yes ? MAX_SWEEP_WITH_YES : MAX_SWEEP_COMBINATIONS;
  }
  if (!Number.isSafeInteger(max) || max < 1 || max > MAX_SWEEP_LIMIT) {
    throw new InvalidInputError(
      `Invalid --max ${
        JSON.stringify(max)
      }: the most combinations to create is a whole number from 1 to ${MAX_SWEEP_LIMIT}`,
    );
  }
  return max;
}
