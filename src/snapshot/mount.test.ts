import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, test } from "node:test";
import assert from "node:assert/strict";
import { isMountPoint, mountAll, parseMountOptions, planOverlay, unmount } from "./mount.ts";
import { ensureFsops, kernelSkipReason } from "./testing.ts";

const skip = kernelSkipReason();
const opts = skip ? { skip } : {};

before(() => {
  if (!skip) ensureFsops();
});

test("mount options split into flags and data", () => {
  const { flags, data } = parseMountOptions(["ro", "nosuid", "rbind", "lowerdir=/a", "index=off", "rw"]);
  assert.equal(flags, 0x2 | 0x1000 | 0x4000); // rw cleared ro
  assert.deepEqual(data, ["lowerdir=/a", "index=off"]);
});

test("overlay plans: direct when it fits, relative paths when they do, the new mount API otherwise", () => {
  const lowers = Array.from(
    { length: 150 },
    (_, i) => `/var/lib/pier/snapshots/overlayfs/snapshots/${i + 1}/fs`,
  );
  const options = ["index=off", "workdir=/var/lib/pier/snapshots/overlayfs/snapshots/151/work"];
  options.push("upperdir=/var/lib/pier/snapshots/overlayfs/snapshots/151/fs", `lowerdir=${lowers.join(":")}`);
  assert.deepEqual(planOverlay(["lowerdir=/a:/b"]), { how: "direct", data: "lowerdir=/a:/b" });
  const rel = planOverlay(options);
  assert.equal(rel.how, "relative");
  if (rel.how === "relative") {
    assert.equal(rel.cwd, "/var/lib/pier/snapshots/overlayfs/snapshots");
    assert.match(rel.data, /^index=off,workdir=151\/work,upperdir=151\/fs,lowerdir=1\/fs:2\/fs:/);
    assert.ok(rel.data.length < 4096);
  }
  const fsm = planOverlay(options, 100);
  assert.equal(fsm.how, "fsmount");
  if (fsm.how === "fsmount") {
    assert.deepEqual(fsm.params.slice(0, 3), [
      ["index", "off"],
      ["workdir", "/var/lib/pier/snapshots/overlayfs/snapshots/151/work"],
      ["upperdir", "/var/lib/pier/snapshots/overlayfs/snapshots/151/fs"],
    ]);
    assert.equal(fsm.params.filter(([k]) => k === "lowerdir+").length, 150);
  }
  // No common directory but "/": nothing to gain from relative paths.
  const scattered = Array.from({ length: 300 }, (_, i) => `/d${i}/${"x".repeat(20)}`);
  assert.equal(planOverlay([`lowerdir=${scattered.join(":")}`]).how, "fsmount");
});

test("150 lower layers mount both ways: relative paths and fsconfig lowerdir+", opts, async () => {
  const dir = mkdtempSync(join(tmpdir(), "pier-mount-"));
  const targets: string[] = [];
  try {
    const lowers: string[] = [];
    for (let i = 0; i < 150; i++) {
      const l = join(dir, "layers", `layer-number-${i}`, "fs");
      mkdirSync(l, { recursive: true });
      writeFileSync(join(l, `f${i}`), "");
      lowers.push(l);
    }
    mkdirSync(join(dir, "layers", "top", "fs"), { recursive: true });
    mkdirSync(join(dir, "layers", "top", "work"), { recursive: true });
    const options = [
      `workdir=${join(dir, "layers/top/work")}`,
      `upperdir=${join(dir, "layers/top/fs")}`,
      `lowerdir=${lowers.join(":")}`,
    ];
    assert.ok(options.join(",").length > 4096);
    for (const [label, limit] of [
      ["relative", undefined],
      ["fsmount", 200],
    ] as const) {
      const t = join(dir, `mnt-${label}`);
      mkdirSync(t);
      targets.push(t);
      const m = {
        type: "overlay",
        source: "overlay",
        options: label === "fsmount" ? options.slice(2) : options,
      };
      await mountAll([m], t, limit === undefined ? {} : { dataLimit: limit });
      assert.ok(isMountPoint(t));
      assert.equal(readdirSync(t).length, 150, label);
      await unmount(t);
      assert.equal(isMountPoint(t), false);
    }
    // A read-only bind stays read-only; unmounting twice is fine.
    const b = join(dir, "mnt-bind");
    mkdirSync(b);
    targets.push(b);
    await mountAll([{ type: "bind", source: lowers[0]!, options: ["ro", "rbind"] }], b);
    assert.throws(() => writeFileSync(join(b, "x"), ""), /EROFS/);
    await unmount(b);
    await unmount(b);
  } finally {
    for (const t of targets) if (isMountPoint(t)) await unmount(t, { detach: true });
    rmSync(dir, { recursive: true, force: true });
  }
});
