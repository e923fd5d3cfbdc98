/**
 * Private test hook: with `SPECIMEN_VAULT_TEST_PAUSE` set to a point's name,
 * a curating process stops there (saying `paused at <point>` on stderr)
 * until it is killed, so that a kill loop can SIGKILL it at a known step
 * instead of guessing with timing. Unset (or unreadable: no env
 * permission), every point is a no-op.
 *
 * @module
 */

/** The environment variable naming the point to pause at. */
export const PAUSE_ENV = "SPECIMEN_VAULT_TEST_PAUSE";

let wanted: string | null | undefined;

function pausePoint(): string | null {
  if (wanted !== undefined) return wanted;
  try {
    wanted = Deno.env.get(PAUSE_ENV) || null;
  } catch {
    wanted = null;
  }
  return wanted;
}

/** Pauses for good at `point` when the hook names it (see the module doc). */
export async function pauseAt(point: string): Promise<void> {
  if (pausePoint() !== point) return;
  console.error(`paused at ${point}`);
  await new Promise(() => setInterval(() => {}, 60_000));
}
