// The rest of the container commands through pierd with the real docker CLI: logs, attach,
// kill -s WINCH, pause, rename, top, stats, port, wait, cp, diff, healthchecks, run flags
// that change the process (--init, --read-only, --user, --ulimit, --cap-drop,
// --security-opt), networks connect/disconnect, volume prune, two runs racing for one
// name, and system check/prune finding and removing an injected leak.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { PierdRun } from "../../helpers/pierd.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("container commands against pierd (docker CLI)", () => {
  let d: PierdRun;
  const ok = (r: { status: number | null; stdout: string; stderr: string }, what: string) =>
    assert.equal(r.status, 0, `${what}: ${r.stderr}${r.stdout}`);
  before(async () => {
    d = await PierdRun.start();
  });
  after(async () => {
    await d?.teardown();
  });

  test("logs: --tail, -t, -f follows until the container exits; stderr is its own stream", async () => {
    ok(
      d.docker(
        "run",
        "--name",
        "lg",
        "-d",
        "busybox",
        "sh",
        "-c",
        "for i in 1 2 3; do echo out$i; echo err$i >&2; done; sleep 1; echo late",
      ),
      "run",
    );
    await sleep(300);
    // --tail counts lines of the whole log, both streams, as docker's json-file does.
    const tail = d.docker("logs", "--tail", "2", "lg");
    assert.equal((tail.stdout + tail.stderr).split("\n").filter(Boolean).length, 2);
    const all = d.docker("logs", "lg");
    assert.equal(all.stdout, "out1\nout2\nout3\n");
    assert.equal(all.stderr, "err1\nerr2\nerr3\n");
    assert.match(d.docker("logs", "-t", "lg").stdout, /^\d{4}-\d\d-\d\dT[\d:.]+Z out1$/m);
    const f = spawnSync("docker", ["logs", "-f", "lg"], { env: d.env, encoding: "utf8", timeout: 10_000 });
    assert.equal(f.status, 0);
    assert.match(f.stdout, /out3\nlate\n$/);
  });

  test("attach sees new output; kill -s WINCH does not stop; pause/unpause; rename; top; stats; port; wait", async () => {
    ok(
      d.docker(
        "run",
        "-d",
        "--name",
        "ctl",
        "-p",
        "0:80",
        "busybox",
        "sh",
        "-c",
        "trap 'echo winch' WINCH; while :; do sleep 0.2; done",
      ),
      "run",
    );
    const att = spawn("docker", ["attach", "--no-stdin", "ctl"], { env: d.env });
    let seen = "";
    att.stdout.setEncoding("utf8").on("data", (s: string) => (seen += s));
    await sleep(500);
    ok(d.docker("kill", "-s", "WINCH", "ctl"), "kill WINCH");
    for (let i = 0; i < 30 && !seen.includes("winch"); i++) await sleep(100);
    assert.match(seen, /winch/);
    assert.equal(d.docker("inspect", "-f", "{{.State.Status}}", "ctl").stdout.trim(), "running");
    att.kill("SIGKILL");
    ok(d.docker("pause", "ctl"), "pause");
    assert.equal(d.docker("inspect", "-f", "{{.State.Status}}", "ctl").stdout.trim(), "paused");
    ok(d.docker("unpause", "ctl"), "unpause");
    ok(d.docker("rename", "ctl", "ctl2"), "rename");
    assert.match(d.docker("ps", "--format", "{{.Names}}").stdout, /^ctl2$/m);
    assert.match(d.docker("top", "ctl2").stdout, /PID[\s\S]*sh -c trap/);
    const stats = d.docker("stats", "--no-stream", "--format", "{{.Name}} {{.PIDs}}", "ctl2");
    assert.match(stats.stdout, /^ctl2 \d+$/m);
    assert.match(d.docker("port", "ctl2").stdout, /^80\/tcp -> 0\.0\.0\.0:\d+$/m);
    const waiter = spawn("docker", ["wait", "ctl2"], { env: d.env });
    let code = "";
    waiter.stdout.setEncoding("utf8").on("data", (s: string) => (code += s));
    await sleep(300);
    ok(d.docker("kill", "ctl2"), "kill");
    await new Promise((r) => waiter.once("exit", r));
    assert.equal(code.trim(), "137");
  });

  test("cp in and out (running and stopped), diff shows the change", () => {
    ok(d.docker("run", "-d", "--name", "cpc", "busybox", "sleep", "60"), "run");
    const f = join(d.dir, "cp-in.txt");
    writeFileSync(f, "copied\n");
    ok(d.docker("cp", f, "cpc:/tmp/"), "cp in");
    assert.equal(d.docker("exec", "cpc", "cat", "/tmp/cp-in.txt").stdout, "copied\n");
    assert.match(d.docker("diff", "cpc").stdout, /^A \/tmp\/cp-in\.txt$/m);
    ok(d.docker("stop", "-t", "0", "cpc"), "stop");
    const out = join(d.dir, "cp-out");
    mkdirSync(out);
    ok(d.docker("cp", "cpc:/tmp/cp-in.txt", out), "cp out of a stopped container");
    assert.equal(readFileSync(join(out, "cp-in.txt"), "utf8"), "copied\n");
    assert.notEqual(d.docker("cp", "cpc:/no/such", out).status, 0);
  });

  test("run flags reach the process: --init, --read-only, --user, --ulimit, --cap-drop, no-new-privileges, --workdir, --entrypoint, -e", () => {
    assert.match(
      d.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm").stdout,
      /^\s*1 docker-init$/m,
    );
    assert.notEqual(d.docker("run", "--rm", "--read-only", "busybox", "touch", "/x").status, 0);
    assert.equal(d.docker("run", "--rm", "--user", "65534:65534", "busybox", "id", "-u").stdout, "65534\n");
    assert.equal(
      d.docker("run", "--rm", "--ulimit", "nofile=123:123", "busybox", "sh", "-c", "ulimit -n").stdout,
      "123\n",
    );
    assert.notEqual(
      d.docker("run", "--rm", "--cap-drop", "chown", "busybox", "chown", "1", "/tmp").status,
      0,
    );
    assert.match(
      d.docker(
        "run",
        "--rm",
        "--security-opt",
        "no-new-privileges",
        "busybox",
        "grep",
        "NoNewPrivs",
        "/proc/self/status",
      ).stdout,
      /NoNewPrivs:\s+1/,
    );
    assert.equal(d.docker("run", "--rm", "-w", "/etc", "busybox", "pwd").stdout, "/etc\n");
    assert.equal(d.docker("run", "--rm", "--entrypoint", "echo", "busybox", "a", "b").stdout, "a b\n");
    assert.equal(
      d.docker("run", "--rm", "-e", "A=1", "--hostname", "hn", "busybox", "sh", "-c", "echo $A $(hostname)")
        .stdout,
      "1 hn\n",
    );
    assert.match(
      d.docker("run", "--rm", "--add-host", "db.local:10.1.2.3", "busybox", "cat", "/etc/hosts").stdout,
      /^10\.1\.2\.3\tdb\.local$/m,
    );
    assert.match(
      d.docker("run", "--rm", "--dns", "10.9.9.9", "busybox", "cat", "/etc/resolv.conf").stdout,
      /^nameserver 10\.9\.9\.9$/m,
    );
  });

  test("a healthcheck turns a container healthy once its probe passes", async () => {
    ok(
      d.docker(
        "run",
        "-d",
        "--name",
        "hc",
        "--health-cmd",
        "test -f /tmp/ok",
        "--health-interval",
        "300ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "60",
      ),
      "run",
    );
    for (
      let i = 0;
      i < 40 && !/unhealthy/.test(d.docker("ps", "--format", "{{.Status}}", "-f", "name=hc").stdout);
      i++
    )
      await sleep(100);
    assert.match(d.docker("ps", "--format", "{{.Status}}", "-f", "name=hc").stdout, /\(unhealthy\)/);
    ok(d.docker("exec", "hc", "touch", "/tmp/ok"), "exec");
    for (
      let i = 0;
      i < 40 && d.docker("inspect", "-f", "{{.State.Health.Status}}", "hc").stdout.trim() !== "healthy";
      i++
    )
      await sleep(100);
    assert.equal(d.docker("inspect", "-f", "{{.State.Health.Status}}", "hc").stdout.trim(), "healthy");
  });

  test("network connect/disconnect on a running container; volume prune keeps named volumes in use", () => {
    ok(d.docker("network", "create", "--subnet", d.net.subnet(9), "side"), "network create");
    ok(d.docker("run", "-d", "--name", "multi", "busybox", "sleep", "60"), "run");
    ok(d.docker("network", "connect", "side", "multi"), "connect");
    assert.match(d.docker("exec", "multi", "ip", "-o", "-4", "addr").stdout, /eth1\s+inet /);
    ok(d.docker("network", "disconnect", "side", "multi"), "disconnect");
    assert.doesNotMatch(d.docker("exec", "multi", "ip", "-o", "link").stdout, /eth1/);
    ok(d.docker("rm", "-f", "multi"), "rm");
    ok(d.docker("network", "rm", "side"), "network rm");
    ok(d.docker("run", "--name", "anon", "-v", "/anon", "busybox", "true"), "anonymous volume");
    const vol = d.docker("inspect", "-f", "{{range .Mounts}}{{.Name}}{{end}}", "anon").stdout.trim();
    assert.match(vol, /^[0-9a-f]{64}$/);
    ok(d.docker("volume", "create", "keepme"), "named volume");
    ok(d.docker("rm", "anon"), "rm keeps the anonymous volume");
    assert.match(d.docker("volume", "ls", "-q").stdout, new RegExp(vol));
    assert.match(d.docker("volume", "prune", "-f").stdout, /Total reclaimed space/);
    const left = d.docker("volume", "ls", "-q").stdout;
    assert.doesNotMatch(left, new RegExp(vol));
    assert.match(left, /^keepme$/m, "prune without --all keeps named volumes");
    ok(d.docker("volume", "rm", "keepme"), "volume rm");
  });

  test("two runs racing for one name: exactly one gets it", async () => {
    const run = () =>
      new Promise<number>((resolve) => {
        const p = spawn("docker", ["run", "-d", "--name", "race", "busybox", "sleep", "30"], {
          env: d.env,
          stdio: "ignore",
        });
        p.once("exit", (c) => resolve(c ?? 1));
      });
    const codes = await Promise.all([run(), run(), run()]);
    assert.equal(codes.filter((c) => c === 0).length, 1, String(codes));
    assert.equal(d.docker("ps", "-a", "-q", "-f", "name=^race$").stdout.trim().split("\n").length, 1);
    ok(d.docker("rm", "-f", "race"), "rm");
  });

  test("system check finds an injected leak and prune removes it", async () => {
    ok(d.docker("run", "-d", "--name", "leaky", "--network", "none", "busybox", "sleep", "60"), "run");
    const id = d.docker("inspect", "-f", "{{.Id}}", "leaky").stdout.trim();
    const pid = Number(d.docker("inspect", "-f", "{{.State.Pid}}", "leaky").stdout.trim());
    // A crash that leaves everything behind: the daemon dies, then the container and
    // its monitor are killed (so nothing records the exit or tears it down).
    await d.killDaemon();
    const mon = Number(readFileSync(join(d.root, "containers", id, "monitor.pid"), "utf8"));
    process.kill(mon, "SIGKILL");
    process.kill(pid, "SIGKILL");
    await sleep(200);
    // The restarted daemon notices the dead monitor and finishes the container itself…
    await d.startDaemon();
    assert.match(d.docker("inspect", "-f", "{{.State.Status}}", "leaky").stdout, /exited/);
    let leaks = (await d.api("GET", "/pier/system/check")).json as { Leaks: { Kind: string }[] };
    assert.deepEqual(leaks.Leaks, []);
    // …and a mount made behind its back is a leak that check finds and prune removes.
    const merged = join(d.root, "containers", id, "merged");
    spawnSync("mount", ["-t", "tmpfs", "tmpfs", merged]);
    leaks = (await d.api("GET", "/pier/system/check")).json as { Leaks: { Kind: string }[] };
    assert.deepEqual(
      leaks.Leaks.map((l) => l.Kind),
      ["mount"],
    );
    const pruned = (await d.api("POST", "/pier/system/prune")).json as { Removed: unknown[] };
    assert.equal(pruned.Removed.length, 1);
    leaks = (await d.api("GET", "/pier/system/check")).json as { Leaks: { Kind: string }[] };
    assert.deepEqual(leaks.Leaks, []);
  });
});
