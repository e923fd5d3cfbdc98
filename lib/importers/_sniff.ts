/**
 * Private: telling a file's kind from its first bytes, for `import auto`:
 * whether it is an Optuna study, and otherwise what it is, so a refusal can
 * say "a PyTorch checkpoint" rather than "cannot tell".
 *
 * @module
 */
import { DatabaseSync } from "./_deps.ts";

const HEAD = 4096;

async function head(path: string): Promise<Uint8Array> {
  using f = await Deno.open(path);
  const buf = new Uint8Array(HEAD);
  let n = 0;
  while (n < HEAD) {
    const r = await f.read(buf.subarray(n));
    if (r === null) break;
    n += r;
  }
  return buf.subarray(0, n);
}

function startsWith(b: Uint8Array, text: string): boolean {
  if (b.length < text.length) return false;
  for (let i = 0; i < text.length; i++) {
    if (b[i] !== text.charCodeAt(i)) return false;
  }
  return true;
}

function sqliteTables(path: string): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    return db.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
    ).all().map((r) => String(r.name));
  } finally {
    db.close();
  }
}

/**
 * Whether `path` is an Optuna storage file: an SQLite database with
 * Optuna's `studies` and `trials` tables, or a journal whose first line is
 * an operation (`{"op_code": …}`).
 */
export async function isOptunaFile(path: string): Promise<boolean> {
  const b = await head(path);
  if (startsWith(b, "SQLite format 3\u0000")) {
    try {
      const t = sqliteTables(path);
      return t.includes("studies") && t.includes("trials");
    } catch {
      return false;
    }
  }
  const first = new TextDecoder().decode(b).split("\n")[0];
  return /^\{"op_code":\s*\d+,/.test(first);
}

/** What the file at `path` looks like, as a phrase ("an SQLite database …"). */
export async function describeFile(path: string): Promise<string> {
  const b = await head(path);
  if (b.length === 0) return "it is empty";
  if (startsWith(b, "SQLite format 3\u0000")) {
    let tables = "";
    try {
      tables = sqliteTables(path).slice(0, 8).join(", ");
    } catch { /* unreadable: say so below */ }
    return `it is an SQLite database (tables: ${
      tables || "none readable"
    }) but not an Optuna study (no studies and trials tables)`;
  }
  if (startsWith(b, "PK\u0003\u0004")) {
    const names = new TextDecoder("latin1").decode(b);
    if (/data\.pkl|\/data\//.test(names)) {
      return "it is a PyTorch checkpoint (a zip of pickles: .pt/.pth), which is code to unpickle, not a log; keep it as a file with storage.placeArtifact";
    }
    if (/\.npy/.test(names)) {
      return "it is a NumPy .npz archive (arrays, not a run log); adopt it as a run output instead";
    }
    return "it is a zip archive; unpack it and import the run folder inside";
  }
  if (b[0] === 0x80 && b.length > 1 && b[1] >= 2 && b[1] <= 5) {
    return "it is a Python pickle, which cannot be read without running code";
  }
  if (startsWith(b, "\u0093NUMPY")) {
    return "it is a NumPy .npy array, not a run log; adopt it as a run output instead";
  }
  if (startsWith(b, "\u0089HDF")) {
    return "it is an HDF5 file (e.g. a Keras .h5 model), not a run log";
  }
  if (startsWith(b, "PAR1")) {
    return "it is a Parquet file; adopt it as a run output, or query it with DuckDB";
  }
  if (startsWith(b, ":W&B")) return "it is a W&B run file; import it as wandb";
  if (b[0] === 0x1f && b[1] === 0x8b) {
    return "it is gzip-compressed; decompress it and import what is inside";
  }
  if (b.length >= 9) {
    const n = new DataView(b.buffer, b.byteOffset, 8).getBigUint64(0, true);
    if (n > 1n && n < 100_000_000n && b[8] === 0x7b) {
      return "it is a safetensors file (tensors, not a run log); adopt it as a run output instead";
    }
  }
  const text = new TextDecoder("utf-8", { fatal: false }).decode(b);
  if (/^\s*[[{]/.test(text)) {
    return "it is JSON but not a JSON Lines table with a step column nor an Optuna journal (rename it .jsonl to import it as a table)";
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u0008\u000e-\u001f]/.test(text)) {
    return "it is a binary file of a kind this importer does not know";
  }
  return "it is a text file of a kind this importer does not know (a table must end in .csv or .jsonl)";
}
