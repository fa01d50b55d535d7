/**
 * Archives against the tools people use: what pier saves, skopeo and podman
 * read; what skopeo writes from it, pier loads back with the same digests;
 * a corrupt blob is refused and leaves nothing behind.
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { after, before, test } from "node:test";
import { isKind } from "../../common/errors.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { bootstrapBusybox } from "../bootstrap/busybox.ts";
import { ImageService } from "../service/service.ts";
import { scratch, type Scratch } from "../service/testing.ts";
import { importRootfs } from "./import.ts";
import { load } from "./load.ts";
import { save } from "./save.ts";

const skip = kernelSkipReason() || (spawnSync("skopeo", ["--version"]).status !== 0 && "needs skopeo");
const opts = skip ? { skip } : {};
const hasPodman = spawnSync("podman", ["--version"]).status === 0;
let s: Scratch;
let ociTar = "";
let dockerTar = "";
const ids: Record<string, string> = {};
const manifests: Record<string, string> = {};

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const skopeo = (...args: string[]) =>
  execFileSync("skopeo", ["--insecure-policy", ...args], { stdio: ["ignore", "pipe", "pipe"] });

async function fresh(name: string): Promise<ImageService> {
  return ImageService.open(join(s.dir, name));
}

before(async () => {
  if (skip) return;
  ensureFsops();
  s = await scratch("archive");
  const svc = s.service;
  ids.busybox = (await bootstrapBusybox(svc)).id;
  // A second image sharing busybox's layer: busybox + one file.
  const m = await s.mount(await svc.prepareRootfs("busybox", "c1"), "c1");
  writeFileSync(join(m, "two.txt"), "two\n");
  await s.unmount(m);
  ids.two = (await svc.commit("c1", { name: "localhost:5000/two:1" })).id;
  await svc.removeRootfs("c1");
  for (const n of ["busybox", "localhost:5000/two:1"]) {
    manifests[n] = (await svc.resolve(n)).manifestDescriptor.digest;
  }
  ociTar = join(s.dir, "oci.tar");
  dockerTar = join(s.dir, "docker.tar");
  await save(svc, ["busybox", "localhost:5000/two:1"], ociTar, { format: "oci" });
  await save(svc, ["busybox", "localhost:5000/two:1"], dockerTar, { format: "docker-archive" });
});

after(async () => {
  await s?.cleanup();
});

test("skopeo reads the OCI archive with our digests", opts, () => {
  const raw = skopeo("inspect", "--raw", `oci-archive:${ociTar}:1`);
  assert.equal(sha(raw), manifests["localhost:5000/two:1"]);
  const info = JSON.parse(skopeo("inspect", `oci-archive:${ociTar}:latest`).toString()) as {
    Digest: string;
    Layers: string[];
  };
  assert.equal(info.Digest, manifests.busybox);
  assert.equal(info.Layers.length, 1);
});

test("skopeo reads the docker archive; its OCI copy loads back with the same digests", opts, async () => {
  const cfg = skopeo("inspect", "--config", "--raw", `docker-archive:${dockerTar}:localhost:5000/two:1`);
  assert.equal(sha(cfg), ids.two);
  const dir = join(s.dir, "skopeo-oci");
  skopeo("copy", `docker-archive:${dockerTar}:localhost:5000/two:1`, `oci:${dir}:localhost/two:rt`);
  const tar = join(s.dir, "skopeo-oci.tar");
  execFileSync("tar", ["-C", dir, "-cf", tar, "."]);
  const svc = await fresh("load-skopeo-oci");
  try {
    const r = await load(svc, tar);
    assert.equal(r.format, "oci");
    assert.deepEqual(r.names, ["localhost/two:rt"]);
    assert.deepEqual(r.ids, [ids.two]);
    assert.deepEqual(
      (await svc.inspect("localhost/two:rt")).RootFS,
      (await s.service.inspect(ids.two!)).RootFS,
    );
  } finally {
    await svc.close();
  }
});

test("skopeo's copies of our archives load back: same manifest (OCI), same ID (docker)", opts, async () => {
  const dir = join(s.dir, "skopeo-oci2");
  skopeo("copy", `oci-archive:${ociTar}:1`, `oci:${dir}:localhost:5000/two:1`);
  const tar = join(s.dir, "skopeo-oci2.tar");
  execFileSync("tar", ["-C", dir, "-cf", tar, "."]);
  const d2 = join(s.dir, "skopeo-docker.tar");
  skopeo("copy", `docker-archive:${dockerTar}:busybox:latest`, `docker-archive:${d2}:bb:copy`);
  const svc = await fresh("load-skopeo-2");
  try {
    const r = await load(svc, tar);
    assert.deepEqual(r.names, ["localhost:5000/two:1"]);
    assert.equal(
      (await svc.resolve("localhost:5000/two:1")).manifestDescriptor.digest,
      manifests["localhost:5000/two:1"],
    );
    const r2 = await load(svc, d2);
    assert.equal(r2.format, "docker-archive");
    assert.deepEqual(r2.names, ["docker.io/library/bb:copy"]);
    assert.deepEqual(r2.ids, [ids.busybox]);
    // Our own archives load too, in both formats, into a store that already shares their layers.
    assert.deepEqual((await load(svc, ociTar)).ids.sort(), [ids.busybox, ids.two].sort());
    assert.deepEqual((await load(svc, dockerTar)).ids.sort(), [ids.busybox, ids.two].sort());
    const m = await s.mount(await svc.prepareRootfs("localhost:5000/two:1", "check"), "check");
    assert.equal(readFileSync(join(m, "two.txt"), "utf8"), "two\n");
    await s.unmount(m);
    await svc.removeRootfs("check");
  } finally {
    await svc.close();
  }
});

test("podman loads our docker archive", { ...opts, skip: skip || (!hasPodman && "needs podman") }, () => {
  const p = join(s.dir, "podman");
  const podman = (...args: string[]) =>
    execFileSync(
      "podman",
      [
        "--root",
        join(p, "root"),
        "--runroot",
        join(p, "run"),
        "--storage-driver",
        "vfs",
        "--events-backend",
        "none",
        ...args,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    ).toString();
  podman("load", "-i", dockerTar);
  const out = podman("images", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}");
  assert.match(out, new RegExp(`${ids.two!.slice(7)} localhost:5000/two:1`));
  assert.match(out, new RegExp(`${ids.busybox!.slice(7)} docker.io/library/busybox:latest`));
});

test(
  "podman's docker and OCI archives of an imported rootfs load with podman's diff_ids",
  { ...opts, skip: skip || (!hasPodman && "needs podman") },
  async () => {
    const p = join(s.dir, "podman-import");
    mkdirSync(join(p, "rootfs/etc"), { recursive: true });
    writeFileSync(join(p, "rootfs/etc/os-release"), "ID=podman-import\n");
    writeFileSync(join(p, "containers.conf"), "");
    const rootfs = join(p, "rootfs.tar");
    execFileSync("tar", ["-C", join(p, "rootfs"), "-cf", rootfs, "."]);
    const podman = (...args: string[]) =>
      execFileSync(
        "podman",
        [
          "--root",
          join(p, "root"),
          "--runroot",
          join(p, "run"),
          "--storage-driver",
          "vfs",
          "--cgroup-manager",
          "cgroupfs",
          "--events-backend",
          "none",
          ...args,
        ],
        {
          stdio: ["ignore", "pipe", "pipe"],
          env: { ...process.env, CONTAINERS_CONF: join(p, "containers.conf") },
        },
      ).toString();
    podman("import", rootfs, "localhost/podimp:1");
    const layers = JSON.parse(
      podman("image", "inspect", "--format", "{{json .RootFS.Layers}}", "localhost/podimp:1"),
    ) as string[];
    assert.equal(layers.length, 1);
    const podmanId = `sha256:${podman("image", "inspect", "--format", "{{.Id}}", "localhost/podimp:1").trim()}`;
    assert.match(layers[0]!, /^sha256:[0-9a-f]{64}$/);
    const a = join(p, "A.tar");
    const b = join(p, "B.tar");
    podman("save", "--format", "docker-archive", "-o", a, "localhost/podimp:1");
    podman("save", "--format", "oci-archive", "-o", b, "localhost/podimp:1");
    for (const [tar, format] of [
      [a, "docker-archive"],
      [b, "oci"],
    ] as const) {
      const svc = await fresh(`load-podman-${format}`);
      try {
        const r = await load(svc, tar);
        assert.equal(r.format, format);
        assert.deepEqual(r.ids, [podmanId], format); // the same config, so the same ID
        const ri = await svc.inspect(r.ids[0]!);
        assert.equal(ri.RootFS.Type, "layers");
        assert.deepEqual(ri.RootFS.Layers, layers, format);
      } finally {
        await svc.close();
      }
    }
  },
);

/** A copy of `tar` with one byte of the body of the entry `name` flipped. */
function corrupt(tar: string, match: (name: string, size: number) => boolean, out: string): void {
  const b = Buffer.from(readFileSync(tar));
  for (let off = 0; off + 512 <= b.length;) {
    const name = b
      .subarray(off, off + 100)
      .toString("latin1")
      .replace(/\0.*$/s, "");
    if (!name) break;
    const size = parseInt(
      b
        .subarray(off + 124, off + 136)
        .toString("latin1")
        .replace(/\0.*$/s, "")
        .trim() || "0",
      8,
    );
    if (match(name, size)) {
      b[off + 512 + Math.floor(size / 2)]! ^= 0xff;
      writeFileSync(out, b);
      return;
    }
    off += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`no entry to corrupt in ${tar}`);
}

test("a corrupt blob is refused and nothing is left behind", opts, async () => {
  mkdirSync(join(s.dir, "bad"), { recursive: true });
  const badOci = join(s.dir, "bad/oci.tar");
  corrupt(ociTar, (n, size) => n.startsWith("blobs/") && size > 100_000, badOci);
  const badDocker = join(s.dir, "bad/docker.tar");
  corrupt(dockerTar, (n) => n.endsWith("/layer.tar"), badDocker);
  const truncated = join(s.dir, "bad/truncated.tar");
  writeFileSync(truncated, readFileSync(ociTar).subarray(0, 600_000));
  for (const bad of [badOci, badDocker, truncated]) {
    const svc = await fresh(`load-bad-${bad.split("/").pop()}`);
    try {
      await assert.rejects(load(svc, bad), (e: unknown) => isKind(e, "InvalidArgument"), bad);
      assert.deepEqual(svc.meta.listImages(), []);
      assert.deepEqual(await svc.content.list(), [], bad);
      assert.deepEqual(await svc.content.listIngests(), []);
    } finally {
      await svc.close();
    }
  }
});

test("import makes a one-layer image from a directory or a tarball", opts, async () => {
  const root = join(s.dir, "rootfs");
  mkdirSync(join(root, "etc"), { recursive: true });
  writeFileSync(join(root, "etc/os-release"), "ID=pier\n");
  const tgz = join(s.dir, "rootfs.tgz");
  execFileSync("tar", ["-C", root, "-czf", tgz, "."]);
  const svc = s.service;
  const a = await importRootfs(svc, root, "imp:dir", {
    changes: ['CMD ["/bin/sh"]'],
    created: new Date(0),
    sourceDateEpoch: 0,
  });
  const b = await importRootfs(svc, tgz, "imp:tar", {
    changes: ['CMD ["/bin/sh"]'],
    created: new Date(0),
    sourceDateEpoch: 0,
  });
  const ia = await svc.inspect("imp:dir");
  assert.equal(ia.RootFS.Layers.length, 1);
  assert.deepEqual(ia.Config.Cmd, ["/bin/sh"]);
  assert.deepEqual(ia.RootFS, (await svc.inspect("imp:tar")).RootFS); // the same layer either way
  assert.notEqual(a.id, ""); // (configs differ only in the history comment)
  assert.ok(b.id.startsWith("sha256:"));
  const hostile = join(s.dir, "hostile.tar");
  execFileSync("tar", ["-cf", hostile, "--absolute-names", "/etc/hostname"]);
  await assert.rejects(importRootfs(svc, hostile, "imp:bad"), (e: unknown) => isKind(e, "InvalidArgument"));
});

test("save to a stream and load from a stream", opts, async () => {
  const out = new PassThrough();
  const chunks: Buffer[] = [];
  out.on("data", (c: Buffer) => chunks.push(c));
  await save(s.service, [ids.two!], out, { format: "oci" });
  out.end();
  const svc = await fresh("load-stream");
  try {
    const r = await load(svc, Readable.from([Buffer.concat(chunks)]));
    assert.deepEqual(r.names, ["localhost:5000/two:1"]); // saved by ID: every name of the image
    assert.deepEqual(r.ids, [ids.two]);
  } finally {
    await svc.close();
  }
});
