/**
 * A private pierd for a test file: its own state root, socket, bridge prefix and subnet
 * (from the network layer's NetTestRun), lxcfs mount and exec root. `teardown` removes
 * every container, network, mount, process, rule and directory it made.
 *
 *   const d = await PierdRun.start();
 *   d.docker("run", "--rm", "busybox", "echo", "hi");
 *   await d.teardown();
 */
import { spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NetTestRun } from "../../src/network/testing.ts";
import { REPO } from "./bundle.ts";

export const PIERD = join(REPO, "bin/pierd");
export const PIER = join(REPO, "bin/pier");

export class PierdRun {
  readonly net = new NetTestRun();
  readonly dir = mkdtempSync(join(tmpdir(), "pier-engine-"));
  readonly root = join(this.dir, "root");
  readonly sock = join(this.dir, "pier.sock");
  readonly run = join(this.dir, "run");
  readonly lxcfs = join(this.dir, "lxcfs");
  readonly env: NodeJS.ProcessEnv;
  private proc: ChildProcess | undefined;
  log = "";

  private constructor() {
    this.env = {
      ...process.env,
      DOCKER_HOST: `unix://${this.sock}`,
      DOCKER_CONFIG: join(this.dir, "docker"),
    };
  }

  static async start(opts: { busybox?: boolean } = {}): Promise<PierdRun> {
    const d = new PierdRun();
    try {
      await d.startDaemon();
      if (opts.busybox !== false) {
        const r = d.pier("image", "bootstrap", "busybox");
        if (r.status !== 0) throw new Error(`bootstrap busybox: ${r.stderr}`);
      }
    } catch (err) {
      await d.teardown();
      throw err;
    }
    return d;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  /** Starts (or restarts) pierd and waits until it answers. */
  async startDaemon(): Promise<void> {
    const args = ["-H", `unix://${this.sock}`, "--root", this.root, "--exec-root", this.run];
    args.push("--bridge-prefix", this.net.prefix, "--bip", this.net.subnet(1), "--lxcfs-dir", this.lxcfs);
    const p = spawn(PIERD, args, { stdio: ["ignore", "ignore", "pipe"] });
    p.stderr!.setEncoding("utf8").on("data", (s: string) => (this.log += s));
    this.proc = p;
    for (let i = 0; ; i++) {
      if (await this.ping()) return;
      if (p.exitCode !== null) throw new Error(`pierd exited: ${this.log}`);
      if (i > 200) throw new Error(`pierd did not answer: ${this.log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** SIGKILL to pierd (by its pid): what a crash looks like. */
  async killDaemon(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid!, "SIGKILL");
    await gone;
  }

  async stopDaemon(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null) return;
    const gone = new Promise((r) => p.once("exit", r));
    process.kill(p.pid!, "SIGTERM");
    await gone;
  }

  ping(): Promise<boolean> {
    return new Promise((resolve) => {
      const req = request({ socketPath: this.sock, path: "/_ping", timeout: 500 }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
      req.on("error", () => resolve(false));
      req.on("timeout", () => {
        req.destroy();
        resolve(false);
      });
      req.end();
    });
  }

  /** An API call: the parsed JSON answer and the status. */
  api(method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown }> {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = request(
        {
          socketPath: this.sock,
          method,
          path,
          headers: data ? { "Content-Type": "application/json", "Content-Length": data.length } : {},
        },
        (res) => {
          let text = "";
          res.setEncoding("utf8").on("data", (c: string) => (text += c));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as unknown) : undefined }),
          );
        },
      );
      req.on("error", reject);
      req.end(data);
    });
  }

  docker(...args: string[]): SpawnSyncReturns<string> {
    return spawnSync("docker", args, { env: this.env, encoding: "utf8", timeout: 60_000 });
  }

  pier(...args: string[]): SpawnSyncReturns<string> {
    return spawnSync(PIER, ["-H", `unix://${this.sock}`, ...args], {
      env: this.env,
      encoding: "utf8",
      timeout: 60_000,
    });
  }

  /** Runs a command under a pseudo-terminal (`script`), feeding `input` with pauses. */
  pty(cmd: string, input: string[], pauseMs = 600): SpawnSyncReturns<string> {
    const feed = input.map((l) => `sleep ${pauseMs / 1000}; printf '%s\\r' ${shellQuote(l)}`).join("; ");
    return spawnSync("sh", ["-c", `(${feed}; sleep 1) | script -qfec ${shellQuote(cmd)} /dev/null`], {
      env: this.env,
      encoding: "utf8",
      timeout: 60_000,
    });
  }

  async teardown(): Promise<void> {
    try {
      if (this.proc && this.proc.exitCode === null && (await this.ping())) {
        const ids = this.docker("ps", "-aq").stdout.split("\n").filter(Boolean);
        if (ids.length) this.docker("rm", "-f", "-v", ...ids);
        const nets = this.docker("network", "ls", "-q", "--filter", "type=custom")
          .stdout.split("\n")
          .filter(Boolean);
        if (nets.length) this.docker("network", "rm", ...nets);
      }
    } catch {
      // best effort; what is left is removed below
    }
    await this.stopDaemon().catch(() => undefined);
    // Monitors and containers still alive (a test failed midway): by the pids pier recorded.
    for (const pidFile of findFiles(join(this.root, "containers"), /^(pid|monitor\.pid)$/)) {
      const pid = Number(readFileSync(pidFile, "utf8"));
      if (pid > 1) {
        try {
          process.kill(pid, "SIGKILL");
        } catch {
          // gone
        }
      }
    }
    for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n").reverse()) {
      const mp = line.split(" ")[4];
      if (mp?.startsWith(this.dir + "/")) spawnSync("umount", ["-l", mp]);
    }
    const lxPid = join(this.run, "lxcfs.pid");
    if (existsSync(lxPid)) {
      try {
        process.kill(Number(readFileSync(lxPid, "utf8")), "SIGTERM");
      } catch {
        // gone
      }
      spawnSync("umount", ["-l", this.lxcfs]);
    }
    for (const n of readdirSafe("/run/netns")) {
      if (/^pier-[0-9a-f]{12}$/.test(n) && this.ownsNetns(n)) spawnSync("ip", ["netns", "delete", n]);
    }
    for (const h of readdirSafe("/sys/fs/cgroup")) {
      for (const id of readdirSafe(`/sys/fs/cgroup/${h}/pier`)) {
        if (existsSync(join(this.root, "containers", id)))
          spawnSync("rmdir", [`/sys/fs/cgroup/${h}/pier/${id}`]);
      }
    }
    this.net.teardown();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private ownsNetns(name: string): boolean {
    const short = name.slice(5);
    return readdirSafe(join(this.root, "containers")).some((id) => id.startsWith(short));
  }
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function findFiles(dir: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const e of readdirSafe(dir)) {
    const p = join(dir, e);
    if (re.test(e)) out.push(p);
    else if (/^[0-9a-f]{64}$/.test(e) || e === "exec") out.push(...findFiles(p, re));
  }
  return out;
}

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
