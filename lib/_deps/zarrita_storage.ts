/**
 * The npm package behind `zarrita_storage`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export { default as FileSystemStore } from "npm:@zarrita/storage@0.2.0/fs";
