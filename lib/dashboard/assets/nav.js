// Navigation state: the hash route, the compare selection, re-rendering.
import { errorBox, h } from "./dom.js";

let render = () => {};
/** Sets the function that draws the page of the current hash (the router in app.js). */
export function setRouter(fn) {
  render = fn;
}
/** Draws the page of the current hash again. */
export function route() {
  return render();
}

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query = ""] = raw.split("?");
  return { path, params: new URLSearchParams(query) };
}
export function setHash(path, params, replace = false) {
  const q = params && [...params].length ? `?${params}` : "";
  const url = `#${path}${q}`;
  if (replace) history.replaceState(null, "", url);
  else location.hash = url;
}
// Specimens picked for comparison, kept across pages of this tab.
export const picked = new Set(
  JSON.parse(sessionStorage.getItem("sv.picked") ?? "[]"),
);
export function savePicked() {
  sessionStorage.setItem("sv.picked", JSON.stringify([...picked]));
}
export function noCatalogOr(e) {
  if (e.kind === "no_catalog") {
    return h(
      "div",
      { class: "banner" },
      "No catalog yet. Run ",
      h("code", {}, "deno task index"),
      " in the vault; this page picks it up without a restart. ",
      h("button", { onclick: () => route() }, "Retry"),
    );
  }
  return errorBox(e);
}
