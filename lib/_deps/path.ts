/**
 * Path functions from `node:path` (JSR's `@std/path` is unreachable), in a
 * module of their own: a task whose fast path needs only paths (an index
 * with nothing to do) starts without loading the rest of `lib/_deps.ts`
 * (about 90 ms of `node:` modules and npm packages).
 *
 * @module
 */
import path from "node:path";

export const {
  basename,
  dirname,
  extname,
  isAbsolute,
  join,
  relative,
  resolve,
} = path;
/** The path separator (`/` here). */
export const SEPARATOR: string = path.sep;
