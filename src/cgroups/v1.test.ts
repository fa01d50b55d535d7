/**
 * The v1 driver against the real kernel (root on a cgroup v1 host; skipped elsewhere).
 * Every test makes its cgroups under a unique top-level name and removes them, and ends
 * the processes it started, by pid, also when it fails.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { isKind } from "../common/errors.ts";
import { cgroupVersion } from "./detect.ts";
import { CgroupV1, type V1Hierarchy, hostV1Hierarchies, parseMountinfoV1 } from "./v1.ts";

function skipReason(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  try {
    return cgroupVersion() === 1 ? false : "this host is not cgroup v1";
  } catch (err) {
    return (err as Error).message;
  }
}
const skip = skipReason();
const opts = skip ? { skip } : {};
const MiB = 1024 * 1024;
const cg = new CgroupV1();
const TOP = `/pier-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
let n = 0;

type Ctx = { after: (fn: () => void | Promise<void>) => void };

/** A fresh cgroup path, destroyed (with its processes) after the test. */
function fresh(t: Ctx): string {
  const p = `${TOP}-${++n}`;
  t.after(() => {
    if (cg.exists(p)) {
      cg.killAll(p, "SIGKILL");
      cg.destroy(p);
    }
  });
  return p;
}

function mount(c: string): string {
  const h = hostV1Hierarchies().find((x) => x.controllers.includes(c));
  assert.ok(h, `${c} is mounted`);
  return h.mountPoint;
}
const file = (c: string, p: string, name: string) => readFileSync(`${mount(c)}${p}/${name}`, "utf8").trim();

/** Starts a process, ended by pid after the test if still alive. */
function start(
  t: Ctx,
  cmd: string,
  args: string[],
): ChildProcess & { done: Promise<NodeJS.Signals | number | null> } {
  const child = spawn(cmd, args, { stdio: "ignore" });
  const done = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on("exit", (code, signal) => resolve(signal ?? code)),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null && child.pid) {
      try {
        process.kill(child.pid, "SIGKILL");
      } catch {
        // already gone
      }
      await done;
    }
  });
  return Object.assign(child, { done });
}

/** A shell that joins the cgroup (writes $$ to every procs file), then execs `cmd`. */
function startIn(t: Ctx, p: string, cmd: string) {
  const join = cg
    .procsFiles(p)
    .map((f) => `echo $$ > ${f}`)
    .join(" && ");
  return start(t, "/bin/sh", ["-c", `${join} && exec ${cmd}`]);
}

function state(pid: number): string {
  return /State:\s+(\S)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "?";
}

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test("mountinfo: separate, combined and named hierarchies", () => {
  const text = [
    "31 23 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755",
    "32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct",
    "33 31 0:30 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio",
    "34 31 0:31 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd",
    "35 31 0:32 /docker/x /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory",
    "36 31 0:33 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw,nsdelegate",
    "37 23 0:29 / /mnt/cpu\\040copy rw - cgroup cgroup rw,cpuacct,cpu",
  ].join("\n");
  const hs = parseMountinfoV1(text);
  assert.deepEqual(hs, [
    { controllers: ["cpu", "cpuacct"], mountPoint: "/sys/fs/cgroup/cpu,cpuacct", root: "/" },
    { controllers: ["net_cls", "net_prio"], mountPoint: "/sys/fs/cgroup/net_cls,net_prio", root: "/" },
    { controllers: ["name=systemd"], mountPoint: "/sys/fs/cgroup/systemd", root: "/" },
    { controllers: ["memory"], mountPoint: "/sys/fs/cgroup/memory", root: "/docker/x" },
  ]);
  const m = new CgroupV1({ hierarchies: hs as V1Hierarchy[] });
  assert.deepEqual(m.mountSymlinks(), [
    { name: "cpu", target: "cpu,cpuacct" },
    { name: "cpuacct", target: "cpu,cpuacct" },
    { name: "net_cls", target: "net_cls,net_prio" },
    { name: "net_prio", target: "net_cls,net_prio" },
  ]);
  assert.deepEqual(
    m.mountSources("/pier/a").map((s) => [s.name, s.hostPath]),
    [
      ["cpu,cpuacct", "/sys/fs/cgroup/cpu,cpuacct/pier/a"],
      ["net_cls,net_prio", "/sys/fs/cgroup/net_cls,net_prio/pier/a"],
      ["systemd", "/sys/fs/cgroup/systemd/pier/a"],
      ["memory", "/sys/fs/cgroup/memory/pier/a"],
    ],
  );
  // a path inside the mounted sub-tree is found under its mount point
  assert.equal(m.procsFiles("/docker/x/c")[3], "/sys/fs/cgroup/memory/c/cgroup.procs");
});

test("v1: every controller's files, as the kernel reads them back", opts, (t) => {
  const p = fresh(t);
  const u = cg.create(p, {
    memory: {
      limit: 64 * MiB,
      reservation: 32 * MiB,
      swap: 128 * MiB,
      swappiness: 10,
      disableOOMKiller: true,
      kernel: 64 * MiB,
      kernelTCP: 16 * MiB,
    },
    cpu: { shares: 256, quota: 20000, period: 50000, cpus: "0", mems: "0" },
    pids: { limit: 50 },
    blockIO: {
      weight: 200,
      throttleReadBpsDevice: [{ major: 254, minor: 0, rate: 2 * MiB }],
      throttleWriteIOPSDevice: [{ major: 254, minor: 0, rate: 100 }],
    },
    devices: [
      { allow: false, access: "rwm" },
      { allow: true, type: "c", major: 1, minor: 3, access: "rwm" },
      { allow: true, type: "c", major: 136, minor: null, access: "rw" },
      { allow: true, type: "a", major: 5, minor: -1, access: "m" },
    ],
  });
  assert.equal(file("memory", p, "memory.limit_in_bytes"), String(64 * MiB));
  assert.equal(file("memory", p, "memory.soft_limit_in_bytes"), String(32 * MiB));
  if (existsSync(`${mount("memory")}${p}/memory.memsw.limit_in_bytes`)) {
    assert.equal(file("memory", p, "memory.memsw.limit_in_bytes"), String(128 * MiB));
  } else {
    assert.ok(u.some((x) => x.field === "memory.swap"));
  }
  assert.equal(file("memory", p, "memory.swappiness"), "10");
  assert.match(file("memory", p, "memory.oom_control"), /oom_kill_disable 1/);
  assert.equal(file("cpu", p, "cpu.shares"), "256");
  assert.equal(file("cpu", p, "cpu.cfs_quota_us"), "20000");
  assert.equal(file("cpu", p, "cpu.cfs_period_us"), "50000");
  assert.equal(file("cpuset", p, "cpuset.cpus"), "0");
  assert.equal(file("pids", p, "pids.max"), "50");
  const bw = existsSync(`${mount("blkio")}${p}/blkio.weight`) ? "blkio.weight" : "blkio.bfq.weight";
  if (existsSync(`${mount("blkio")}${p}/${bw}`)) assert.match(file("blkio", p, bw), /(^|default )200$/m);
  else assert.ok(u.some((x) => x.field === "blockIO.weight"));
  assert.equal(file("blkio", p, "blkio.throttle.read_bps_device"), `254:0 ${2 * MiB}`);
  assert.equal(file("blkio", p, "blkio.throttle.write_iops_device"), "254:0 100");
  assert.deepEqual(file("devices", p, "devices.list").split("\n").sort(), [
    "b 5:* m",
    "c 136:* rw",
    "c 1:3 rwm",
    "c 5:* m",
  ]);
  // kernel memory limits are best effort: never an error, reported when not supported
  for (const x of u) assert.match(x.field, /^(memory\.(kernel|kernelTCP|swap)|blockIO\.weight)$/);

  // an update that raises and then lowers memory and swap (the write order matters)
  cg.apply(p, { memory: { limit: 256 * MiB, swap: 512 * MiB } });
  assert.equal(file("memory", p, "memory.limit_in_bytes"), String(256 * MiB));
  cg.apply(p, { memory: { limit: 8 * MiB, swap: 8 * MiB } });
  assert.equal(file("memory", p, "memory.limit_in_bytes"), String(8 * MiB));
  // a smaller period with a quota, and back to unlimited
  cg.apply(p, { cpu: { quota: 1000, period: 1000 } });
  assert.equal(file("cpu", p, "cpu.cfs_period_us"), "1000");
  cg.apply(p, { cpu: { quota: -1 }, pids: { limit: -1 } });
  assert.equal(file("cpu", p, "cpu.cfs_quota_us"), "-1");
  assert.equal(file("pids", p, "pids.max"), "max");
  cg.apply(p, { devices: [{ allow: true, access: "rwm" }] });
  assert.equal(file("devices", p, "devices.list"), "a *:* rwm");
});

test("v1: a new cpuset cgroup gets its parent's cpus and mems at every level", opts, (t) => {
  const p = fresh(t);
  cg.create(`${p}/a/b`);
  for (const q of [p, `${p}/a`, `${p}/a/b`]) {
    assert.equal(file("cpuset", q, "cpuset.cpus"), file("cpuset", "", "cpuset.cpus"), q);
    assert.equal(file("cpuset", q, "cpuset.mems"), file("cpuset", "", "cpuset.mems"), q);
  }
  cg.destroy(p);
  assert.equal(cg.exists(`${p}/a/b`), false);
});

test("v1: values the kernel refuses are InvalidArgument naming the file", opts, (t) => {
  const p = fresh(t);
  cg.create(p);
  const refused = (r: Parameters<CgroupV1["apply"]>[1], name: string) =>
    assert.throws(
      () => cg.apply(p, r),
      (e) => isKind(e, "InvalidArgument") && (e as Error).message.includes(name),
      name,
    );
  refused({ cpu: { cpus: "4095" } }, "cpuset.cpus");
  refused({ cpu: { period: 500 } }, "cpu.cfs_period_us");
  refused({ cpu: { shares: 1 } }, "cpu.shares");
  refused({ cpu: { shares: 10_000_000 } }, "cpu.shares");
  refused({ blockIO: { throttleReadBpsDevice: [{ major: 4000, minor: 1, rate: 1 }] } }, "read_bps_device");
  refused({ unified: { "memory.high": "1" } }, "unified");
});

test("v1: a process joins, is listed, frozen, thawed, killed, and the cgroup removed", opts, async (t) => {
  const p = fresh(t);
  cg.create(p, { pids: { limit: 20 } });
  const child = start(t, "sleep", ["30"]);
  const pid = child.pid!;
  for (const f of cg.procsFiles(p)) writeFileSync(f, String(pid)); // as the C helper does
  assert.deepEqual(cg.pids(p), [pid]);
  assert.equal(cg.stats(p).pids.current, 1);
  for (const h of hostV1Hierarchies()) {
    assert.ok(
      readFileSync(`/proc/${pid}/cgroup`, "utf8").includes(`:${h.controllers.join(",")}:${p}\n`),
      h.mountPoint,
    );
  }

  cg.freeze(p);
  assert.equal(cg.isFrozen(p), true);
  assert.match(state(pid), /^[DT]$/);
  cg.thaw(p);
  assert.equal(cg.isFrozen(p), false);
  await until("thawed", () => state(pid) === "S");

  // destroy refuses while a process is in it
  assert.throws(
    () => cg.destroy(p),
    (e) => isKind(e, "FailedPrecondition"),
  );

  cg.killAll(p, "SIGKILL");
  assert.deepEqual(cg.pids(p), []);
  assert.equal(await child.done, "SIGKILL");
  cg.destroy(p);
  for (const h of hostV1Hierarchies()) assert.equal(existsSync(`${h.mountPoint}${p}`), false, h.mountPoint);
  assert.equal(cg.exists(p), false);
});

test("v1: killAll with SIGTERM signals every process, also in child cgroups", opts, async (t) => {
  const p = fresh(t);
  cg.create(`${p}/sub`);
  const a = startIn(t, p, "sleep 30");
  const b = startIn(t, `${p}/sub`, "sleep 30");
  await until("both joined", () => cg.pids(p).length === 2);
  assert.deepEqual(cg.pids(p).sort(), [a.pid, b.pid].sort());
  cg.killAll(p, "SIGTERM");
  assert.deepEqual([await a.done, await b.done], ["SIGTERM", "SIGTERM"]);
  await until("empty", () => cg.pids(p).length === 0);
  cg.destroy(p);
});

test("v1: a memory limit OOM-kills a process that needs more, and stats show it", opts, async (t) => {
  const p = fresh(t);
  cg.create(p, { memory: { limit: 32 * MiB, swap: 32 * MiB } });
  const dd = startIn(t, p, "/bin/busybox dd if=/dev/zero of=/dev/null bs=64M count=1");
  assert.equal(await dd.done, "SIGKILL");
  const s = cg.stats(p);
  assert.ok(s.memory.oomKills >= 1, `oomKills ${s.memory.oomKills}`);
  // failcnt is kernel-dependent: 6.18 keeps it at 0 for this (the OOM kill is the evidence)
  assert.ok(Number.isInteger(s.memory.failcnt) && s.memory.failcnt >= 0);
  assert.equal(s.memory.limit, 32 * MiB);
  assert.ok(s.memory.maxUsage !== null && s.memory.maxUsage > 16 * MiB && s.memory.maxUsage <= 32 * MiB);
});

test("v1: a memory limit below current usage is InvalidArgument", opts, async (t) => {
  const p = fresh(t);
  cg.create(p);
  // a shell holding ~16 MiB in a variable
  startIn(
    t,
    p,
    `/bin/sh -c 'x=$(/bin/busybox head -c 16000000 /dev/zero | /bin/busybox tr "\\0" a); exec sleep 30'`,
  );
  await until("memory in use", () => cg.stats(p).memory.usage > 12 * MiB, 10000);
  assert.throws(
    () => cg.apply(p, { memory: { limit: 4 * MiB } }),
    (e) => isKind(e, "InvalidArgument") && /memory\.limit_in_bytes.*current usage/.test((e as Error).message),
  );
});

test("v1: stats count cpu time and throttling", opts, async (t) => {
  const p = fresh(t);
  cg.create(p, { cpu: { quota: 10000, period: 100000 } });
  const busy = startIn(t, p, "/bin/sh -c 'while :; do :; done'");
  await new Promise((r) => setTimeout(r, 350));
  const s = cg.stats(p);
  assert.ok(s.cpu.usageNs > 10_000_000, `usage ${s.cpu.usageNs}`);
  assert.ok(s.cpu.usageNs < 200_000_000, `usage ${s.cpu.usageNs} under a 10% quota`);
  assert.ok(s.cpu.throttledPeriods > 0 && s.cpu.throttledNs > 0);
  cg.killAll(p, 9);
  assert.equal(await busy.done, "SIGKILL");
});

test("v1: create + apply + destroy is fast", opts, (t) => {
  const r = {
    memory: { limit: 64 * MiB, swap: 64 * MiB },
    cpu: { shares: 512, quota: 50000, period: 100000 },
    pids: { limit: 100 },
    devices: [
      { allow: false, access: "rwm" },
      ...Array.from({ length: 12 }, (_, i) => ({
        allow: true,
        type: "c",
        major: 1,
        minor: i,
        access: "rwm",
      })),
    ],
  };
  const times: number[] = [];
  for (let i = 0; i < 30; i++) {
    const p = fresh(t);
    const t0 = process.hrtime.bigint();
    cg.create(p, r);
    cg.destroy(p);
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[times.length >> 1]!;
  t.diagnostic(`create+apply+destroy median ${median.toFixed(3)} ms, min ${times[0]!.toFixed(3)} ms`);
  assert.ok(median < 5, `median ${median} ms`);
});
