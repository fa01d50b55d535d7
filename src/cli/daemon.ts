/**
 * Starting pierd when nothing answers at the socket: detached, its output appended to a
 * log file (/var/log/pier/pierd.log, or $PIER_DAEMON_LOG), then wait for /_ping.
 *
 * Which pierd: $PIER_PIERD if set; from the bundle, `pierd` beside `pier`; from sources
 * (tsx), src/cmd/pierd.ts run by this node with the same loader flags.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { PierError } from "../common/errors.ts";
import { ApiClient } from "../api/client/index.ts";

export const DEFAULT_DAEMON_LOG = "/var/log/pier/pierd.log";

function pierdCommand(): { cmd: string; args: string[] } {
  const env = process.env.PIER_PIERD;
  if (env) return { cmd: env, args: [] };
  const here = fileURLToPath(import.meta.url);
  if (here.endsWith(".ts")) {
    return {
      cmd: process.execPath,
      args: [...process.execArgv, join(dirname(here), "..", "cmd", "pierd.ts")],
    };
  }
  const sibling = join(dirname(here), "pierd");
  return { cmd: process.execPath, args: [existsSync(sibling) ? sibling : join(dirname(here), "pierd.js")] };
}

function openLog(): { fd: number; path: string } {
  const path = process.env.PIER_DAEMON_LOG ?? DEFAULT_DAEMON_LOG;
  mkdirSync(dirname(path), { recursive: true });
  return { fd: openSync(path, "a"), path };
}

/**
 * Starts pierd on `socketPath` and waits until it answers; returns its pid, or undefined
 * when another pier started one at the same moment (ours then exits: the socket is taken).
 */
export async function startDaemon(socketPath: string, timeoutMs = 15_000): Promise<number | undefined> {
  const { cmd, args } = pierdCommand();
  const log = openLog();
  const child = spawn(cmd, [...args, "--host", `unix://${socketPath}`], {
    detached: true,
    stdio: ["ignore", log.fd, log.fd],
    env: process.env,
  });
  closeSync(log.fd);
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  child.on("error", () => {
    exited = -1;
  });
  child.unref();
  const pid = child.pid ?? 0;
  const client = new ApiClient({ socketPath, version: "1.24" });
  const deadline = Date.now() + timeoutMs;
  try {
    while (Date.now() < deadline) {
      if (exited !== undefined) {
        throw new PierError(
          "Unavailable",
          `pierd exited (status ${String(exited)}) before answering; see ${log.path}`,
        );
      }
      try {
        await client.ping();
        return pid;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } finally {
    client.close();
  }
  throw new PierError("Unavailable", `pierd (pid ${pid}) did not answer on ${socketPath}; see ${log.path}`);
}
