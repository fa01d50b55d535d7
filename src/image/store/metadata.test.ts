import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import { ContentStore } from "../content/store.ts";
import { digestOf } from "../digest.ts";
import { collectGarbage } from "../gc.ts";
import { MetadataStore, blobNode } from "./metadata.ts";
import { openDatabase } from "../../common/sqlite.ts";

const CHILD = join(import.meta.dirname, "hammer-child.ts");

function kindOf(err: unknown): string {
  return err instanceof PierError ? err.kind : `not a PierError: ${String(err)}`;
}

function scratch(): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), "pier-meta-"));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

test("images: put, move, list, delete; created is kept across moves", () => {
  using s = scratch();
  const m = MetadataStore.open(join(s.dir, "meta.db"));
  try {
    assert.equal(m.db.pragma("journal_mode", { simple: true }), "wal");
    const t1 = { digest: digestOf("m1"), mediaType: "application/vnd.oci.image.manifest.v1+json", size: 10 };
    const t2 = { ...t1, digest: digestOf("m2") };
    const a = m.putImage({ name: "busybox:latest", target: t1, configDigest: digestOf("c1") });
    assert.equal(a.configDigest, digestOf("c1"));
    const b = m.putImage({ name: "busybox:latest", target: t2, labels: { x: "y" } });
    assert.equal(b.target.digest, t2.digest);
    assert.equal(b.created.getTime(), a.created.getTime());
    assert.equal(b.configDigest, undefined);
    assert.deepEqual(b.labels, { x: "y" });
    m.putImage({ name: "alpine:3", target: t2 });
    assert.deepEqual(
      m.listImages().map((i) => i.name),
      ["alpine:3", "busybox:latest"],
    );
    assert.deepEqual(
      m.imagesByTarget(t2.digest).map((i) => i.name),
      ["alpine:3", "busybox:latest"],
    );
    assert.deepEqual(m.refsFrom("image:busybox:latest"), [blobNode(t2.digest)]);
    m.deleteImage("busybox:latest");
    assert.throws(
      () => m.getImage("busybox:latest"),
      (e) => kindOf(e) === "NotFound",
    );
    assert.throws(
      () => m.deleteImage("busybox:latest"),
      (e) => kindOf(e) === "NotFound",
    );
    assert.throws(
      () => m.putImage({ name: "x", target: { ...t1, digest: "sha256:nope" } }),
      (e) => kindOf(e) === "InvalidArgument",
    );
  } finally {
    m.close();
  }
});

test("manifests, configs and layers: diffID ↔ blob, sizes, immutability", () => {
  using s = scratch();
  const m = MetadataStore.open(join(s.dir, "meta.db"));
  try {
    const [l1, l2, cfg, man, idx] = ["l1", "l2", "cfg", "man", "idx"].map((x) => digestOf(x)) as [
      string,
      string,
      string,
      string,
      string,
    ];
    const diff = digestOf("diff1");
    m.putLayer({
      digest: l1,
      diffID: diff,
      mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
      size: 5,
    });
    m.putLayer({ digest: l2, diffID: diff, mediaType: "application/vnd.oci.image.layer.v1.tar", size: 9 });
    m.putLayer({ digest: l1, diffID: diff, mediaType: "x", size: 5, uncompressedSize: 9 });
    assert.equal(m.getLayer(l1).uncompressedSize, 9);
    assert.deepEqual(
      m.layersByDiffID(diff).map((l) => l.digest),
      [l1, l2].sort(),
    );
    m.putConfig({ digest: cfg, size: 100, diffIDs: [diff] });
    assert.deepEqual(m.getConfig(cfg).diffIDs, [diff]);
    m.putManifest({
      digest: man,
      mediaType: "m",
      size: 1,
      configDigest: cfg,
      layers: [l1, l2],
      manifests: [],
    });
    m.putManifest({ digest: man, mediaType: "other", size: 2, layers: [], manifests: [] }); // no-op
    const got = m.getManifest(man);
    assert.equal(got.mediaType, "m");
    assert.deepEqual(got.layers, [l1, l2]);
    assert.equal(got.configDigest, cfg);
    m.putManifest({ digest: idx, mediaType: "i", size: 1, layers: [], manifests: [man] });
    assert.deepEqual(m.getManifest(idx).manifests, [man]);
    assert.throws(
      () => m.getManifest(digestOf("none")),
      (e) => kindOf(e) === "NotFound",
    );
  } finally {
    m.close();
  }
});

test("schema versioning: migrations apply once; a newer database is refused", () => {
  using s = scratch();
  const path = join(s.dir, "v.db");
  const migrations = ["CREATE TABLE a (x INTEGER);", "ALTER TABLE a ADD COLUMN y TEXT;"];
  const db1 = openDatabase(path, migrations.slice(0, 1));
  db1.prepare("INSERT INTO a (x) VALUES (1)").run();
  db1.close();
  const db2 = openDatabase(path, migrations);
  assert.equal(db2.pragma("user_version", { simple: true }), 2);
  assert.deepEqual(db2.prepare("SELECT x, y FROM a").all(), [{ x: 1, y: null }]);
  db2.close();
  openDatabase(path, migrations).close(); // idempotent
  assert.throws(
    () => openDatabase(path, migrations.slice(0, 1)),
    (e) => kindOf(e) === "FailedPrecondition",
  );
});

test("two processes hammering one database: no lost updates, no busy errors", async () => {
  using s = scratch();
  const path = join(s.dir, "meta.db");
  const m = MetadataStore.open(path);
  const N = 300;
  try {
    m.db.exec("CREATE TABLE test_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)");
    m.db.prepare("INSERT INTO test_counter (id, n) VALUES (1, 0)").run();
    const startAt = Date.now() + 1500;
    const children = [1, 2].map((id) =>
      spawn(process.execPath, ["--import", "tsx", CHILD, path, String(id), String(N), String(startAt)], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    try {
      const results = await Promise.all(
        children.map(
          (c) =>
            new Promise<{ code: number | null; out: string }>((resolve) => {
              let out = "";
              c.stdout.on("data", (d: Buffer) => (out += d.toString()));
              c.stderr.on("data", (d: Buffer) => (out += d.toString()));
              c.on("exit", (code) => resolve({ code, out }));
            }),
        ),
      );
      for (const r of results) assert.equal(r.code, 0, r.out);
    } finally {
      for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
    }
    assert.equal(m.db.prepare<{ n: number }>("SELECT n FROM test_counter").get()!.n, 2 * N);
    assert.equal(m.listImages().length, 2 * N + 1);
    assert.equal(m.db.pragma("integrity_check", { simple: true }), "ok");
    const live = m.liveNodes();
    for (const id of [1, 2])
      for (let i = 0; i < N; i++) assert.ok(live.has(blobNode(digestOf(`layer ${id} ${i}`))));
  } finally {
    m.close();
  }
});

test("gc removes exactly the unreferenced blobs; leases keep blobs alive", async () => {
  using s = scratch();
  const m = MetadataStore.open(join(s.dir, "meta.db"));
  try {
    const c = await ContentStore.open(join(s.dir, "content"));
    const layer = await c.put(Buffer.from("layer"));
    const config = await c.put(Buffer.from("config"));
    const manifest = await c.put(Buffer.from("manifest"));
    const orphan = await c.put(Buffer.from("orphan"));
    const leased = await c.put(Buffer.from("leased"));
    m.putLayer({ digest: layer.digest, diffID: layer.digest, mediaType: "tar", size: layer.size });
    m.putManifest({
      digest: manifest.digest,
      mediaType: "m",
      size: manifest.size,
      configDigest: config.digest,
      layers: [layer.digest],
      manifests: [],
    });
    m.putImage({ name: "img:1", target: { digest: manifest.digest, mediaType: "m", size: manifest.size } });
    m.addRef("lease:pull-1", blobNode(leased.digest));

    assert.deepEqual((await collectGarbage(m, c)).removed, [], "young blobs are in their grace period");
    const dry = await collectGarbage(m, c, { graceMs: 0, dryRun: true });
    assert.deepEqual(dry.removed, [orphan.digest]);
    assert.equal(await c.has(orphan.digest), true);
    const r = await collectGarbage(m, c, { graceMs: 0 });
    assert.deepEqual(r.removed, [orphan.digest]);
    assert.equal(r.reclaimedBytes, orphan.size);
    assert.equal(await c.has(orphan.digest), false);

    m.deleteImage("img:1");
    m.removeRefs("lease:pull-1");
    const all = await collectGarbage(m, c, { graceMs: 0 });
    assert.deepEqual(
      all.removed.sort(),
      [layer.digest, config.digest, manifest.digest, leased.digest].sort(),
    );
    assert.deepEqual(await c.list(), []);
    assert.throws(
      () => m.getManifest(manifest.digest),
      (e) => kindOf(e) === "NotFound",
    );
    assert.throws(
      () => m.getLayer(layer.digest),
      (e) => kindOf(e) === "NotFound",
    );
  } finally {
    m.close();
  }
});
