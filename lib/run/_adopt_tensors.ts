/**
 * Private: output files that hold tensors. A `.npy` becomes one Zarr array.
 * A `.safetensors` or `.npz` (a checkpoint, a set of arrays) is kept as the
 * file that was saved, under `strata/files/`, hashed (SHA-256) as it is
 * copied, and (when at most `splitMaxBytes`) also split into one Zarr array
 * per tensor, `<file>__<tensor>`, each naming its tensor as the file does
 * (`source_tensor` in its record and its Zarr attributes). The kept file's
 * record maps each tensor to its array (`arrays`) and holds the file's
 * `__metadata__` (`safetensors_metadata`, as `[key, value]` pairs).
 *
 * Everything is read through the one handle `openOutput` opened.
 *
 * @module
 */
import { join } from "../_deps.ts";
import { placeDir, tempPathFor } from "../_fs.ts";
import { UnsafeFileError } from "../errors.ts";
import { STRATA_DIR } from "../vault.ts";
import type { ArtifactRecord } from "../specimen/manifest_types.ts";
import {
  adoptNpy,
  adoptNpz,
  adoptSafetensors,
  readNpzMembers,
  readSafetensorsHeader,
} from "../formats/tensor_files/mod.ts";
import type { AdoptedTensor } from "../formats/tensor_files/mod.ts";
import { type Ctx, type Found, place } from "./_adopt_context.ts";
import {
  DEFAULT_SPLIT_MAX_BYTES,
  ensureDisk,
  keepOpened,
  type Opened,
  openOutput,
} from "./_adopt_open.ts";

/** `__metadata__` larger than this (as JSON) stays in the kept file only. */
const MAX_METADATA_JSON = 64 * 1024;

/** A `.npy` → a Zarr array. */
export async function adoptNpyOutput(
  ctx: Ctx,
  f: Found,
  name: string,
  opened: Opened,
): Promise<void> {
  ensureDisk(ctx, opened.size); // about its size, compressed
  await place(ctx, f.rel, name, { format: "zarr" }, async (path) => {
    const a = await adoptNpy(f.rel, path, {
      ...ctx.options.tensors,
      file: opened.file,
      attributes: { source_file: f.rel },
    });
    return tensorFields(a, f.rel);
  });
}

/**
 * Reads the tensor names of a `.safetensors` or `.npz` (when it will be
 * split) into `f.tensors`, through a handle opened for it.
 */
export async function planContainer(ctx: Ctx, f: Found): Promise<void> {
  using opened = await openOutput(ctx, f);
  const max = ctx.options.splitMaxBytes ?? DEFAULT_SPLIT_MAX_BYTES;
  if (opened.size > max) {
    f.unsplit = max === 0
      ? "not split into arrays (splitMaxBytes is 0)"
      : `not split into arrays: ${opened.size} bytes, over the split limit of ${max} (adoptOutputs' splitMaxBytes); read the kept file`;
  }
  // The header is read (and checked) even when not split.
  if (f.kind === "safetensors") {
    const h = await readSafetensorsHeader(f.rel, { file: opened.file });
    if (!f.unsplit) f.tensors = h.tensors.map((t) => t.name);
  } else {
    const { arrays } = await readNpzMembers(opened.file, f.rel);
    if (!f.unsplit) f.tensors = arrays.map((m) => m.array);
  }
}

export function tensorFields(a: AdoptedTensor, source: string) {
  const { shape, dtype, chunks, codecs, bytes } = a.info;
  return {
    shape,
    dtype,
    chunks,
    codecs,
    bytes,
    source_dtype: a.source_dtype,
    source_order: a.source_order,
    source,
  };
}

/**
 * A `.safetensors` or `.npz`: its arrays written into a temp folder first
 * (so a bad tensor refuses the file before anything is recorded), then the
 * file kept, then the arrays placed.
 */
export async function adoptContainer(
  ctx: Ctx,
  f: Found,
  opened: Opened,
): Promise<void> {
  const fileName = ctx.names.get(f.rel)!;
  // The kept copy, and about as much again for its arrays when split.
  ensureDisk(ctx, opened.size * (f.tensors ? 2 : 1));
  const strata = join(ctx.target.dir, STRATA_DIR);
  await Deno.mkdir(strata, { recursive: true });
  const tmp = tempPathFor(join(strata, "adopt"));
  await Deno.mkdir(tmp);
  try {
    const tensors = f.tensors ?? [];
    const index = new Map(tensors.map((t, i) => [t, i]));
    const at = (t: string) => join(tmp, `t${index.get(t)}.zarr`);
    const options = {
      ...ctx.options.tensors,
      file: opened.file,
      attributes: { source_file: f.rel, source_artifact: fileName },
    };
    const written: { name: string; adopted: AdoptedTensor }[] = [];
    const fields: Partial<ArtifactRecord> = {};
    if (f.kind === "safetensors") {
      const h = await readSafetensorsHeader(f.rel, { file: opened.file });
      const pairs = Object.entries(h.metadata);
      if (pairs.length) {
        const size = JSON.stringify(pairs).length;
        if (size <= MAX_METADATA_JSON) fields.safetensors_metadata = pairs;
        else {
          fields.safetensors_metadata_omitted =
            `${size} bytes of __metadata__, over ${MAX_METADATA_JSON}: read it from the kept file`;
        }
      }
      if (f.tensors) {
        if (!sameNames(h.tensors.map((t) => t.name), tensors)) throw changed();
        const r = await adoptSafetensors(f.rel, at, options);
        for (const t of r.tensors) written.push({ name: t.name, adopted: t });
      }
    } else if (f.tensors) {
      const r = await adoptNpz(f.rel, at, options);
      if (!sameNames(r.arrays.map((m) => m.member.array), tensors)) {
        throw changed();
      }
      for (const m of r.arrays) {
        written.push({ name: m.member.array, adopted: m });
      }
      if (r.others.length) fields.members_not_arrays = r.others;
    }
    const key = (t: string) => `${f.rel}#${t}`;
    await keepOpened(ctx, f, fileName, opened, {
      ...fields,
      ...(f.unsplit ? { unsplit: f.unsplit } : {}),
      arrays: written.map((w) => ({
        name: w.name,
        artifact: ctx.names.get(key(w.name))!,
      })),
    });
    for (const w of written) {
      await place(
        ctx,
        key(w.name),
        ctx.names.get(key(w.name))!,
        { format: "zarr" },
        async (path) => {
          await placeDir(at(w.name), path);
          return {
            ...tensorFields(w.adopted, f.rel),
            source_tensor: w.name,
            source_artifact: fileName,
          };
        },
      );
    }
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

function sameNames(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

function changed(): Error {
  return new UnsafeFileError(
    "its tensors changed while it was being adopted (does a process the run started still write to SPECIMEN_OUTPUTS?): let every process finish before the run ends",
  );
}
