// Bad input to `pier build` through pierd: an unknown instruction, bad syntax, a COPY of a
// missing file, a failing RUN. Each exits non-zero with an error naming the file and line
// (a failing RUN with its exit code and its output shown), tags nothing, and leaves no
// container, mount, snapshot or build directory behind.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { createRequire } from "node:module";
import type { Database as Db } from "../../../src/common/sqlite.ts";
import { PIER, PierdRun } from "../../helpers/pierd.ts";

// better-sqlite3 ships no types: the shape pier declares for it.
const Database = createRequire(import.meta.url)("better-sqlite3") as new (
  path: string,
  opts?: { readonly?: boolean },
) => Db;

type Run = { status: number | null; stdout: string; stderr: string };
const ok = (r: Run, what: string) => assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

describe("pier build: bad input", () => {
  let d: PierdRun;
  let ctx: string;
  const pier = (...args: string[]): Run =>
    spawnSync(PIER, ["-H", `unix://${d.sock}`, ...args], { env: d.env, encoding: "utf8", timeout: 120_000 });
  const images = () => d.docker("images", "-a", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout;

  /** Writes the Dockerfile and builds it as bad:1; returns the run. */
  const build = (dockerfile: string, ...flags: string[]): Run => {
    writeFileSync(join(ctx, "Dockerfile"), dockerfile);
    return pier("build", ...flags, "-t", "bad:1", ctx);
  };

  /** Nothing of a build is left: containers, mounts, build directories, build snapshots. */
  const assertClean = () => {
    assert.equal(d.docker("ps", "-aq").stdout, "", "no container is left");
    const mounts = readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .map((l) => l.split(" ")[4] ?? "")
      .filter((mp) => mp.startsWith(d.root + "/"));
    assert.deepEqual(mounts, [], "nothing is mounted under pierd's root");
    const buildDir = join(d.root, "build");
    assert.deepEqual(existsSync(buildDir) ? readdirSync(buildDir) : [], [], "no build directory is left");
    const db = new Database(join(d.root, "image/snapshots/overlayfs/metadata.db"), { readonly: true });
    try {
      const rows = db.prepare("SELECT key, kind FROM snapshots WHERE kind != 'committed'").all();
      assert.deepEqual(rows, [], "no active snapshot or view is left");
    } finally {
      db.close();
    }
    const check = pier("system", "check");
    assert.equal(check.status, 0, check.stdout);
  };

  before(async () => {
    d = await PierdRun.start();
    ctx = join(d.dir, "bad");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "present.txt"), "here\n");
  });
  after(async () => {
    await d?.teardown();
  });

  test("an unknown instruction: file:line and a suggestion, before any step runs", () => {
    const before = images();
    const r = build("FROM busybox\nCOPY present.txt /\nRUNN echo hi\n");
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^Dockerfile:3: unknown instruction: RUNN\n\s+hint: did you mean RUN\?/m);
    assert.doesNotMatch(r.stdout, /Step 1/);
    assert.equal(images(), before, "no image, no tag");
    assertClean();
  });

  test("bad syntax: file:line", () => {
    const r = build('FROM busybox\nENV\nCMD ["unterminated"\n');
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /^Dockerfile:2: ENV requires at least one argument/m);
    const s = build("FROM busybox\nCOPY only-one-arg\n");
    assert.notEqual(s.status, 0);
    assert.match(s.stderr, /^Dockerfile:2: COPY requires at least two arguments/m);
    const f = build("FROM busybox AS a\nFROM busybox AS a\n");
    assert.notEqual(f.status, 0);
    assert.match(f.stderr, /^Dockerfile:2: /m);
    assert.doesNotMatch(images(), /^bad:1 /m);
    assertClean();
  });

  test("a COPY of a missing file: file:line and the path, after the steps before it", () => {
    const r = build("FROM busybox\nRUN echo before > /before\nCOPY present.txt nothere.txt /dest/\n");
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /^Step 2\/3 : RUN echo before > \/before$/m);
    assert.match(r.stderr, /^Dockerfile:3: COPY failed: file not found in build context.*nothere\.txt/m);
    assert.doesNotMatch(images(), /^bad:1 /m);
    assertClean();
  });

  test("a failing RUN: its output shown, file:line, its exit code; -q shows the output in the error", () => {
    const df =
      "FROM busybox\nCOPY present.txt /\nRUN echo starting; echo 'it went wrong' >&2; exit 3\nCMD [\"true\"]\n";
    const r = build(df);
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /^starting$/m);
    assert.match(r.stdout, /^it went wrong$/m);
    assert.match(r.stdout, /^Removing intermediate container [0-9a-f]{12}$/m);
    assert.doesNotMatch(r.stdout, /Step 4\/4/);
    assert.match(
      r.stderr,
      /^Dockerfile:3: RUN echo starting; .*: the command '\/bin\/sh -c echo starting; echo 'it went wrong' >&2; exit 3' returned a non-zero code: 3$/m,
    );
    const q = build(df, "-q");
    assert.equal(q.status, 3);
    assert.equal(q.stdout, "");
    assert.match(q.stderr, /--- its last output ---\nstarting\nit went wrong\n/);
    // docker's CLI exits with the same code.
    const dk = spawnSync("docker", ["build", "-t", "bad:1", ctx], {
      env: { ...d.env, DOCKER_BUILDKIT: "0" },
      encoding: "utf8",
    });
    assert.equal(dk.status, 3);
    assert.match(dk.stderr, /returned a non-zero code: 3/);
    assert.doesNotMatch(images(), /^bad:1 /m);
    assertClean();
  });

  test("nothing half-built is tagged: a failed rebuild leaves the tag on the last good image", () => {
    ok(build("FROM busybox\nRUN echo one > /one\n"), "good build");
    const good = d.docker("inspect", "-f", "{{.Id}}", "bad:1").stdout.trim();
    const r = build("FROM busybox\nRUN echo one > /one\nRUN echo two > /two\nRUN false\n");
    assert.equal(r.status, 1);
    assert.equal(d.docker("inspect", "-f", "{{.Id}}", "bad:1").stdout.trim(), good);
    // No `<none>` images from the steps that worked.
    assert.doesNotMatch(images(), /<none>/);
    ok(d.docker("rmi", "bad:1"), "rmi");
    assertClean();
  });

  test("a client that goes away stops the build: its RUN container is killed and removed", async () => {
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nRUN echo started; sleep 60\n");
    const c = spawn(PIER, ["-H", `unix://${d.sock}`, "build", "-t", "bad:1", ctx], {
      env: d.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    await new Promise<void>((resolve, reject) => {
      let out = "";
      c.stdout.setEncoding("utf8").on("data", (x: string) => {
        out += x;
        if (/^started$/m.test(out)) resolve();
      });
      c.once("exit", () => reject(new Error(`the build ended early: ${out}`)));
    });
    const gone = new Promise((r) => c.once("exit", r));
    process.kill(c.pid!, "SIGKILL");
    await gone;
    for (let i = 0; i < 100 && d.docker("ps", "-aq").stdout !== ""; i++)
      await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(images(), /^bad:1 /m);
    assertClean();
  });

  test("pierd killed mid-build: after its restart nothing of the build is left", async () => {
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\nCOPY present.txt /\nRUN echo started; sleep 60\n");
    const c = spawn(PIER, ["-H", `unix://${d.sock}`, "build", "-t", "bad:1", ctx], {
      env: d.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const closed = new Promise((r) => c.once("close", r));
    await new Promise<void>((resolve, reject) => {
      let out = "";
      c.stdout.setEncoding("utf8").on("data", (x: string) => {
        out += x;
        if (/^started$/m.test(out)) resolve();
      });
      c.once("exit", () => reject(new Error(`the build ended early: ${out}`)));
    });
    await d.killDaemon();
    await closed;
    assert.notDeepEqual(readdirSync(join(d.root, "build")), [], "the crash left the build's directory");
    await d.startDaemon();
    assert.doesNotMatch(images(), /^bad:1 /m);
    assertClean();
  });

  test("a Dockerfile that is not there, a context that is not a directory, a bad tag", () => {
    const r = pier("build", "-f", "Missing.dockerfile", ctx);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /Missing\.dockerfile/);
    const notDir = pier("build", join(ctx, "present.txt"));
    assert.notEqual(notDir.status, 0);
    assert.match(notDir.stderr, /context must be a directory/);
    writeFileSync(join(ctx, "Dockerfile"), "FROM busybox\n");
    const tag = pier("build", "-t", "Not A Tag", ctx);
    assert.notEqual(tag.status, 0);
    assert.match(tag.stderr, /invalid tag/);
    // A missing base is pulled; from a registry on loopback where nothing listens, that fails.
    const base = build("FROM 127.0.0.1:1/no-such-image\n");
    assert.notEqual(base.status, 0);
    assert.match(
      base.stderr,
      /^Dockerfile:1: 127\.0\.0\.1:1\/no-such-image: no such image here, and the pull failed/m,
    );
    assertClean();
  });
});
