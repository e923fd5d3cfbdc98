/**
 * The process side of `storage.exec`: spawning a child in its own process
 * group that dies with this process, passing signals on, noticing that this
 * process's own parent is gone, and teeing output to log files.
 *
 * Deno cannot call setsid(2) or prctl(PR_SET_PDEATHSIG) itself, so on Linux
 * the child is started through util-linux's `setpriv --pdeathsig KILL` and
 * `setsid` when both are on PATH (they exec in place: the child keeps its
 * pid, which is then its process group id). Without them the child runs in
 * this process's group and only its own pid is signalled.
 *
 * @module
 */
import { join, killProcess } from "../_deps.ts";
import { writeAll } from "../_fs.ts";

/** A running child and what it takes to stop it. */
export interface GroupChild {
  /** The Deno handle. */
  process: Deno.ChildProcess;
  /** Its pid; also its process group id when `grouped`. */
  pid: number;
  /** Whether it leads its own process group (setsid). */
  grouped: boolean;
  /** Sends `signal` to its process group (or to it alone). */
  kill(signal: Deno.Signal): void;
}

let wrappers: Promise<{ setsid: string; setpriv: string } | null> | undefined;

/** `setsid` and `setpriv` from PATH, on Linux (looked up once). */
function findWrappers(): Promise<{ setsid: string; setpriv: string } | null> {
  wrappers ??= (async () => {
    if (Deno.build.os !== "linux") return null;
    let path = "/usr/bin:/bin";
    try {
      const desc = { name: "env", variable: "PATH" } as const;
      if (Deno.permissions.querySync(desc).state === "granted") {
        path = Deno.env.get("PATH") ?? path;
      }
    } catch { /* the default */ }
    const find = async (name: string) => {
      for (const dir of path.split(":")) {
        if (!dir.startsWith("/")) continue;
        try {
          const info = await Deno.stat(join(dir, name));
          if (info.isFile && ((info.mode ?? 0) & 0o111)) return join(dir, name);
        } catch { /* next */ }
      }
      return null;
    };
    const [setsid, setpriv] = await Promise.all([
      find("setsid"),
      find("setpriv"),
    ]);
    return setsid && setpriv ? { setsid, setpriv } : null;
  })();
  return wrappers;
}

/**
 * Spawns `executable` with `args` in a new session and process group that
 * receives SIGKILL when this process dies (when `setsid` and `setpriv`
 * exist), with stdout and stderr piped and stdin inherited.
 */
export async function spawnGroup(
  executable: string,
  args: string[],
  options: { cwd: string; env: Record<string, string>; clearEnv: boolean },
): Promise<GroupChild> {
  const w = await findWrappers();
  const argv = w
    ? [
      w.setpriv,
      "--pdeathsig",
      "KILL",
      "--",
      w.setsid,
      "--",
      executable,
      ...args,
    ]
    : [executable, ...args];
  const process = new Deno.Command(argv[0], {
    args: argv.slice(1),
    cwd: options.cwd,
    env: options.env,
    clearEnv: options.clearEnv,
    stdin: "inherit",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const pid = process.pid;
  const grouped = w !== null;
  return {
    process,
    pid,
    grouped,
    kill(signal) {
      try {
        if (grouped) killProcess(-pid, signal);
        else process.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

/**
 * Passes SIGINT, SIGTERM and SIGHUP sent to this process on to `child`
 * (its whole group) while it runs; returns the undo. While listening, this
 * process is not ended by those signals itself: the child's end decides.
 */
export function forwardSignals(child: GroupChild): () => void {
  if (Deno.build.os === "windows") return () => {};
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];
  const handlers = signals.map((sig) => {
    const handler = () => child.kill(sig);
    Deno.addSignalListener(sig, handler);
    return [sig, handler] as const;
  });
  return () => {
    for (const [sig, handler] of handlers) {
      Deno.removeSignalListener(sig, handler);
    }
  };
}

/**
 * Watches this process's parent: when it is gone (this process was
 * re-parented, e.g. `deno task run` was killed with SIGKILL), calls
 * `onGone` once with the old parent's pid. Polls every `intervalMs`.
 * Returns the undo.
 */
export function watchParent(
  onGone: (ppid: number) => void,
  intervalMs = 250,
): () => void {
  let ppid: number;
  try {
    ppid = Deno.ppid;
  } catch {
    return () => {};
  }
  const timer = setInterval(() => {
    let now: number;
    try {
      now = Deno.ppid;
    } catch {
      return;
    }
    if (now !== ppid) {
      clearInterval(timer);
      onGone(ppid);
    }
  }, intervalMs);
  Deno.unrefTimer(timer);
  return () => clearInterval(timer);
}

/**
 * Copies `stream` to the open `log` file and, when given, to `echo`, chunk
 * by chunk as it arrives, until the stream ends or `signal` aborts (a
 * grandchild holding the pipe open must not keep the caller waiting). A
 * closed terminal stops the echo, not the log.
 */
export async function tee(
  stream: ReadableStream<Uint8Array>,
  log: Deno.FsFile,
  echo: { write(p: Uint8Array): Promise<number> } | null,
  signal?: AbortSignal,
): Promise<void> {
  const reader = stream.getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal?.addEventListener("abort", cancel, { once: true });
  let echoing = echo !== null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      await writeAll(log, value);
      if (echoing) {
        try {
          await writeAll(echo!, value);
        } catch {
          echoing = false;
        }
      }
    }
  } finally {
    signal?.removeEventListener("abort", cancel);
    log.close();
  }
}

/**
 * The pids of the live processes (zombies left out) in process group
 * `pgid`, read from `/proc`; null where `/proc` cannot be read.
 */
export function groupMembers(pgid: number): number[] | null {
  const pids: number[] = [];
  try {
    for (const e of Deno.readDirSync("/proc")) {
      if (!/^\d+$/.test(e.name)) continue;
      let stat: string;
      try {
        stat = Deno.readTextFileSync(`/proc/${e.name}/stat`);
      } catch {
        continue; // gone meanwhile
      }
      // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses.
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(f[2]) === pgid && f[0] !== "Z" && f[0] !== "X") {
        pids.push(Number(e.name));
      }
    }
  } catch {
    return null;
  }
  return pids;
}

/** What {@linkcode settleGroup} found. */
export interface GroupLeftovers {
  /** Pids still in the child's process group when it exited. */
  pids: number[];
  /** Whether they had to be stopped (else they ended within the grace). */
  stopped: boolean;
}

/**
 * Called once the child (its group's leader) has exited: waits up to
 * `graceMs` for the processes it left in its group (a background writer
 * started with `&`) to end, then sends the group SIGTERM, and SIGKILL
 * `killGraceMs` later. Returns what was left, or null if nothing was. A
 * process that called setsid(2) has left the group and is not seen.
 */
export async function settleGroup(
  child: GroupChild,
  options: { graceMs: number; killGraceMs: number; pollMs?: number },
): Promise<GroupLeftovers | null> {
  if (!child.grouped) return null;
  // The usual case, nothing left: one kill(-pgid, 0), no /proc scan.
  if (probeGroup(child.pid).length === 0) return null;
  const poll = options.pollMs ?? 50;
  const members = () => groupMembers(child.pid) ?? probeGroup(child.pid);
  const first = members();
  if (first.length === 0) return null;
  const pids = new Set(first);
  const waitGone = async (ms: number) => {
    const end = performance.now() + ms;
    for (;;) {
      const now = members();
      now.forEach((p) => pids.add(p));
      if (now.length === 0) return true;
      if (performance.now() >= end) return false;
      await new Promise((r) => setTimeout(r, poll));
    }
  };
  if (await waitGone(options.graceMs)) {
    return { pids: [...pids], stopped: false };
  }
  child.kill("SIGTERM");
  if (!await waitGone(options.killGraceMs)) {
    child.kill("SIGKILL");
    await waitGone(options.killGraceMs);
  }
  return { pids: [...pids], stopped: true };
}

/** Without /proc: whether the group has any process (zombies included). */
function probeGroup(pgid: number): number[] {
  try {
    killProcess(-pgid, 0 as unknown as Deno.Signal);
    return [pgid];
  } catch {
    return [];
  }
}
