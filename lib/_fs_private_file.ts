/**
 * Reading a small private file that another process announces itself in
 * (`vault.duckdb.server`), with Deno APIs only: the safe opens of
 * `_fs_safe_open.ts` load `node:fs`, which costs a fresh `deno task query`
 * about 100 ms, more than the whole warm query.
 *
 * The file is trusted only as what it claims to be: a regular file (no
 * link, FIFO or device; checked by `lstat` before it is opened, and the
 * opened handle must be that very file), owned by this user, readable and
 * writable by nobody else (its token is a secret), and small.
 *
 * @module
 */
import { after } from "./_after.ts";
import { kindOf } from "./_fs_safe_open.ts";

/** Why {@linkcode readPrivateFile} refused a file (a sentence). */
export class PrivateFileRefused extends Error {
  /** The class's name. */
  override name = "PrivateFileRefused";
}

/**
 * How long opening the file may take: a regular file opens at once; a file
 * swapped for a FIFO between the lstat and the open would block it forever.
 */
const OPEN_TIMEOUT_MS = 1000;

/**
 * The text of `path`, or undefined when there is no such file; throws
 * {@linkcode PrivateFileRefused} (naming what is wrong) for a file that is
 * not regular, not this user's, open to group or others, larger than
 * `maxBytes`, or that changed while opened.
 *
 * Needs `--allow-read` of `path`.
 *
 * @example
 * ```ts
 * import { readPrivateFile } from "./_fs_private_file.ts";
 * const path = await Deno.makeTempFile();
 * await Deno.writeTextFile(path, "secret", { mode: 0o600 });
 * await Deno.chmod(path, 0o600);
 * console.assert(await readPrivateFile(path, { maxBytes: 100 }) === "secret");
 * await Deno.remove(path);
 * ```
 */
export async function readPrivateFile(
  path: string,
  { maxBytes }: { maxBytes: number },
): Promise<string | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new PrivateFileRefused(`it cannot be read (${(e as Error).message})`);
  }
  checkInfo(info, maxBytes);
  let file: Deno.FsFile;
  let cancel = () => {};
  const opening = Deno.open(path, { read: true });
  try {
    file = await Promise.race([
      opening,
      new Promise<never>((_, reject) => {
        cancel = after(OPEN_TIMEOUT_MS, () =>
          reject(
            new PrivateFileRefused(
              `opening it took over ${OPEN_TIMEOUT_MS} ms (it changed into a FIFO?)`,
            ),
          ));
      }),
    ]);
  } catch (e) {
    opening.then((f) => f.close(), () => {});
    if (e instanceof PrivateFileRefused) throw e;
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw new PrivateFileRefused(`it cannot be read (${(e as Error).message})`);
  } finally {
    cancel();
  }
  try {
    const opened = await file.stat();
    checkInfo(opened, maxBytes);
    if (
      opened.ino !== null && info.ino !== null &&
      (opened.ino !== info.ino || opened.dev !== info.dev)
    ) throw new PrivateFileRefused("it was replaced while being opened");
    const buf = new Uint8Array(maxBytes + 1);
    let n = 0;
    for (;;) {
      const got = await file.read(buf.subarray(n));
      if (got === null) break;
      n += got;
      if (n > maxBytes) {
        throw new PrivateFileRefused(`it holds more than ${maxBytes} bytes`);
      }
    }
    return new TextDecoder().decode(buf.subarray(0, n));
  } finally {
    file.close();
  }
}

/** This process's uid, where Deno grants asking for it without a prompt. */
function ownUid(): number | null {
  try {
    if (
      Deno.permissions.querySync({ name: "sys", kind: "uid" }).state !==
        "granted"
    ) {
      return null;
    }
    return Deno.uid();
  } catch {
    return null;
  }
}

function checkInfo(info: Deno.FileInfo, maxBytes: number) {
  if (!info.isFile) {
    throw new PrivateFileRefused(`it is ${kindOf(info)}, not a regular file`);
  }
  const uid = ownUid();
  if (info.uid !== null && uid !== null && info.uid !== uid) {
    throw new PrivateFileRefused(
      `it belongs to another user (uid ${info.uid}, not ${uid})`,
    );
  }
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    throw new PrivateFileRefused(
      `group or others may read or write it (mode ${
        (info.mode & 0o777).toString(8).padStart(4, "0")
      }, not 0600)`,
    );
  }
  if (info.size > maxBytes) {
    throw new PrivateFileRefused(
      `it holds ${info.size} bytes, more than ${maxBytes}`,
    );
  }
}
