/**
 * The contract every `CgroupManager` driver passes: the same assertions on what the
 * kernel's files say after create/apply, through an `observe` adapter per driver that reads
 * its own files and normalizes them (limits in bytes, `null` for unlimited, cpu weight on
 * v2's 1..10000 scale). Used by contract.test.ts for v1 (real kernel) and v2 (fake tree).
 */
import { existsSync } from "node:fs";
import { after, test } from "node:test";
import assert from "node:assert/strict";
import type { Resources } from "../oci/runtime-spec.ts";
import { isKind } from "../common/errors.ts";
import type { CgroupManager } from "./manager.ts";
import { blkioToIoWeight, sharesToWeight } from "./common.ts";

export interface Observed {
  memoryLimit: number | null;
  /** Memory plus swap (OCI's `swap`), null when unlimited or not accounted. */
  memorySwapLimit: number | null;
  memoryReservation: number | null;
  /** On v2's scale; v1 cpu.shares are converted. */
  cpuWeight: number;
  cpuQuota: number | null;
  cpuPeriod: number;
  cpus: string;
  mems: string;
  pidsMax: number | null;
  /** On v2's io.weight scale; undefined when the host has no weight file. */
  ioWeight: number | undefined;
  /** The read bytes/s limit of `device`, null when unlimited. */
  readBps: number | null;
}

export interface ContractTarget {
  manager: CgroupManager;
  observe(path: string): Observed;
  /** A "major:minor" block device the kernel accepts for throttles. */
  device: string;
  /** Removes whatever the target made (temp dirs); cgroups are destroyed by the tests. */
  cleanup(): void;
}

let seq = 0;

/** Registers the contract tests for one driver; `setup` returns a skip reason if it cannot run. */
export function cgroupContract(name: string, setup: () => ContractTarget | string): void {
  let target: ContractTarget | string | undefined;
  const get = (): ContractTarget => {
    target ??= setup();
    if (typeof target === "string") throw new Error(target);
    return target;
  };
  const skip = (): string | false => {
    try {
      get();
      return false;
    } catch (err) {
      return (err as Error).message;
    }
  };
  const reason = skip();
  const top = `/pier-contract-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;

  /** A fresh cgroup path for one test, destroyed after it even if it fails. */
  const fresh = (t: { after: (fn: () => void) => void }): string => {
    const p = `${top}/c${++seq}`;
    t.after(() => {
      get().manager.destroy(p);
    });
    return p;
  };

  const cleanupAll = () => {
    if (typeof target !== "object") return;
    try {
      target.manager.destroy(top);
      assert.equal(target.manager.exists(top), false);
    } finally {
      target.cleanup();
    }
  };

  const MiB = 1024 * 1024;
  const base = (dev: string): Resources => {
    const [major, minor] = dev.split(":").map(Number) as [number, number];
    return {
      memory: { limit: 64 * MiB, reservation: 32 * MiB, swap: 96 * MiB },
      cpu: { shares: 512, quota: 50000, period: 100000, cpus: "0", mems: "0" },
      pids: { limit: 42 },
      blockIO: { weight: 300, throttleReadBpsDevice: [{ major, minor, rate: 1048576 }] },
    };
  };

  const t = (
    title: string,
    fn: (tc: ContractTarget, path: string, ctx: { after: (fn: () => void) => void }) => void,
  ) => test(`${name}: ${title}`, reason ? { skip: reason } : {}, (ctx) => fn(get(), fresh(ctx), ctx));

  t("create writes every resource to the kernel's files", ({ manager, observe, device }, p) => {
    const u = manager.create(p, base(device));
    const o = observe(p);
    assert.equal(o.memoryLimit, 64 * MiB);
    assert.equal(o.memoryReservation, 32 * MiB);
    if (u.some((x) => x.field === "memory.swap")) assert.equal(o.memorySwapLimit, null);
    else assert.equal(o.memorySwapLimit, 96 * MiB);
    assert.equal(o.cpuWeight, sharesToWeight(512));
    assert.equal(o.cpuQuota, 50000);
    assert.equal(o.cpuPeriod, 100000);
    assert.equal(o.cpus, "0");
    assert.equal(o.mems, "0");
    assert.equal(o.pidsMax, 42);
    if (u.some((x) => x.field === "blockIO.weight")) assert.equal(o.ioWeight, undefined);
    else assert.equal(o.ioWeight, blkioToIoWeight(300));
    assert.equal(o.readBps, 1048576);
    assert.ok(manager.exists(p));
  });

  t("create is idempotent and keeps what was applied", ({ manager, observe, device }, p) => {
    manager.create(p, base(device));
    const before = observe(p);
    manager.create(p);
    manager.create(p, {});
    assert.deepEqual(observe(p), before);
  });

  t("procsFiles and mountSources name existing files", ({ manager }, p) => {
    manager.create(p);
    const files = manager.procsFiles(p);
    assert.equal(files.length, manager.version === 2 ? 1 : manager.mountSources(p).length);
    for (const f of files) assert.ok(f.endsWith("/cgroup.procs") && existsSync(f), f);
    for (const s of manager.mountSources(p)) assert.ok(existsSync(s.hostPath), s.hostPath);
    if (manager.version === 2) assert.deepEqual(manager.mountSymlinks(), []);
  });

  t("apply changes only what it is given", ({ manager, observe, device }, p) => {
    manager.create(p, base(device));
    manager.apply(p, { memory: { limit: 80 * MiB, swap: 80 * MiB } });
    let o = observe(p);
    assert.equal(o.memoryLimit, 80 * MiB);
    assert.equal(o.pidsMax, 42);
    assert.equal(o.cpuQuota, 50000);
    manager.apply(p, { memory: { limit: 16 * MiB, swap: 16 * MiB } }); // down: limit before swap
    assert.equal(observe(p).memoryLimit, 16 * MiB);
    manager.apply(p, { memory: { limit: -1 } });
    o = observe(p);
    assert.equal(o.memoryLimit, null);
    assert.equal(o.memorySwapLimit, null);
    manager.apply(p, { cpu: { quota: -1 }, pids: { limit: -1 } });
    o = observe(p);
    assert.equal(o.cpuQuota, null);
    assert.equal(o.cpuPeriod, 100000);
    assert.equal(o.pidsMax, null);
    manager.apply(p, { cpu: { quota: 20000, period: 50000 }, pids: { limit: 7 } });
    o = observe(p);
    assert.deepEqual([o.cpuQuota, o.cpuPeriod, o.pidsMax], [20000, 50000, 7]);
    manager.apply(p, { pids: { limit: 0 } });
    assert.equal(observe(p).pidsMax, null);
  });

  t("invalid resources are InvalidArgument and change nothing", ({ manager, observe, device }, p) => {
    manager.create(p, base(device));
    const before = observe(p);
    const bad: Resources[] = [
      { memory: { limit: 64 * MiB, swap: 32 * MiB } },
      { memory: { limit: -5 } },
      { memory: { swappiness: 101 } },
      { cpu: { shares: -1 } },
      { cpu: { quota: 1.5 } },
      { cpu: { cpus: "zero" } },
      { pids: { limit: 2.5 } },
      { blockIO: { weight: 5 } },
      { hugepageLimits: [{ pageSize: "3XB", limit: 1 }] },
      { devices: [{ allow: true, type: "x", access: "rwm" }] },
      { devices: [{ allow: true, type: "c", major: 1, minor: 3, access: "rwx" }] },
      { unified: { "../etc": "1" } },
      { memory: { limit: 32 * MiB }, pids: { limit: -7 } },
    ];
    for (const r of bad) {
      assert.throws(
        () => manager.apply(p, r),
        (e) => isKind(e, "InvalidArgument"),
        JSON.stringify(r),
      );
    }
    assert.deepEqual(observe(p), before);
  });

  t("device rules are enforced or reported as not enforced", ({ manager }, p) => {
    const u = manager.create(p, {
      devices: [
        { allow: false, access: "rwm" },
        { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
      ],
    });
    if (manager.version === 2) assert.ok(u.some((x) => x.field === "devices"));
    else assert.ok(!u.some((x) => x.field === "devices"));
  });

  t("freeze and thaw", ({ manager }, p) => {
    manager.create(p);
    assert.equal(manager.isFrozen(p), false);
    manager.freeze(p);
    assert.equal(manager.isFrozen(p), true);
    manager.thaw(p);
    assert.equal(manager.isFrozen(p), false);
  });

  t("an empty or missing cgroup has no pids; killAll returns at once", ({ manager }, p) => {
    assert.deepEqual(manager.pids(p), []);
    manager.killAll(p, "SIGKILL");
    manager.create(p);
    assert.deepEqual(manager.pids(p), []);
    const t0 = Date.now();
    manager.killAll(p, "SIGKILL");
    manager.killAll(p, 15);
    assert.ok(Date.now() - t0 < 500);
  });

  t("stats reports the limits", ({ manager, device }, p) => {
    manager.create(p, base(device));
    const s = manager.stats(p);
    assert.equal(s.memory.limit, 64 * MiB);
    assert.equal(s.pids.limit, 42);
    assert.equal(s.pids.current, 0);
    assert.equal(s.memory.oomKills, 0);
    manager.apply(p, { pids: { limit: -1 } });
    assert.equal(manager.stats(p).pids.limit, null);
  });

  t("destroy removes nested cgroups and is idempotent", ({ manager }, p) => {
    manager.create(`${p}/a/b`, { pids: { limit: 10 } });
    manager.create(`${p}/c`);
    assert.ok(manager.exists(`${p}/a/b`));
    manager.destroy(p);
    for (const q of [p, `${p}/a`, `${p}/a/b`, `${p}/c`]) assert.equal(manager.exists(q), false, q);
    for (const s of manager.mountSources(p)) assert.equal(existsSync(s.hostPath), false);
    manager.destroy(p);
    assert.throws(
      () => manager.stats(p),
      (e) => isKind(e, "NotFound"),
    );
  });

  t("paths are checked", ({ manager }) => {
    for (const bad of ["relative", "/a/../b", "/", "", "/a//b"]) {
      assert.throws(
        () => manager.create(bad),
        (e) => isKind(e, "InvalidArgument"),
        bad,
      );
    }
  });

  after(cleanupAll);
}
