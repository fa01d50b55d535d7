import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { RUNTIME, Scratch } from "../../../test/helpers/bundle.ts";
import {
  monitorBinary,
  readExit,
  readLogs,
  startMonitor,
  type ExitStatus,
  type MonitorOptions,
} from "./index.ts";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(what: string, f: () => T | undefined, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function vmRssKiB(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  assert.ok(m, "VmRSS in /proc/PID/status");
  return Number(m[1]);
}

describe("per-container monitor", () => {
  let s: Scratch;
  let bin: string;
  const pids: number[] = [];

  before(() => {
    s = new Scratch("monitor");
    bin = monitorBinary(s.dir);
  });

  after(() => {
    // Monitors still around (by pid), then containers (the runtime's delete --force), then files.
    for (const p of pids) if (alive(p)) process.kill(p, "SIGKILL");
    s.cleanup();
  });

  function opts(id: string, label: string): MonitorOptions {
    return {
      runtime: RUNTIME,
      root: s.root,
      bundle: "",
      id,
      logPath: join(s.dir, `${label}.log`),
      exitPath: join(s.dir, `${label}.exit`),
      pidFile: join(s.dir, `${label}.pid`),
      monitorPidFile: join(s.dir, `${label}.monitor.pid`),
      monitorBin: bin,
    };
  }

  it("logs stdout and stderr in order and records exit 3", async () => {
    const o = opts(s.id("exit3"), "exit3");
    o.bundle = s.bundle([
      "sh",
      "-c",
      'echo out1; sleep 0.1; echo err1 >&2; sleep 0.1; echo "out2 \\"quoted\\" <tab>\t"; exit 3',
    ]);
    const started = await startMonitor(o);
    pids.push(started.monitorPid);
    const exit = await waitFor("exit file", () => readExit(o.exitPath));
    assert.equal(exit.exitCode, 3);
    assert.equal(exit.signal, 0);
    assert.equal(exit.oomKilled, false);
    assert.match(exit.finishedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
    const logs = readLogs(o.logPath);
    assert.deepEqual(
      logs.map((e) => [e.stream, e.log]),
      [
        ["stdout", "out1\n"],
        ["stderr", "err1\n"],
        ["stdout", 'out2 "quoted" <tab>\t\n'],
      ],
    );
    // The raw file is docker's json-file format with Go's escaping.
    const raw = readFileSync(o.logPath, "utf8");
    assert.match(raw, /^\{"log":"out1\\n","stream":"stdout","time":"[^"]+Z"\}$/m);
    assert.ok(raw.includes('\\"quoted\\" \\u003ctab\\u003e\\t\\n'), raw);
    assert.deepEqual(
      readLogs(o.logPath, { tail: 1 }).map((e) => e.log),
      ['out2 "quoted" <tab>\t\n'],
    );
    assert.equal(readLogs(o.logPath, { since: new Date(Date.now() + 60_000) }).length, 0);
    assert.ok(readLogs(o.logPath, { timestamps: true })[0]?.log.endsWith("Z out1\n"));
    await waitFor("monitor exit", () => (alive(started.monitorPid) ? undefined : true));
    spawnSync(RUNTIME, ["--root", s.root, "delete", "--force", o.id]);
  });

  it("splits long lines at 16 KiB and joins them back", async () => {
    const o = opts(s.id("long"), "long");
    o.bundle = s.bundle(["sh", "-c", "head -c 40000 /dev/zero | tr '\\0' x; echo; echo end"]);
    const started = await startMonitor(o);
    pids.push(started.monitorPid);
    await waitFor("exit file", () => readExit(o.exitPath));
    const records = readFileSync(o.logPath, "utf8").trim().split("\n");
    assert.deepEqual(
      records.map((r) => (JSON.parse(r) as { log: string }).log.length),
      [16384, 16384, 40000 - 2 * 16384 + 1, 4],
    );
    assert.deepEqual(
      readLogs(o.logPath).map((e) => e.log.length),
      [40001, 4],
    );
    spawnSync(RUNTIME, ["--root", s.root, "delete", "--force", o.id]);
  });

  it("reports a container that cannot be created", async () => {
    const o = opts(s.id("bad"), "bad");
    o.bundle = s.bundle(["/no/such/binary"]);
    await assert.rejects(startMonitor(o), /create failed/);
    const exit = readExit(o.exitPath) as ExitStatus;
    assert.equal(exit.error, "create failed");
    const mp = Number(readFileSync(o.monitorPidFile, "utf8"));
    pids.push(mp);
    spawnSync(RUNTIME, ["--root", s.root, "delete", "--force", o.id]);
  });

  it("keeps a container running and logging after every Node process is killed", async () => {
    const o = opts(s.id("long-run"), "longrun");
    o.bundle = s.bundle(["sh", "-c", "i=0; while true; do echo tick $i; i=$((i+1)); sleep 0.1; done"]);
    // A separate Node process starts the monitor, reports, and is then SIGKILLed.
    const script = join(s.dir, "starter.mts");
    writeFileSync(
      script,
      `import { startMonitor } from ${JSON.stringify(join(import.meta.dirname, "index.ts"))};\n` +
        `const r = await startMonitor(${JSON.stringify(o)});\n` +
        `process.stdout.write(JSON.stringify(r) + "\\n");\n` +
        `setInterval(() => {}, 1000);\n`,
    );
    const node = spawn(process.execPath, ["--import", "tsx", script], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let nodeExited = false;
    node.on("exit", () => (nodeExited = true));
    let started: { containerPid: number; monitorPid: number };
    try {
      let out = "";
      node.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
      started = await waitFor("starter output", () => {
        if (nodeExited) throw new Error("the starter exited before reporting");
        return out.includes("\n") ? (JSON.parse(out) as typeof started) : undefined;
      });
      pids.push(started.monitorPid);
      // Neither the monitor nor the container is the Node process's child any more.
      assert.notEqual(
        Number(readFileSync(`/proc/${started.monitorPid}/stat`, "utf8").split(" ")[3]),
        node.pid,
      );
    } finally {
      if (node.pid !== undefined && !nodeExited) process.kill(node.pid, "SIGKILL");
    }
    await waitFor("starter death", () => (nodeExited ? true : undefined));

    const before = readLogs(o.logPath).length;
    await sleep(500);
    assert.ok(alive(started.containerPid), "container survives its starter");
    assert.ok(alive(started.monitorPid), "monitor survives its starter");
    const logged = readLogs(o.logPath);
    assert.ok(logged.length > before, `still logging (${before} → ${logged.length})`);
    assert.ok(logged.every((e, i) => e.stream === "stdout" && e.log === `tick ${i}\n`));
    assert.equal(readExit(o.exitPath), undefined);

    const rss = vmRssKiB(started.monitorPid);
    console.log(`monitor VmRSS: ${rss} kB`);
    assert.ok(rss < 2048, `monitor RSS ${rss} kB < 2 MiB`);

    const k = spawnSync(RUNTIME, ["--root", s.root, "kill", o.id, "KILL"], { encoding: "utf8" });
    assert.equal(k.status, 0, k.stderr);
    const exit = await waitFor("exit file", () => readExit(o.exitPath));
    assert.equal(exit.signal, 9);
    assert.equal(exit.exitCode, 137);
    await waitFor("monitor exit", () => (alive(started.monitorPid) ? undefined : true));
    assert.ok(!existsSync(`${o.exitPath}.tmp`));
    spawnSync(RUNTIME, ["--root", s.root, "delete", "--force", o.id]);
  });
});
