/**
 * Metric columns ↔ Parquet bytes, in memory. The same names as
 * `parquet.ts`, which other folders import.
 *
 * @example
 * ```ts
 * import { decodeMetrics, encodeMetrics } from "./mod.ts";
 * const { bytes } = await encodeMetrics({ step: [0, 1, 2], loss: [3, 2, 1.5] });
 * const { columns, rows } = await decodeMetrics(bytes);
 * console.assert(rows === 3 && columns.loss[2] === 1.5);
 * ```
 *
 * @module
 */
export * from "./parquet.ts";
