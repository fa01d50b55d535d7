/** The tar reader and writer on their own (no root needed). */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import { encodeHeader, END_OF_ARCHIVE, readTar, type TarHeader } from "./tar.ts";
import { chunksOf, craftTar } from "./testutil.ts";

async function entries(data: Buffer, chunk = 512): Promise<(TarHeader & { body: string })[]> {
  const out: (TarHeader & { body: string })[] = [];
  for await (const e of readTar(chunksOf(data, chunk))) {
    const parts: Buffer[] = [];
    for await (const c of e.body) parts.push(c);
    out.push({ ...e.header, body: Buffer.concat(parts).toString() });
  }
  return out;
}

test("writer → reader round trip: long and non-ASCII names, big ids, xattrs, every type, any chunking", async () => {
  const long = `${"a".repeat(99)}/${"b".repeat(99)}/${"c".repeat(120)}`;
  const data = craftTar([
    { name: "dir/", type: "dir", mode: 0o1755, uid: 1, gid: 2, mtime: 1 },
    { name: long, type: "file", body: Buffer.from("x".repeat(1000)), uid: 2 ** 31, gid: 9_999_999 },
    { name: "ünï/ファイル", type: "file", body: Buffer.from("u") },
    { name: "l", type: "symlink", linkname: "t".repeat(200) },
    { name: "h", type: "hardlink", linkname: long },
    { name: "c", type: "char", devmajor: 4095, devminor: 1_048_575 },
    { name: "b", type: "block", devmajor: 7, devminor: 1 },
    { name: "p", type: "fifo", mode: 0o600 },
    { name: "x", type: "file", xattrs: new Map([["user.bin", Buffer.from([0, 10, 61, 255])]]) },
  ]);
  for (const chunk of [1, 7, 512, 100_000]) {
    const got = await entries(data, chunk);
    assert.deepEqual(
      got.map((e) => `${e.type} ${e.name}`),
      [
        "dir dir/",
        `file ${long}`,
        "file ünï/ファイル",
        "symlink l",
        "hardlink h",
        "char c",
        "block b",
        "fifo p",
        "file x",
      ],
    );
    assert.equal(got[0]!.mode, 0o1755);
    assert.equal(got[1]!.uid, 2 ** 31);
    assert.equal(got[1]!.gid, 9_999_999);
    assert.equal(got[1]!.body, "x".repeat(1000));
    assert.equal(got[3]!.linkname, "t".repeat(200));
    assert.equal(got[4]!.linkname, long);
    assert.equal(got[5]!.devmajor, 4095);
    assert.equal(got[5]!.devminor, 1_048_575);
    assert.deepEqual(got[8]!.xattrs.get("user.bin"), Buffer.from([0, 10, 61, 255]));
  }
});

test("GNU tar reads what pier writes, and pier reads GNU long names and base-256 numbers", async () => {
  const dir = mkdtempSync(join(tmpdir(), "pier-tar-"));
  try {
    const long = `${"d".repeat(150)}/${"n".repeat(150)}`;
    writeFileSync(
      join(dir, "ours.tar"),
      craftTar([{ name: long, type: "file", body: Buffer.from("hi"), uid: 3_000_000 }]),
    );
    const listed = execFileSync("tar", ["--numeric-owner", "-tvf", join(dir, "ours.tar")], {
      encoding: "utf8",
    });
    assert.match(listed, new RegExp(`3000000/0 +2 .* ${long}\\n$`));

    mkdirSync(join(dir, "src", "d".repeat(150)), { recursive: true });
    writeFileSync(join(dir, "src", long), "gnu");
    execFileSync("touch", ["-d", "@-100", join(dir, "src", long)]); // negative mtime: base-256 in GNU format
    execFileSync("tar", ["--format=gnu", "-C", join(dir, "src"), "-cf", join(dir, "gnu.tar"), "."]);
    const got = await entries(execFileSync("cat", [join(dir, "gnu.tar")]));
    const f = got.find((e) => e.name.endsWith("n".repeat(150)));
    assert.equal(f?.name, `./${long}`);
    assert.equal(f?.body, "gnu");
    assert.equal(f?.mtime, -100);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("pax global headers apply to later entries; v7 trailing-slash names are directories", async () => {
  const g = encodeHeader({
    name: "g",
    type: "file",
    mode: 0,
    mtime: 0,
    pax: new Map([["uid", Buffer.from("77")]]),
  });
  // Turn the first (pax 'x') header of `g` into a global one and drop its ustar part.
  const globalHdr = Buffer.from(g.subarray(0, g.length - 512));
  globalHdr.write("g", 156, "latin1");
  fixChecksum(globalHdr);
  const v7 = encodeHeader({ name: "olddir/", type: "file", mode: 0o755, mtime: 0 });
  const data = Buffer.concat([globalHdr, v7, craftTar([{ name: "f", type: "file" }])]);
  const got = await entries(data);
  assert.deepEqual(
    got.map((e) => `${e.type} ${e.name} ${e.uid}`),
    ["dir olddir/ 77", "file f 77"],
  );
});

test("corrupt or unsupported archives are refused by kind", async () => {
  const kind = async (data: Buffer) => {
    try {
      await entries(data);
      return "accepted";
    } catch (err) {
      return err instanceof PierError ? err.kind : String(err);
    }
  };
  assert.equal(await kind(Buffer.alloc(0)), "InvalidArgument");
  assert.equal(await kind(Buffer.from("not a tar".repeat(100))), "InvalidArgument");
  const t = craftTar([{ name: "f", type: "file", body: Buffer.alloc(2000) }]);
  assert.equal(await kind(t.subarray(0, 1000)), "InvalidArgument");
  const badType = Buffer.from(t);
  badType.write("Z", 156, "latin1");
  fixChecksum(badType);
  assert.equal(await kind(badType), "NotImplemented");
  const badName = Buffer.concat([
    encodeHeader({ name: "x", type: "file", mode: 0, mtime: 0 }),
    END_OF_ARCHIVE,
  ]);
  badName[0] = 0xff;
  fixChecksum(badName);
  assert.equal(await kind(badName), "NotImplemented");
  // No end-of-archive blocks at all is tolerated.
  assert.equal(await kind(t.subarray(0, t.length - 1024)), "accepted");
});

function fixChecksum(b: Buffer): void {
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += b[i]!;
  b.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, 8, "latin1");
}
