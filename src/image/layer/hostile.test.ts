/**
 * Hostile layers: each is refused with a PierError of the right kind, and
 * nothing outside the target directory changes.
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { PierError } from "../../common/errors.ts";
import { Fsops } from "../../snapshot/fsops.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { encodeHeader } from "./tar.ts";
import { chunksOf, craftTar, Scratch, type CraftedEntry } from "./testutil.ts";
import { unpackLayer, type UnpackOptions } from "./unpack.ts";

const skip = kernelSkipReason();
const opts = skip ? { skip } : {};

before(() => {
  if (!skip) ensureFsops();
});

/** Every file under `dir` with its type and content hash: what "nothing changed" is checked against. */
function fingerprint(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const p = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(dir, p));
      if (st.isDirectory()) {
        out.push(`${p}/ ${st.mode.toString(8)}`);
        walk(p);
      } else if (st.isFile()) {
        out.push(
          `${p} ${st.mode.toString(8)} ${st.nlink} ${createHash("sha256")
            .update(readFileSync(join(dir, p)))
            .digest("hex")}`,
        );
      } else out.push(`${p} ${st.mode.toString(8)}`);
    }
  };
  walk("");
  return out;
}

interface Case {
  name: string;
  entries?: CraftedEntry[];
  raw?: (outside: string) => Buffer;
  build?: (outside: string) => CraftedEntry[];
  kind: PierError["kind"];
  opts?: UnpackOptions;
}

const file = (name: string, body = "pwned"): CraftedEntry => ({
  name,
  type: "file",
  body: Buffer.from(body),
});

const CASES: Case[] = [
  { name: "../ path", entries: [file("../escape")], kind: "InvalidArgument" },
  { name: "../ into a sibling", entries: [file("../outside/victim")], kind: "InvalidArgument" },
  { name: "absolute path", entries: [file("/tmp/pier-hostile-abs")], kind: "InvalidArgument" },
  { name: "a/../../x", entries: [file("a/../../x")], kind: "InvalidArgument" },
  {
    name: "pax path with ..",
    entries: [{ ...file("benign"), pax: new Map([["path", Buffer.from("../../pax-escape")]]) }],
    kind: "InvalidArgument",
  },
  {
    name: "relative symlink pointing outside",
    entries: [{ name: "esc", type: "symlink", linkname: "../../outside" }],
    kind: "InvalidArgument",
  },
  {
    name: "write through an absolute symlink",
    build: (outside) => [{ name: "lnk", type: "symlink", linkname: outside }, file("lnk/pwned")],
    kind: "InvalidArgument",
  },
  {
    name: "directory replaced by a symlink, then written through",
    build: (outside) => [
      { name: "d/", type: "dir", mode: 0o755 },
      { name: "d", type: "symlink", linkname: outside },
      file("d/pwned"),
    ],
    kind: "InvalidArgument",
  },
  {
    name: "deep path through a symlinked parent",
    build: (outside) => [
      { name: "a/", type: "dir", mode: 0o755 },
      { name: "a/b", type: "symlink", linkname: outside },
      { name: "a/b/c/", type: "dir", mode: 0o755 },
    ],
    kind: "InvalidArgument",
  },
  {
    name: "hard link to ../",
    entries: [{ name: "h", type: "hardlink", linkname: "../outside/victim" }],
    kind: "InvalidArgument",
  },
  {
    name: "hard link to an absolute path",
    build: (outside) => [{ name: "h", type: "hardlink", linkname: join(outside, "victim") }],
    kind: "InvalidArgument",
  },
  {
    name: "hard link through a symlinked parent",
    build: (outside) => [
      { name: "s", type: "symlink", linkname: outside },
      { name: "h", type: "hardlink", linkname: "s/victim" },
    ],
    kind: "InvalidArgument",
  },
  {
    name: "hard link to a directory",
    entries: [
      { name: "d/", type: "dir", mode: 0o755 },
      { name: "h", type: "hardlink", linkname: "d" },
    ],
    kind: "InvalidArgument",
  },
  {
    name: "hard link to nothing",
    entries: [{ name: "h", type: "hardlink", linkname: "missing" }],
    kind: "InvalidArgument",
  },
  {
    name: "whiteout through a symlink (overlay)",
    build: (outside) => [{ name: "s", type: "symlink", linkname: outside }, file("s/.wh.victim", "")],
    kind: "InvalidArgument",
  },
  {
    name: "whiteout through a symlink (apply)",
    build: (outside) => [{ name: "s", type: "symlink", linkname: outside }, file("s/.wh.victim", "")],
    kind: "InvalidArgument",
    opts: { whiteouts: "apply" },
  },
  {
    name: "opaque marker through a symlink",
    build: (outside) => [{ name: "s", type: "symlink", linkname: outside }, file("s/.wh..wh..opq", "")],
    kind: "InvalidArgument",
  },
  { name: "whiteout of ..", entries: [file("d/.wh..", "")], kind: "InvalidArgument" },
  {
    name: "device node when devices are not allowed",
    entries: [{ name: "mem", type: "char", devmajor: 1, devminor: 1 }],
    kind: "PermissionDenied",
    opts: { allowDevices: false },
  },
  {
    name: "overlay-internal xattr",
    entries: [
      {
        name: "d/",
        type: "dir",
        mode: 0o755,
        xattrs: new Map([["trusted.overlay.redirect", Buffer.from("/x")]]),
      },
    ],
    kind: "InvalidArgument",
  },
  {
    name: "tar bomb: total bytes",
    entries: [file("big", "x".repeat(2 * 1024 * 1024))],
    kind: "ResourceExhausted",
    opts: { maxBytes: 1024 * 1024 },
  },
  {
    name: "tar bomb: gzip of 64 MiB of zeros",
    raw: () => gzipSync(craftTar([{ name: "zeros", type: "file", body: Buffer.alloc(64 * 1024 * 1024) }])),
    kind: "ResourceExhausted",
    opts: { maxBytes: 8 * 1024 * 1024 },
  },
  {
    name: "tar bomb: entry count",
    entries: Array.from({ length: 100 }, (_, i) => file(`f${i}`, "")),
    kind: "ResourceExhausted",
    opts: { maxEntries: 50 },
  },
  {
    name: "huge pax header",
    entries: [{ ...file("x"), pax: new Map([["comment", Buffer.alloc(2 * 1024 * 1024, 0x61)]]) }],
    kind: "ResourceExhausted",
  },
  {
    name: "truncated archive",
    raw: () => craftTar([file("t", "y".repeat(5000))]).subarray(0, 2048),
    kind: "InvalidArgument",
  },
  {
    name: "bad checksum",
    raw: () => {
      const b = craftTar([file("c")]);
      b[0] = 0x41;
      return b;
    },
    kind: "InvalidArgument",
  },
  {
    name: "not a tar at all",
    raw: () => Buffer.from("hello world, this is not a tar archive\n".repeat(20)),
    kind: "InvalidArgument",
  },
  {
    name: "GNU sparse file",
    raw: () => {
      const h = encodeHeader({ name: "sparse", type: "file", mode: 0o644, mtime: 0 });
      h.write("S", 156, "latin1");
      h.fill(0x20, 148, 156);
      let sum = 0;
      for (let i = 0; i < 512; i++) sum += h[i]!;
      h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
      return Buffer.concat([h, Buffer.alloc(1024)]);
    },
    kind: "NotImplemented",
  },
  {
    name: "xz-compressed",
    raw: () => Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0, 0]),
    kind: "NotImplemented",
  },
];

for (const c of CASES) {
  test(`hostile: ${c.name} is refused and nothing outside changes`, opts, async () => {
    const s = new Scratch("hostile");
    try {
      const outside = s.mkdir("outside");
      writeFileSync(join(outside, "victim"), "original");
      const target = s.mkdir("target");
      const before = fingerprint(s.dir);
      const data = c.raw ? c.raw(outside) : craftTar(c.entries ?? c.build!(outside));
      await assert.rejects(unpackLayer(chunksOf(data, 65536), target, c.opts), (e: unknown) => {
        assert.ok(e instanceof PierError, `not a PierError: ${String(e)}`);
        assert.equal(e.kind, c.kind, e.message);
        return true;
      });
      const after = fingerprint(s.dir).filter((l) => !l.startsWith("target/"));
      assert.deepEqual(
        after,
        before.filter((l) => !l.startsWith("target/")),
      );
      assert.equal(readFileSync(join(outside, "victim"), "utf8"), "original");
      assert.equal(lstatSync(join(outside, "victim")).nlink, 1);
    } finally {
      await s.dispose();
    }
  });
}

test("an entry replaces a symlink at its own name instead of writing through it", opts, async () => {
  const s = new Scratch("hostile-replace");
  try {
    const outside = s.mkdir("outside");
    writeFileSync(join(outside, "victim"), "original");
    const target = s.mkdir("target");
    await unpackLayer(
      chunksOf(
        craftTar([
          { name: "f", type: "symlink", linkname: join(outside, "victim") },
          file("f", "replaced"),
          { name: "g", type: "symlink", linkname: outside },
          { name: "g/", type: "dir", mode: 0o700 },
        ]),
      ),
      target,
    );
    assert.equal(readFileSync(join(outside, "victim"), "utf8"), "original");
    assert.ok(lstatSync(join(target, "f")).isFile());
    assert.equal(readFileSync(join(target, "f"), "utf8"), "replaced");
    assert.ok(lstatSync(join(target, "g")).isDirectory());
    assert.equal(lstatSync(outside).mode & 0o777, 0o755);
  } finally {
    await s.dispose();
  }
});

test("the C helper itself refuses paths that leave its root or pass a symlink", opts, async () => {
  const s = new Scratch("hostile-helper");
  try {
    const outside = s.mkdir("outside");
    const target = s.mkdir("target");
    await Fsops.with({ root: target }, async (f) => {
      await f.mknod("lnk-placeholder", 0o010644); // a fifo, fine
      for (const p of ["../outside/fifo", join(outside, "fifo")]) {
        await assert.rejects(f.mknod(p, 0o010644), PierError);
      }
    });
    symlinkSync(outside, join(target, "s"));
    await Fsops.with({ root: target }, async (f) => {
      await assert.rejects(f.mknod("s/fifo", 0o010644), PierError);
      await assert.rejects(f.setxattr("s/x", "user.a", Buffer.from("b")), PierError);
    });
    assert.deepEqual(readdirSync(outside), []);
  } finally {
    await s.dispose();
  }
});
