/**
 * `deno task serve`: the dashboard, a local web app over the vault's catalog.
 * See {@linkcode HELP}.
 *
 * @module
 */
import { parseTaskArgs, runMain, taskVault } from "../lib/cli/cli.ts";
import { isLoopbackHost, serveDashboard } from "../lib/dashboard/server.ts";
import { InvalidInputError } from "../lib/errors.ts";

/** The task's help text. */
export const HELP =
  `Serve the dashboard: browse the catalog, open a specimen (curves, tensors,
field notes, manifest), compare runs, and run read-only SQL, in the browser.
Works offline: everything it needs is served from this process.

Usage:
  deno task serve [--port 8765] [--host 127.0.0.1] [--vault DIR]
                  [--timeout SECONDS] [--no-auto-index]

Options:
  --port N          Port to listen on (default 8765; 0 picks a free one)
  --host ADDR       Address to listen on (default 127.0.0.1, this machine
                    only). Any other address lets the network read the
                    vault: the task's permissions allow loopback only, so run
                    deno run --allow-read --allow-net=ADDR --allow-ffi
                    --allow-env --allow-sys tasks/serve.ts --host ADDR
  --vault DIR       The vault root (default: $SPECIMEN_VAULT, else the nearest
                    folder at or above the working directory with a
                    specimens/ folder)
  --timeout SECONDS Time limit of each query (default 10)
  --no-auto-index   Do not keep the catalog up to date (by default the
                    server checks the change journal vault.duckdb.changes
                    every second and indexes what changed, as deno task
                    index would; pages say when the catalog last updated)
  -h, --help        Show this help

The catalog is vault.duckdb: the server builds it if there is none and
brings it up to date after every run, import or edit made through the
library; after changes made by hand inside a specimen folder, run deno task
index --rescan. A specimen that is running shows its curves growing. Every query is
read-only, cannot open files, and stops at the time limit and a row limit.

On a loopback address the server also answers \`deno task query\` for this
vault (its catalog stays open, so a query needs no DuckDB of its own): it
writes vault.duckdb.server beside the catalog (address, port, pid, a random
token the queries must carry; mode 0600) and removes it when it stops.

Exit codes: 0 stopped (Ctrl+C); 2 invalid arguments, the port is taken or
the address not allowed; 4 no vault found.`;

/** Runs the task with `args`; returns the exit code when the server stops. */
export async function main(args: string[]): Promise<number> {
  const { values, help } = parseTaskArgs(args, {
    port: { type: "string", short: "p", default: "8765" },
    host: { type: "string", default: "127.0.0.1" },
    vault: { type: "string" },
    timeout: { type: "string", default: "10" },
    "no-auto-index": { type: "boolean", default: false },
  });
  if (help) {
    console.log(HELP);
    return 0;
  }
  const portText = values.port as string;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535) {
    throw new InvalidInputError(
      `Invalid --port ${
        JSON.stringify(portText)
      }: pass 0 to 65535 (0: any free port)`,
    );
  }
  const timeoutText = values.timeout as string;
  const timeout = Number(timeoutText);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    throw new InvalidInputError(
      `Invalid --timeout ${
        JSON.stringify(timeoutText)
      }: pass a number of seconds > 0, e.g. --timeout 30`,
    );
  }
  const host = values.host as string;
  const paths = await taskVault(values.vault as string | undefined);
  if (!isLoopbackHost(host)) {
    console.error(
      `warning: listening on ${host}, not a loopback address: anyone who can reach this machine can read the vault (its catalog, metrics, tensors and notes). Use --host 127.0.0.1 to keep it local.`,
    );
  }
  const server = await serveDashboard({
    vault: paths.root,
    hostname: host,
    port,
    queryTimeoutMs: Math.round(timeout * 1000),
    queryServer: true,
    autoIndex: !values["no-auto-index"],
  });
  console.log(`Specimen Vault dashboard for ${paths.root}`);
  console.log(`Open ${server.url}  (Ctrl+C to stop)`);
  const stop = () => {
    server.shutdown().catch(() => {});
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    try {
      Deno.addSignalListener(signal, stop);
    } catch { /* not supported here */ }
  }
  await server.finished;
  return 0;
}

if (import.meta.main) await runMain(main);
