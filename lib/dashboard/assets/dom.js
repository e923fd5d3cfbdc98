// DOM helpers: building elements, the page's main slot, error boxes, tags.

export const main = document.getElementById("main");
// ---------------------------------------------------------------------------
// Small helpers

/** Creates an element: attributes (on* as listeners) and children (text or nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else if (k === "class") el.className = v;
    else if (k === "style") el.setAttribute("style", v);
    else if (k in el && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Tags shown per specimen at most; the rest are counted ("and N more"). */
export const MAX_TAGS = 50;

/**
 * The first MAX_TAGS tags of a row, each rendered by `render`, then "and N
 * more" when the row has more (`tag_count` from the server, which sends
 * only the first ones).
 */
export function tagList(row, render) {
  const tags = (row.tags ?? []).slice(0, MAX_TAGS);
  const total = Math.max(Number(row.tag_count ?? 0), row.tags?.length ?? 0);
  const out = tags.map(render);
  if (total > tags.length) {
    out.push(
      h("span", { class: "muted" }, ` and ${total - tags.length} more`),
    );
  }
  return out;
}
export function errorBox(e) {
  return h("div", { class: "error", role: "alert" }, e.message ?? String(e));
}
export function debounce(fn, ms) {
  let t;
  return (...a) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...a), ms);
  };
}
