/** COPY/ADD planning against a temporary context, ownership, archives, checksums, cache keys. */
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { PierError } from "../../common/errors.ts";
import { encodeHeader, END_OF_ARCHIVE, padding, readTar } from "../../image/layer/tar.ts";
import { cacheKey } from "../cache-key.ts";
import { BuildContext, DirTree } from "../context.ts";
import { IgnoreMatcher } from "../dockerignore.ts";
import { archiveStream, detectArchive } from "./archive.ts";
import { copyChecksum } from "./checksum.ts";
import { parseChmod, resolveChown } from "./owner.ts";
import { planCopy, type CopyEntry, type CopyPlanOptions } from "./plan.ts";

const scratch = mkdtempSync(join(tmpdir(), "pier-build-copy-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
const ctxDir = join(scratch, "ctx");
const rootfs = join(scratch, "rootfs");
let ctx: BuildContext;

function write(root: string, rel: string, content: string | Buffer, mode = 0o644): void {
  const p = join(root, rel);
  mkdirSync(join(p, ".."), { recursive: true });
  writeFileSync(p, content);
  chmodSync(p, mode);
}

function tarOf(files: Record<string, string>): Buffer {
  const parts: Buffer[] = [];
  for (const [name, body] of Object.entries(files)) {
    const b = Buffer.from(body);
    parts.push(
      encodeHeader({ name, type: "file", size: b.length, mode: 0o644, mtime: 0 }),
      b,
      padding(b.length),
    );
  }
  parts.push(END_OF_ARCHIVE);
  return Buffer.concat(parts);
}

const hasProgram = (p: string) => spawnSync(p, ["--version"], { stdio: "ignore" }).status === 0;

before(async () => {
  write(ctxDir, "a.txt", "alpha\n");
  write(ctxDir, "b.txt", "beta\n");
  write(ctxDir, ".hidden", "dot\n");
  write(ctxDir, "run.sh", "#!/bin/sh\n", 0o755);
  write(ctxDir, "secret.txt", "no\n");
  write(ctxDir, "dir/x", "x\n");
  write(ctxDir, "dir/sub/y", "y\n", 0o600);
  chmodSync(join(ctxDir, "dir/sub"), 0o750);
  symlinkSync("../a.txt", join(ctxDir, "dir/up"));
  write(ctxDir, "dir/h1", "hard\n");
  linkSync(join(ctxDir, "dir/h1"), join(ctxDir, "dir/h2"));
  symlinkSync("a.txt", join(ctxDir, "link"));
  symlinkSync("dir", join(ctxDir, "dirlink"));
  symlinkSync("/a.txt", join(ctxDir, "abslink"));
  symlinkSync("../../../../etc/passwd", join(ctxDir, "escape"));
  write(ctxDir, "pkg/one.json", "{}");
  write(ctxDir, "pkg/two.json", "[]");
  write(ctxDir, "pkg/readme.md", "#");
  write(ctxDir, "pkg2/three.json", "1");
  write(ctxDir, "arch/plain.tar", tarOf({ "p.txt": "plain" }));
  write(ctxDir, "arch/files.tgz", gzipSync(tarOf({ "g.txt": "gz" })));
  write(ctxDir, "arch/notatar.gz", gzipSync(Buffer.from("just text, not a tar archive\n".repeat(40))));
  write(ctxDir, "arch/empty.tar", Buffer.alloc(1024));
  if (hasProgram("xz")) {
    const xz = spawnSync("xz", ["-c"], { input: tarOf({ "x.txt": "xz" }) });
    write(ctxDir, "arch/files.tar.xz", xz.stdout);
  }
  if (hasProgram("bzip2")) {
    const bz = spawnSync("bzip2", ["-c"], { input: tarOf({ "b.txt": "bz" }) });
    write(ctxDir, "arch/files.tar.bz2", bz.stdout);
  }
  write(ctxDir, ".dockerignore", "secret.txt\n");
  ctx = await BuildContext.open(ctxDir);

  write(
    rootfs,
    "etc/passwd",
    "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n# c\nsvc:x:201:202::/:/bin/false\n",
  );
  write(rootfs, "etc/group", "root:x:0:\nstaff:x:50:app\napp:x:1001:\n");
  mkdirSync(join(rootfs, "srv/existing"), { recursive: true });
  symlinkSync("/srv/existing", join(rootfs, "srv/linked"));
});

const plan = (o: Partial<CopyPlanOptions> & Pick<CopyPlanOptions, "sources" | "dest">) =>
  planCopy({ instruction: "COPY", from: ctx, target: rootfs, ...o });
const show = (es: CopyEntry[]) =>
  es.map((e) => `${e.type} ${e.dest} ${e.mode.toString(8)} ${e.uid}:${e.gid}${e.implied ? " implied" : ""}`);
async function failsWith(p: Promise<unknown>, kind: string, re: RegExp, hint?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof PierError, String(e));
    assert.equal(e.kind, kind);
    assert.match(e.message, re);
    if (hint) assert.match(e.hint ?? "", hint);
    return true;
  });
}

test("one file: to a file path, into a directory (trailing /, '.', existing dir), relative to WORKDIR", async () => {
  const p1 = await plan({ sources: ["a.txt"], dest: "/opt/app/renamed.txt" });
  assert.deepEqual(show(p1.entries), [
    "dir /opt 755 0:0 implied",
    "dir /opt/app 755 0:0 implied",
    "file /opt/app/renamed.txt 644 0:0",
  ]);
  assert.equal(p1.entries[2]?.source, join(ctx.root, "a.txt"));
  assert.equal(p1.entries[2]?.size, 6);
  assert.equal((await plan({ sources: ["a.txt"], dest: "/opt/" })).entries[1]?.dest, "/opt/a.txt");
  assert.equal(
    (await plan({ sources: ["a.txt"], dest: ".", workdir: "/work" })).entries[1]?.dest,
    "/work/a.txt",
  );
  assert.equal(
    (await plan({ sources: ["a.txt"], dest: "rel/f", workdir: "/work" })).entries[2]?.dest,
    "/work/rel/f",
  );
  const existing = await plan({ sources: ["/a.txt"], dest: "/srv/existing" });
  assert.equal(existing.destIsDir, true);
  assert.equal(existing.entries.at(-1)?.dest, "/srv/existing/a.txt");
  const viaLink = await plan({ sources: ["a.txt"], dest: "/srv/linked" });
  assert.equal(
    viaLink.entries.at(-1)?.dest,
    "/srv/linked/a.txt",
    "a symlink to a directory in the image is a directory",
  );
  const noTarget = await planCopy({
    instruction: "COPY",
    from: ctx,
    sources: ["a.txt"],
    dest: "/srv/existing",
  });
  assert.equal(
    noTarget.entries.at(-1)?.dest,
    "/srv/existing",
    "without the target rootfs only a trailing / says directory",
  );
});

test("a directory copies its contents: order, modes kept, symlinks as symlinks, hard links kept", async () => {
  const p = await plan({ sources: ["dir"], dest: "/app" });
  assert.deepEqual(show(p.entries), [
    "dir /app 755 0:0 implied",
    "file /app/h1 644 0:0",
    "hardlink /app/h2 644 0:0",
    "dir /app/sub 750 0:0",
    "file /app/sub/y 600 0:0",
    "symlink /app/up 777 0:0",
    "file /app/x 644 0:0",
  ]);
  assert.equal(p.entries.find((e) => e.dest === "/app/h2")?.linkTo, "/app/h1");
  assert.equal(p.entries.find((e) => e.dest === "/app/up")?.linkTarget, "../a.txt");
  const root = await plan({ sources: ["."], dest: "/ctx/" });
  const dests = root.entries.map((e) => e.dest);
  assert.ok(dests.includes("/ctx/.hidden") && dests.includes("/ctx/Dockerfile") === false);
  assert.ok(!dests.includes("/ctx/secret.txt"), ".dockerignore'd files are not in the context");
  assert.ok(dests.includes("/ctx/.dockerignore"));
});

test("wildcards: per component, dot files too, several matches need a directory, empty matches are fine", async () => {
  const p = await plan({ sources: ["pkg/*.json", "*/three.json", "nomatch*"], dest: "/cfg/" });
  assert.deepEqual(
    p.entries.filter((e) => e.type === "file").map((e) => [e.dest, e.source?.slice(ctx.root.length)]),
    [
      ["/cfg/one.json", "/pkg/one.json"],
      ["/cfg/two.json", "/pkg/two.json"],
      ["/cfg/three.json", "/pkg2/three.json"],
    ],
  );
  const dots = await plan({ sources: [".h*"], dest: "/d/" });
  assert.equal(dots.entries.at(-1)?.dest, "/d/.hidden");
  const dirs = await plan({ sources: ["pk?"], dest: "/merged" });
  assert.deepEqual(
    dirs.entries.map((e) => e.dest),
    ["/merged", "/merged/one.json", "/merged/readme.md", "/merged/two.json"],
    "a wildcard matching a directory copies its contents",
  );
  await failsWith(
    plan({ sources: ["pkg/*.json"], dest: "/cfg" }),
    "InvalidArgument",
    /^COPY failed: When using COPY with more than one source file, the destination must be a directory and end with a \//,
    /\/cfg\//,
  );
  await failsWith(
    plan({ sources: ["*.nope", "x*.nope"], dest: "/d/" }),
    "InvalidArgument",
    /no source files were specified/,
  );
  await failsWith(
    plan({ sources: ["a.txt", "b.txt"], dest: "/x" }),
    "InvalidArgument",
    /more than one source file/,
  );
});

test("missing, excluded and outside sources are refused with Docker's messages", async () => {
  await failsWith(
    plan({ sources: ["foo"], dest: "/" }),
    "InvalidArgument",
    /^COPY failed: file not found in build context or excluded by \.dockerignore: stat foo: no such file or directory$/,
  );
  await failsWith(
    plan({ sources: ["secret.txt"], dest: "/" }),
    "InvalidArgument",
    /file not found in build context/,
    /excluded by \.dockerignore/,
  );
  await failsWith(
    plan({ sources: ["../x"], dest: "/" }),
    "InvalidArgument",
    /forbidden path outside the build context: \.\.\/x/,
  );
  await failsWith(
    plan({ sources: ["dir/../../x"], dest: "/" }),
    "InvalidArgument",
    /forbidden path outside the build context/,
  );
  await failsWith(plan({ sources: ["a.txt/x"], dest: "/" }), "InvalidArgument", /file not found/);
  await failsWith(plan({ sources: ["escape"], dest: "/" }), "InvalidArgument", /file not found/, undefined);
  await failsWith(plan({ sources: ["a.txt"], dest: "" }), "InvalidArgument", /destination is empty/);
  const ok = await plan({ sources: ["/dir/../a.txt"], dest: "/f" });
  assert.equal(ok.entries.at(-1)?.source, join(ctx.root, "a.txt"));
});

test("symlink sources are followed inside the context and keep their own name", async () => {
  const p = await plan({ sources: ["link", "abslink", "dirlink/x"], dest: "/l/" });
  assert.deepEqual(
    p.entries.filter((e) => e.type === "file").map((e) => [e.dest, e.source?.slice(ctx.root.length)]),
    [
      ["/l/link", "/a.txt"],
      ["/l/abslink", "/a.txt"],
      ["/l/x", "/dir/x"],
    ],
  );
  const d = await plan({ sources: ["dirlink"], dest: "/dl" });
  assert.ok(
    d.entries.some((e) => e.dest === "/dl/sub/y"),
    "a symlink to a directory copies the directory's contents",
  );
});

test("--chown with numbers and names from the image's passwd/group; --chmod on files and dirs, not symlinks", async () => {
  assert.deepEqual(await resolveChown("1234", rootfs), { uid: 1234, gid: 1234 });
  assert.deepEqual(await resolveChown("10:20"), { uid: 10, gid: 20 });
  assert.deepEqual(await resolveChown("app", rootfs), { uid: 1000, gid: 1001 });
  assert.deepEqual(await resolveChown("app:staff", rootfs), { uid: 1000, gid: 50 });
  assert.deepEqual(await resolveChown("svc:0", rootfs), { uid: 201, gid: 0 });
  await failsWith(
    resolveChown("nobody", rootfs),
    "InvalidArgument",
    /unable to find user nobody: no matching entries in passwd file/,
    /numeric uid/,
  );
  await failsWith(resolveChown("app:wheel", rootfs), "InvalidArgument", /unable to find group wheel/);
  await failsWith(resolveChown("app"), "InvalidArgument", /unable to find user app/);
  await failsWith(resolveChown(":1"), "InvalidArgument", /invalid --chown value/);

  const p = await plan({ sources: ["dir"], dest: "/o/", chown: "app:staff", chmod: "0640" });
  assert.deepEqual(show(p.entries).slice(0, 4), [
    "dir /o 755 1000:50 implied",
    "file /o/h1 640 1000:50",
    "hardlink /o/h2 640 1000:50",
    "dir /o/sub 640 1000:50",
  ]);
  assert.equal(p.entries.find((e) => e.type === "symlink")?.mode, 0o777);
  assert.equal(parseChmod("755"), 0o755);
  assert.equal(parseChmod("4755"), 0o4755);
  assert.throws(
    () => parseChmod("8"),
    /invalid chmod parameter: '8'. it should be octal string and between 0 and 07777/,
  );
  assert.throws(() => parseChmod("17777"), /invalid chmod parameter/);
  assert.throws(
    () => parseChmod("u+x"),
    (e: unknown) => e instanceof PierError && e.kind === "NotImplemented",
  );
});

test("COPY --from another stage's filesystem keeps owners; the context gives root", async () => {
  const stage = new DirTree(ctxDir, "stage build");
  const p = await planCopy({ instruction: "COPY", from: stage, sources: ["a.txt"], dest: "/x" });
  const me = { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
  assert.deepEqual([p.entries.at(-1)?.uid, p.entries.at(-1)?.gid], [me.uid, me.gid]);
  await failsWith(
    planCopy({ instruction: "COPY", from: stage, sources: ["nope"], dest: "/x" }),
    "InvalidArgument",
    /^COPY failed: file not found in stage build: stat nope/,
  );
  const secret = await planCopy({ instruction: "COPY", from: stage, sources: ["secret.txt"], dest: "/x" });
  assert.equal(secret.entries.at(-1)?.type, "file", ".dockerignore applies to the context only");
});

test("ADD extracts local tar archives (plain, gzip, xz, bzip2), not other files; COPY never does", async () => {
  const add = await plan({ instruction: "ADD", sources: ["arch/*"], dest: "/x/" });
  const kinds = add.entries.filter((e) => e.type !== "dir").map((e) => [e.type, e.dest, e.compression ?? ""]);
  const expected = [
    ["file", "/x/empty.tar", ""],
    ...(hasProgram("bzip2") ? [["archive", "/x", "bzip2"]] : []),
    ...(hasProgram("xz") ? [["archive", "/x", "xz"]] : []),
    ["archive", "/x", "gzip"],
    ["file", "/x/notatar.gz", ""],
    ["archive", "/x", "none"],
  ];
  assert.deepEqual(kinds, expected);
  const single = await plan({ instruction: "ADD", sources: ["arch/files.tgz"], dest: "/unpacked" });
  assert.deepEqual(show(single.entries), ["dir /unpacked 755 0:0 implied", "archive /unpacked 755 0:0"]);
  const off = await plan({ instruction: "ADD", sources: ["arch/files.tgz"], dest: "/f.tgz", unpack: false });
  assert.equal(off.entries.at(-1)?.type, "file");
  const copy = await plan({ sources: ["arch/files.tgz"], dest: "/f.tgz" });
  assert.equal(copy.entries.at(-1)?.type, "file");

  for (const [file, name, body] of [
    ["arch/files.tgz", "g.txt", "gz"],
    ["arch/plain.tar", "p.txt", "plain"],
    ...(hasProgram("xz") ? [["arch/files.tar.xz", "x.txt", "xz"]] : []),
    ...(hasProgram("bzip2") ? [["arch/files.tar.bz2", "b.txt", "bz"]] : []),
  ] as [string, string, string][]) {
    const kind = await detectArchive(join(ctxDir, file));
    assert.ok(kind !== undefined, file);
    const got: string[] = [];
    for await (const e of readTar(archiveStream(join(ctxDir, file), kind))) {
      const parts: Buffer[] = [];
      for await (const c of e.body) parts.push(c);
      got.push(`${e.header.name}=${Buffer.concat(parts).toString()}`);
    }
    assert.deepEqual(got, [`${name}=${body}`], file);
  }
});

test("ADD and COPY of URLs are refused by name", async () => {
  await failsWith(
    plan({ sources: ["https://example.com/a.tgz"], dest: "/" }),
    "InvalidArgument",
    /source can't be a URL for COPY/,
  );
  await failsWith(
    plan({ instruction: "ADD", sources: ["https://example.com/a.tgz"], dest: "/" }),
    "NotImplemented",
    /ADD from a URL is not implemented yet/,
  );
  await failsWith(
    plan({ instruction: "ADD", sources: ["git@github.com:moby/buildkit.git"], dest: "/" }),
    "NotImplemented",
    /git repository/,
  );
});

test("here-document sources and --exclude", async () => {
  const p = await plan({
    sources: [],
    inline: [{ name: "hello.sh", content: "echo hi\n" }],
    dest: "/bin/",
    chmod: "755",
  });
  assert.deepEqual(show(p.entries), ["dir /bin 755 0:0 implied", "inline /bin/hello.sh 755 0:0"]);
  assert.equal(p.entries[1]?.content, "echo hi\n");
  const one = await plan({ sources: [], inline: [{ name: "EOF", content: "x" }], dest: "/etc/motd" });
  assert.equal(one.entries.at(-1)?.dest, "/etc/motd");
  assert.equal(one.entries.at(-1)?.mode, 0o644);
  const ex = await plan({ sources: ["dir", "pkg/*"], dest: "/e/", excludes: ["sub", "*.md", "h2"] });
  assert.deepEqual(
    ex.entries.map((e) => e.dest),
    ["/e", "/e/h1", "/e/up", "/e/x", "/e/one.json", "/e/two.json"],
  );
  assert.equal(ex.entries.find((e) => e.dest === "/e/h1")?.type, "file");
  const keep = await plan({ sources: ["dir"], dest: "/k/", excludes: ["sub", "!sub/y"] });
  assert.deepEqual(
    keep.entries.filter((e) => e.dest.startsWith("/k/sub")).map((e) => e.dest),
    ["/k/sub", "/k/sub/y"],
  );
});

test("checksums: equal for equal content anywhere, after touch; different for content, mode, owner, path, link", async () => {
  const copyA = join(scratch, "copyA");
  const copyB = join(scratch, "copyB");
  // cp -a keeps modes, symlinks and hard links (fs.cpSync does not keep hard links).
  for (const to of [copyA, copyB]) assert.equal(spawnSync("cp", ["-a", ctxDir, to]).status, 0);
  const sum = async (dir: string, o: Partial<CopyPlanOptions> = {}) =>
    copyChecksum(
      await planCopy({
        instruction: "COPY",
        from: new BuildContext(dir, IgnoreMatcher.fromFile("secret.txt\n")),
        sources: ["dir", "a.txt"],
        dest: "/app/",
        ...o,
      }),
    );
  const base = await sum(ctxDir);
  assert.match(base, /^sha256:[0-9a-f]{64}$/);
  assert.equal(await sum(copyA), base, "another directory with the same files");
  utimesSync(join(copyA, "dir/x"), new Date(2001, 1, 1), new Date(2001, 1, 1));
  utimesSync(join(copyA, "dir"), new Date(2002, 1, 1), new Date(2002, 1, 1));
  assert.equal(await sum(copyA), base, "touch changes nothing");

  writeFileSync(join(copyA, "dir/x"), "X\n");
  assert.notEqual(await sum(copyA), base, "same size, other bytes");
  chmodSync(join(copyB, "dir/x"), 0o600);
  const modeChanged = await sum(copyB);
  assert.notEqual(modeChanged, base, "mode");
  chmodSync(join(copyB, "dir/x"), 0o644);
  assert.equal(await sum(copyB), base);
  rmSync(join(copyB, "dir/up"));
  symlinkSync("../b.txt", join(copyB, "dir/up"));
  assert.notEqual(await sum(copyB), base, "symlink target");
  assert.notEqual(await sum(ctxDir, { chown: "1:1" }), base, "owner");
  assert.notEqual(await sum(ctxDir, { dest: "/other/" }), base, "destination");
  assert.notEqual(await sum(ctxDir, { chmod: "644" }), base, "--chmod");
  const inlineA = await copyChecksum(
    await plan({ sources: [], inline: [{ name: "f", content: "1" }], dest: "/f" }),
  );
  const inlineB = await copyChecksum(
    await plan({ sources: [], inline: [{ name: "f", content: "2" }], dest: "/f" }),
  );
  assert.notEqual(inlineA, inlineB, "inline content");
});

test("cache keys: the same inputs give the same key; any part changes it; argument order does not", () => {
  const base = {
    parent: "sha256:p",
    instruction: 'RUN {"argv":["/bin/sh","-c","make"]}',
    buildArgs: { A: "1", B: "2" },
  };
  const k = cacheKey(base);
  assert.match(k, /^sha256:[0-9a-f]{64}$/);
  assert.equal(cacheKey({ ...base, buildArgs: { B: "2", A: "1" } }), k);
  assert.notEqual(cacheKey({ ...base, parent: "sha256:q" }), k);
  assert.notEqual(cacheKey({ ...base, instruction: 'RUN {"argv":["/bin/sh","-c","make all"]}' }), k);
  assert.notEqual(cacheKey({ ...base, buildArgs: { A: "1", B: "3" } }), k);
  assert.notEqual(cacheKey({ ...base, buildArgs: { A: "1" } }), k);
  assert.notEqual(cacheKey({ ...base, contentChecksum: "sha256:c" }), k);
  assert.notEqual(
    cacheKey({ parent: "a", instruction: "b", buildArgs: { "c=d": "e" } }),
    cacheKey({ parent: "a", instruction: "b", buildArgs: { c: "d=e" } }).replace(/.$/, "x"),
  );
  assert.notEqual(cacheKey({ parent: "ab", instruction: "c" }), cacheKey({ parent: "a", instruction: "bc" }));
});

test("COPY --parents and ADD --checksum on local files are refused by name", async () => {
  await failsWith(
    plan({ sources: ["dir"], dest: "/p/", parents: true }),
    "NotImplemented",
    /COPY --parents is not implemented/,
  );
  await failsWith(
    plan({ instruction: "ADD", sources: ["a.txt"], dest: "/p/", checksum: "sha256:00" }),
    "InvalidArgument",
    /checksum requires HTTP\(S\) or Git sources/,
  );
  const empty = join(scratch, "empty-file");
  writeFileSync(empty, "");
  assert.equal(await detectArchive(empty), undefined);
});

test("a here-document name cannot climb out of the destination", async () => {
  await failsWith(
    plan({ sources: [], inline: [{ name: "..", content: "x" }], dest: "/d/" }),
    "InvalidArgument",
    /invalid here-document file name/,
  );
  const nested = await plan({
    sources: [],
    inline: [{ name: "conf.d/a.conf", content: "x" }],
    dest: "/etc/",
  });
  assert.deepEqual(
    nested.entries.map((e) => e.dest),
    ["/etc", "/etc/conf.d", "/etc/conf.d/a.conf"],
  );
});
