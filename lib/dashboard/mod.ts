/**
 * The dashboard: a local web app over a vault's catalog (catalog, specimen
 * curves, tensors and notes, compare, read-only SQL), served by Deno on a
 * loopback address. `server.ts` is its main file; `_routes.ts` maps
 * requests to the `_api*.ts` handlers, which query the catalog through
 * `_db.ts`; the browser side is `assets/` (native ES modules, no build).
 *
 * @example
 * ```ts
 * import { isLoopbackHost, MAX_BODY_BYTES } from "./mod.ts";
 * console.assert(isLoopbackHost("127.0.0.1"));
 * console.assert(MAX_BODY_BYTES === 1 << 20);
 * ```
 *
 * @module
 */
export {
  createDashboard,
  type Dashboard,
  type DashboardOptions,
  isLoopbackHost,
  MAX_BODY_BYTES,
  type RunningDashboard,
  serveDashboard,
  type ServeDashboardOptions,
} from "./server.ts";
