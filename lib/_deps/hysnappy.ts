/**
 * The npm package behind `hysnappy`, by its full `npm:` specifier (the version
 * pinned in deno.json), so that lib/ works imported by path or URL from any
 * Deno script with no deno.json. One module per package: a tool loads only
 * the packages it uses.
 *
 * @module
 */
export { snappyUncompressor } from "npm:hysnappy@1.1.1/js/uncompress.js";
