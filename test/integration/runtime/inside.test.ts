// What a container sees from inside: its own PID 1, hostname, network, rootfs, mounts, namespaces.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawn } from "node:child_process";
import { RUNTIME, Scratch } from "../../helpers/bundle.ts";

let s: Scratch;
before(() => {
  s = new Scratch("inside");
  writeFileSync(join(s.rootfs, "ROOTFS-MARKER"), "pier");
});
after(() => s.cleanup());

test("ps shows the container's command as PID 1 and only its processes", () => {
  const b = s.bundle(["sh", "-c", "sleep 5 & ps -o pid,args; exit 0"]);
  const r = s.rt(["run", "--bundle", b, s.id("ps")]);
  assert.equal(r.status, 0, r.stderr);
  const rows = r.stdout
    .trim()
    .split("\n")
    .slice(1)
    .map((l) => l.trim());
  assert.match(rows[0] ?? "", /^1 sh -c sleep 5 & ps -o pid,args; exit 0$/);
  // sh (1), sleep, ps: nothing of the host
  assert.ok(rows.length <= 3, `expected only the container's processes, got:\n${r.stdout}`);
  assert.ok(rows.some((l) => /sleep 5/.test(l)));
});

test("hostname is the configured one", () => {
  const b = s.bundle(["hostname"], (c) => (c.hostname = "pier-box"));
  const r = s.rt(["run", "--bundle", b, s.id("host")]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "pier-box");
});

test("a new network namespace has only lo, and it is up", () => {
  const b = s.bundle(["ip", "-o", "link"]);
  const r = s.rt(["run", "--bundle", b, s.id("net")]);
  assert.equal(r.status, 0, r.stderr);
  const links = r.stdout.trim().split("\n");
  assert.equal(links.length, 1, r.stdout);
  assert.match(links[0] ?? "", /^1: lo: <LOOPBACK,UP,LOWER_UP>/);
});

test("ls / shows the rootfs, not the host", () => {
  const b = s.bundle(["ls", "/"]);
  const r = s.rt(["run", "--bundle", b, s.id("ls")]);
  assert.equal(r.status, 0, r.stderr);
  const names = r.stdout.split(/\s+/);
  assert.ok(names.includes("ROOTFS-MARKER"), r.stdout);
  assert.ok(!names.includes("work") && !names.includes("home") && !names.includes("boot"), r.stdout);
});

test("a mount made inside is invisible on the host", () => {
  const b = s.bundle(
    [
      "sh",
      "-c",
      "mkdir -p /mnt/inside && mount -t tmpfs pier-inside-mount /mnt/inside && grep -c pier-inside-mount /proc/self/mountinfo",
    ],
    (c) => {
      c.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
      c.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
      c.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
    },
  );
  const r = s.rt(["run", "--bundle", b, s.id("mnt")]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "1");
  assert.ok(!readFileSync("/proc/self/mountinfo", "utf8").includes("pier-inside-mount"));
});

test("every /proc/self/ns inode differs from the host's", () => {
  const b = s.bundle(["sh", "-c", "for n in mnt uts ipc pid net; do readlink /proc/self/ns/$n; done"]);
  const r = s.rt(["run", "--bundle", b, s.id("ns")]);
  assert.equal(r.status, 0, r.stderr);
  const inside = r.stdout.trim().split("\n");
  const host = ["mnt", "uts", "ipc", "pid", "net"].map((n) => readlinkSync(`/proc/self/ns/${n}`));
  assert.equal(inside.length, 5);
  inside.forEach((l, i) => {
    assert.match(l, /^\w+:\[\d+\]$/);
    assert.notEqual(l, host[i], `namespace ${l} is the host's`);
  });
});

test("exit status passes through run, and a signal death is 128+N", async () => {
  const b = s.bundle(["sh", "-c", "exit 7"]);
  assert.equal(s.rt(["run", "--bundle", b, s.id("exit")]).status, 7);
  // PID 1 ignores signals it has no handler for, except SIGKILL from outside.
  const id = s.id("sig");
  const k = s.bundle(["sleep", "30"]);
  const child = spawn(RUNTIME, ["--root", s.root, "run", "--bundle", k, id], { stdio: "ignore" });
  const code = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  for (let i = 0; i < 100 && s.rt(["state", id]).status !== 0; i++)
    await new Promise((r) => setTimeout(r, 20));
  assert.equal(s.rt(["kill", id, "KILL"]).status, 0);
  assert.equal(await code, 137);
  assert.notEqual(s.rt(["state", id]).status, 0, "run deletes the container after it exits");
});

test("environment, cwd, user and umask are applied", () => {
  const b = s.bundle(["sh", "-c", "echo $GREETING; pwd; id -u; id -g; id -G; umask"], (c) => {
    c.process!.env!.push("GREETING=hello");
    c.process!.cwd = "/tmp/work";
    c.process!.user = { uid: 1000, gid: 1001, additionalGids: [1002, 1003], umask: 0o027 };
  });
  const r = s.rt(["run", "--bundle", b, s.id("env")]);
  assert.equal(r.status, 0, r.stderr);
  const [greet, cwd, uid, gid, groups, umask] = r.stdout.trim().split("\n");
  assert.equal(greet, "hello");
  assert.equal(cwd, "/tmp/work");
  assert.equal(uid, "1000");
  assert.equal(gid, "1001");
  assert.deepEqual(groups?.split(" ").sort(), ["1001", "1002", "1003"]);
  assert.equal(umask, "0027");
});

test("capabilities: the default set is applied, others are absent", () => {
  const b = s.bundle([
    "sh",
    "-c",
    "grep -E '^Cap(Eff|Bnd|Prm)' /proc/self/status; grep NoNewPrivs /proc/self/status",
  ]);
  const r = s.rt(["run", "--bundle", b, s.id("caps")]);
  assert.equal(r.status, 0, r.stderr);
  // Docker's 14 default capabilities.
  assert.match(r.stdout, /CapEff:\s+00000000a80425fb/);
  assert.match(r.stdout, /CapBnd:\s+00000000a80425fb/);
  assert.match(r.stdout, /NoNewPrivs:\s+1/);
});

test("masked and read-only paths; read-only rootfs", () => {
  const b = s.bundle(
    [
      "sh",
      "-c",
      "cat /proc/kcore | wc -c; echo 1 > /proc/sys/kernel/ostype 2>/dev/null && echo writable || echo ro; touch /newfile 2>/dev/null && echo rootrw || echo rootro",
    ],
    (c) => {
      c.root!.readonly = true;
    },
  );
  const r = s.rt(["run", "--bundle", b, s.id("mask")]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(
    r.stdout
      .trim()
      .split("\n")
      .map((x) => x.trim()),
    ["0", "ro", "rootro"],
  );
});

test("/dev has the default devices and /dev/fd links", () => {
  const b = s.bundle([
    "sh",
    "-c",
    "ls /dev; echo x > /dev/null && echo null-ok; head -c 4 /dev/zero | wc -c",
  ]);
  const r = s.rt(["run", "--bundle", b, s.id("dev")]);
  assert.equal(r.status, 0, r.stderr);
  for (const d of [
    "null",
    "zero",
    "full",
    "random",
    "urandom",
    "tty",
    "fd",
    "stdin",
    "ptmx",
    "pts",
    "shm",
    "mqueue",
  ])
    assert.ok(r.stdout.split(/\s+/).includes(d), `missing /dev/${d}: ${r.stdout}`);
  assert.match(r.stdout, /null-ok/);
});

test("sysctl in a new namespace, no-pivot (chroot) mode", () => {
  const b = s.bundle(["cat", "/proc/sys/net/ipv4/ip_forward", "/proc/sys/kernel/shmmni"], (c) => {
    c.linux!.sysctl = { "net.ipv4.ip_forward": "1", "kernel.shmmni": "1234" };
    c.linux!.readonlyPaths = [];
  });
  const r = s.rt(["run", "--no-pivot", "--bundle", b, s.id("sysctl")]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["1", "1234"]);
});

test("bind mounts: read-only and read-write, and the cgroup mount", () => {
  const hostDir = join(s.dir, "shared-dir");
  mkdirSync(hostDir, { recursive: true });
  writeFileSync(join(hostDir, "from-host"), "hi");
  const b = s.bundle(
    [
      "sh",
      "-c",
      "cat /data/from-host; echo back > /data/from-ctr; touch /ro/x 2>/dev/null || echo ro-ok; ls /sys/fs/cgroup",
    ],
    (c) => {
      c.mounts!.push({ destination: "/data", type: "bind", source: hostDir, options: ["rbind", "rw"] });
      c.mounts!.push({ destination: "/ro", type: "bind", source: hostDir, options: ["rbind", "ro"] });
    },
  );
  const r = s.rt(["run", "--bundle", b, s.id("bind")]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^hi/);
  assert.match(r.stdout, /ro-ok/);
  assert.match(r.stdout, /memory/);
  assert.equal(readFileSync(join(hostDir, "from-ctr"), "utf8"), "back\n");
});

test("oomScoreAdj, ambient capabilities, a cgroup namespace and rootfs propagation", () => {
  const b = s.bundle(
    [
      "sh",
      "-c",
      "cat /proc/self/oom_score_adj; grep CapAmb /proc/self/status; grep memory /proc/self/cgroup; id -u; awk '$5 == \"/\"' /proc/self/mountinfo",
    ],
    (c) => {
      c.process!.oomScoreAdj = 123;
      c.process!.user = { uid: 1000, gid: 1000 };
      c.process!.capabilities!.inheritable = ["CAP_NET_RAW"];
      c.process!.capabilities!.ambient = ["CAP_NET_RAW"];
      c.linux!.namespaces!.push({ type: "cgroup" });
      c.linux!.rootfsPropagation = "rprivate";
    },
  );
  const r = s.rt(["run", "--bundle", b, s.id("misc")]);
  assert.equal(r.status, 0, r.stderr);
  const [oom, amb, cg, uid, root] = r.stdout.trim().split("\n");
  assert.equal(oom, "123");
  assert.match(amb ?? "", /CapAmb:\s+0000000000002000/); // CAP_NET_RAW is bit 13
  assert.match(cg ?? "", /memory:\/$/); // its own cgroup is the root of its cgroup namespace
  assert.equal(uid, "1000");
  assert.doesNotMatch(root ?? "", /shared:/); // rprivate: no peer group on /
});
