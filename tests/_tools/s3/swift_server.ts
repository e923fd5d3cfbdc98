/**
 * The project's real S3-compatible server for tests and benches: OpenStack
 * Swift (Debian's packages) with its `s3api` and `tempauth` middleware, one
 * replica on one device, every server on a free 127.0.0.1 port, its config,
 * rings and data in one temp folder. No mocks: Swift's own servers write the
 * objects to disk.
 *
 * Library: `await using s3 = await startS3Server()` gives the endpoint and
 * credentials, and stops every process (by PID) and removes the folder when
 * disposed. CLI: `deno run -A tests/_tools/s3/swift_server.ts start` prints
 * the endpoint, credentials and PIDs as JSON and leaves the servers running;
 * `... stop PID...` stops them. `install` installs the packages (as root, on
 * Debian) when missing.
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";

/** The Debian packages the server needs. */
export const SWIFT_PACKAGES = [
  "swift",
  "swift-proxy",
  "swift-account",
  "swift-container",
  "swift-object",
  "python3-swift",
  "memcached",
];

/** tempauth's user: access key and secret of the test server. */
export const S3_ACCESS_KEY = "test:tester";
/** The secret of {@linkcode S3_ACCESS_KEY}. */
export const S3_SECRET_KEY = "testing";
/** The region the server answers for. */
export const S3_REGION = "us-east-1";

/** A running server. */
export interface S3Server extends AsyncDisposable {
  /** `http://127.0.0.1:PORT` (path-style addressing). */
  endpoint: string;
  /** Access key id. */
  accessKeyId: string;
  /** Secret access key. */
  secretAccessKey: string;
  /** Region. */
  region: string;
  /** PIDs of memcached and the four Swift servers. */
  pids: number[];
  /** The temp folder holding config, rings, data and logs. */
  dir: string;
  /** Milliseconds from call to healthy. */
  startMs: number;
  /** Environment for the AWS chain (and the SDK's options this server needs). */
  env: Record<string, string>;
  /** Stops the proxy only (the fault tests' "server stopped mid-transfer"). */
  stopProxy(): Promise<void>;
  /** Stops every process and removes the folder. */
  stop(): Promise<void>;
}

/** Whether the Swift servers are installed. */
export function swiftInstalled(): boolean {
  return ["/usr/bin/swift-proxy-server", "/usr/bin/memcached"].every((p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  });
}

/**
 * Installs {@linkcode SWIFT_PACKAGES} with apt-get when missing (root on
 * Debian only), with a `policy-rc.d` that keeps the packages from starting
 * system daemons. Returns false when they are missing and cannot be installed.
 */
export async function installSwift(): Promise<boolean> {
  if (swiftInstalled()) return true;
  if (Deno.uid() !== 0) return false;
  try {
    Deno.statSync("/usr/bin/apt-get");
  } catch {
    return false;
  }
  const policy = "/usr/sbin/policy-rc.d";
  let hadPolicy = true;
  try {
    Deno.statSync(policy);
  } catch {
    hadPolicy = false;
    Deno.writeTextFileSync(policy, "#!/bin/sh\nexit 101\n", { mode: 0o755 });
  }
  try {
    for (
      const args of [
        ["update", "-qq"],
        ["install", "-y", "-qq", "--no-install-recommends", ...SWIFT_PACKAGES],
      ]
    ) {
      const { code } = await new Deno.Command("apt-get", {
        args,
        env: { DEBIAN_FRONTEND: "noninteractive" },
        stdout: "null",
        stderr: "inherit",
      }).output();
      if (code !== 0) return false;
    }
  } finally {
    if (!hadPolicy) Deno.removeSync(policy);
  }
  return swiftInstalled();
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

const RINGS = `
import os, sys
from swift.common.ring import RingBuilder
etc, srv = sys.argv[1], sys.argv[2]
probe = os.path.join(srv, "d0", ".xattr-probe")
open(probe, "w").close()
try:
    os.setxattr(probe, "user.probe", b"x" * 4000)
except OSError as e:
    sys.exit("the folder %s has no user.* xattrs (%s): set TMPDIR to a folder on ext4 or /dev/shm" % (srv, e))
os.remove(probe)
for name, port in zip(("account", "container", "object"), sys.argv[3:6]):
    b = RingBuilder(6, 1, 1)
    b.add_dev({"id": 0, "region": 1, "zone": 1, "ip": "127.0.0.1",
               "port": int(port), "device": "d0", "weight": 100, "meta": ""})
    b.rebalance()
    b.get_ring().save(os.path.join(etc, name + ".ring.gz"))
`;

function serverConf(dir: string, port: number, kind: string): string {
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
mount_check = false
devices = ${join(dir, "srv")}
user = ${Deno.env.get("USER") ?? "root"}
swift_dir = ${join(dir, "etc")}
log_name = ${kind}
log_level = WARNING

[pipeline:main]
pipeline = ${kind}-server

[app:${kind}-server]
use = egg:swift#${kind}
`;
}

function proxyConf(dir: string, port: number, memcache: number): string {
  // Section name in the pipeline → the middleware's egg name.
  const filters = [
    ["catch_errors", "catch_errors"],
    ["gatekeeper", "gatekeeper"],
    ["healthcheck", "healthcheck"],
    ["proxy-logging", "proxy_logging"],
    ["listing_formats", "listing_formats"],
    ["bulk", "bulk"],
    ["copy", "copy"],
    ["slo", "slo"],
    ["dlo", "dlo"],
    ["versioned_writes", "versioned_writes"],
    ["symlink", "symlink"],
  ].map(([name, egg]) => `[filter:${name}]\nuse = egg:swift#${egg}\n`);
  return `[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${port}
workers = 0
user = ${Deno.env.get("USER") ?? "root"}
swift_dir = ${join(dir, "etc")}
log_level = WARNING

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin

[filter:s3api]
use = egg:swift#s3api
location = ${S3_REGION}
dns_compliant_bucket_names = false
multi_delete_concurrency = 16

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${memcache}

${filters.join("\n")}`;
}

/** How long the servers may take to start (a hang guard, not a timing). */
const START_TIMEOUT_MS = 180_000;

async function waitPort(port: number, proc: Deno.ChildProcess, log: string) {
  let exited = false;
  proc.status.then(() => exited = true);
  // A deadline, not a count of tries: a busy machine starts Python's
  // servers many times slower than an idle one (2.5 s idle, 37 s seen).
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (exited) {
      throw new Error(
        `S3 test server: a process exited at start; its log:\n${await Deno
          .readTextFile(log).catch(() => "")}`,
      );
    }
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
  throw new Error(`S3 test server: port ${port} never opened (see ${log})`);
}

/** Options for {@linkcode startS3Server}. */
export interface StartOptions {
  /** Let the processes outlive this one (the CLI's `start`). @default false */
  detach?: boolean;
}

/**
 * Starts memcached and Swift's account, container, object and proxy
 * servers on free loopback ports and waits until the proxy answers its
 * health check. Throws when Swift is not installed (see
 * {@linkcode installSwift}) or a server fails to start (its log quoted).
 */
export async function startS3Server(
  options: StartOptions = {},
): Promise<S3Server> {
  const t0 = performance.now();
  if (!swiftInstalled()) {
    throw new Error(
      "S3 test server: OpenStack Swift is not installed: run `deno run -A tasks/setup_tests.ts` as root (or apt-get install -y --no-install-recommends " +
        SWIFT_PACKAGES.join(" ") + ")",
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "vault-s3-" });
  await Deno.mkdir(join(dir, "etc"));
  await Deno.mkdir(join(dir, "srv", "d0"), { recursive: true });
  await Deno.mkdir(join(dir, "log"));
  const ports = {
    memcache: freePort(),
    account: freePort(),
    container: freePort(),
    object: freePort(),
    proxy: freePort(),
  };
  const rings = await new Deno.Command("/usr/bin/python3", {
    args: [
      "-c",
      RINGS,
      join(dir, "etc"),
      join(dir, "srv"),
      `${ports.account}`,
      `${ports.container}`,
      `${ports.object}`,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!rings.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(
      `S3 test server: ${new TextDecoder().decode(rings.stderr).trim()}`,
    );
  }
  const procs: Deno.ChildProcess[] = [];
  const spawn = (cmd: string, args: string[], name: string) => {
    const log = join(dir, "log", `${name}.log`);
    const fd = Deno.openSync(log, { write: true, create: true });
    const p = new Deno.Command(options.detach ? "/usr/bin/setsid" : cmd, {
      args: options.detach ? [cmd, ...args] : args,
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    p.stderr.pipeTo(
      new WritableStream({ write: (c) => void fd.writeSync(c) }),
    ).catch(() => {}).finally(() => fd.close());
    if (options.detach) p.unref();
    procs.push(p);
    return { p, log };
  };
  const stop = async (which: Deno.ChildProcess[]) => {
    for (const p of which) {
      try {
        p.kill("SIGKILL");
      } catch { /* gone already */ }
    }
    await Promise.all(which.map((p) => p.status));
  };
  try {
    const mc = spawn("/usr/bin/memcached", [
      "-l",
      "127.0.0.1",
      "-p",
      `${ports.memcache}`,
      "-U",
      "0",
      "-m",
      "32",
      "-u",
      Deno.env.get("USER") ?? "root",
    ], "memcached");
    const servers = ["account", "container", "object"].map((kind) => {
      const conf = join(dir, "etc", `${kind}-server.conf`);
      Deno.writeTextFileSync(
        conf,
        serverConf(dir, ports[kind as "account"], kind),
      );
      return {
        ...spawn(`/usr/bin/swift-${kind}-server`, [conf], kind),
        port: ports[kind as "account"],
      };
    });
    const proxyPath = join(dir, "etc", "proxy-server.conf");
    Deno.writeTextFileSync(
      proxyPath,
      proxyConf(dir, ports.proxy, ports.memcache),
    );
    const proxy = spawn("/usr/bin/swift-proxy-server", [proxyPath], "proxy");
    await waitPort(ports.memcache, mc.p, mc.log);
    for (const s of servers) await waitPort(s.port, s.p, s.log);
    await waitPort(ports.proxy, proxy.p, proxy.log);
    const endpoint = `http://127.0.0.1:${ports.proxy}`;
    const healthy = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      const r = await fetch(`${endpoint}/healthcheck`).catch(() => null);
      const ok = r?.ok;
      await r?.body?.cancel();
      if (ok) break;
      if (Date.now() > healthy) {
        throw new Error(
          `S3 test server: ${endpoint} not healthy after ${
            START_TIMEOUT_MS / 1000
          } s; its log:\n${await Deno.readTextFile(proxy.log).catch(() => "")}`,
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    if (!options.detach) {
      // A test that ends without stopping its server (an uncaught error,
      // Deno.exit) still takes the server down with it.
      globalThis.addEventListener("unload", () => {
        for (const p of procs) {
          try {
            p.kill("SIGKILL");
          } catch { /* gone already */ }
        }
        try {
          Deno.removeSync(dir, { recursive: true });
        } catch { /* removed by stop() */ }
      });
    }
    const server: S3Server = {
      endpoint,
      accessKeyId: S3_ACCESS_KEY,
      secretAccessKey: S3_SECRET_KEY,
      region: S3_REGION,
      pids: procs.map((p) => p.pid),
      dir,
      startMs: performance.now() - t0,
      env: {
        AWS_ACCESS_KEY_ID: S3_ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY: S3_SECRET_KEY,
        AWS_REGION: S3_REGION,
      },
      stopProxy: () => stop([proxy.p]),
      stop: async () => {
        await stop(procs);
        await Deno.remove(dir, { recursive: true }).catch(() => {});
      },
      [Symbol.asyncDispose]: () => server.stop(),
    };
    return server;
  } catch (e) {
    await stop(procs);
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    throw e;
  }
}

/**
 * Creates `bucket` on `server` (a plain path-style PUT signed by the SDK the
 * product uses, so the tests need no second client).
 */
export async function createBucket(
  server: S3Server,
  bucket: string,
): Promise<void> {
  const { S3Client, CreateBucketCommand } = await import(
    "../../../lib/_deps/aws_s3.ts"
  );
  const client = new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: {
      accessKeyId: server.accessKeyId,
      secretAccessKey: server.secretAccessKey,
    },
  });
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

async function cli(args: string[]): Promise<number> {
  const [cmd, ...rest] = args;
  if (cmd === "install") return (await installSwift()) ? 0 : 1;
  if (cmd === "start") {
    const s = await startS3Server({ detach: true });
    console.log(JSON.stringify(
      {
        endpoint: s.endpoint,
        region: s.region,
        access_key_id: s.accessKeyId,
        secret_access_key: s.secretAccessKey,
        pids: s.pids,
        dir: s.dir,
        start_ms: Math.round(s.startMs),
        stop: `deno run -A tests/_tools/s3/swift_server.ts stop ${
          s.pids.join(" ")
        } --dir ${s.dir}`,
      },
      null,
      2,
    ));
    return 0;
  }
  if (cmd === "stop") {
    const d = rest.indexOf("--dir");
    const pids = (d < 0 ? rest : rest.slice(0, d)).map(Number);
    for (const pid of pids) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch { /* gone */ }
    }
    // Wait until they are gone (SIGKILL is delivered, not awaited).
    for (let i = 0; i < 500 && pids.some(alive); i++) {
      await new Promise((r) => setTimeout(r, 10));
    }
    if (d >= 0) await Deno.remove(rest[d + 1], { recursive: true });
    return pids.some(alive) ? 1 : 0;
  }
  console.error(
    "usage: swift_server.ts install | start | stop PID... [--dir DIR]",
  );
  return 2;
}

function alive(pid: number): boolean {
  try {
    return !/^\S+ \(.*\) Z/.test(Deno.readTextFileSync(`/proc/${pid}/stat`));
  } catch {
    return false;
  }
}

if (import.meta.main) Deno.exit(await cli(Deno.args));
