// The create/start split, state, kill, delete, list, ps, exec, user namespaces,
// joining a namespace by path, hooks, the console socket, seccomp.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  readdirSync,
  statSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { join } from "node:path";
import { REPO, Scratch } from "../../helpers/bundle.ts";

let s: Scratch;
before(() => (s = new Scratch("life")));
after(() => s.cleanup());

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function state(id: string): { status: string; pid: number; bundle: string } {
  const r = s.rt(["state", id]);
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

function cgroupDirs(id: string): string[] {
  return readdirSync("/sys/fs/cgroup").filter((c) => existsSync(`/sys/fs/cgroup/${c}/${id}`));
}

test("create leaves the container set up and waiting; start only releases it", () => {
  const id = s.id("split");
  const b = s.bundle(["sh", "-c", `echo ran > /tmp/ran; hostname > /tmp/h; sleep 30`], (c) => {
    c.linux!.cgroupsPath = `/${id}`;
    c.mounts!.push({ destination: "/tmp", type: "bind", source: s.dir, options: ["rbind"] });
  });
  const pidFile = join(s.dir, `${id}.pid`);
  const r = s.rt(["create", "--bundle", b, "--pid-file", pidFile, id]);
  assert.equal(r.status, 0, r.stderr);
  const st = state(id);
  assert.equal(st.status, "created");
  assert.equal(Number(readFileSync(pidFile, "utf8")), st.pid);
  // Fully set up: in its namespaces and cgroup already, but the command has not run.
  assert.notEqual(readlinkSync(`/proc/${st.pid}/ns/pid`), readlinkSync("/proc/self/ns/pid"));
  assert.match(readFileSync(`/proc/${st.pid}/cgroup`, "utf8"), new RegExp(`memory:/${id}`));
  assert.ok(!existsSync(join(s.dir, "ran")));
  assert.equal(s.rt(["start", id]).status, 0);
  for (let i = 0; i < 100 && !existsSync(join(s.dir, "h")); i++) sleepMs(20);
  assert.equal(readFileSync(join(s.dir, "ran"), "utf8"), "ran\n");
  assert.equal(state(id).status, "running");
  // start twice is refused
  const again = s.rt(["start", id]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /running, not created/);
  // list and ps
  const list = JSON.parse(s.rt(["list", "--format", "json"]).stdout) as { id: string; status: string }[];
  assert.equal(list.find((c) => c.id === id)?.status, "running");
  assert.match(s.rt(["list"]).stdout, new RegExp(`${id}\\s+${st.pid}\\s+running`));
  const ps = JSON.parse(s.rt(["ps", "--format", "json", id]).stdout) as number[];
  assert.deepEqual(ps, [st.pid]); // sh exec'd sleep: one process
  assert.match(s.rt(["ps", id]).stdout, /sleep 30/);
  // delete refuses a running container
  const del = s.rt(["delete", id]);
  assert.notEqual(del.status, 0);
  assert.match(del.stderr, /while it is running/);
  // kill by name, then state says stopped
  assert.equal(s.rt(["kill", id, "KILL"]).status, 0);
  for (let i = 0; i < 100 && state(id).status !== "stopped"; i++) sleepMs(20);
  assert.equal(state(id).status, "stopped");
  assert.equal(s.rt(["delete", id]).status, 0);
  assert.deepEqual(cgroupDirs(id), []);
  assert.ok(!existsSync(join(s.root, id)));
  assert.notEqual(s.rt(["state", id]).status, 0);
});

test("kill accepts names and numbers, --all signals every process; unknown signals are refused", () => {
  const id = s.id("kill");
  const b = s.bundle(
    ["sh", "-c", "trap 'echo got-usr1' USR1; sleep 30 & sleep 30 & while :; do sleep 1; done"],
    (c) => {
      c.linux!.cgroupsPath = `/${id}`;
    },
  );
  assert.equal(s.rt(["run", "-d", "--bundle", b, id]).status, 0);
  try {
    for (const sig of ["USR1", "SIGUSR1", "10"]) assert.equal(s.rt(["kill", id, sig]).status, 0, sig);
    const bad = s.rt(["kill", id, "SIGNOPE"]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /unknown signal "SIGNOPE"/);
    assert.notEqual(s.rt(["kill", id, "99"]).status, 0);
    assert.equal(s.rt(["kill", "--all", id, "KILL"]).status, 0);
    for (let i = 0; i < 100 && state(id).status !== "stopped"; i++) sleepMs(20);
    assert.equal(state(id).status, "stopped");
    assert.deepEqual(JSON.parse(s.rt(["ps", "--format", "json", id]).stdout), []);
  } finally {
    s.rt(["delete", "--force", id]);
  }
});

test("exec enters all of the container's namespaces and its cgroup", () => {
  const id = s.id("exec");
  const b = s.bundle(["sleep", "30"], (c) => (c.linux!.cgroupsPath = `/${id}`));
  assert.equal(s.rt(["run", "-d", "--bundle", b, id]).status, 0);
  try {
    const pid = state(id).pid;
    const r = s.rt([
      "exec",
      id,
      "sh",
      "-c",
      "for n in mnt uts ipc pid net cgroup; do readlink /proc/self/ns/$n; done; ps -o pid,args; cat /proc/self/cgroup",
    ]);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    ["mnt", "uts", "ipc", "pid", "net", "cgroup"].forEach((n, i) =>
      assert.equal(lines[i], readlinkSync(`/proc/${pid}/ns/${n}`)),
    );
    assert.match(r.stdout, /\n\s*1 sleep 30\n/);
    assert.match(r.stdout, new RegExp(`memory:/${id}`));
    assert.match(r.stdout, new RegExp(`pids:/${id}`));
    // exit status passes through, env and cwd and user apply
    assert.equal(s.rt(["exec", id, "sh", "-c", "exit 5"]).status, 5);
    const e = s.rt([
      "exec",
      "--env",
      "A=b",
      "--cwd",
      "/tmp",
      "--user",
      "1000:1000",
      id,
      "sh",
      "-c",
      "echo $A; pwd; id -u",
    ]);
    assert.deepEqual(e.stdout.trim().split("\n"), ["b", "/tmp", "1000"]);
    // --process with --detach and --pid-file, as podman drives it
    const proc = join(s.dir, `${id}.process.json`);
    writeFileSync(
      proc,
      JSON.stringify({ args: ["sleep", "20"], cwd: "/", user: { uid: 0, gid: 0 }, env: ["PATH=/bin"] }),
    );
    const pf = join(s.dir, `${id}.exec.pid`);
    const d = s.rt(["exec", "--pid-file", pf, "--process", proc, "--detach", id]);
    assert.equal(d.status, 0, d.stderr);
    const epid = Number(readFileSync(pf, "utf8"));
    assert.equal(readlinkSync(`/proc/${epid}/ns/pid`), readlinkSync(`/proc/${pid}/ns/pid`));
    // a missing executable is a clear error
    const missing = s.rt(["exec", id, "no-such-command"]);
    assert.notEqual(missing.status, 0);
    assert.match(missing.stderr, /no-such-command.*not found/);
  } finally {
    s.rt(["delete", "--force", id]);
  }
  assert.deepEqual(cgroupDirs(id), []);
});

test("a user namespace maps uid 0 inside to an unprivileged uid outside", () => {
  const id = s.id("userns");
  const shared = join(s.dir, `${id}-share`);
  mkdirSync(shared);
  chmodSync(shared, 0o777);
  const b = s.bundle(["sh", "-c", "id -u; cat /proc/self/uid_map; touch /tmp/owned; sleep 30"], (c) => {
    c.linux!.namespaces!.push({ type: "user" });
    c.linux!.uidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    c.linux!.gidMappings = [{ containerID: 0, hostID: 200000, size: 65536 }];
    c.mounts!.push({ destination: "/tmp", type: "bind", source: shared, options: ["rbind"] });
    c.linux!.cgroupsPath = `/${id}`;
  });
  const child = spawn(join(REPO, "bin/pier-runtime"), ["--root", s.root, "run", "--bundle", b, id], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let text = "";
  child.stdout.on("data", (d) => (text += d));
  try {
    for (let i = 0; i < 200 && !existsSync(join(shared, "owned")); i++) sleepMs(20);
    const pid = state(id).pid;
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    assert.match(status, /Uid:\s+200000\s+200000\s+200000\s+200000/);
    assert.equal(statSync(join(shared, "owned")).uid, 200000);
  } finally {
    s.rt(["kill", id, "KILL"]);
  }
  return new Promise<void>((resolve) =>
    child.on("exit", () => {
      assert.match(text, /^0\n\s+0\s+200000\s+65536/);
      resolve();
    }),
  );
});

test("joining another container's network namespace by path", () => {
  const a = s.id("neta");
  const ba = s.bundle(["sleep", "30"], (c) => (c.linux!.cgroupsPath = `/${a}`));
  assert.equal(s.rt(["run", "-d", "--bundle", ba, a]).status, 0);
  try {
    const pa = state(a).pid;
    // give A a veth pair so "same network" is visible, not just the same inode
    const add = ["link", "add", "pierv0", "type", "veth", "peer", "name", "pierv1"];
    const ip = spawnSync("nsenter", ["-t", String(pa), "-n", "ip", ...add]);
    assert.equal(ip.status, 0, ip.stderr?.toString());
    const b = s.bundle(["sh", "-c", "readlink /proc/self/ns/net; ip -o link | cut -d: -f2"], (c) => {
      c.linux!.namespaces = c.linux!.namespaces!.map((n) =>
        n.type === "network" ? { type: "network", path: `/proc/${pa}/ns/net` } : n,
      );
    });
    const r = s.rt(["run", "--bundle", b, s.id("netb")]);
    assert.equal(r.status, 0, r.stderr);
    const [ns, ...links] = r.stdout.trim().split("\n");
    assert.equal(ns, readlinkSync(`/proc/${pa}/ns/net`));
    assert.deepEqual(links.map((l) => l.trim()).sort(), ["lo", "pierv0@pierv1", "pierv1@pierv0"]);
  } finally {
    s.rt(["delete", "--force", a]);
  }
});

test("hooks run in order with the state on stdin", () => {
  const id = s.id("hooks");
  const log = join(s.dir, `${id}.hooks`);
  const hook = join(s.dir, "hook.sh");
  writeFileSync(
    hook,
    `#!/bin/sh\nread -r state\necho "$1 $(echo "$state" | grep -o '"status":"[a-z]*"')" >> ${log}\n`,
  );
  chmodSync(hook, 0o755);
  // createContainer/startContainer run in the container's mount namespace: give them the host paths.
  const inner = join(s.rootfs, "hook-inner.sh");
  writeFileSync(inner, `#!/bin/sh\necho "$1" >> /tmp/inner-hooks\n`);
  chmodSync(inner, 0o755);
  const h = (name: string) => [{ path: hook, args: ["hook.sh", name] }];
  const b = s.bundle(["true"], (c) => {
    c.hooks = {
      prestart: h("prestart"),
      createRuntime: h("createRuntime"),
      createContainer: [{ path: inner, args: ["x", "createContainer"] }],
      startContainer: [{ path: "/hook-inner.sh", args: ["x", "startContainer"] }],
      poststart: h("poststart"),
      poststop: h("poststop"),
    };
  });
  const r = s.rt(["create", "--bundle", b, id]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(s.rt(["start", id]).status, 0);
  for (let i = 0; i < 100 && state(id).status !== "stopped"; i++) sleepMs(20);
  assert.equal(s.rt(["delete", id]).status, 0);
  assert.deepEqual(readFileSync(log, "utf8").trim().split("\n"), [
    'prestart "status":"creating"',
    'createRuntime "status":"creating"',
    'poststart "status":"running"',
    'poststop "status":"stopped"',
  ]);
});

test("--console-socket receives the terminal's master fd", () => {
  const id = s.id("tty");
  const sock = join(s.dir, `${id}.sock`);
  const recv = spawn(join(REPO, "build/tools/recvtty"), [sock], { stdio: ["ignore", "pipe", "pipe"] });
  let text = "";
  recv.stdout.on("data", (d) => (text += d));
  const b = s.bundle(["sh", "-c", "tty; echo cols=$(stty size)"], (c) => {
    c.process!.terminal = true;
    c.process!.consoleSize = { height: 30, width: 100 };
  });
  for (let i = 0; i < 100 && !existsSync(sock); i++) sleepMs(10);
  const r = s.rt(["create", "--console-socket", sock, "--bundle", b, id]);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(s.rt(["start", id]).status, 0);
  return new Promise<void>((resolve) =>
    recv.on("close", () => {
      s.rt(["delete", "--force", id]);
      assert.match(text, /GOT-TTY/);
      assert.match(text, /\/dev\/pts\/0/);
      assert.match(text, /cols=30 100/);
      resolve();
    }),
  );
});

test("seccomp: the default profile refuses unshare and mount, allows the rest", async () => {
  const { defaultSeccompProfile } = await import("../../../src/runtime/seccomp/index.ts");
  const b = s.bundle(
    ["sh", "-c", "unshare -n true && echo unshare-ok || echo unshare-refused; echo alive"],
    (c) => {
      c.linux!.seccomp = defaultSeccompProfile();
      c.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
      c.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
      c.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
    },
  );
  const r = s.rt(["run", "--bundle", b, s.id("seccomp")]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split("\n"), ["unshare-refused", "alive"]);
  const nb = s.bundle(["sh", "-c", "unshare -n true && echo unshare-ok"], (c) => {
    c.process!.capabilities!.bounding!.push("CAP_SYS_ADMIN");
    c.process!.capabilities!.effective!.push("CAP_SYS_ADMIN");
    c.process!.capabilities!.permitted!.push("CAP_SYS_ADMIN");
  });
  assert.match(s.rt(["run", "--bundle", nb, s.id("noseccomp")]).stdout, /unshare-ok/);
});

test("pause and resume freeze the container", () => {
  const id = s.id("pause");
  const b = s.bundle(["sleep", "30"], (c) => (c.linux!.cgroupsPath = `/${id}`));
  assert.equal(s.rt(["run", "-d", "--bundle", b, id]).status, 0);
  try {
    assert.equal(s.rt(["pause", id]).status, 0);
    assert.equal(state(id).status, "paused");
    assert.equal(s.rt(["resume", id]).status, 0);
    assert.equal(state(id).status, "running");
  } finally {
    s.rt(["delete", "--force", id]);
  }
});

test("spec writes a valid default config with Docker's defaults; features describes the runtime", () => {
  const dir = join(s.dir, "specdir");
  spawnSync("mkdir", ["-p", dir]);
  assert.equal(s.rt(["spec", "--bundle", dir]).status, 0);
  const spec = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
  assert.ok(spec.process.capabilities.bounding.includes("CAP_NET_RAW"));
  assert.ok(spec.linux.maskedPaths.includes("/proc/kcore"));
  assert.ok(spec.linux.readonlyPaths.includes("/proc/sys"));
  assert.notEqual(s.rt(["spec", "--bundle", dir]).status, 0, "refuses to overwrite");
  const f = JSON.parse(s.rt(["features"]).stdout);
  assert.ok(f.linux.namespaces.includes("user"));
  assert.equal(f.linux.seccomp.enabled, true);
});

test("--log with --log-format json records errors as JSON lines (containerd's shim reads them)", () => {
  const log = join(s.dir, "runtime-log.json");
  const b = s.bundle(["true"], (c) => delete (c as { process?: unknown }).process);
  const r = spawnSync(
    join(REPO, "bin/pier-runtime"),
    ["--root", s.root, "--log", log, "--log-format", "json", "create", "--bundle", b, s.id("log")],
    { encoding: "utf8" },
  );
  assert.notEqual(r.status, 0);
  const lines = readFileSync(log, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { level: string; msg: string; time: string });
  const last = lines.at(-1)!;
  assert.equal(last.level, "error");
  assert.match(last.msg, /process is required/);
  assert.ok(!Number.isNaN(Date.parse(last.time)));
});

test("run with a terminal and no console socket relays a pty (run -t in a real terminal)", () => {
  const b = s.bundle(
    ["sh", "-c", "tty; test -t 0 && echo stdin-is-tty"],
    (c) => (c.process!.terminal = true),
  );
  const cmd = `${join(REPO, "bin/pier-runtime")} --root ${s.root} run --bundle ${b} ${s.id("relay")}`;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /\/dev\/pts\/0/);
  assert.match(r.stdout, /stdin-is-tty/);
});

test("exec -t relays a pty too", () => {
  const id = s.id("exect");
  const b = s.bundle(["sleep", "30"]);
  assert.equal(s.rt(["run", "-d", "--bundle", b, id]).status, 0);
  try {
    const cmd = `${join(REPO, "bin/pier-runtime")} --root ${s.root} exec -t ${id} sh -c 'tty; exit 3'`;
    const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 3, r.stderr);
    assert.match(r.stdout, /\/dev\/pts\/\d+/);
  } finally {
    s.rt(["delete", "--force", id]);
  }
});
