// The compare page's params table: every param key of the chosen specimens,
// one column per specimen; keys whose values differ are highlighted, and
// "diff only" (kept in the URL as diff=1) hides the keys equal everywhere.
import { errorBox, h } from "../dom.js";
import { api } from "../api.js";
import { parseHash, setHash } from "../nav.js";

function valueText(v, absent) {
  if (absent) return "—";
  if (v === null) return "null";
  return typeof v === "object" ? JSON.stringify(v) : String(v);
}

function paramsGrid(data, diffOnly) {
  return h(
    "table",
    {
      class: "grid params-table" + (diffOnly ? " diff-only" : ""),
      "data-testid": "params-table",
    },
    h(
      "thead",
      {},
      h("tr", {}, h("th", {}, "param"), data.ids.map((id) => h("th", {}, id))),
    ),
    h(
      "tbody",
      {},
      data.rows.map((r) =>
        h(
          "tr",
          {
            "data-key": r.key,
            class: r.differs ? "differs" : "same",
            title: r.differs ? "differs between these specimens" : null,
          },
          h("td", {}, r.key),
          r.values.map((v, i) =>
            h(
              "td",
              { class: r.absent[i] ? "muted" : "" },
              valueText(v, r.absent[i]),
            )
          ),
        )
      ),
    ),
  );
}

/** Keeps diff=1 in the URL without drawing the page again. */
function rememberDiffOnly(on) {
  const { path, params } = parseHash();
  if (on) params.set("diff", "1");
  else params.delete("diff");
  setHash(path, params, true);
}

function diffToggle(table, data, on) {
  const differing = data.rows.filter((r) => r.differs).length;
  return h(
    "label",
    {},
    h("input", {
      type: "checkbox",
      checked: on,
      "data-testid": "diff-only",
      onchange: (e) => {
        table.classList.toggle("diff-only", e.target.checked);
        rememberDiffOnly(e.target.checked);
      },
    }),
    ` diff only (${differing} of ${data.rows.length} keys differ)`,
  );
}

/** A card with the params of `ids` side by side; fills in when loaded. */
export function paramsCard(ids, params) {
  const card = h("div", { class: "card" }, h("h2", {}, "Params"));
  api(`/api/params?${new URLSearchParams({ ids: ids.join(",") })}`).then(
    (data) => {
      if (!data.rows.length) {
        card.append(
          h("p", { class: "muted" }, "These specimens record no params."),
        );
        return;
      }
      const on = params.get("diff") === "1";
      const table = paramsGrid(data, on);
      card.append(h("div", { class: "toolbar" }, diffToggle(table, data, on)));
      card.append(h("div", { class: "result-wrap" }, table));
    },
    (e) => card.append(errorBox(e)),
  );
  return card;
}
