/**
 * The image service on the real kernel: a busybox image is bootstrapped,
 * unpacked and mounted; a change in a container's writable layer is
 * committed; docker's rmi rules hold; prune collects what is left.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { isKind } from "../../common/errors.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { bootstrapBusybox } from "../bootstrap/busybox.ts";
import { decompress } from "../layer/compression.ts";
import { readTar } from "../layer/tar.ts";
import { canonical, MT } from "./oci.ts";
import { scratch, type Scratch } from "./testing.ts";

const skip = kernelSkipReason();
const opts = skip ? { skip } : {};
let s: Scratch;
let busyboxId = "";

before(async () => {
  if (skip) return;
  ensureFsops();
  s = await scratch("service");
  busyboxId = (await bootstrapBusybox(s.service)).id;
});

after(async () => {
  await s?.cleanup();
});

test("prepareRootfs unpacks busybox once and mounts it", opts, async () => {
  const svc = s.service;
  const mounts = await svc.prepareRootfs("busybox", "ctr1");
  const m = await s.mount(mounts, "ctr1");
  assert.ok(existsSync(`${m}/bin/busybox`));
  assert.equal(
    execFileSync("chroot", [m, "/bin/sh", "-c", "echo hi from $(id -un)"]).toString(),
    "hi from root\n",
  );
  writeFileSync(`${m}/hello.txt`, "hello\n");
  rmSync(`${m}/etc/group`);
  await s.unmount(m);
  const snaps = (await svc.snapshotter.list()).filter((x) => x.kind === "committed");
  assert.equal(snaps.length, 1);
  assert.equal(snaps[0]!.key, (await svc.inspect("busybox")).RootFS.Layers[0]);
});

test("commit makes a 2-layer image whose new layer holds only the change", opts, async () => {
  const svc = s.service;
  const { id } = await svc.commit("ctr1", {
    name: "mine:1",
    changes: ['CMD ["cat", "/hello.txt"]', "ENV GREETING=hi"],
    author: "tester",
    comment: "a change",
  });
  const info = await svc.inspect("mine:1");
  const base = await svc.inspect("busybox");
  assert.equal(info.Id, id);
  assert.equal(info.RootFS.Layers.length, 2);
  assert.equal(info.RootFS.Layers[0], base.RootFS.Layers[0]);
  assert.deepEqual(info.Config.Cmd, ["cat", "/hello.txt"]);
  assert.ok(info.Config.Env?.includes("GREETING=hi"));
  assert.equal(info.Author, "tester");
  assert.deepEqual(info.RepoTags, ["mine:1"]);
  const img = await svc.resolve("mine:1");
  const top = img.manifest.layers[1]!;
  const names: string[] = [];
  const { stream } = await decompress((await svc.content.reader(top.digest)) as AsyncIterable<Buffer>);
  for await (const e of readTar(stream)) names.push(e.header.name);
  assert.deepEqual(names.sort(), ["etc/", "etc/.wh.group", "hello.txt"]);

  const hist = await svc.history("mine:1");
  assert.equal(hist.length, 2);
  assert.equal(hist[0]!.Id, id);
  assert.equal(hist[0]!.CreatedBy, "pier commit");
  assert.equal(hist[0]!.Comment, "a change");
  assert.deepEqual(hist[0]!.Tags, ["mine:1"]);
  assert.equal(hist[1]!.Id, "<missing>");

  // The shared first layer is not unpacked again.
  const m = await s.mount(await svc.prepareRootfs("mine:1", "ctr2"), "ctr2");
  assert.equal(readFileSync(`${m}/hello.txt`, "utf8"), "hello\n");
  assert.ok(!existsSync(`${m}/etc/group`));
  assert.ok(existsSync(`${m}/etc/passwd`));
  await s.unmount(m);
  assert.equal((await svc.snapshotter.list()).filter((x) => x.kind === "committed").length, 2);
});

test("putImage: an index picks linux/amd64; bad documents are refused by kind", opts, async () => {
  const svc = s.service;
  const bb = await svc.resolve("busybox");
  const index = {
    schemaVersion: 2,
    mediaType: MT.ociIndex,
    manifests: [
      {
        mediaType: MT.ociManifest,
        digest: `sha256:${"0".repeat(64)}`,
        size: 10,
        platform: { architecture: "arm64", os: "linux" },
      },
      { ...bb.manifestDescriptor, platform: { architecture: "amd64", os: "linux" } },
    ],
  };
  const d = await svc.content.put(canonical(index));
  assert.equal(await svc.putImage("multi:1", d), busyboxId);
  assert.equal((await svc.inspect("multi:1")).Id, busyboxId);
  assert.equal((await svc.inspect(`busybox@${bb.target.digest}`)).Id, busyboxId);
  assert.deepEqual((await svc.inspect(busyboxId.slice(7, 19))).RepoDigests.sort(), [
    `busybox@${bb.target.digest}`,
    `multi@${d.digest}`,
  ]);
  await assert.rejects(svc.inspect("multi"), (e: unknown) => isKind(e, "NotFound"));

  const badType = await svc.content.put(
    canonical({ ...bb.manifest, mediaType: "application/vnd.example.thing+json" }),
  );
  await assert.rejects(svc.putImage("bad:1", badType), (e: unknown) => isKind(e, "NotImplemented"));
  const fewer = await svc.content.put(
    canonical({ ...bb.manifest, layers: [...bb.manifest.layers, ...bb.manifest.layers] }),
  );
  await assert.rejects(svc.putImage("bad:2", fewer), (e: unknown) => isKind(e, "InvalidArgument"));
  await assert.rejects(svc.putImage(`bad@sha256:${"1".repeat(64)}`, d), (e: unknown) =>
    isKind(e, "InvalidArgument"),
  );
  await svc.remove("multi:1");
  assert.equal((await svc.list()).length, 2);
});

test("history shows empty layers with size 0, newest first", opts, async () => {
  const svc = s.service;
  const bb = await svc.resolve("busybox");
  const config = {
    ...bb.config,
    history: [
      { created: "2020-01-01T00:00:00Z", created_by: "ADD rootfs" },
      { created: "2020-01-02T00:00:00Z", created_by: "ENV A=b", empty_layer: true, comment: "env" },
    ],
  };
  const { id } = await svc.createImage("hist:1", config, bb.manifest.layers);
  const h = await svc.history("hist:1");
  assert.deepEqual(
    h.map((r) => [r.Id, r.CreatedBy, r.Size > 0, r.Comment, r.Created]),
    [
      [id, "ENV A=b", false, "env", 1577923200],
      ["<missing>", "ADD rootfs", true, "", 1577836800],
    ],
  );
  // Moving the name to another image leaves the first one dangling, not lost.
  await svc.tag("busybox", "hist:1");
  assert.deepEqual((await svc.inspect(id)).RepoTags, []);
  assert.deepEqual(await svc.remove(id), [{ Deleted: id }]);
  await svc.remove("hist:1");
});

test("rmi follows docker's rules; prune collects the rest", opts, async () => {
  const svc = s.service;
  await svc.tag("busybox", "localhost:5000/bb:x");
  assert.deepEqual((await svc.inspect(busyboxId)).RepoTags.sort(), ["busybox:latest", "localhost:5000/bb:x"]);
  assert.deepEqual(await svc.remove("localhost:5000/bb:x"), [{ Untagged: "localhost:5000/bb:x" }]);
  await svc.tag(busyboxId.slice(7, 19), "bb2");
  await assert.rejects(svc.remove(busyboxId), (e: unknown) => isKind(e, "Conflict")); // two names
  await svc.remove("bb2");
  await assert.rejects(svc.remove("busybox"), (e: unknown) => isKind(e, "Conflict")); // ctr1 uses it
  assert.deepEqual(await svc.remove("busybox", { force: true }), [{ Untagged: "busybox:latest" }]);
  const dangling = (await svc.list()).find((i) => i.Id === busyboxId);
  assert.deepEqual(dangling?.RepoTags, []);
  assert.equal(dangling?.Containers, 1);

  await svc.removeRootfs("ctr1");
  const pruned = await svc.prune();
  assert.deepEqual(pruned.ImagesDeleted, [{ Deleted: busyboxId }]);
  await assert.rejects(svc.resolve(busyboxId), (e: unknown) => isKind(e, "NotFound"));

  await assert.rejects(svc.remove("mine:1"), (e: unknown) => isKind(e, "Conflict")); // ctr2
  await svc.removeRootfs("ctr2");
  const mine = await svc.inspect("mine:1");
  const res = await svc.remove("mine:1");
  assert.deepEqual(res.slice(0, 2), [{ Untagged: "mine:1" }, { Deleted: mine.Id }]);
  assert.equal(res.length, 4); // and both layer snapshots, by chain ID
  assert.deepEqual(await svc.snapshotter.list(), []);
  assert.deepEqual(await svc.list(), []);
  const gc = await svc.prune({ graceMs: 0 });
  assert.ok(gc.SpaceReclaimed > 0);
  assert.deepEqual(await svc.content.list(), []);
});

test("racing prepareRootfs calls unpack a shared layer once", opts, async () => {
  const t = await scratch("service-race");
  try {
    await bootstrapBusybox(t.service);
    await Promise.all([t.service.prepareRootfs("busybox", "r1"), t.service.prepareRootfs("busybox", "r2")]);
    const snaps = await t.service.snapshotter.list();
    assert.deepEqual(snaps.map((x) => x.kind).sort(), ["active", "active", "committed"]);
  } finally {
    await t.cleanup();
  }
});

test("the naive snapshotter gives the same commit", opts, async () => {
  const t = await scratch("service-naive", { snapshotter: "naive" });
  try {
    await bootstrapBusybox(t.service);
    const m = await t.mount(await t.service.prepareRootfs("busybox", "n1"), "n1");
    writeFileSync(`${m}/hello.txt`, "hello\n");
    rmSync(`${m}/etc/group`);
    await t.unmount(m);
    const { id } = await t.service.commit("n1", { name: "naive:1" });
    const img = await t.service.resolve(id);
    const names: string[] = [];
    const layer = img.manifest.layers[1]!;
    const { stream } = await decompress(
      (await t.service.content.reader(layer.digest)) as AsyncIterable<Buffer>,
    );
    for await (const e of readTar(stream)) names.push(e.header.name);
    assert.deepEqual(names.sort(), ["etc/", "etc/.wh.group", "hello.txt"]);
  } finally {
    await t.cleanup();
  }
});
