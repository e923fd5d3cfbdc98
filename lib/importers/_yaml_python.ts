/**
 * Private: YAML as PyYAML's `yaml.dump` writes Python objects (Lightning's
 * `hparams.yaml`), read with the `yaml` package's custom tags: numpy scalars
 * (`!!python/object/apply:numpy._core.multiarray.scalar`: a dtype and the
 * value's bytes) become their numbers, `!!python/tuple` a list. A value of
 * any other Python tag (an object to unpickle) is left out, with one warning
 * naming its key.
 *
 * @module
 */
import { isPair, isScalar, parseDocument, parseYaml, visit } from "./_deps.ts";

const T = "tag:yaml.org,2002:";

interface NumpyDtype {
  kind: string;
  littleEndian: boolean;
}

/** `numpy.dtype(str, align, copy)` with its state tuple (endianness at 1). */
function dtypeTag(name: string) {
  return {
    tag: `${T}python/object/apply:${name}`,
    collection: "map" as const,
    resolve(map: { toJSON(): unknown }): unknown {
      const m = map.toJSON() as { args?: unknown[]; state?: unknown[] };
      const kind = String(m.args?.[0] ?? "");
      const order = m.state?.[1];
      return { kind, littleEndian: order !== ">" } satisfies NumpyDtype;
    },
  };
}

/** `numpy.core.multiarray.scalar(dtype, bytes)`: the value, decoded. */
function scalarTag(name: string) {
  return {
    tag: `${T}python/object/apply:${name}`,
    collection: "seq" as const,
    resolve(
      seq: { items: unknown[] },
      onError: (message: string) => void,
    ): unknown {
      const [d, b] = seq.items.map((x) => isScalar(x) ? x.value : x);
      const dtype = d as NumpyDtype | undefined;
      if (!dtype?.kind || !(b instanceof Uint8Array)) {
        onError("a numpy scalar without its dtype and bytes");
        return null;
      }
      const v = numpyValue(dtype, b);
      if (v === undefined) {
        onError(`a numpy scalar of dtype ${dtype.kind}, not a number type`);
        return null;
      }
      return v;
    },
  };
}

function numpyValue(
  d: NumpyDtype,
  b: Uint8Array,
): number | bigint | boolean | undefined {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const le = d.littleEndian;
  const code = d.kind.replace(/^[<>|=]/, "");
  if (v.byteLength < Number(code.slice(1))) return undefined;
  switch (code) {
    case "f2":
      return v.getFloat16?.(0, le);
    case "f4":
      return v.getFloat32(0, le);
    case "f8":
      return v.getFloat64(0, le);
    case "i1":
      return v.getInt8(0);
    case "i2":
      return v.getInt16(0, le);
    case "i4":
      return v.getInt32(0, le);
    case "i8":
      return narrow(v.getBigInt64(0, le));
    case "u1":
      return v.getUint8(0);
    case "u2":
      return v.getUint16(0, le);
    case "u4":
      return v.getUint32(0, le);
    case "u8":
      return narrow(v.getBigUint64(0, le));
    case "b1":
      return v.getUint8(0) !== 0;
  }
  return undefined;
}

function narrow(x: bigint): number | bigint {
  const n = Number(x);
  return Number.isSafeInteger(n) ? n : x;
}

const tuple = {
  tag: `${T}python/tuple`,
  collection: "seq" as const,
  resolve: (seq: unknown) => seq,
};

const CUSTOM_TAGS = [
  "binary",
  tuple,
  dtypeTag("numpy.dtype"),
  scalarTag("numpy._core.multiarray.scalar"),
  scalarTag("numpy.core.multiarray.scalar"),
];
const KNOWN = new Set([
  `${T}binary`,
  ...CUSTOM_TAGS.flatMap((t) => typeof t === "string" ? [] : [t.tag]),
]);

/**
 * Parses PyYAML output. Values under a tag this reader cannot decode are
 * left out, each named in `warnings`.
 *
 * @throws {Error} The YAML does not parse (the caller names the file).
 */
export function parsePythonYaml(
  text: string,
): { value: unknown; warnings: string[] } {
  const warnings: string[] = [];
  // Deep nesting refused as parseYaml refuses it (a clear SyntaxError, never
  // the parser's stack overflow).
  const value = parseYaml(text, (text) => {
    // deno-lint-ignore no-explicit-any
    const doc = parseDocument(text, { customTags: CUSTOM_TAGS as any });
    if (doc.errors.length) throw doc.errors[0];
    removePythonObjects(doc, warnings);
    return doc.toJS();
  });
  return { value, warnings };
}

function removePythonObjects(
  doc: ReturnType<typeof parseDocument>,
  warnings: string[],
): void {
  visit(doc, {
    Pair(_, pair, path) {
      const tag = (pair.value as { tag?: string } | null)?.tag;
      if (tag === undefined || !tag.startsWith(T) || KNOWN.has(tag)) return;
      const keys = [...path, pair].filter(isPair).map((p) =>
        String((p.key as { value?: unknown })?.value ?? p.key)
      );
      warnings.push(
        `"${keys.join(".")}" holds a Python object (!!${
          tag.slice(T.length)
        }) that cannot be read without running Python: left out`,
      );
      return visit.REMOVE;
    },
  });
}
