/**
 * Child process of the SQL gate trials: reads `{vault, sqls}` as JSON on
 * stdin, runs each SQL through {@linkcode VaultQuery} and prints one JSON
 * line per case: `{i, outcome: "ran" | "refused" | "error", exit, message}`.
 * A case that aborts the process leaves its line missing: the parent sees
 * the abort (a signal or exit 134) and which case caused it.
 *
 * @module
 */
import { VaultError } from "../../../lib/errors.ts";
import { VaultQuery } from "../../../lib/query/vault_query.ts";

const { vault, sqls } = JSON.parse(
  await new Response(Deno.stdin.readable).text(),
) as { vault: string; sqls: string[] };
using q = await VaultQuery.open({ vault, timeoutSeconds: 10 });
const out = new TextEncoder();
for (const [i, sql] of sqls.entries()) {
  let line: Record<string, unknown>;
  try {
    const rows = await q.search(sql);
    line = { i, outcome: "ran", exit: 0, rows: rows.length };
  } catch (e) {
    const exit = e instanceof VaultError ? e.exitCode : 1;
    line = {
      i,
      outcome: exit === 2 ? "refused" : "error",
      exit,
      message: (e as Error).message.slice(0, 300),
    };
  }
  Deno.stdout.writeSync(out.encode(JSON.stringify(line) + "\n"));
}
