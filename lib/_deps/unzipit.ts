/**
 * The npm package `unzipit` (pinned, already locked as a dependency of
 * `@zarrita/storage`): reads a zip's central directory (zip64 too) through
 * a reader of byte ranges, so a `.npz` is listed through the one open file
 * without reading it whole. Members are streamed by `formats/tensor_files/npz.ts`
 * itself (unzipit reads a member whole into memory).
 *
 * @module
 */
export { unzipRaw, type ZipEntry } from "npm:unzipit@2.0.0";
