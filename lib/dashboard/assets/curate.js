// Curating from the dashboard (lib/curate): labels and the star on the
// specimen page, bulk labels and discard for the catalog's selection, and
// the catalog's label and star filters. Hooked in by app.js after a page is
// drawn; each action POSTs JSON to /api/curate/… and the server re-indexes.
// Discarding always asks first, in a dialog: never a one-click delete.
import { errorBox, h, main } from "./dom.js";
import { api } from "./api.js";
import { fmtDate, nf } from "./format.js";
import { parseHash, picked, route, savePicked, setHash } from "./nav.js";

function post(path, body) {
  return api(path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
}

/** Shows `text` (or an error) in the curating status line `el`. */
function say(el, text, error = false) {
  el.replaceChildren(error ? errorBox({ message: text }) : text);
}

/**
 * Asks, in a modal dialog, whether to discard `ids` and why; resolves to
 * the reason (possibly "") when confirmed, null when cancelled.
 */
function confirmDiscard(ids) {
  return new Promise((resolve) => {
    const reason = h("input", {
      type: "text",
      "data-testid": "curate-reason",
      placeholder: "why (kept with it; optional)",
      size: 40,
    });
    const dialog = h(
      "dialog",
      { "data-testid": "curate-dialog" },
      h(
        "p",
        {},
        `Discard ${ids.length === 1 ? ids[0] : `${ids.length} specimens`}?`,
      ),
      h(
        "p",
        { class: "muted" },
        "The folder moves to the vault's trash/ and leaves the catalog; `deno task trash restore` brings it back, `deno task trash empty` deletes it for good.",
      ),
      ids.length > 1 ? h("p", { class: "muted" }, ids.join(", ")) : null,
      reason,
      h(
        "div",
        { class: "toolbar" },
        h("button", {
          class: "primary",
          "data-testid": "curate-confirm",
          onclick: () => finish(reason.value),
        }, "Discard"),
        h("button", {
          "data-testid": "curate-cancel",
          onclick: () => finish(null),
        }, "Cancel"),
      ),
    );
    const finish = (value) => {
      dialog.close();
      dialog.remove();
      resolve(value);
    };
    dialog.addEventListener("cancel", () => finish(null));
    document.body.append(dialog);
    dialog.showModal();
    reason.focus();
  });
}

async function discard(ids, status) {
  const reason = await confirmDiscard(ids);
  if (reason === null) return false;
  try {
    const r = await post("/api/curate/discard", { ids, reason, confirm: true });
    for (const id of r.discarded) picked.delete(id);
    savePicked();
    const refused = r.refused.map((x) => x.error).join("; ");
    if (refused) say(status, refused, true);
    else say(status, `Discarded ${r.discarded.join(", ")}.`);
    return r.discarded.length > 0 && !refused;
  } catch (e) {
    say(status, e.message, true);
    return false;
  }
}

/** The labels card of the specimen page (after its run card, or its header). */
export async function curateSpecimen(id) {
  const header = main.firstElementChild;
  if (!header?.querySelector('[data-testid="specimen-id"]')) return;
  const status = h("div", { "data-testid": "curate-status", role: "status" });
  const chips = h("span", { "data-testid": "curate-labels" });
  const star = h("button", { "data-testid": "curate-star" });
  const input = h("input", {
    type: "text",
    "data-testid": "curate-label-input",
    placeholder: "label",
    size: 14,
  });
  let current = { labels: [], starred: false };
  const change = async (body) => {
    try {
      await post("/api/curate/labels", { ids: [id], ...body });
      await load();
      say(status, "");
    } catch (e) {
      say(status, e.message, true);
    }
  };
  const draw = () => {
    chips.replaceChildren(
      ...current.labels.map((l) =>
        h(
          "span",
          {
            class: "tag",
            "data-label": l.name,
            title: `set ${fmtDate(l.set_at)}`,
          },
          l.name,
          " ",
          h("button", {
            "aria-label": `remove label ${l.name}`,
            onclick: () => change({ remove: [l.name] }),
          }, "×"),
        )
      ),
    );
    if (!current.labels.length) {
      chips.append(h("span", { class: "muted" }, "no labels"));
    }
    star.textContent = current.starred ? "★ Starred" : "☆ Star";
    star.setAttribute("aria-pressed", String(current.starred));
  };
  const load = async () => {
    current = await api(`/api/curate/specimens/${encodeURIComponent(id)}`);
    draw();
  };
  star.addEventListener("click", () => change({ star: !current.starred }));
  const add = () => {
    const name = input.value.trim();
    if (!name) return;
    input.value = "";
    change({ add: [name] });
  };
  input.addEventListener("keydown", (e) => {
    if (e.key === "Enter") add();
  });
  const card = h(
    "div",
    { class: "card", "data-testid": "curate-card" },
    h(
      "div",
      { class: "toolbar" },
      h("strong", {}, "Labels"),
      chips,
      input,
      h("button", { "data-testid": "curate-add", onclick: add }, "Add label"),
      star,
      h("button", {
        "data-testid": "curate-discard",
        onclick: async () => {
          if (await discard([id], status)) setHash("/", new URLSearchParams());
        },
      }, "Discard…"),
    ),
    status,
  );
  // After the run's outcome (params first, issue 27), else after the header.
  (main.querySelector('[data-testid="outcome"]') ?? header).after(card);
  try {
    await load();
  } catch (e) {
    say(status, e.message, true);
  }
}

/**
 * Adds each listed specimen's labels and star (from the catalog) beside its
 * id link in the catalog table.
 */
async function showRowLabels(card) {
  const rows = [...card.querySelectorAll("tr[data-id]")];
  if (!rows.length) return;
  const ids = rows.map((r) => r.dataset.id);
  let got;
  try {
    got = await api(
      `/api/curate/labels?ids=${encodeURIComponent(ids.join(","))}`,
    );
  } catch {
    return; // labels are an extra: the table stands without them
  }
  for (const row of rows) {
    const s = got.specimens[row.dataset.id];
    const link = row.querySelector('a[href^="#/s/"]');
    if (!s || !link || (!s.labels.length && !s.starred)) continue;
    link.after(
      h(
        "span",
        { class: "curate-row", "data-testid": "row-labels" },
        s.starred ? h("span", { title: "starred" }, " ★") : null,
        s.labels.map((l) => h("span", { class: "tag", "data-label": l }, l)),
      ),
    );
  }
}

/** The curating bar of the catalog page: filters and bulk actions. */
export async function curateCatalog() {
  const card = main.querySelector(".card");
  const filters = card?.querySelector(".filters");
  if (!filters) return;
  const { params } = parseHash();
  const status = h("div", { "data-testid": "curate-status", role: "status" });
  let facets = { labels: [], starred: 0 };
  try {
    facets = await api("/api/curate/labels");
  } catch { /* no catalog yet: the page says so */ }
  const go = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, v);
      else next.delete(k);
    }
    next.delete("offset");
    setHash("/", next);
  };
  const filter = h(
    "select",
    {
      "data-testid": "label-filter",
      "aria-label": "label",
      onchange: (e) => go({ label: e.target.value }),
    },
    h("option", { value: "" }, "any label"),
    facets.labels.map(([v, n]) =>
      h(
        "option",
        { value: v, selected: params.get("label") === v },
        `${v} (${nf.format(n)})`,
      )
    ),
  );
  const starred = h(
    "label",
    {},
    h("input", {
      type: "checkbox",
      "data-testid": "starred-filter",
      checked: params.get("starred") === "1",
      onchange: (e) => go({ starred: e.target.checked ? "1" : "" }),
    }),
    ` starred (${nf.format(facets.starred)})`,
  );
  const input = h("input", {
    type: "text",
    "data-testid": "bulk-label-input",
    placeholder: "label",
    size: 12,
  });
  const count = h("span", { class: "muted", "data-testid": "bulk-count" });
  const buttons = [];
  const button = (testid, text, act) => {
    const b = h("button", { "data-testid": testid, onclick: act }, text);
    buttons.push(b);
    return b;
  };
  const refresh = () => {
    count.textContent = `${picked.size} selected:`;
    for (const b of buttons) b.disabled = picked.size === 0;
  };
  const bulk = async (body) => {
    try {
      const r = await post("/api/curate/labels", { ids: [...picked], ...body });
      say(
        status,
        `Changed ${
          r.specimens.filter((s) => s.changed).length
        } of ${r.specimens.length}.`,
      );
      route();
    } catch (e) {
      say(status, e.message, true);
    }
  };
  const label = () => {
    const name = input.value.trim();
    if (!name) say(status, "Type a label first", true);
    return name;
  };
  const bar = h(
    "div",
    { class: "toolbar", "data-testid": "curate-bar" },
    filter,
    starred,
    count,
    input,
    button("bulk-add", "Add label", () => label() && bulk({ add: [label()] })),
    button(
      "bulk-remove",
      "Remove label",
      () => label() && bulk({ remove: [label()] }),
    ),
    button("bulk-star", "Star", () => bulk({ star: true })),
    button("bulk-discard", "Discard…", async () => {
      if (await discard([...picked], status)) route();
    }),
  );
  filters.after(bar, status);
  await showRowLabels(card);
  // The catalog's own pick boxes change the selection: follow them.
  card.addEventListener("change", (e) => {
    if (e.target?.getAttribute?.("aria-label")?.startsWith("pick ")) refresh();
  });
  card.addEventListener("click", () => setTimeout(refresh, 0));
  refresh();
}
