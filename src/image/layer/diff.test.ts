/**
 * The diff round trip, through each snapshotter: a real layer is applied to a
 * snapshot, a child snapshot is changed through its mount in every way a
 * container can, the change is archived (diff), and applying base + diff
 * elsewhere gives exactly the tree the container saw.
 */
import { execFileSync } from "node:child_process";
import { linkSync, mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { Fsops } from "../../snapshot/fsops.ts";
import { isMountPoint, mountAll, unmount, type Mount } from "../../snapshot/mount.ts";
import { NaiveSnapshotter } from "../../snapshot/naive.ts";
import { OverlaySnapshotter } from "../../snapshot/overlay.ts";
import type { Snapshotter } from "../../snapshot/snapshotter.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { ContentStore } from "../content/store.ts";
import { applyLayer, diffMounts } from "./apply.ts";
import { decompress } from "./compression.ts";
import { packLayer } from "./pack.ts";
import { readTar } from "./tar.ts";
import { describeTree, fileChunks, gnuTar, makeRichTree } from "./testutil.ts";
import { unpackLayer } from "./unpack.ts";

const skip = kernelSkipReason();
const opts = skip ? { skip } : {};

before(() => {
  if (!skip) ensureFsops();
});

/** Every kind of change a container makes. */
async function modify(m: string): Promise<void> {
  const sh = (cmd: string) => execFileSync("sh", ["-c", cmd], { cwd: m });
  rmSync(join(m, "etc/hosts")); // a file deleted
  rmSync(join(m, "etc/tool-link2")); // one name of a hard-linked file deleted
  rmSync(join(m, "private"), { recursive: true }); // a directory deleted
  writeFileSync(join(m, "secret"), "changed"); // copied up and changed
  sh("chmod 0640 secret && chown 7:8 secret");
  writeFileSync(join(m, "added"), "new file");
  linkSync(join(m, "added"), join(m, "added-link"));
  symlinkSync("added", join(m, "added-symlink"));
  await Fsops.with({ root: m }, (f) => f.setxattr("added", "user.new", Buffer.from("attr")));
  mkdirSync(join(m, "newdir/sub"), { recursive: true });
  writeFileSync(join(m, "newdir/sub/f"), "f");
  sh("mkfifo run/fifo2 && mknod dev/zero c 1 5");
  rmSync(join(m, "sticky"), { recursive: true }); // a directory replaced by a file
  writeFileSync(join(m, "sticky"), "now a file");
  rmSync(join(m, "dev"), { recursive: true }); // a directory deleted and made again: opaque
  mkdirSync(join(m, "dev"));
  writeFileSync(join(m, "dev/only"), "only");
  renameSync(join(m, "empty"), join(m, "renamed-empty"));
  sh("touch -h -d @1000000000 link-rel && touch -d @1100000000 bin");
}

async function flavour(name: string, open: (root: string) => Promise<Snapshotter>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), `pier-diff-${name}-`));
  const mounted: string[] = [];
  let sn: Snapshotter | undefined;
  const mount = async (mounts: Mount[]) => {
    const t = join(dir, `mnt-${mounted.length}`);
    mkdirSync(t);
    mounted.push(t);
    await mountAll(mounts, t);
    return t;
  };
  try {
    const content = await ContentStore.open(join(dir, "content"));
    sn = await open(join(dir, "snapshots"));
    const src = join(dir, "src");
    mkdirSync(src);
    await makeRichTree(src);
    const baseTar = join(dir, "base.tar");
    gnuTar(src, baseTar, ["--format=posix", "--xattrs", "--xattrs-include=*"]);

    const base = await sn.prepare("base");
    await applyLayer(base, fileChunks(baseTar));
    await sn.commit("base-c", "base");

    const m = await mount(await sn.prepare("work", "base-c"));
    await modify(m);
    const expected = await describeTree(m, { rootTimes: false });
    await unmount(m);

    const lower = name === "naive" ? await sn.view("base-view", "base-c") : undefined;
    const d = await diffMounts(content, lower, await sn.mounts("work"));
    const again = await diffMounts(content, lower, await sn.mounts("work"));
    assert.deepEqual(again, d, "diffs are deterministic");
    assert.equal(d.mediaType, "application/vnd.oci.image.layer.v1.tar+gzip");

    // The archive holds OCI whiteouts, not overlay ones.
    const names: string[] = [];
    const { stream } = await decompress(await content.reader(d.digest));
    for await (const e of readTar(stream as AsyncIterable<Buffer>))
      names.push(`${e.header.type} ${e.header.name}`);
    for (const n of [
      "file etc/.wh.hosts",
      "file .wh.private",
      "file .wh.empty",
      "file renamed-empty",
      "hardlink added-link",
    ])
      assert.ok(names.includes(n), `${n} in ${names.join(", ")}`);
    if (name === "overlayfs") assert.ok(names.includes("file dev/.wh..wh..opq"));
    assert.ok(!names.some((n) => n.startsWith("char dev/null")), "unchanged entries are not in the diff");

    // Apply base + diff to a new snapshot.
    const re = await sn.prepare("re", "base-c");
    const r = await applyLayer(re, await content.reader(d.digest), { expectedDiffID: d.diffID });
    assert.equal(r.size, d.uncompressedSize);
    await sn.commit("re-c", "re");
    const v = await mount(await sn.view("re-v", "re-c"));
    assert.deepEqual(await describeTree(v, { rootTimes: false }), expected);

    // And to a plain directory, whiteouts applied as deletions.
    const flat = join(dir, "flat");
    mkdirSync(flat);
    await unpackLayer(fileChunks(baseTar), flat, { whiteouts: "apply" });
    await unpackLayer(await content.reader(d.digest), flat, { whiteouts: "apply" });
    assert.deepEqual(await describeTree(flat, { rootTimes: false }), expected);
  } finally {
    for (const t of mounted.reverse()) if (isMountPoint(t)) await unmount(t, { detach: true });
    await sn?.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test("diff round trip through the overlay snapshotter", opts, () =>
  flavour("overlayfs", (root) => OverlaySnapshotter.open(root)),
);

test("diff round trip through the plain-copy snapshotter", opts, () =>
  flavour("naive", (root) => NaiveSnapshotter.open(root)),
);

test(
  "SOURCE_DATE_EPOCH-style clamping makes archives independent of when files were written",
  opts,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-epoch-"));
    try {
      const digestOfTree = async () => {
        const parts: Buffer[] = [];
        for await (const c of packLayer(join(dir, "t"), { whiteouts: "plain", sourceDateEpoch: 1_000_000 }))
          parts.push(c);
        return Buffer.concat(parts);
      };
      mkdirSync(join(dir, "t/a"), { recursive: true });
      writeFileSync(join(dir, "t/a/f"), "x");
      const one = await digestOfTree();
      execFileSync("touch", ["-d", "@2000000000", join(dir, "t/a/f"), join(dir, "t/a")]);
      const two = await digestOfTree();
      assert.ok(one.equals(two));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
