/**
 * The contract every Snapshotter passes, against the real kernel: the
 * lifecycle and its errors (by kind), what mounts show (parents' content,
 * deletions, isolation between siblings), usage, cleanup of crash leftovers,
 * and a chain of 120 layers mounted at once. Used by contract.test.ts for the
 * overlay and the plain-copy snapshotters.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../common/errors.ts";
import { isMountPoint, mountAll, unmount, type Mount } from "./mount.ts";
import type { Snapshotter } from "./snapshotter.ts";

function kindOf(err: unknown): string {
  return err instanceof PierError ? err.kind : `not a PierError: ${String(err)}`;
}

/** A fresh snapshotter in a temporary root; mounts made through `mount` are undone at the end. */
class Env {
  readonly dir: string;
  sn!: Snapshotter;
  private readonly mounted: string[] = [];
  private n = 0;

  constructor(label: string) {
    this.dir = mkdtempSync(join(tmpdir(), `pier-snap-${label}-`));
  }

  async mount(mounts: Mount[]): Promise<string> {
    const target = join(this.dir, `mnt-${++this.n}`);
    mkdirSync(target);
    this.mounted.push(target);
    await mountAll(mounts, target);
    return target;
  }

  async unmount(target: string): Promise<void> {
    await unmount(target);
  }

  async dispose(): Promise<void> {
    for (const m of this.mounted.reverse()) if (isMountPoint(m)) await unmount(m, { detach: true });
    await this.sn?.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export function snapshotterContract(
  name: string,
  open: (root: string) => Promise<Snapshotter>,
  skip: string | false,
): void {
  const opts = skip ? { skip } : {};
  const run = (title: string, fn: (e: Env) => Promise<void>) =>
    test(`${name}: ${title}`, opts, async () => {
      const e = new Env(name);
      try {
        e.sn = await open(join(e.dir, "root"));
        await fn(e);
      } finally {
        await e.dispose();
      }
    });

  run("lifecycle: prepare, commit, view, remove, and each illegal step refused by kind", async ({ sn }) => {
    await sn.prepare("a", undefined, { labels: { l: "1" } });
    const a = await sn.stat("a");
    assert.equal(a.kind, "active");
    assert.deepEqual(a.labels, { l: "1" });
    assert.equal(a.parent, undefined);
    await assert.rejects(sn.prepare("a"), (e) => kindOf(e) === "AlreadyExists");
    await assert.rejects(sn.prepare("b", "missing"), (e) => kindOf(e) === "NotFound");
    await assert.rejects(sn.prepare("b", "a"), (e) => kindOf(e) === "FailedPrecondition");
    await assert.rejects(sn.prepare(""), (e) => kindOf(e) === "InvalidArgument");

    await sn.commit("a1", "a", { labels: { c: "2" } });
    await assert.rejects(sn.stat("a"), (e) => kindOf(e) === "NotFound");
    const a1 = await sn.stat("a1");
    assert.equal(a1.kind, "committed");
    assert.deepEqual(a1.labels, { l: "1", c: "2" });
    await assert.rejects(sn.mounts("a1"), (e) => kindOf(e) === "FailedPrecondition");
    await assert.rejects(sn.commit("x", "a1"), (e) => kindOf(e) === "FailedPrecondition");
    await assert.rejects(sn.commit("x", "nope"), (e) => kindOf(e) === "NotFound");

    await sn.prepare("c", "a1");
    assert.equal((await sn.stat("c")).parent, "a1");
    await assert.rejects(sn.commit("a1", "c"), (e) => kindOf(e) === "AlreadyExists");
    await sn.view("v", "a1");
    assert.equal((await sn.stat("v")).kind, "view");
    await assert.rejects(sn.commit("v1", "v"), (e) => kindOf(e) === "FailedPrecondition");
    assert.ok((await sn.mounts("v")).length > 0);
    assert.deepEqual(
      (await sn.list()).map((i) => `${i.key}:${i.kind}:${i.parent ?? ""}`),
      ["a1:committed:", "c:active:a1", "v:view:a1"],
    );

    await assert.rejects(sn.remove("a1"), (e) => kindOf(e) === "FailedPrecondition");
    await sn.remove("c");
    await sn.remove("v");
    await sn.remove("a1");
    await assert.rejects(sn.remove("a1"), (e) => kindOf(e) === "NotFound");
    assert.deepEqual(await sn.list(), []);
  });

  run("content: children see their parent, their own changes stay their own", async (e) => {
    const { sn } = e;
    let m = await e.mount(await sn.prepare("base"));
    writeFileSync(join(m, "f1"), "one");
    mkdirSync(join(m, "dir"));
    writeFileSync(join(m, "dir/f2"), "two");
    writeFileSync(join(m, "dir/f3"), "three");
    await e.unmount(m);
    await sn.commit("base-c", "base");

    m = await e.mount(await sn.prepare("child", "base-c"));
    assert.equal(readFileSync(join(m, "f1"), "utf8"), "one");
    rmSync(join(m, "f1"));
    rmSync(join(m, "dir"), { recursive: true });
    mkdirSync(join(m, "dir"));
    writeFileSync(join(m, "dir/f4"), "four");
    writeFileSync(join(m, "new"), "new");
    await e.unmount(m);
    await sn.commit("child-c", "child");

    const v = await e.mount(await sn.view("v", "child-c"));
    assert.deepEqual(readdirSync(v).sort(), ["dir", "new"]);
    assert.deepEqual(readdirSync(join(v, "dir")), ["f4"]);
    assert.throws(() => writeFileSync(join(v, "x"), "x"), /EROFS/, "views are read-only");

    const s = await e.mount(await sn.prepare("sibling", "base-c"));
    assert.deepEqual(readdirSync(s).sort(), ["dir", "f1"]);
    assert.deepEqual(readdirSync(join(s, "dir")).sort(), ["f2", "f3"]);

    // Two levels deep, and through mounts() rather than prepare()'s answer.
    const g = await e.mount(await sn.view("g", "child-c"));
    assert.equal(readFileSync(join(g, "new"), "utf8"), "new");
    const again = await e.mount(await sn.mounts("v"));
    assert.deepEqual(readdirSync(again).sort(), ["dir", "new"]);
  });

  run("usage counts the snapshot's own bytes and inodes, and is kept at commit", async (e) => {
    const { sn } = e;
    const m = await e.mount(await sn.prepare("u"));
    writeFileSync(join(m, "big"), Buffer.alloc(1024 * 1024, 1));
    mkdirSync(join(m, "d"));
    await e.unmount(m);
    const u = await sn.usage("u");
    assert.ok(u.size >= 1024 * 1024, `size ${u.size}`);
    assert.ok(u.inodes >= 3, `inodes ${u.inodes}`);
    await sn.commit("u-c", "u");
    assert.deepEqual(await sn.usage("u-c"), u);
    await sn.prepare("u2", "u-c");
    assert.ok((await sn.usage("u2")).size < 1024 * 1024 || name === "naive");
  });

  run("cleanup removes what crashes leave behind, and nothing else", async (e) => {
    const { sn } = e;
    await sn.prepare("keep");
    const snaps = join(e.dir, "root", "snapshots");
    const before = readdirSync(snaps).sort();
    for (const d of ["999999", "rm-7", "new-999999999-abc"])
      mkdirSync(join(snaps, d, "fs"), { recursive: true });
    mkdirSync(join(snaps, `new-${process.pid}-live`)); // a create in progress in a live process
    await sn.cleanup();
    assert.deepEqual(readdirSync(snaps).sort(), [...before, `new-${process.pid}-live`].sort());
    rmSync(join(snaps, `new-${process.pid}-live`), { recursive: true });
    assert.ok(existsSync(join(snaps, before[0]!)));
    await sn.stat("keep");
  });

  run("a chain of 120 committed layers mounts (options past one page)", async (e) => {
    const { sn } = e;
    let parent: string | undefined;
    for (let i = 0; i < 120; i++) {
      const m = await e.mount(await sn.prepare(`l${i}`, parent));
      writeFileSync(join(m, `file-${i}`), String(i));
      if (i > 0) rmSync(join(m, `file-${i - 1}-gone`));
      writeFileSync(join(m, `file-${i}-gone`), "x");
      await e.unmount(m);
      await sn.commit(`c${i}`, `l${i}`);
      parent = `c${i}`;
    }
    const top = await sn.prepare("top", parent);
    const m = await e.mount(top);
    const names = readdirSync(m);
    assert.equal(names.length, 121);
    for (let i = 0; i < 120; i++) assert.equal(readFileSync(join(m, `file-${i}`), "utf8"), String(i));
    assert.deepEqual(
      names.filter((n) => n.endsWith("-gone")),
      ["file-119-gone"],
    );
    writeFileSync(join(m, "on-top"), "t");
    await e.unmount(m);
    const v = await e.mount(await sn.view("v", parent));
    assert.equal(readdirSync(v).length, 121);
  });
}
