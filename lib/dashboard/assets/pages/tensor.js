// The tensor card of the specimen page: slices drawn as heatmaps.
// Viridis, 9 anchors, interpolated to 256 colors.
import { errorBox, h } from "../dom.js";
import { api } from "../api.js";
import { fmtBytes, fmtNum } from "../format.js";

const VIRIDIS = [
  [68, 1, 84],
  [71, 44, 122],
  [59, 81, 139],
  [44, 113, 142],
  [33, 144, 141],
  [39, 173, 129],
  [92, 200, 99],
  [170, 220, 50],
  [253, 231, 37],
];
const LUT = (() => {
  const lut = new Uint8ClampedArray(256 * 3);
  for (let i = 0; i < 256; i++) {
    const t = (i / 255) * (VIRIDIS.length - 1);
    const a = Math.floor(t), b = Math.min(a + 1, VIRIDIS.length - 1), f = t - a;
    for (let k = 0; k < 3; k++) {
      lut[i * 3 + k] = VIRIDIS[a][k] * (1 - f) + VIRIDIS[b][k] * f;
    }
  }
  return lut;
})();

export function tensorCard(id, tensors) {
  const panel = h("div", { "data-testid": "tensor-panel" });
  const show = async (t) => {
    const shape = t.shape ?? [];
    const inputs = shape.map((n, axis) =>
      h("input", {
        type: "text",
        "data-axis": String(axis),
        title: `axis ${axis}: an index, or start:stop (0–${n})`,
      })
    );
    const status = h("span", { class: "muted" });
    const canvas = h("canvas", { class: "heatmap", "data-testid": "heatmap" });
    const bar = h("canvas", { class: "colorbar", width: 256, height: 1 });
    const barCtx = bar.getContext("2d");
    const barImg = barCtx.createImageData(256, 1);
    for (let i = 0; i < 256; i++) {
      barImg.data.set([LUT[i * 3], LUT[i * 3 + 1], LUT[i * 3 + 2], 255], i * 4);
    }
    barCtx.putImageData(barImg, 0, 0);
    const legend = h("div", { class: "muted" });
    const hover = h(
      "div",
      { class: "muted", "data-testid": "heatmap-hover" },
      " ",
    );
    const load = async (sel) => {
      status.textContent = "reading…";
      const p = new URLSearchParams();
      if (sel !== undefined) p.set("sel", sel);
      let r;
      try {
        r = await api(
          `/api/specimens/${encodeURIComponent(id)}/tensors/${
            encodeURIComponent(t.name)
          }?${p}`,
        );
      } catch (e) {
        status.replaceChildren(errorBox(e));
        return;
      }
      const parts = r.sel === "" ? [] : r.sel.split(",");
      parts.forEach((v, i) => (inputs[i].value = v));
      const bytes = Uint8Array.from(atob(r.data), (c) => c.charCodeAt(0));
      const vals = new Float32Array(bytes.buffer);
      const [rows, cols] = r.shape;
      canvas.width = cols;
      canvas.height = rows;
      const scale = Math.max(1, Math.min(8, 900 / cols, 480 / rows));
      canvas.style.width = `${cols * scale}px`;
      canvas.style.height = `${rows * scale}px`;
      const ctx = canvas.getContext("2d");
      const img = ctx.createImageData(cols, rows);
      const lo = r.min ?? 0, span = (r.max ?? 1) - lo || 1;
      for (let i = 0; i < vals.length; i++) {
        const v = vals[i];
        const o = i * 4;
        if (!isFinite(v)) {
          img.data.set([255, 0, 255, 255], o);
          continue;
        }
        const k =
          Math.max(0, Math.min(255, Math.round(((v - lo) / span) * 255))) * 3;
        img.data[o] = LUT[k];
        img.data[o + 1] = LUT[k + 1];
        img.data[o + 2] = LUT[k + 2];
        img.data[o + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
      legend.textContent = `${rows}×${cols} of [${shape.join(", ")}] · min ${
        fmtNum(r.min)
      } · mean ${fmtNum(r.mean)} · max ${fmtNum(r.max)}`;
      status.textContent = "";
      const ranges = parts.map((p, i) => [i, p]).filter(([, p]) =>
        p.includes(":")
      );
      const starts = ranges.map(([, p]) => Number(p.split(":")[0]));
      canvas.onmousemove = (e) => {
        const rect = canvas.getBoundingClientRect();
        const c = Math.floor(((e.clientX - rect.left) / rect.width) * cols);
        const rr = Math.floor(((e.clientY - rect.top) / rect.height) * rows);
        if (c < 0 || c >= cols || rr < 0 || rr >= rows) return;
        const at = ranges.length === 2
          ? `[${rr + starts[0]}, ${c + starts[1]}]`
          : `[${c + (starts[0] ?? 0)}]`;
        hover.textContent = `${at} = ${fmtNum(vals[rr * cols + c])}`;
      };
    };
    const apply = () => load(inputs.map((i) => i.value.trim()).join(","));
    panel.replaceChildren(
      h("h2", {}, `Heatmap: ${t.name}`),
      h(
        "div",
        { class: "toolbar axis-inputs" },
        inputs.map((inp, axis) =>
          h("label", {}, `axis ${axis} (${shape[axis]})`, inp)
        ),
        h("button", { class: "primary", onclick: apply }, "Show slice"),
        status,
      ),
      h(
        "p",
        { class: "muted" },
        "Each axis takes an index or a range start:stop; two ranges make the heatmap (up to 512×512 values, read lazily: only the chunks the slice touches).",
      ),
      h(
        "div",
        { class: "heatmap-wrap" },
        canvas,
        h(
          "div",
          {},
          legend,
          h("div", {}, bar),
          h("div", { class: "muted" }, "low → high"),
          hover,
        ),
      ),
    );
    for (const inp of inputs) {
      inp.addEventListener("keydown", (e) => e.key === "Enter" && apply());
    }
    await load(undefined);
  };
  const table = h(
    "table",
    { class: "grid" },
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["name", "shape", "dtype", "chunks", "codecs", "bytes", ""].map((c) =>
          h("th", { class: c === "bytes" ? "num" : "" }, c)
        ),
      ),
    ),
    h(
      "tbody",
      {},
      tensors.map((t) =>
        h(
          "tr",
          {},
          h("td", {}, t.name),
          h("td", {}, `[${(t.shape ?? []).join(", ")}]`),
          h("td", {}, t.dtype ?? ""),
          h("td", {}, `[${(t.chunks ?? []).join(", ")}]`),
          h("td", {}, (t.codecs ?? []).join(" + ")),
          h("td", { class: "num" }, fmtBytes(t.bytes)),
          h("td", {}, h("button", { onclick: () => show(t) }, "Preview")),
        )
      ),
    ),
  );
  const card = h(
    "div",
    { class: "card" },
    h("h2", {}, "Tensors"),
    table,
    panel,
  );
  show(tensors[0]);
  return card;
}
