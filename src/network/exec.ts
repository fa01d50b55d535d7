/**
 * Running the host tools the network layer drives (`ip`, `iptables`, the CNI
 * plugins): spawn with an argument vector (never a shell), feed stdin, collect
 * stdout and stderr, and fail with a PierError that names the command.
 */
import { spawn } from "node:child_process";
import { PierError } from "../common/errors.ts";

export interface RunOptions {
  /** Written to the child's stdin, which is then closed. */
  input?: string;
  /** The child's whole environment (default: this process's). */
  env?: NodeJS.ProcessEnv;
  /** Killed with SIGKILL after this long (default 30 s). */
  timeoutMs?: number;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** PATH for children: the sbin directories first, since `ip` and `iptables` live there. */
export const TOOL_PATH = ["/usr/local/sbin", "/usr/sbin", "/sbin", process.env.PATH ?? "/usr/bin:/bin"].join(
  ":",
);

/** Runs `cmd args…` and resolves with its exit status and output, whatever the status. */
export function runRaw(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? { ...process.env, PATH: TOOL_PATH },
      stdio: ["pipe", "pipe", "pipe"],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs ?? 30_000);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (e.code === "ENOENT") {
        reject(
          new PierError("Unavailable", `${cmd} not found`, {
            cause: e,
            hint: "install iproute2, iptables and containernetworking-plugins",
          }),
        );
      } else reject(new PierError("Internal", `run ${cmd}: ${e.message}`, { cause: e }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (timedOut) {
        reject(
          new PierError(
            "Unavailable",
            `${cmd} ${args.join(" ")}: timed out after ${opts.timeoutMs ?? 30_000} ms`,
          ),
        );
        return;
      }
      resolve({ code: code ?? 128 + (signal ? 9 : 0), stdout, stderr });
    });
    // A child that exits before reading its stdin makes the write fail with EPIPE; its exit status tells the story.
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs `cmd args…`; a non-zero exit is an Internal error quoting the command and its stderr. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const r = await runRaw(cmd, args, opts);
  if (r.code !== 0) {
    const why = (r.stderr.trim() || r.stdout.trim() || `exit status ${r.code}`)
      .split("\n")
      .slice(-3)
      .join("; ");
    throw new PierError("Internal", `${cmd} ${args.join(" ")}: ${why}`);
  }
  return r.stdout;
}
