/** .dockerignore reading and matching, Go's glob, and the context walker. */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../common/errors.ts";
import { BuildContext, walkContext } from "./context.ts";
import { IgnoreMatcher, loadDockerignore, parseDockerignore } from "./dockerignore.ts";
import { checkGlob, cleanPath, globMatch, hasWildcards } from "./glob.ts";

const scratch = mkdtempSync(join(tmpdir(), "pier-build-ignore-"));
after(() => rmSync(scratch, { recursive: true, force: true }));
let n = 0;
/** A fresh directory holding `files` (a trailing / makes a directory; "->" a symlink). */
function tree(files: string[]): string {
  const dir = join(scratch, `t${n++}`);
  mkdirSync(dir);
  for (const f of files) {
    const [name, target] = f.split(" -> ") as [string, string | undefined];
    const p = join(dir, name);
    if (target !== undefined) {
      mkdirSync(join(p, ".."), { recursive: true });
      symlinkSync(target, p);
    } else if (name.endsWith("/")) {
      mkdirSync(p, { recursive: true });
    } else {
      mkdirSync(join(p, ".."), { recursive: true });
      writeFileSync(p, name);
    }
  }
  return dir;
}

test("Go glob: *, ?, classes, escapes, no crossing /, dot files match", () => {
  assert.ok(globMatch("*.txt", "a.txt"));
  assert.ok(globMatch("*.txt", ".hidden.txt"));
  assert.ok(!globMatch("*.txt", "a/b.txt"));
  assert.ok(globMatch("a/*/c", "a/b/c"));
  assert.ok(!globMatch("a/*", "a/b/c"));
  assert.ok(globMatch("?.md", "x.md"));
  assert.ok(!globMatch("?", "/"));
  assert.ok(globMatch("[a-c]x", "bx"));
  assert.ok(!globMatch("[^a-c]x", "bx"));
  assert.ok(globMatch("[^a-c]x", "dx"));
  assert.ok(globMatch("file\\*.txt", "file*.txt"));
  assert.ok(!globMatch("file\\*.txt", "file1.txt"));
  assert.ok(globMatch("[\\]]", "]"));
  assert.ok(globMatch("*", ""));
  assert.ok(globMatch("a*b*c", "aXbYbZc"));
  assert.ok(globMatch("ü?", "üé"));
  for (const bad of ["[", "a\\", "[]", "[a-", "[-a]", "*[x"]) {
    assert.throws(
      () => checkGlob(bad),
      (e: unknown) => e instanceof PierError && e.kind === "InvalidArgument",
      bad,
    );
  }
  assert.ok(hasWildcards("a*"));
  assert.ok(hasWildcards("[ab]"));
  assert.ok(!hasWildcards("a\\*b"));
  assert.ok(!hasWildcards("plain/path.txt"));
});

test("cleanPath is Go's path.Clean", () => {
  const cases: [string, string][] = [
    ["", "."],
    [".", "."],
    ["a//b/./c/", "a/b/c"],
    ["a/../../b", "../b"],
    ["/../a", "/a"],
    ["/", "/"],
    ["./", "."],
    ["a/b/..", "a"],
  ];
  for (const [i, o] of cases) assert.equal(cleanPath(i), o, i);
});

test("reading an ignore file: comments, blanks, BOM, CRLF, cleaning, leading / dropped, ! kept", () => {
  const text =
    "\ufeff# comment\r\n\r\n  *.log  \r\n/build/\r\n./tmp//x/../y\r\n! /keep/this \r\n #not-a-comment\n!\n/\n";
  assert.deepEqual(parseDockerignore(text), [
    "*.log",
    "build",
    "tmp/y",
    "!keep/this",
    "#not-a-comment",
    "!",
    "/",
  ]);
});

test("patterns: top level only unless **, directories take their contents, ** forms", () => {
  const ig = IgnoreMatcher.fromFile("*.log\nnode_modules\ndocs/**\n**/*.tmp\na/**/z\n**/cache\n");
  const yes = [
    "x.log",
    "node_modules",
    "node_modules/pkg/index.js",
    "docs/a/b.md",
    "t.tmp",
    "deep/er/t.tmp",
    "a/z",
    "a/b/c/z",
    "cache",
    "x/y/cache",
    "x/cache/inner",
  ];
  const no = [
    "sub/x.log",
    "src/node_modules.txt",
    "documents",
    "docs" /* docs/** is what is below docs */,
    "a/zz",
    "b/a/z",
    "xcache",
    "t.tmpx",
  ];
  for (const p of yes) assert.ok(ig.excludes(p), `should exclude ${p}`);
  for (const p of no) assert.ok(!ig.excludes(p), `should keep ${p}`);
  assert.ok(!ig.excludes("."), "the root is never excluded");
  assert.ok(IgnoreMatcher.fromFile("**").excludes("any/thing"));
  assert.ok(
    IgnoreMatcher.fromFile("?.c\n[ab]*.h\n").excludes("x.c") &&
      !IgnoreMatcher.fromFile("?.c").excludes("xy.c"),
  );
  assert.ok(
    IgnoreMatcher.fromFile("[ab]*.h").excludes("bz.h") && !IgnoreMatcher.fromFile("[ab]*.h").excludes("cz.h"),
  );
  assert.ok(
    IgnoreMatcher.fromFile("a+b(1).txt").excludes("a+b(1).txt"),
    "regular-expression characters are literal",
  );
  assert.ok(
    IgnoreMatcher.fromFile("dir\\*").excludes("dir*") && !IgnoreMatcher.fromFile("dir\\*").excludes("dirx"),
  );
});

test("exceptions: the last matching pattern wins (Docker's README examples)", () => {
  const a = IgnoreMatcher.fromFile("*.md\n!README*.md\nREADME-secret.md\n");
  assert.deepEqual(
    ["a.md", "README.md", "README-x.md", "README-secret.md"].map((p) => a.excludes(p)),
    [true, false, false, true],
  );
  const b = IgnoreMatcher.fromFile("*.md\nREADME-secret.md\n!README*.md\n");
  assert.deepEqual(
    ["a.md", "README.md", "README-secret.md"].map((p) => b.excludes(p)),
    [true, false, false],
  );
  const c = IgnoreMatcher.fromFile(
    "node_modules\n!node_modules/keep\n!node_modules/keep/**\nnode_modules/keep/drop.js\n",
  );
  assert.ok(c.excludes("node_modules/other/x.js"));
  assert.ok(!c.excludes("node_modules/keep"));
  assert.ok(!c.excludes("node_modules/keep/a/b.js"));
  assert.ok(c.excludes("node_modules/keep/drop.js"));
  assert.ok(c.hasExceptions);
  assert.ok(c.mayIncludeUnder("node_modules"));
  assert.ok(!c.mayIncludeUnder("other"));
  assert.ok(IgnoreMatcher.fromFile("*\n!**/*.go\n").mayIncludeUnder("vendor/x"));
  assert.ok(!IgnoreMatcher.fromFile("*\n!src/*.go\n").mayIncludeUnder("vendor"));
  assert.ok(IgnoreMatcher.fromFile("*\n!src/*.go\n").mayIncludeUnder("src"));
  assert.ok(
    !IgnoreMatcher.fromFile("dir/sub\n!dir\n").excludes("dir/sub/x"),
    "a later exception matching a parent directory wins too",
  );
});

test("bad ignore files are errors naming the file and line", () => {
  assert.throws(
    () => IgnoreMatcher.fromFile("ok\n!\n", "ctx/.dockerignore"),
    (e: unknown) =>
      e instanceof PierError && e.message === 'ctx/.dockerignore:2: illegal exclusion pattern: "!"',
  );
  assert.throws(
    () => IgnoreMatcher.fromFile("# c\n\nsrc/[abc\n"),
    (e: unknown) =>
      e instanceof PierError && /^\.dockerignore:3: syntax error in pattern "src\/\[abc"/.test(e.message),
  );
});

test("walking a context: byte order, directories before contents, lstat info, symlinks not followed", async () => {
  const dir = tree([
    "b.txt",
    "a/z.txt",
    "a/y/",
    "a-b.txt",
    "Z.txt",
    "é.txt",
    "link -> /etc",
    "a/rel -> ../b.txt",
  ]);
  const entries = await walkContext(dir);
  assert.deepEqual(
    entries.map((e) => e.path),
    ["Z.txt", "a", "a/rel", "a/y", "a/z.txt", "a-b.txt", "b.txt", "link", "é.txt"],
  );
  const link = entries.find((e) => e.path === "link");
  assert.ok(link?.stat.isSymbolicLink());
  assert.equal(link?.linkTarget, "/etc");
  assert.ok(entries.find((e) => e.path === "a")?.stat.isDirectory());
  assert.equal(entries.find((e) => e.path === "b.txt")?.stat.size, 5);
});

test("walking with .dockerignore: excluded trees vanish, exceptions bring files back with their directories", async () => {
  const dir = tree([
    "Dockerfile",
    ".dockerignore",
    ".git/HEAD",
    "node_modules/a/index.js",
    "node_modules/keep/index.js",
    "src/app.js",
    "src/app.test.js",
    "logs/x.log",
    "logs/important.log",
  ]);
  writeFileSync(
    join(dir, ".dockerignore"),
    ".git\nnode_modules\n!node_modules/keep\n**/*.test.js\nlogs\n!logs/important.log\n.dockerignore\n",
  );
  const ctx = await BuildContext.open(dir);
  assert.deepEqual(
    (await ctx.walk()).map((e) => e.path),
    [
      "Dockerfile",
      "logs",
      "logs/important.log",
      "node_modules",
      "node_modules/keep",
      "node_modules/keep/index.js",
      "src",
      "src/app.js",
    ],
  );
  assert.equal(await ctx.lstat("node_modules/a"), undefined);
  assert.equal(await ctx.lstat("src/app.test.js"), undefined);
  assert.ok(await ctx.lstat("logs"), "an excluded directory with a re-included file stays visible");
  assert.ok(ctx.hidden?.("logs"));
  assert.deepEqual(await ctx.readdir("logs"), ["important.log"]);
});

test("an excluded directory whose exceptions match nothing is not visible", async () => {
  const dir = tree(["docs/a.md", "docs/b.txt", "x"]);
  const ig = IgnoreMatcher.fromFile("docs\n!docs/*.pdf\n");
  assert.deepEqual(
    (await walkContext(dir, ig)).map((e) => e.path),
    ["x"],
  );
});

test("which ignore file applies; a context that is not a directory", async () => {
  const dir = tree(["app.Dockerfile", "app.Dockerfile.dockerignore", ".dockerignore", "a", "b"]);
  writeFileSync(join(dir, ".dockerignore"), "a\n");
  writeFileSync(join(dir, "app.Dockerfile.dockerignore"), "b\n");
  assert.deepEqual((await loadDockerignore(dir)).list, ["a"]);
  assert.deepEqual((await loadDockerignore(dir, join(dir, "app.Dockerfile"))).list, ["b"]);
  assert.deepEqual((await loadDockerignore(dir, join(dir, "Dockerfile"))).list, ["a"]);
  assert.deepEqual((await loadDockerignore(tree(["x"]))).list, []);
  await assert.rejects(
    BuildContext.open(join(dir, "a")),
    (e: unknown) =>
      e instanceof PierError && e.kind === "InvalidArgument" && /is not a directory/.test(e.message),
  );
  await assert.rejects(
    BuildContext.open(join(dir, "nope")),
    (e: unknown) => e instanceof PierError && e.kind === "NotFound",
  );
});
