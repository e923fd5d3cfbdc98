import { join } from "../lib/_deps.ts";
import { createSpecimen, deriveSpecimen } from "../lib/specimen/create.ts";
import { NotFoundError } from "../lib/errors.ts";
import { readManifest } from "../lib/specimen/manifest.ts";
import { captureProvenance, type Provenance } from "../lib/run/provenance.ts";
import { sealSpecimen } from "../lib/specimen/seal.ts";
import { SpecimenStorage } from "../lib/run/storage.ts";
import {
  assert,
  assertEquals,
  assertMatch,
  assertRejects,
  repoVault,
  ROOT,
  runDeno,
  tempVault,
  webSha256,
} from "./utils.ts";
import denoConfig from "../deno.json" with { type: "json" };

/** Runs git read-only (or in a throwaway repository); null without git. */
async function git(args: string[], cwd: string): Promise<string | null> {
  try {
    const out = await new Deno.Command("git", {
      args: ["-c", "user.name=t", "-c", "user.email=t@example.com", ...args],
      cwd,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
  } catch {
    return null;
  }
}

const hasGit = (await git(["--version"], ROOT)) !== null;

function pinned(name: string): string {
  const spec = (denoConfig.imports as Record<string, string>)[name];
  return `${name}@${/@([^@]+)$/.exec(spec)![1]}`;
}

Deno.test("captureProvenance() records the repository's commit, the runtime, the host, and the protocol, lock and package versions", async () => {
  await using vault = await repoVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "prov",
    domain: "training",
    method: "fine_tuning",
  });
  const p = await captureProvenance({
    specimenDir: dir,
    capturedBy: "test",
  });
  assertEquals(p.captured_by, "test");
  assert(Math.abs(Date.parse(p.captured) - Date.now()) < 60_000);
  assertEquals(p.protocol, {
    path: "protocol.ts",
    sha256: await webSha256(await Deno.readFile(join(dir, "protocol.ts"))),
    bytes: (await Deno.stat(join(dir, "protocol.ts"))).size,
  });
  assertEquals(p.runtime, { ...Deno.version });
  assertEquals(p.host.os, Deno.build.os);
  assertEquals(p.host.arch, Deno.build.arch);
  assertEquals(p.host.hostname, Deno.hostname());
  assert(p.host.cpu_count! >= 1 && p.host.memory_bytes! > 0);
  assert(typeof p.host.cpu_model === "string");
  assertEquals(p.lockfile?.path, "../../../deno.lock");
  assertEquals(
    p.lockfile?.sha256,
    await webSha256(await Deno.readFile(join(ROOT, "deno.lock"))),
  );
  // The template imports specimen-vault, which uses these packages.
  assertEquals(p.npm_packages_source, "deno info");
  for (const name of ["@msgpack/msgpack", "zarrita", "hyparquet-writer"]) {
    assert(
      p.npm_packages.includes(pinned(name)),
      `${pinned(name)} in ${p.npm_packages}`,
    );
  }
  assert(
    !p.npm_packages.some((n) => n.includes("darwin") || n.includes("win32")),
    "no builds for other platforms",
  );
  if (hasGit) {
    assertEquals(
      p.git.commit,
      await git(["rev-parse", "-q", "--verify", "HEAD"], ROOT),
    );
    assertEquals(
      p.git.excluded,
      `${vault.path.slice(ROOT.length + 1)}/specimens/prov`,
    );
    assert(typeof p.git.dirty === "boolean");
    assert(
      !p.git.dirty_files.some((f) => f.includes(".tmp-test-vault-")),
      "the specimen's own folder is not counted as dirty",
    );
  }
  assertEquals(p.errors, []);
});

Deno.test("captureProvenance() lists dirty files outside the specimen folder in a throwaway git repository", async () => {
  if (!hasGit) return;
  await using vault = await tempVault();
  const repo = vault.path;
  await git(["init", "-q", "-b", "trunk"], repo);
  await Deno.writeTextFile(join(repo, "a.txt"), "one\n");
  await Deno.writeTextFile(join(repo, "keep.txt"), "same\n");
  await git(["add", "a.txt", "keep.txt"], repo);
  await git(["commit", "-q", "-m", "first"], repo);
  const head = await git(["rev-parse", "HEAD"], repo);
  const { dir } = await createSpecimen({
    vault: repo,
    id: "g1",
    domain: "training",
    method: "fine_tuning",
  });

  let p = await captureProvenance({ specimenDir: dir });
  assertEquals(p.git.commit, head);
  assertEquals(p.git.branch, "trunk");
  assertEquals(p.git.dirty, false, "an uncommitted specimen alone is clean");
  assertEquals(p.git.excluded, "specimens/g1");

  await Deno.writeTextFile(join(repo, "a.txt"), "two\n");
  await Deno.writeTextFile(join(repo, "new file.ts"), "x\n");
  p = await captureProvenance({ specimenDir: dir });
  assertEquals(p.git.dirty, true);
  assertEquals(p.git.dirty_files, [" M a.txt", "?? new file.ts"]);
  assertEquals(p.git.dirty_files_total, 2);
  // Outside the library's repository the protocol resolves its imports
  // through the library's own deno.json (run with --config): so does this.
  assert(!p.errors.some((e) => e.startsWith("deno info")), p.errors.join("\n"));
  assert(p.npm_packages!.some((n) => n.startsWith("hyparquet@")));
});

Deno.test("captureProvenance() without --allow-run or --allow-sys records what it can and names the missing permissions", async () => {
  await using vault = await repoVault();
  const { dir } = await createSpecimen({
    vault: vault.path,
    id: "narrow",
    domain: "training",
    method: "fine_tuning",
  });
  const script = join(vault.path, "capture.ts");
  await Deno.writeTextFile(
    script,
    `import { captureProvenance } from ${
      JSON.stringify(join(ROOT, "lib", "run", "provenance.ts"))
    };
console.log(JSON.stringify(await captureProvenance({ specimenDir: ${
      JSON.stringify(dir)
    } })));`,
  );
  const r = await runDeno(["run", "--allow-read", script]);
  assertEquals(r.code, 0, r.stderr);
  const p: Provenance = JSON.parse(r.stdout);
  assert(p.protocol.sha256?.length === 64, "the protocol hash needs no more");
  assert(p.lockfile?.sha256.length === 64);
  assertEquals(p.npm_packages_source, "deno.lock");
  assert(p.npm_packages.includes(pinned("zarrita")));
  assertEquals(p.git.commit, null);
  assertEquals(p.host.hostname, null);
  const errors = p.errors.join("\n");
  assertMatch(errors, /git: no permission \(--allow-run=git\)/);
  assertMatch(errors, /hostname: no permission \(--allow-sys=hostname\)/);
});

Deno.test("deriveSpecimen() copies the protocol, records the parent, and takes defaults from it", async () => {
  await using vault = await tempVault();
  const { dir: parentDir } = await createSpecimen({
    vault: vault.path,
    id: "base",
    domain: "interpretability",
    method: "sae_analysis",
    tags: "gpt2,layer_12",
    model: "gpt2",
    description: "the original",
  });
  await Deno.writeTextFile(
    join(parentDir, "protocol.ts"),
    "// the parent's own experiment\n",
  );
  const storage = await SpecimenStorage.open(parentDir);
  await storage.writeMetrics({ x: [1] });
  await sealSpecimen(parentDir);

  const { dir, manifest } = await deriveSpecimen({
    vault: vault.path,
    from: "base",
    id: "base_v2",
  });
  assertEquals(manifest.parent, "base");
  assertEquals(manifest.taxonomy, {
    domain: "interpretability",
    method: "sae_analysis",
  });
  assertEquals(manifest.tags, ["gpt2", "layer_12"]);
  assertEquals(manifest.model, "gpt2");
  assertEquals(manifest.description, null);
  assertEquals(manifest.status, "active", "a variation starts unsealed");
  assertEquals(manifest.artifacts, {});
  for (const key of ["seal", "runs", "provenance"]) {
    assertEquals(manifest[key], undefined, `${key} is not inherited`);
  }
  assertEquals(
    await Deno.readTextFile(join(dir, "protocol.ts")),
    "// the parent's own experiment\n",
  );
  assertMatch(
    await Deno.readTextFile(join(dir, "field_notes.md")),
    /- \*\*Derived from:\*\* base\n/,
  );
  assertEquals([...Deno.readDirSync(join(dir, "strata"))], []);
  assertEquals((await readManifest(dir)).parent, "base");

  const other = await deriveSpecimen({
    vault: vault.path,
    from: "base",
    id: "base_probe",
    domain: "alignment",
    method: "probe_training",
    tags: ["probe"],
    model: null,
  });
  assertEquals(other.manifest.taxonomy.method, "probe_training");
  assertEquals(other.manifest.tags, ["probe"]);
  assertEquals(other.manifest.model, null);

  await assertRejects(
    () => deriveSpecimen({ vault: vault.path, from: "ghost", id: "g2" }),
    NotFoundError,
    `Cannot derive from "ghost"`,
  );
});

Deno.test("create task --from derives a variation and prints its parent; an unknown parent exits 4", async () => {
  await using vault = await tempVault();
  await createSpecimen({
    vault: vault.path,
    id: "p1",
    domain: "training",
    method: "ablation_study",
    tags: "a,b",
  });
  const create = (args: string[]) =>
    runDeno([
      "run",
      "--allow-read",
      "--allow-write",
      "--allow-env=SPECIMEN_VAULT",
      join(ROOT, "tasks", "create.ts"),
      "--vault",
      vault.path,
      ...args,
    ]);
  let r = await create(["--id", "p1_v2", "--from", "p1"]);
  assertEquals(r.code, 0, r.stderr);
  assertMatch(r.stdout, /parent:\s+p1 \(protocol\.ts copied from it\)/);
  assertMatch(r.stdout, /taxonomy: training \/ ablation_study/);
  assertMatch(r.stdout, /deno task run p1_v2/);
  const m = await readManifest(join(vault.specimens, "p1_v2"));
  assertEquals([m.parent, m.tags], ["p1", ["a", "b"]]);

  r = await create(["--id", "p1_v3", "--from", "nope"]);
  assertEquals(r.code, 4);
  assertMatch(r.stderr, /^error: Cannot derive from "nope"/);
  r = await create(["--from", "p1"]);
  assertEquals(r.code, 2);
  assertMatch(
    r.stderr,
    /Missing --id: usage: deno task create --id ID --from PARENT_ID/,
  );
});
