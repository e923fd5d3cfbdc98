/**
 * Remote benchmark against `rclone copy` (Debian's rclone, an S3 client) on
 * the same real S3 server (OpenStack Swift s3api, started here by
 * tests/_tools/s3/swift_server.ts) and the same data, in the same run:
 *
 * - push of 1,000 sealed specimens (1,000 metric steps and a small tensor
 *   each): `deno task push` vs `rclone copy specimens/ X:bucket/…`
 *   (goal ≥ 1.0×);
 * - pull with verification: `deno task pull --all` into an empty vault vs
 *   `rclone copy` back (goal ≥ 0.8×);
 * - push and pull with nothing new against a remote of 10,000 specimens
 *   (goal ≤ 1 s each, the whole task process). The 9,000 beyond the 1,000
 *   pushed are copies of them under other ids, listed in log entries the
 *   bench writes itself: a push or pull with nothing new reads the log's
 *   new keys and the local folders, never the specimens' objects, so their
 *   content is not needed to measure it.
 *
 * rclone runs with its defaults (4 transfers, 8 checkers), configured by
 * environment, without AWS_CA_BUNDLE (rclone 1.60 refuses it on http://).
 *
 * Run: `deno run -A tests/_tools/bench/remote_bench.ts` (a few minutes).
 *
 * @module
 */
import { join } from "../../../lib/_deps.ts";
import {
  decodeManifest,
  encodeManifest,
} from "../../../lib/specimen/manifest.ts";
import { addRemote } from "../../../lib/remote/config.ts";
import { openStore } from "../../../lib/remote/open.ts";
import { logKey } from "../../../lib/remote/layout.ts";
import type { LogEntry } from "../../../lib/remote/_state.ts";
import { createBucket, makeSealed, s3ForTests } from "../../_remote.ts";
import { taskFlags } from "../../utils.ts";
import { benchDir, report } from "./_bench.ts";

const SPECIMENS = Number(Deno.env.get("BENCH_REMOTE_SPECIMENS") ?? 1000);
const WIDE = Number(Deno.env.get("BENCH_REMOTE_WIDE") ?? 10_000);
const ROOT = join(import.meta.dirname!, "..", "..", "..");

async function timed(
  cmd: string,
  args: string[],
  o: { cwd: string; env: Record<string, string>; clearEnv?: boolean },
): Promise<number> {
  const t0 = performance.now();
  const out = await new Deno.Command(cmd, {
    args,
    cwd: o.cwd,
    env: o.env,
    clearEnv: o.clearEnv,
    stdout: "piped",
    stderr: "piped",
  }).output();
  const ms = performance.now() - t0;
  if (!out.success) {
    throw new Error(
      `${cmd} ${args.join(" ")} exited with ${out.code}: ${
        new TextDecoder().decode(out.stderr)
      }${new TextDecoder().decode(out.stdout).slice(-2000)}`,
    );
  }
  return ms;
}

async function task(
  name: string,
  args: string[],
  cwd: string,
  env: Record<string, string>,
) {
  return await timed(Deno.execPath(), [
    "run",
    ...await taskFlags(name),
    join(ROOT, "tasks", `${name}.ts`),
    ...args,
  ], { cwd, env });
}

const s3 = await s3ForTests();
try {
  console.log(
    `S3 server (Swift s3api) started in ${(s3.startMs / 1000).toFixed(1)} s`,
  );
  for (const [k, v] of Object.entries(s3.env)) Deno.env.set(k, v);
  await createBucket(s3, "bench-ours");
  await createBucket(s3, "bench-rclone");
  const env: Record<string, string> = { ...s3.env, NO_COLOR: "1" };
  await using dir = await benchDir("sv_bench_remote_");
  const vault = join(dir.path, "a");
  await Deno.mkdir(join(vault, "specimens"), { recursive: true });
  const t0 = performance.now();
  const ids: string[] = [];
  for (let i = 0; i < SPECIMENS; i++) {
    const id = `bench_${String(i).padStart(5, "0")}`;
    await makeSealed(vault, id, { steps: 1000, tensor: 256 });
    ids.push(id);
  }
  console.log(
    `${SPECIMENS} sealed specimens made in ${
      ((performance.now() - t0) / 1000).toFixed(1)
    } s`,
  );
  const remote = {
    name: "origin",
    url: "s3://bench-ours/v",
    endpoint: s3.endpoint,
  };
  await addRemote(vault, remote);

  const rcloneEnv: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: dir.path,
    RCLONE_CONFIG_X_TYPE: "s3",
    RCLONE_CONFIG_X_PROVIDER: "Other",
    RCLONE_CONFIG_X_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_X_ACCESS_KEY_ID: s3.accessKeyId,
    RCLONE_CONFIG_X_SECRET_ACCESS_KEY: s3.secretAccessKey,
    RCLONE_CONFIG_X_REGION: s3.region,
    RCLONE_CONFIG_X_FORCE_PATH_STYLE: "true",
  };
  const pushMs = await task("push", [], vault, env);
  const rclonePushMs = await timed("rclone", [
    "copy",
    "--exclude",
    ".lock",
    join(vault, "specimens"),
    "X:bench-rclone/v",
  ], { cwd: dir.path, env: rcloneEnv, clearEnv: true });
  const per = (ms: number) => SPECIMENS / (ms / 1000);
  report({
    name: `push ${SPECIMENS} specimens (deno task push)`,
    value: per(pushMs),
    unit: "specimens/s",
    higherIsBetter: true,
    reference: { name: "rclone copy", value: per(rclonePushMs) },
    goal: per(rclonePushMs) * 1.0,
  });

  const pulled = join(dir.path, "b");
  await Deno.mkdir(join(pulled, "specimens"), { recursive: true });
  await addRemote(pulled, remote);
  const pullMs = await task("pull", ["--all"], pulled, env);
  const rclonePullMs = await timed("rclone", [
    "copy",
    "X:bench-rclone/v",
    join(dir.path, "rclone-back"),
  ], { cwd: dir.path, env: rcloneEnv, clearEnv: true });
  report({
    name: `pull ${SPECIMENS} specimens, verified (deno task pull)`,
    value: per(pullMs),
    unit: "specimens/s",
    higherIsBetter: true,
    reference: { name: "rclone copy", value: per(rclonePullMs) },
    goal: per(rclonePullMs) * 0.8,
  });

  // 10,000: copies of the pushed specimens under other ids, logged.
  const store = await openStore(remote);
  try {
    const specimensDir = join(vault, "specimens");
    const extra = WIDE - SPECIMENS;
    for (let start = 0; start < extra; start += 1000) {
      const entry: LogEntry = {
        pushed_at: new Date().toISOString(),
        host: "bench",
        specimens: [],
      };
      for (let k = start; k < Math.min(extra, start + 1000); k++) {
        const from = ids[k % ids.length];
        const id = `wide_${String(k).padStart(5, "0")}`;
        const src = join(specimensDir, from);
        const dst = join(specimensDir, id);
        await Deno.mkdir(join(dst, "strata", "weights.zarr", "c"), {
          recursive: true,
        });
        for (
          const f of [
            "protocol.ts",
            "field_notes.md",
            "strata/metrics.parquet",
            "strata/weights.zarr/zarr.json",
            "strata/weights.zarr/c/0",
          ]
        ) {
          await Deno.link(join(src, f), join(dst, f));
        }
        const m = decodeManifest(
          await Deno.readFile(join(src, "manifest.msgpack")),
        );
        m.specimen_id = id;
        const bytes = encodeManifest(m);
        await Deno.writeFile(join(dst, "manifest.msgpack"), bytes);
        entry.specimens.push({
          id,
          digest: m.seal!.digest,
          manifest_sha256: "0".repeat(64),
          notes_sha256: null,
          tags: [],
          files: m.seal!.file_count,
          bytes: m.seal!.bytes,
        });
      }
      await store.put(
        logKey(new Date()),
        new TextEncoder().encode(JSON.stringify(entry)),
      );
    }
  } finally {
    store.close();
  }
  // The first push after them reads the new log entries and the 9,000 new
  // local manifests once (not measured); then nothing is new.
  await task("push", [], vault, env);
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) samples.push(await task("push", [], vault, env));
  samples.sort((a, b) => a - b);
  report({
    name: `push with nothing new, ${
      WIDE.toLocaleString("en-US")
    } specimens (whole task)`,
    value: samples[1],
    unit: "ms",
    higherIsBetter: false,
    goal: 1000,
  });
  // The pulling vault gets the same 10,000 folders (linked), then pulls once.
  for await (const e of Deno.readDir(join(vault, "specimens"))) {
    if (!e.name.startsWith("wide_")) continue;
    await Deno.rename(
      join(vault, "specimens", e.name),
      join(pulled, "specimens", e.name),
    ).catch(async () => {});
  }
  await task("pull", ["--all"], pulled, env).catch(() => 0);
  const pulls: number[] = [];
  for (let i = 0; i < 3; i++) {
    pulls.push(await task("pull", ["--all"], pulled, env));
  }
  pulls.sort((a, b) => a - b);
  report({
    name: `pull with nothing new, ${
      WIDE.toLocaleString("en-US")
    } specimens (whole task)`,
    value: pulls[1],
    unit: "ms",
    higherIsBetter: false,
    goal: 1000,
  });
} finally {
  await s3.stop();
}
