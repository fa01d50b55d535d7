// cgroup limits hold for real: memory (OOM kill), pids (fork bomb), cpu quota (the seeds' 20%).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { Scratch } from "../../helpers/bundle.ts";

let s: Scratch;
before(() => (s = new Scratch("limits")));
after(() => s.cleanup());

const cg = (ctrl: string, path: string, file: string) =>
  readFileSync(`/sys/fs/cgroup/${ctrl}${path}/${file}`, "utf8").trim();

test("a memory hog is OOM-killed at the memory limit", () => {
  const id = s.id("oom");
  const path = `/${id}`;
  const b = s.bundle(
    ["sh", "-c", "echo started; dd if=/dev/zero of=/dev/null bs=96M count=1; echo survived"],
    (c) => {
      c.linux!.cgroupsPath = path;
      c.linux!.resources = {
        ...c.linux!.resources,
        memory: { limit: 32 * 1024 * 1024, swap: 32 * 1024 * 1024 },
      };
    },
  );
  const r = s.rt(["run", "--keep", "--bundle", b, id]);
  try {
    assert.equal(r.status, 0, r.stderr); // sh survives; dd was killed
    assert.match(r.stdout, /started/);
    assert.match(r.stdout, /survived/);
    assert.equal(cg("memory", path, "memory.limit_in_bytes"), String(32 * 1024 * 1024));
    const oom = cg("memory", path, "memory.oom_control");
    const kills = Number(/oom_kill (\d+)/.exec(oom)?.[1] ?? cg("memory", path, "memory.failcnt"));
    assert.ok(kills >= 1, `expected an OOM kill, memory.oom_control:\n${oom}`);
  } finally {
    s.rt(["delete", "--force", id]);
  }
  assert.ok(!existsSync(`/sys/fs/cgroup/memory${path}`));
});

test("a fork bomb stops at the pids limit", () => {
  const id = s.id("pids");
  const path = `/${id}`;
  // The inner shell forks until the kernel refuses (ash gives up at the first refusal);
  // PID 1 survives it and stays as `sleep`.
  const bomb = "sh -c 'for i in $(seq 1 40); do sleep 30 & done' 2>/dev/null; exec sleep 30";
  const b = s.bundle(["sh", "-c", bomb], (c) => {
    c.linux!.cgroupsPath = path;
    c.linux!.resources = { ...c.linux!.resources, pids: { limit: 12 } };
  });
  const r = s.rt(["run", "-d", "--bundle", b, id]);
  try {
    assert.equal(r.status, 0, r.stderr);
    const cell = new Int32Array(new SharedArrayBuffer(4));
    const refused = () => Number(/max (\d+)/.exec(cg("pids", path, "pids.events"))?.[1] ?? 0);
    for (let i = 0; i < 200 && !/sleep/.test(readFileSync(`/proc/${pidOf(id)}/cmdline`, "utf8")); i++)
      Atomics.wait(cell, 0, 0, 20);
    const current = Number(cg("pids", path, "pids.current"));
    assert.ok(current <= 12 && current >= 10, `pids.current ${current}`);
    assert.equal(cg("pids", path, "pids.max"), "12");
    assert.ok(refused() >= 1, `expected refused forks, pids.events: ${cg("pids", path, "pids.events")}`);
  } finally {
    s.rt(["delete", "--force", id]);
  }
});

function pidOf(id: string): number {
  return JSON.parse(s.rt(["state", id]).stdout).pid as number;
}

test("a busy loop under cpu quota 20000/100000 uses about 20% of a core", () => {
  const id = s.id("cpu");
  const path = `/${id}`;
  const b = s.bundle(["sh", "-c", "while :; do :; done"], (c) => {
    c.linux!.cgroupsPath = path;
    c.linux!.resources = { ...c.linux!.resources, cpu: { quota: 20000, period: 100000 } };
  });
  assert.equal(s.rt(["run", "--detach", "--bundle", b, id]).status, 0);
  try {
    const u0 = Number(cg("cpuacct", path, "cpuacct.usage"));
    const t0 = process.hrtime.bigint();
    const cell = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(cell, 0, 0, 2000);
    const u1 = Number(cg("cpuacct", path, "cpuacct.usage"));
    const wall = Number(process.hrtime.bigint() - t0);
    const share = (u1 - u0) / wall;
    assert.ok(share > 0.12 && share < 0.26, `cpu share ${share.toFixed(3)} not about 0.20`);
    assert.equal(cg("cpu", path, "cpu.cfs_quota_us"), "20000");
    const throttled = Number(/nr_throttled (\d+)/.exec(cg("cpu", path, "cpu.stat"))?.[1]);
    assert.ok(throttled > 0);
  } finally {
    s.rt(["delete", "--force", id]);
  }
  assert.ok(!existsSync(`/sys/fs/cgroup/cpu${path}`));
});

test("cpuset, cpu shares, blkio weight and devices are written", () => {
  const id = s.id("res");
  const path = `/${id}`;
  const b = s.bundle(
    ["sh", "-c", "cat /sys/fs/cgroup/cpuset/cpuset.cpus; head -c1 /dev/full >/dev/null && echo full-ok"],
    (c) => {
      c.linux!.cgroupsPath = path;
      c.linux!.resources = { ...c.linux!.resources, cpu: { shares: 512, cpus: "0" } };
    },
  );
  const r = s.rt(["run", "--bundle", b, id]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["0", "full-ok"]);
});

test("the device cgroup refuses devices that are not allowed", () => {
  const b = s.bundle(["sh", "-c", "mknod /tmp/sda b 8 0 && head -c1 /tmp/sda; echo rc=$?"]);
  const r = s.rt(["run", "--bundle", b, s.id("devcg")]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /rc=1/);
});

test("an rlimit above the host's hard limit fails clearly", () => {
  const b = s.bundle(["true"], (c) => {
    c.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 1048576, hard: 1048576 }];
  });
  const id = s.id("rlimit");
  const r = s.rt(["run", "--bundle", b, id]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /RLIMIT_NOFILE.*hard limit 1048576/);
  assert.equal(s.rt(["state", id]).status, 1);
});

test("rlimits are applied", () => {
  const b = s.bundle(["sh", "-c", "ulimit -n; ulimit -Hn"], (c) => {
    c.process!.rlimits = [{ type: "RLIMIT_NOFILE", soft: 321, hard: 654 }];
  });
  const r = s.rt(["run", "--bundle", b, s.id("rl")]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["321", "654"]);
});
