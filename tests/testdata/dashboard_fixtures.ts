/**
 * Fixtures for the dashboard tests: the example specimen, run for real
 * (its protocol writes metrics and a tensor), and a server on a free port.
 *
 * @module
 */
import { join } from "../../lib/_deps.ts";
import { indexVault } from "../../lib/catalog/index_vault.ts";
import {
  type RunningDashboard,
  serveDashboard,
  type ServeDashboardOptions,
} from "../../lib/dashboard/server.ts";
import { ROOT } from "../utils.ts";

/** The example specimen's id. */
export const EXAMPLE_ID = "example_2024_12_19_synthetic_demo";

/**
 * Copies the example specimen into `<vault>/specimens/` and runs its
 * protocol (as `deno task demo` does): 100 steps of loss/accuracy/entropy
 * and a 100×512 float32 tensor.
 */
export async function addExampleSpecimen(vault: string): Promise<string> {
  const src = join(ROOT, "specimens", EXAMPLE_ID);
  const dir = join(vault, "specimens", EXAMPLE_ID);
  await Deno.mkdir(join(dir, "strata"), { recursive: true });
  for (const f of ["manifest.msgpack", "protocol.ts", "field_notes.md"]) {
    await Deno.copyFile(join(src, f), join(dir, f));
  }
  const run = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--config",
      join(ROOT, "deno.json"),
      join(dir, "protocol.ts"),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (run.code !== 0) {
    throw new Error(
      `The example protocol failed (${run.code}): ${
        new TextDecoder().decode(run.stderr)
      }`,
    );
  }
  return dir;
}

/** Indexes `vault` and serves it on 127.0.0.1, a free port. */
export async function serveVault(
  vault: string,
  options: ServeDashboardOptions = {},
): Promise<RunningDashboard> {
  await indexVault({ vault });
  return await serveDashboard({ vault, port: 0, ...options });
}
