/**
 * Private: decoding a manifest's msgpack so that any map key reads back as
 * an entry. `@msgpack/msgpack` refuses the key `__proto__` (as a plain
 * object's key it would replace the prototype); a specimen that recorded a
 * table of that name before the name was refused would be unreadable, and
 * so could never be repaired. Such maps are decoded into null-prototype
 * objects holding `__proto__` as an ordinary own entry.
 *
 * @module
 */
import { decodeMsgpack, MsgpackDecoder } from "../_deps.ts";

/** Prefixed to `__proto__` (and to keys starting with it) while decoding. */
const ESC = "\u0000";
const utf8 = new TextDecoder();

/** Map keys as strings, with `__proto__` escaped past the decoder's check. */
const escapingKeys = {
  canBeCached: () => true,
  decode(bytes: Uint8Array, offset: number, length: number): string {
    const key = utf8.decode(bytes.subarray(offset, offset + length));
    return key === "__proto__" || key.startsWith(ESC) ? ESC + key : key;
  },
};

/**
 * Decodes `bytes` as msgpack; a map holding the key `__proto__` becomes a
 * null-prototype object with that key as an own entry. The fast path is
 * the library's plain `decode`: only bytes it refuses for that key are
 * decoded a second time.
 */
export function decodeMsgpackKeepingKeys(bytes: Uint8Array): unknown {
  try {
    return decodeMsgpack(bytes);
  } catch (e) {
    if (!/__proto__/.test((e as Error).message)) throw e;
  }
  const value = new MsgpackDecoder({ keyDecoder: escapingKeys }).decode(bytes);
  return unescapeKeys(value);
}

/** Rebuilds every map with an escaped key (without recursion). */
function unescapeKeys(root: unknown): unknown {
  const box: { value: unknown } = { value: root };
  const stack: [
    Record<string | number, unknown> | unknown[],
    string | number,
  ][] = [
    [box as Record<string, unknown>, "value"],
  ];
  while (stack.length > 0) {
    const [parent, at] = stack.pop()!;
    const v = (parent as Record<string | number, unknown>)[at];
    if (v === null || typeof v !== "object" || ArrayBuffer.isView(v)) continue;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) stack.push([v, i]);
      continue;
    }
    let map = v as Record<string, unknown>;
    const keys = Object.keys(map);
    if (keys.some((k) => k.startsWith(ESC))) {
      const clean: Record<string, unknown> = Object.create(null);
      for (const k of keys) {
        clean[k.startsWith(ESC) ? k.slice(1) : k] = map[k];
      }
      map = clean;
      (parent as Record<string | number, unknown>)[at] = clean;
    }
    for (const k of Object.keys(map)) stack.push([map, k]);
  }
  return box.value;
}
