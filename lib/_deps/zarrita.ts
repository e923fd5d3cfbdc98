/**
 * The npm package behind `zarrita`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export * as zarr from "npm:zarrita@0.7.5";
