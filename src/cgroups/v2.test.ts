/**
 * The v2 driver against a fake cgroup2 tree in a temp dir (this host has no usable v2
 * hierarchy): what it writes where, the v1→v2 conversions, what it reports as unenforced.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isKind } from "../common/errors.ts";
import { blkioToIoWeight, sharesToWeight } from "./common.ts";
import {
  type FakeCgroup2Options,
  FakeCgroupManager,
  makeFakeCgroup2Root,
  removeFakeCgroup2Root,
} from "./fake.ts";
import { CgroupV2, DEVICES_NOT_ENFORCED } from "./v2.ts";

const MiB = 1024 * 1024;

function setup(t: { after: (fn: () => void) => void }, opts: FakeCgroup2Options = {}) {
  const root = mkdtempSync(join(tmpdir(), "pier-cg2-"));
  t.after(() => removeFakeCgroup2Root(root));
  const fs = makeFakeCgroup2Root(root, opts);
  const cg = new CgroupV2({ root, fs });
  const read = (p: string, f: string) => readFileSync(`${root}${p}/${f}`, "utf8").trim();
  return { root, cg, read };
}

test("v2: create enables the controllers in every ancestor's subtree_control", (t) => {
  const { cg, read } = setup(t);
  cg.create("/pier/a/b");
  for (const p of ["", "/pier", "/pier/a"]) {
    assert.deepEqual(
      read(p, "cgroup.subtree_control").split(" ").sort(),
      ["cpu", "cpuset", "hugetlb", "io", "memory", "pids"],
      p,
    );
  }
  assert.equal(read("/pier/a/b", "cgroup.subtree_control"), "");
  assert.deepEqual(cg.procsFiles("/pier/a/b"), [`${cg.root}/pier/a/b/cgroup.procs`]);
  assert.deepEqual(cg.mountSources("/pier/a/b"), [{ name: "", hostPath: `${cg.root}/pier/a/b` }]);
});

test("v2: conversions from OCI's v1-shaped values", (t) => {
  assert.equal(sharesToWeight(2), 1);
  assert.equal(sharesToWeight(1024), 39);
  assert.equal(sharesToWeight(262144), 10000);
  assert.equal(blkioToIoWeight(10), 1);
  assert.equal(blkioToIoWeight(500), 4950);
  assert.equal(blkioToIoWeight(1000), 10000);
  const { cg, read } = setup(t);
  const u = cg.create("/c", {
    memory: { limit: 64 * MiB, reservation: 16 * MiB, swap: 96 * MiB },
    cpu: { shares: 1024, quota: 25000, period: 50000, burst: 1000, idle: 0, cpus: "0-1", mems: "0" },
    pids: { limit: 99 },
    blockIO: {
      weight: 500,
      weightDevice: [{ major: 8, minor: 0, weight: 100 }],
      throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 1000 }],
      throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 20 }],
      throttleWriteBpsDevice: [{ major: 8, minor: 16, rate: 0 }],
    },
    hugepageLimits: [{ pageSize: "2MB", limit: 4 * MiB }],
    unified: { "memory.high": "50000000" },
  });
  assert.deepEqual(u, []);
  assert.equal(read("/c", "memory.max"), String(64 * MiB));
  assert.equal(read("/c", "memory.low"), String(16 * MiB));
  assert.equal(read("/c", "memory.swap.max"), String(32 * MiB));
  assert.equal(read("/c", "memory.high"), "50000000");
  assert.equal(read("/c", "cpu.weight"), "39");
  assert.equal(read("/c", "cpu.max"), "25000 50000");
  assert.equal(read("/c", "cpu.max.burst"), "1000");
  assert.equal(read("/c", "cpuset.cpus"), "0-1");
  assert.equal(read("/c", "pids.max"), "99");
  assert.equal(read("/c", "io.weight"), "default 4950\n8:0 910");
  assert.equal(
    read("/c", "io.max"),
    "8:0 rbps=1000 wbps=max riops=max wiops=20\n8:16 rbps=max wbps=max riops=max wiops=max",
  );
  assert.equal(read("/c", "hugetlb.2MB.max"), String(4 * MiB));

  // a new period alone keeps the quota; -1 is "max"
  cg.apply("/c", { cpu: { period: 200000 } });
  assert.equal(read("/c", "cpu.max"), "25000 200000");
  cg.apply("/c", { cpu: { quota: -1 }, memory: { limit: -1 }, pids: { limit: 0 } });
  assert.equal(read("/c", "cpu.max"), "max 200000");
  assert.equal(read("/c", "memory.max"), "max");
  assert.equal(read("/c", "memory.swap.max"), "max");
  assert.equal(read("/c", "pids.max"), "max");
});

test("v2: BFQ takes blkio's scale as it is", (t) => {
  const { cg, read } = setup(t, { bfq: true });
  cg.create("/c", { blockIO: { weight: 500 } });
  assert.equal(read("/c", "io.bfq.weight"), "default 500");
  assert.equal(read("/c", "io.weight"), "default 100");
});

test("v2: what v2 cannot enforce is reported, not an error", (t) => {
  const { cg } = setup(t, { swap: false });
  const u = cg.create("/c", {
    memory: {
      limit: 64 * MiB,
      swap: 128 * MiB,
      swappiness: 10,
      disableOOMKiller: true,
      kernel: MiB,
      kernelTCP: MiB,
    },
    cpu: { realtimeRuntime: 1000, realtimePeriod: 10000 },
    blockIO: { leafWeight: 100 },
    network: { classID: 1 },
    devices: [{ allow: false, access: "rwm" }],
  });
  assert.deepEqual(
    u.map((x) => x.field),
    [
      "memory.swap",
      "memory.swappiness",
      "memory.disableOOMKiller",
      "memory.kernel",
      "memory.kernelTCP",
      "cpu.realtime",
      "blockIO.leafWeight",
      "network",
      "devices",
    ],
  );
  assert.equal(u.at(-1)!.reason, DEVICES_NOT_ENFORCED);
  // device rules are still checked
  assert.throws(
    () => cg.apply("/c", { devices: [{ allow: true, type: "q" }] }),
    (e) => isKind(e, "InvalidArgument"),
  );
});

test("v2: refusals and missing files", (t) => {
  const { cg } = setup(t, { controllers: ["memory", "pids", "hugetlb"] });
  cg.create("/c");
  const kind = (r: Parameters<CgroupV2["apply"]>[1], k: string) =>
    assert.throws(
      () => cg.apply("/c", r),
      (e) => isKind(e, k as "InvalidArgument"),
      JSON.stringify(r),
    );
  kind({ cpu: { shares: 100 } }, "FailedPrecondition"); // no cpu controller
  kind({ memory: { swap: 2 * MiB } }, "InvalidArgument"); // swap without a limit
  kind({ hugepageLimits: [{ pageSize: "16GB", limit: 1 }] }, "InvalidArgument");
  kind({ unified: { "memory.nonexistent": "1" } }, "InvalidArgument");
  kind({ unified: { "memory.max": "lots" } }, "InvalidArgument"); // the (fake) kernel refuses it
  assert.throws(
    () => cg.apply("/missing", { pids: { limit: 1 } }),
    (e) => isKind(e, "NotFound"),
  );
});

test("v2: killAll uses cgroup.kill, or freeze/kill/thaw without it", (t) => {
  const { cg, read } = setup(t);
  cg.create("/c");
  cg.killAll("/c", "SIGKILL");
  assert.equal(read("/c", "cgroup.kill"), "");
  const old = setup(t, { kill: false });
  old.cg.create("/c");
  old.cg.killAll("/c", "SIGKILL");
  assert.equal(old.read("/c", "cgroup.freeze"), "0");
  assert.equal(old.cg.isFrozen("/c"), false);
});

test("v2: pids are collected from the subtree; a busy cgroup is not removed", (t) => {
  const { cg, root } = setup(t);
  cg.create("/c/sub");
  // pids no process of ours could have: the fake tree only lists them
  writeFileSync(`${root}/c/cgroup.procs`, "4000001\n");
  writeFileSync(`${root}/c/sub/cgroup.procs`, "4000002\n4000003\n");
  assert.deepEqual(cg.pids("/c").sort(), [4000001, 4000002, 4000003]);
  assert.throws(
    () => cg.destroy("/c"),
    (e) => isKind(e, "FailedPrecondition"),
  );
  writeFileSync(`${root}/c/cgroup.procs`, "");
  writeFileSync(`${root}/c/sub/cgroup.procs`, "");
  cg.destroy("/c");
  assert.equal(cg.exists("/c"), false);
});

test("v2: stats read memory.events, cpu.stat and pids", (t) => {
  const { cg, root } = setup(t);
  cg.create("/c", { memory: { limit: 32 * MiB }, pids: { limit: 5 } });
  writeFileSync(`${root}/c/memory.current`, "1234\n");
  writeFileSync(`${root}/c/memory.events`, "low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n");
  writeFileSync(
    `${root}/c/cpu.stat`,
    "usage_usec 300\nuser_usec 200\nsystem_usec 100\nnr_periods 9\nnr_throttled 3\nthrottled_usec 50\n",
  );
  writeFileSync(`${root}/c/pids.current`, "2\n");
  assert.deepEqual(cg.stats("/c"), {
    memory: { usage: 1234, maxUsage: 0, limit: 32 * MiB, failcnt: 7, oomKills: 2 },
    cpu: {
      usageNs: 300000,
      userNs: 200000,
      systemNs: 100000,
      periods: 9,
      throttledPeriods: 3,
      throttledNs: 50000,
    },
    pids: { current: 2, limit: 5 },
  });
});

test("fake manager: records calls and keeps state", () => {
  const m = new FakeCgroupManager();
  m.create("/pier/a", { pids: { limit: 3 } });
  m.cgroups.get("/pier/a")!.pids.push(42);
  assert.deepEqual(m.pids("/pier/a"), [42]);
  m.freeze("/pier/a");
  assert.equal(m.isFrozen("/pier/a"), true);
  m.killAll("/pier/a", "SIGKILL");
  assert.deepEqual(m.pids("/pier/a"), []);
  assert.equal(m.stats("/pier/a").pids.limit, 3);
  m.destroy("/pier");
  assert.equal(m.exists("/pier/a"), false);
  assert.deepEqual(m.calls, ["create /pier/a", "freeze /pier/a", "killAll /pier/a SIGKILL", "destroy /pier"]);
});
