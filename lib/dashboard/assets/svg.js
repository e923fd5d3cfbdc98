// Plain SVG charts' helpers: elements, scales and ticks. Every value from
// the vault goes in as text or a number attribute, never as markup.

const NS = "http://www.w3.org/2000/svg";

/** Creates an SVG element: attributes and children (text or nodes). */
export function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") {
      el.addEventListener(k.slice(2), v);
    } else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Whether a log scale suits `values`: all positive, spanning 100× or more. */
export function suitsLog(values) {
  const lo = Math.min(...values), hi = Math.max(...values);
  return values.length > 1 && lo > 0 && hi / lo >= 100;
}

/**
 * A scale from the extent of `values` onto [a, b] (log10 when `log`);
 * `ticks` are a few round values inside the domain.
 */
export function scale(values, a, b, log = false) {
  const f = log ? Math.log10 : (v) => v;
  let lo = Math.min(...values.map(f)), hi = Math.max(...values.map(f));
  if (!(hi > lo)) {
    const pad = lo === 0 || log ? 1 : Math.abs(lo) * 0.1;
    lo -= pad;
    hi += pad;
  } else {
    const pad = (hi - lo) * 0.05;
    lo -= pad;
    hi += pad;
  }
  const map = (v) => a + (f(v) - lo) / (hi - lo) * (b - a);
  map.ticks = () => log ? decadeTicks(lo, hi) : linearTicks(lo, hi, 5);
  return map;
}

function linearTicks(lo, hi, count) {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi; t += step) {
    out.push(Math.abs(t) < step * 1e-9 ? 0 : Number(t.toPrecision(12)));
  }
  return out;
}

function decadeTicks(lo, hi) {
  const out = [];
  for (let e = Math.ceil(lo); e <= Math.floor(hi); e++) out.push(10 ** e);
  if (out.length < 2) {
    return linearTicks(10 ** lo, 10 ** hi, 4).filter((t) => t > 0);
  }
  return out;
}

/** A colour from blue (t = 0) to red (t = 1). */
export function ramp(t) {
  const u = Math.max(0, Math.min(1, t));
  const c = (a, b) => Math.round(a + (b - a) * u);
  return `rgb(${c(31, 214)},${c(119, 39)},${c(180, 40)})`;
}
