// Following the catalog: the header's status line polls /api/info, says
// when the catalog was last updated (the server re-indexes by itself, see
// `deno task serve --help`), and tells the page shown when a new catalog
// appears, so that it can refresh what it draws.
import { api } from "./api.js";
import { fmtDate, nf } from "./format.js";

const POLL_MS = 2000;
let handler = null;
let known = null; // built_at of the catalog the page was drawn from
let timer;

/** Sets what the current page does when the catalog changes (one at a time). */
export function onCatalogChange(fn) {
  handler = fn;
}

/** Forgets the page's handler (the router calls this on every navigation). */
export function clearCatalogChange() {
  handler = null;
}

function clock(iso) {
  const d = new Date(iso);
  return isNaN(d) ? "" : d.toLocaleTimeString("en-GB", { hour12: false });
}

function statusText(i) {
  if (!i.catalog.present) {
    return i.auto_index?.indexing
      ? `building the catalog… · ${i.vault}`
      : `no catalog yet · ${i.vault}`;
  }
  const n = i.catalog.specimens;
  const when = i.auto_index
    ? `catalog updated ${clock(i.catalog.built_at)}`
    : `catalog built ${fmtDate(i.catalog.built_at)}`;
  return `${nf.format(n)} specimen${n === 1 ? "" : "s"} · ${when} · ${i.vault}`;
}

/** Polls the server's state into `el`; calls the page's handler on a new catalog. */
export async function refreshStatus(el) {
  clearTimeout(timer);
  try {
    const i = await api("/api/info");
    el.textContent = statusText(i);
    const warnings = i.auto_index?.warnings ?? [];
    el.title = i.auto_index?.error
      ? `The last automatic index failed: ${i.auto_index.error}`
      : warnings.length
      ? `The last index skipped or warned about:\n${warnings.join("\n")}`
      : i.auto_index
      ? "The server re-indexes the vault when the change journal says something changed"
      : "Run deno task index to update the catalog";
    el.classList.toggle("warn", Boolean(i.auto_index?.error));
    el.dataset.warnings = String(warnings.length);
    const built = i.catalog.present ? i.catalog.built_at : null;
    if (known !== null && built !== known && handler) {
      known = built;
      await handler();
    }
    known = built;
  } catch {
    el.textContent = "server unreachable";
  }
  timer = setTimeout(() => refreshStatus(el), POLL_MS);
}
