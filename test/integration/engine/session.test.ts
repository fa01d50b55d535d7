// The seeds' session through pierd with the real docker CLI: run -it, the hello web app with
// -p, exec sharing namespaces, commit keeping only the writable layer, -v bind mounts,
// --network container:X and host, --cpus, lxcfs, and bad input leaving nothing behind.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, readlinkSync, writeFileSync, mkdirSync, chmodSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PierdRun } from "../../helpers/pierd.ts";
import { freePort, httpGet } from "../../helpers/net.ts";

const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string) =>
  assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);

describe("the seeds' session against pierd (docker CLI)", () => {
  let d: PierdRun;
  before(async () => {
    d = await PierdRun.start();
  });
  after(async () => {
    await d?.teardown();
  });

  test("run -it busybox sh: PID 1 is the shell, nothing of the host", () => {
    const r = d.pty(`docker run -it --rm busybox sh`, [
      "echo pid=$$",
      "ps -o pid,comm | tail -n +2 | wc -l",
      "exit 3",
    ]);
    assert.equal(r.status, 3, r.stdout);
    assert.match(r.stdout, /pid=1\b/);
    // Only sh and ps (and the pipeline's tail/wc) exist: no host process is visible.
    const n = /^\s*(\d+)\s*$/m.exec(r.stdout.split("wc -l")[1] ?? "");
    assert.ok(n && Number(n[1]) <= 4, r.stdout);
  });

  test("a short-lived --rm container's output is never lost (it is read before the removal)", () => {
    for (let i = 0; i < 15; i++) {
      const r = d.docker("run", "--rm", "--network", "none", "busybox", "echo", `hi${i}`);
      assert.equal(r.stdout, `hi${i}\n`, `run ${i}: ${r.stderr}`);
    }
  });

  test("run --rm prints, -i passes stdin, exit codes come back", () => {
    const r = d.docker("run", "--rm", "busybox", "echo", "hi");
    ok(r, "run");
    assert.equal(r.stdout, "hi\n");
    const i = spawnSync("docker", ["run", "-i", "--rm", "busybox", "sh", "-c", "cat; exit 5"], {
      env: d.env,
      input: "from stdin\n",
      encoding: "utf8",
    });
    assert.equal(i.status, 5);
    assert.equal(i.stdout, "from stdin\n");
  });

  test("the hello web app on -p answers at 127.0.0.1; exec shares its namespaces", async () => {
    const www = join(d.dir, "www");
    mkdirSync(join(www, "cgi-bin"), { recursive: true });
    writeFileSync(
      join(www, "cgi-bin/hello"),
      '#!/bin/sh\nprintf "Content-Type: text/plain\\r\\n\\r\\n"\necho "Hello $NAME! I am $(hostname)"\n',
    );
    chmodSync(join(www, "cgi-bin/hello"), 0o755);
    const port = await freePort();
    ok(
      d.docker(
        "run",
        "-d",
        "--name",
        "web",
        "-e",
        "NAME=World",
        "-p",
        `${port}:80`,
        "-v",
        `${www}:/www`,
        "busybox",
        "httpd",
        "-f",
        "-p",
        "80",
        "-h",
        "/www",
      ),
      "run -d",
    );
    const id = d.docker("inspect", "-f", "{{.Id}}", "web").stdout.trim();
    let body = "";
    for (let i = 0; i < 50 && !body; i++) {
      body = await httpGet(`http://127.0.0.1:${port}/cgi-bin/hello`).catch(() => "");
      if (!body) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(body, `Hello World! I am ${id.slice(0, 12)}\n`);
    assert.match(d.docker("ps").stdout, new RegExp(`0\\.0\\.0\\.0:${port}->80/tcp\\s+web`));
    const pid = Number(d.docker("inspect", "--format", "{{ .State.Pid }}", "web").stdout.trim());
    assert.ok(pid > 1);
    const inside = d.docker(
      "exec",
      "web",
      "sh",
      "-c",
      "for n in mnt uts ipc pid net; do readlink /proc/self/ns/$n; done",
    );
    ok(inside, "exec");
    const host = ["mnt", "uts", "ipc", "pid", "net"].map((n) => readlinkSync(`/proc/${pid}/ns/${n}`));
    assert.deepEqual(inside.stdout.trim().split("\n"), host);
    assert.notEqual(host[4], readlinkSync("/proc/self/ns/net"));
    // exec -it through a PTY
    const t = d.pty("docker exec -it web sh", ["echo in=$(cat /proc/1/cmdline | tr '\\0' ' ')", "exit 4"]);
    assert.equal(t.status, 4, t.stdout);
    assert.match(t.stdout, /in=httpd -f -p 80 -h \/www/);
  });

  test("commit keeps the writable layer only: a touched file, not /etc/hosts", () => {
    ok(
      d.docker(
        "run",
        "--name",
        "toc",
        "-v",
        "/data",
        "busybox",
        "sh",
        "-c",
        "touch /touched; echo 9.9.9.9 extra >> /etc/hosts; echo vol > /data/f",
      ),
      "run",
    );
    ok(d.docker("commit", "toc", "committed:1"), "commit");
    const r = d.docker(
      "run",
      "--rm",
      "committed:1",
      "sh",
      "-c",
      "ls /touched; grep -c 9.9.9.9 /etc/hosts; ls -A /data | wc -l",
    );
    assert.equal(r.stdout, "/touched\n0\n0\n", r.stderr);
    const hist = d.docker("history", "--format", "{{.CreatedBy}}", "committed:1");
    assert.match(hist.stdout.split("\n")[0]!, /touch \/touched/);
  });

  test("-v host:ctr shows host files and writes back; :ro refuses writes", () => {
    const host = join(d.dir, "shared");
    mkdirSync(host, { recursive: true });
    writeFileSync(join(host, "from-host"), "host\n");
    const r = d.docker(
      "run",
      "--rm",
      "-v",
      `${host}:/test`,
      "busybox",
      "sh",
      "-c",
      "cat /test/from-host; echo ctr > /test/from-ctr",
    );
    ok(r, "run -v");
    assert.equal(r.stdout, "host\n");
    assert.equal(readFileSync(join(host, "from-ctr"), "utf8"), "ctr\n");
    const ro = d.docker("run", "--rm", "-v", `${host}:/test:ro`, "busybox", "touch", "/test/x");
    assert.notEqual(ro.status, 0);
  });

  test("named volumes are filled from the image and outlive the container", () => {
    ok(d.docker("volume", "create", "vol1"), "volume create");
    const r = d.docker(
      "run",
      "--rm",
      "-v",
      "vol1:/etc",
      "busybox",
      "sh",
      "-c",
      "ls /etc/passwd && echo kept > /etc/mine",
    );
    ok(r, "run");
    const again = d.docker("run", "--rm", "-v", "vol1:/x", "busybox", "cat", "/x/mine");
    assert.equal(again.stdout, "kept\n");
    assert.match(d.docker("volume", "ls").stdout, /vol1/);
    ok(d.docker("volume", "rm", "vol1"), "volume rm");
  });

  test("--network container:X sees X's interfaces; --network host sees the host's", () => {
    ok(d.docker("run", "-d", "--name", "netx", "busybox", "sleep", "60"), "run");
    const x = d.docker("exec", "netx", "ip", "-o", "-4", "addr").stdout;
    const j = d.docker("run", "--rm", "--network", "container:netx", "busybox", "ip", "-o", "-4", "addr");
    assert.equal(j.status, 0, j.stderr);
    const joined = j.stdout;
    assert.equal(joined, x);
    assert.match(x, /eth0\s+inet 10\./);
    const hostLinks = spawnSync("ip", ["-o", "link"], { encoding: "utf8" })
      .stdout.split("\n")
      .filter(Boolean).length;
    const inHost = d
      .docker("run", "--rm", "--network", "host", "busybox", "ip", "-o", "link")
      .stdout.split("\n")
      .filter(Boolean).length;
    assert.equal(inHost, hostLinks);
    const none = d.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "link").stdout;
    assert.deepEqual(
      none
        .trim()
        .split("\n")
        .map((l) => l.split(":")[1]!.trim()),
      ["lo"],
    );
  });

  test("a user network: containers find each other by name", () => {
    ok(d.docker("network", "create", "--subnet", d.net.subnet(7), "appnet"), "network create");
    ok(d.docker("run", "-d", "--name", "db", "--network", "appnet", "busybox", "sleep", "60"), "run db");
    const r = d.docker("run", "--rm", "--network", "appnet", "busybox", "ping", "-c", "1", "-W", "2", "db");
    ok(r, "ping db");
    ok(d.docker("rm", "-f", "db"), "rm");
    ok(d.docker("network", "rm", "appnet"), "network rm");
  });

  test("--cpus 0.2 holds a busy loop to about 20% of a core", async () => {
    ok(
      d.docker("run", "-d", "--name", "busy", "--cpus", "0.2", "busybox", "sh", "-c", "while :; do :; done"),
      "run",
    );
    const id = d.docker("inspect", "-f", "{{.Id}}", "busy").stdout.trim();
    const usage = () => Number(readFileSync(`/sys/fs/cgroup/cpuacct/pier/${id}/cpuacct.usage`, "utf8"));
    await new Promise((r) => setTimeout(r, 500));
    const u0 = usage();
    const t0 = process.hrtime.bigint();
    await new Promise((r) => setTimeout(r, 2000));
    const share = (usage() - u0) / Number(process.hrtime.bigint() - t0);
    assert.ok(share > 0.12 && share < 0.28, `share ${share}`);
    ok(d.docker("rm", "-f", "busy"), "rm");
  });

  test("lxcfs: /proc/meminfo shows the container's memory limit; --no-lxcfs the host's", () => {
    const r = d.docker("run", "--rm", "--memory", "256m", "busybox", "grep", "MemTotal", "/proc/meminfo");
    assert.match(r.stdout, /MemTotal:\s+262144 kB/, r.stderr);
    const off = d.docker(
      "run",
      "--rm",
      "--memory",
      "256m",
      "--annotation",
      "io.pier.lxcfs=false",
      "busybox",
      "grep",
      "MemTotal",
      "/proc/meminfo",
    );
    assert.doesNotMatch(off.stdout, /262144 kB/);
    const cpus = d.docker(
      "run",
      "--rm",
      "--cpus",
      "1",
      "busybox",
      "grep",
      "-c",
      "processor",
      "/proc/cpuinfo",
    );
    assert.equal(cpus.stdout.trim(), "1");
  });

  test("bad input: a clear error, a non-zero exit, nothing left behind", async () => {
    const before = d.docker("ps", "-aq").stdout;
    const unknown = d.docker("run", "--pull", "never", "--rm", "nosuchimage:1", "true");
    assert.equal(unknown.status, 125);
    assert.match(unknown.stderr, /No such image: nosuchimage:1/);
    const noCtr = d.docker("stop", "nosuchcontainer");
    assert.notEqual(noCtr.status, 0);
    assert.match(noCtr.stderr, /No such container: nosuchcontainer/);
    ok(d.docker("create", "--name", "taken", "busybox", "true"), "create");
    const dup = d.docker("run", "--name", "taken", "busybox", "true");
    assert.equal(dup.status, 125);
    assert.match(dup.stderr, /Conflict\. The container name "\/taken" is already in use/);
    ok(d.docker("rm", "taken"), "rm");
    const mem = d.docker("run", "--rm", "--memory", "1k", "busybox", "true");
    assert.equal(mem.status, 125);
    assert.match(mem.stderr, /Minimum memory limit allowed is 6MB/);
    const cpus = d.docker("run", "--rm", "--cpus", "64", "busybox", "true");
    assert.equal(cpus.status, 125);
    assert.match(cpus.stderr, /range of CPUs is from 0\.01/);
    // A host port that something listens on is refused; nothing is half set up.
    const s = createServer().listen(0, "0.0.0.0");
    await new Promise((r) => s.once("listening", r));
    const port = (s.address() as { port: number }).port;
    const busy = d.docker("run", "--rm", "-p", `${port}:80`, "busybox", "true");
    s.close();
    assert.notEqual(busy.status, 0);
    assert.match(busy.stderr, new RegExp(`${port}`));
    assert.equal(d.docker("ps", "-aq").stdout, before);
    const check = await d.api("GET", "/pier/system/check");
    assert.deepEqual((check.json as { Leaks: unknown[] }).Leaks, []);
  });
});
