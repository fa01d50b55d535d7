// Containers outlive pierd: SIGKILL of the daemon while ten containers run leaves them
// running and logging; a new pierd lists them and records the exit codes of the ones that
// ended while no daemon was there. Restart policies: always brings a crashed container
// back; on-failure:3 gives up after three restarts.
import assert from "node:assert/strict";
import { statSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import { PierdRun } from "../../helpers/pierd.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function until(what: string, fn: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await sleep(100);
  }
}

describe("containers outlive pierd; restart policies", () => {
  let d: PierdRun;
  before(async () => {
    d = await PierdRun.start();
  });
  after(async () => {
    await d?.teardown();
  });

  test("kill -9 of pierd with ten containers running: they run on, log on, and their exits are recorded", async () => {
    const names = Array.from({ length: 10 }, (_, i) => `survivor${i}`);
    for (const [i, n] of names.entries()) {
      // Each counts for ~6 s, then exits with its own code.
      const r = d.docker(
        "run",
        "-d",
        "--name",
        n,
        "--network",
        i % 2 ? "none" : "bridge",
        "busybox",
        "sh",
        "-c",
        `i=0; while [ $i -lt 60 ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; exit ${20 + i}`,
      );
      assert.equal(r.status, 0, r.stderr);
    }
    const info = names.map((n) =>
      d.docker("inspect", "-f", "{{.State.Pid}} {{.LogPath}}", n).stdout.trim().split(" "),
    );
    await d.killDaemon();
    assert.equal(await d.ping(), false);
    const sizes = info.map(([, log]) => statSync(log!).size);
    await sleep(800);
    for (const [i, [pid, log]] of info.entries()) {
      assert.ok(alive(Number(pid)), `container ${names[i]} survived`);
      assert.ok(statSync(log!).size > sizes[i]!, `container ${names[i]} keeps logging`);
    }
    // A new daemon finds them all running.
    await d.startDaemon();
    const ps = d.docker("ps", "--format", "{{.Names}} {{.State}}").stdout;
    for (const n of names) assert.match(ps, new RegExp(`^${n} running$`, "m"));
    // Kill it again; the containers end while no daemon runs.
    await d.killDaemon();
    await until("all exited", () => info.every(([pid]) => !alive(Number(pid))));
    await d.startDaemon();
    for (const [i, n] of names.entries()) {
      const st = d.docker("inspect", "-f", "{{.State.Status}} {{.State.ExitCode}}", n).stdout.trim();
      assert.equal(st, `exited ${20 + i}`, n);
      const logs = d.docker("logs", "--tail", "1", n).stdout;
      assert.equal(logs, "tick 59\n");
    }
    const check = await d.api("GET", "/pier/system/check");
    assert.deepEqual((check.json as { Leaks: unknown[] }).Leaks, []);
    assert.equal(d.docker("rm", ...names).status, 0);
  });

  test("--restart always brings a crashed container back", async () => {
    assert.equal(
      d.docker(
        "run",
        "-d",
        "--name",
        "phoenix",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 3",
      ).status,
      0,
    );
    await until(
      "restarted twice",
      () => Number(d.docker("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout) >= 2,
    );
    await until(
      "running again",
      () => d.docker("inspect", "-f", "{{.State.Status}}", "phoenix").stdout.trim() === "running",
    );
    assert.equal(d.docker("stop", "-t", "1", "phoenix").status, 0);
    const n = d.docker("inspect", "-f", "{{.RestartCount}}", "phoenix").stdout;
    await sleep(700);
    assert.equal(
      d.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "phoenix").stdout.trim(),
      `exited ${n.trim()}`,
      "a stop is not a crash",
    );
  });

  test("--restart on-failure:3 stops after three restarts; a clean exit is not restarted", async () => {
    assert.equal(
      d.docker("run", "-d", "--name", "flaky", "--restart", "on-failure:3", "busybox", "sh", "-c", "exit 1")
        .status,
      0,
    );
    await until(
      "gave up",
      () =>
        d.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "flaky").stdout.trim() ===
        "exited 3",
    );
    await sleep(1500);
    assert.equal(
      d
        .docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}} {{.State.ExitCode}}", "flaky")
        .stdout.trim(),
      "exited 3 1",
    );
    assert.equal(
      d.docker("run", "-d", "--name", "fine", "--restart", "on-failure", "busybox", "true").status,
      0,
    );
    await sleep(1000);
    assert.equal(
      d.docker("inspect", "-f", "{{.State.Status}} {{.RestartCount}}", "fine").stdout.trim(),
      "exited 0",
    );
  });
});
