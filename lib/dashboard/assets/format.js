// Formatting values for display.

export const nf = new Intl.NumberFormat("en-US");
export function fmtNum(v) {
  if (v === null || v === undefined) return "";
  if (typeof v !== "number") return String(v);
  if (Number.isInteger(v)) return nf.format(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e6)
    ? v.toExponential(4)
    : v.toPrecision(6).replace(/\.?0+$/, "");
}
const compact = new Intl.NumberFormat("en-US", {
  notation: "compact",
  maximumSignificantDigits: 4,
});
/** An axis tick: large numbers compact (4.2M), the rest as fmtNum. */
export function fmtTick(v) {
  return typeof v === "number" && Math.abs(v) >= 1e5
    ? compact.format(v)
    : fmtNum(v);
}
export function fmtDate(v) {
  if (!v) return "";
  const d = new Date(v);
  return isNaN(d)
    ? String(v)
    : d.toISOString().replace("T", " ").slice(0, 16) + "Z";
}
export function fmtBytes(n) {
  if (n === null || n === undefined) return "";
  const u = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) {
    n /= 1024;
    i++;
  }
  return `${i ? n.toFixed(1) : n} ${u[i]}`;
}
export function cellText(v) {
  if (v === null || v === undefined) return "NULL";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}
