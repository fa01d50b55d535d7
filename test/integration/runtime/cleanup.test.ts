// Nothing is left behind: after delete, after kill -9 of PID 1, after the runtime
// itself dies mid-create, and after every kind of bad input.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REPO, Scratch } from "../../helpers/bundle.ts";

let s: Scratch;
before(() => (s = new Scratch("cleanup")));
after(() => s.cleanup());

const sleepMs = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);

function leftovers(id: string, pid?: number): string[] {
  const found: string[] = [];
  for (const c of readdirSync("/sys/fs/cgroup"))
    if (existsSync(`/sys/fs/cgroup/${c}/${id}`)) found.push(`cgroup ${c}/${id}`);
  if (existsSync(join(s.root, id))) found.push("state dir");
  const mi = readFileSync("/proc/self/mountinfo", "utf8");
  if (mi.includes(s.dir)) found.push("mount");
  if (pid) {
    try {
      const st = readFileSync(`/proc/${pid}/stat`, "utf8");
      if (!/\) [ZX] /.test(st)) found.push(`process ${pid}`);
    } catch {
      // gone
    }
  }
  return found;
}

test("delete after kill -9 of the container's PID 1 leaves nothing", () => {
  const id = s.id("k9");
  const b = s.bundle(["sh", "-c", "sleep 30 & sleep 30"], (c) => (c.linux!.cgroupsPath = `/${id}`));
  assert.equal(s.rt(["run", "-d", "--bundle", b, id]).status, 0);
  const pid = JSON.parse(s.rt(["state", id]).stdout).pid as number;
  process.kill(pid, "SIGKILL");
  for (let i = 0; i < 100 && JSON.parse(s.rt(["state", id]).stdout).status !== "stopped"; i++) sleepMs(20);
  assert.equal(JSON.parse(s.rt(["state", id]).stdout).status, "stopped");
  assert.equal(s.rt(["delete", id]).status, 0);
  assert.deepEqual(leftovers(id, pid), []);
});

test("delete --force of a created (never started) container leaves nothing", () => {
  const id = s.id("created");
  const b = s.bundle(["true"], (c) => (c.linux!.cgroupsPath = `/${id}`));
  assert.equal(s.rt(["create", "--bundle", b, id]).status, 0);
  const pid = JSON.parse(s.rt(["state", id]).stdout).pid as number;
  assert.equal(s.rt(["delete", "--force", id]).status, 0);
  assert.deepEqual(leftovers(id, pid), []);
});

test("a crash of the runtime mid-create: the half-made container goes away, delete cleans the rest", async () => {
  const id = s.id("crash");
  const marker = join(s.dir, `${id}.in-hook`);
  const hook = join(s.dir, `${id}-hook.sh`);
  writeFileSync(hook, `#!/bin/sh\ntouch ${marker}\nsleep 2\n`);
  chmodSync(hook, 0o755);
  const b = s.bundle(["sleep", "30"], (c) => {
    c.linux!.cgroupsPath = `/${id}`;
    c.hooks = { createRuntime: [{ path: hook }] };
  });
  const rt = spawn(join(REPO, "bin/pier-runtime"), ["--root", s.root, "create", "--bundle", b, id], {
    stdio: "ignore",
  });
  for (let i = 0; i < 300 && !existsSync(marker); i++) sleepMs(20);
  assert.ok(existsSync(marker), "the createRuntime hook did not start");
  const st = JSON.parse(readFileSync(join(s.root, id, "state.json"), "utf8")) as { pid: number };
  assert.ok(st.pid > 0);
  rt.kill("SIGKILL");
  await new Promise((r) => rt.on("exit", r));
  // The container process notices its runtime is gone and exits by itself.
  for (let i = 0; i < 100 && leftovers("none", st.pid).length > 0; i++) sleepMs(20);
  assert.deepEqual(leftovers("none-such", st.pid), []);
  assert.equal(JSON.parse(s.rt(["state", id]).stdout).status, "stopped");
  assert.equal(s.rt(["delete", id]).status, 0);
  sleepMs(2100); // the orphaned hook's sleep ends by itself
  assert.deepEqual(leftovers(id, st.pid), []);
});

test("bad input: a clear error naming what is wrong, non-zero exit, nothing left behind", () => {
  const cases: [string, (c: Record<string, unknown>) => void, RegExp][] = [
    ["no ociVersion", (c) => delete c.ociVersion, /ociVersion is required/],
    ["no root", (c) => delete c.root, /root is required/],
    ["no root.path", (c) => delete (c.root as Record<string, unknown>).path, /root.path is required/],
    ["no process", (c) => delete c.process, /process is required/],
    ["no args", (c) => delete (c.process as Record<string, unknown>).args, /process.args is required/],
    ["empty args", (c) => ((c.process as Record<string, unknown>).args = []), /process.args is required/],
    ["no cwd", (c) => delete (c.process as Record<string, unknown>).cwd, /process.cwd is required/],
    [
      "relative cwd",
      (c) => ((c.process as Record<string, unknown>).cwd = "tmp"),
      /process.cwd must be an absolute path/,
    ],
    ["no user", (c) => delete (c.process as Record<string, unknown>).user, /process.user is required/],
    [
      "no uid",
      (c) =>
        delete ((c.process as Record<string, Record<string, unknown>>).user as Record<string, unknown>).uid,
      /process.user.uid is required/,
    ],
    [
      "no gid",
      (c) =>
        delete ((c.process as Record<string, Record<string, unknown>>).user as Record<string, unknown>).gid,
      /process.user.gid is required/,
    ],
    [
      "negative uid",
      (c) =>
        (((c.process as Record<string, Record<string, unknown>>).user as Record<string, unknown>).uid = -1),
      /process.user.uid must be a non-negative integer/,
    ],
    ["no linux", (c) => delete c.linux, /mount namespace/],
    [
      "bad namespace",
      (c) => ((c.linux as Record<string, unknown>).namespaces = [{ type: "mount" }, { type: "bogus" }]),
      /linux.namespaces\[1\].type "bogus"/,
    ],
    [
      "no mount ns",
      (c) => ((c.linux as Record<string, unknown>).namespaces = [{ type: "pid" }]),
      /mount namespace/,
    ],
    [
      "mount without destination",
      (c) => (c.mounts as unknown[]).push({ type: "tmpfs", source: "x" }),
      /mounts\[\d+\].destination is required/,
    ],
    [
      "bad capability",
      (c) => ((c.process as Record<string, Record<string, unknown>>).capabilities!.bounding = ["CAP_NOPE"]),
      /unknown capability "CAP_NOPE"/,
    ],
    [
      "missing bind source",
      (c) =>
        (c.mounts as unknown[]).push({
          destination: "/x",
          type: "bind",
          source: "/nonexistent-pier",
          options: ["bind"],
        }),
      /\/nonexistent-pier does not exist/,
    ],
    [
      "missing rootfs",
      (c) => ((c.root as Record<string, unknown>).path = "/nonexistent-rootfs-pier"),
      /rootfs \/nonexistent-rootfs-pier does not exist/,
    ],
    [
      "hostname without uts",
      (c) => ((c.linux as Record<string, unknown>).namespaces = [{ type: "mount" }]),
      /hostname needs a new uts namespace/,
    ],
    [
      "bad sysctl",
      (c) => ((c.linux as Record<string, unknown>).sysctl = { "vm.swappiness": "1" }),
      /"vm.swappiness" is not namespaced/,
    ],
    [
      "missing executable",
      (c) => ((c.process as Record<string, unknown>).args = ["/no/such/binary"]),
      /\/no\/such\/binary/,
    ],
  ];
  for (const [name, edit, msg] of cases) {
    const id = s.id("bad");
    const b = s.bundle(["true"], (c) => {
      c.linux!.cgroupsPath = `/${id}`;
      edit(c as unknown as Record<string, unknown>);
    });
    for (const cmd of ["create", "run"]) {
      const r = s.rt([cmd, "--bundle", b, id]);
      assert.notEqual(r.status, 0, `${name}: ${cmd} should fail`);
      assert.match(r.stderr, msg, `${name}: ${r.stderr}`);
      assert.deepEqual(leftovers(id), [], name);
    }
  }
  // malformed JSON
  const jb = join(s.dir, "badjson");
  mkdirSync(jb);
  writeFileSync(join(jb, "config.json"), "{ not json");
  const j = s.rt(["create", "--bundle", jb, s.id("json")]);
  assert.notEqual(j.status, 0);
  assert.match(j.stderr, /config.json is not valid JSON/);
  // no config.json at all
  const nb = s.rt(["create", "--bundle", s.dir, s.id("nocfg")]);
  assert.match(nb.stderr, /has no config.json/);
});

test("ids: in use, with '/' or '..', are refused", () => {
  const id = s.id("dup");
  const b = s.bundle(["sleep", "10"], (c) => (c.linux!.cgroupsPath = `/${id}`));
  assert.equal(s.rt(["create", "--bundle", b, id]).status, 0);
  try {
    const r = s.rt(["create", "--bundle", b, id]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /already exists/);
    assert.equal(JSON.parse(s.rt(["state", id]).stdout).status, "created", "the first one is untouched");
  } finally {
    s.rt(["delete", "--force", id]);
  }
  for (const bad of ["a/b", "..", "../x", "."]) {
    const r = s.rt(["create", "--bundle", b, bad]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /invalid container id/);
  }
  assert.deepEqual(
    readdirSync(s.root).filter((n) => !n.startsWith("pt-")),
    [],
  );
  const unk = s.rt(["state", "pt-no-such"]);
  assert.notEqual(unk.status, 0);
  assert.match(unk.stderr, /does not exist/);
});
