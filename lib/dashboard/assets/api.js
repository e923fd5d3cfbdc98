// Talking to the server: JSON fetch with typed errors, curve URLs.

export class ApiError extends Error {
  constructor(message, kind, status) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

export async function api(path, init) {
  const res = await fetch(path, init);
  const type = res.headers.get("content-type") ?? "";
  const body = type.includes("json") ? await res.json() : await res.text();
  if (!res.ok) {
    throw new ApiError(
      body?.error ?? String(body),
      body?.kind ?? "http",
      res.status,
    );
  }
  return body;
}
export function curveUrl({ ids, columns, table, range, width }) {
  const p = new URLSearchParams({
    ids: ids.join(","),
    columns: columns.join(","),
    table,
    width: String(Math.round(width)),
  });
  if (range) {
    p.set("x0", String(range[0]));
    p.set("x1", String(range[1]));
  }
  return `/api/curves?${p}`;
}
