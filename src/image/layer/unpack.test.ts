/**
 * Unpacking real layers made by GNU tar, against the real kernel (root):
 * every file kind, owners, modes, times, xattrs, hard links, long and
 * non-ASCII names; whiteouts checked through a real overlay mount.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { Fsops } from "../../snapshot/fsops.ts";
import { mountAll } from "../../snapshot/mount.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { hasZstd } from "./compression.ts";
import { chunksOf, craftTar, describeTree, fileChunks, gnuTar, makeRichTree, Scratch } from "./testutil.ts";
import { unpackLayer } from "./unpack.ts";

const skip = kernelSkipReason();
const opts = skip ? { skip } : {};

before(() => {
  if (!skip) ensureFsops();
});

test("GNU tar layers (posix+xattrs, gnu+gzip, zstd) unpack to the same tree", opts, async () => {
  const s = new Scratch("unpack");
  try {
    const src = s.mkdir("src");
    await makeRichTree(src);
    const expected = await describeTree(src);
    const noXattrs = await describeTree(src, { xattrs: false });
    // Sanity: the tree really has what the test is about.
    assert.match(expected["bin/tool"]!, /^file 4755 0:0 .*xattrs\[security.capability=/);
    assert.match(expected["dev/null"]!, /^char 666 /);
    assert.match(expected["bin/tool-link"]!, /hardlink-of=bin\/tool/);

    const variants: { name: string; args: string[]; xattrs: boolean; compression: string }[] = [
      {
        name: "posix.tar",
        args: ["--format=posix", "--xattrs", "--xattrs-include=*"],
        xattrs: true,
        compression: "none",
      },
      { name: "gnu.tar.gz", args: ["--format=gnu", "-z"], xattrs: false, compression: "gzip" },
    ];
    if (hasZstd()) {
      variants.push({
        name: "posix.tar.zst",
        args: ["--format=posix", "--xattrs", "--xattrs-include=*", "--zstd"],
        xattrs: true,
        compression: "zstd",
      });
    }
    for (const v of variants) {
      const file = s.path(v.name);
      gnuTar(src, file, v.args);
      const dst = s.mkdir(`dst-${v.name}`);
      const r = await unpackLayer(fileChunks(file), dst);
      assert.equal(r.compression, v.compression);
      const uncompressed =
        v.compression === "none"
          ? readFileSync(file)
          : execFileSync(v.compression === "gzip" ? "gzip" : "zstd", ["-dc", file], { maxBuffer: 1 << 28 });
      assert.equal(r.diffID, `sha256:${createHash("sha256").update(uncompressed).digest("hex")}`, v.name);
      assert.equal(r.size, uncompressed.length);
      assert.deepEqual(await describeTree(dst, { xattrs: v.xattrs }), v.xattrs ? expected : noXattrs, v.name);
      // A hard link shares the inode.
      assert.equal(lstatSync(join(dst, "bin/tool")).ino, lstatSync(join(dst, "etc/tool-link2")).ino);
    }

    // The expected diffID is checked.
    await assert.rejects(
      unpackLayer(fileChunks(s.path("posix.tar")), s.mkdir("dst-wrong"), {
        expectedDiffID: `sha256:${"0".repeat(64)}`,
      }),
      (e: unknown) => (e as { kind?: string }).kind === "InvalidArgument",
    );
  } finally {
    await s.dispose();
  }
});

test(
  "whiteouts: overlay format really hides files in an overlay mount; apply format deletes",
  opts,
  async () => {
    const s = new Scratch("whiteout");
    try {
      // Layer 1: the base.
      const base = s.mkdir("base");
      for (const d of ["a", "b/sub", "c/deep"]) mkdirSync(join(base, d), { recursive: true });
      for (const f of ["a/keep", "a/gone", "b/old1", "b/sub/old2", "c/deep/file", "top"])
        writeFileSync(join(base, f), f);
      gnuTar(base, s.path("l1.tar"));
      // Layer 2: deletes a/gone and all of c, makes b opaque with one new file, adds newfile.
      const upper = s.mkdir("upper");
      mkdirSync(join(upper, "a"));
      mkdirSync(join(upper, "b"));
      for (const f of ["a/.wh.gone", "b/.wh..wh..opq", ".wh.c"]) writeFileSync(join(upper, f), "");
      writeFileSync(join(upper, "b/new"), "new");
      writeFileSync(join(upper, "newfile"), "n");
      gnuTar(upper, s.path("l2.tar"));

      const l1 = s.mkdir("layers/1");
      const l2 = s.mkdir("layers/2");
      await unpackLayer(fileChunks(s.path("l1.tar")), l1);
      await unpackLayer(fileChunks(s.path("l2.tar")), l2);
      const st = lstatSync(join(l2, "a/gone"));
      assert.ok(st.isCharacterDevice() && st.rdev === 0, "whiteout is a 0/0 char device");
      assert.ok(lstatSync(join(l2, "c")).isCharacterDevice());
      const x = await Fsops.with({ root: l2 }, (f) => f.getxattrs("b"));
      assert.equal(x.get("trusted.overlay.opaque")?.toString(), "y");
      assert.equal(existsSync(join(l2, "b/.wh..wh..opq")), false);

      const mnt = s.mounted(s.mkdir("mnt"));
      await mountAll([{ type: "overlay", source: "overlay", options: ["ro", `lowerdir=${l2}:${l1}`] }], mnt);
      assert.deepEqual(readdirSync(mnt).sort(), ["a", "b", "newfile", "top"]);
      assert.deepEqual(readdirSync(join(mnt, "a")), ["keep"]);
      assert.deepEqual(readdirSync(join(mnt, "b")), ["new"]);
      const merged = await describeTree(mnt, { rootTimes: false });

      // "apply": both layers into one directory gives what the overlay shows.
      const flat = s.mkdir("flat");
      await unpackLayer(fileChunks(s.path("l1.tar")), flat, { whiteouts: "apply" });
      await unpackLayer(fileChunks(s.path("l2.tar")), flat, { whiteouts: "apply" });
      assert.deepEqual(await describeTree(flat, { rootTimes: false }), merged);
    } finally {
      await s.dispose();
    }
  },
);

test("apply mode: an opaque directory keeps what its own layer wrote, whatever the order", opts, async () => {
  const s = new Scratch("opaque");
  try {
    const dst = s.mkdir("dst");
    const base = craftTar([
      { name: "d/", type: "dir", mode: 0o755 },
      { name: "d/x/", type: "dir", mode: 0o755 },
      { name: "d/x/old", type: "file", body: Buffer.from("old") },
      { name: "d/y", type: "file", body: Buffer.from("y") },
    ]);
    await unpackLayer(chunksOf(base), dst, { whiteouts: "apply" });
    const layer = craftTar([
      { name: "d/x/new", type: "file", body: Buffer.from("new") },
      { name: "d/.wh..wh..opq", type: "file" },
      { name: "d/z", type: "file", body: Buffer.from("z") },
    ]);
    await unpackLayer(chunksOf(layer), dst, { whiteouts: "apply" });
    assert.deepEqual(readdirSync(join(dst, "d")).sort(), ["x", "z"]);
    assert.deepEqual(readdirSync(join(dst, "d/x")), ["new"]);
  } finally {
    await s.dispose();
  }
});

test(
  "a gzip layer fed in odd-sized chunks; pax records and long names from the writer round-trip",
  opts,
  async () => {
    const s = new Scratch("chunks");
    try {
      const long = `${"p".repeat(120)}/${"q".repeat(140)}`;
      const tar = craftTar([
        { name: "ok/", type: "dir", mode: 0o750, uid: 3_000_000, gid: 7 },
        { name: long, type: "file", body: Buffer.from("deep"), uid: 5, gid: 6, mtime: 1_234_567_890 },
        { name: "lnk", type: "symlink", linkname: "x".repeat(300) },
        {
          name: "ok/attr",
          type: "file",
          body: Buffer.from("a"),
          xattrs: new Map([["user.k", Buffer.from("v\n=")]]),
        },
      ]);
      const dst = s.mkdir("dst");
      await unpackLayer(chunksOf(gzipSync(tar), 7), dst);
      assert.equal(readFileSync(join(dst, long), "utf8"), "deep");
      assert.equal(lstatSync(join(dst, long)).mtimeMs, 1_234_567_890_000);
      assert.equal(lstatSync(join(dst, "ok")).uid, 3_000_000);
      assert.equal(lstatSync(join(dst, "ok")).mode & 0o7777, 0o750);
      const x = await Fsops.with({ root: dst }, (f) => f.getxattrs("ok/attr"));
      assert.equal(x.get("user.k")?.toString(), "v\n=");
    } finally {
      await s.dispose();
    }
  },
);
