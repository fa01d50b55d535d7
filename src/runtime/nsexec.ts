import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Socket } from "node:net";
import { PierError, internal, kindOfErrno } from "../common/errors.ts";
import type { Plan } from "./plan/ops.ts";

/**
 * Runs pier-nsexec with a plan and speaks its sync protocol (see the comment
 * at the top of native/nsexec.c). One `HelperSession` per create/run/exec.
 */

let helperPath: string | undefined;

/** Where pier-nsexec is: $PIER_NSEXEC, next to the bundled binary, or in the repo's bin/. */
export function nsexecPath(): string {
  if (helperPath) return helperPath;
  const candidates: string[] = [];
  if (process.env.PIER_NSEXEC) candidates.push(process.env.PIER_NSEXEC);
  const here = dirname(fileURLToPath(import.meta.url));
  candidates.push(
    join(here, "pier-nsexec"),
    join(here, "../../bin/pier-nsexec"),
    join(here, "../bin/pier-nsexec"),
  );
  for (const c of candidates) {
    if (existsSync(c)) return (helperPath = c);
  }
  throw new PierError("FailedPrecondition", "pier-nsexec helper not found", {
    hint: "run `make build` (it compiles native/nsexec.c into bin/)",
  });
}

export type HelperEvent =
  | { type: "pid"; pid: number }
  | { type: "sync"; tag: string }
  | { type: "created" }
  | { type: "error"; error: PierError }
  | { type: "eof" };

const ERRNO_NAMES: Record<number, string> = {
  1: "EPERM",
  2: "ENOENT",
  3: "ESRCH",
  5: "EIO",
  9: "EBADF",
  12: "ENOMEM",
  13: "EACCES",
  16: "EBUSY",
  17: "EEXIST",
  20: "ENOTDIR",
  21: "EISDIR",
  22: "EINVAL",
  24: "EMFILE",
  28: "ENOSPC",
  30: "EROFS",
  36: "ENAMETOOLONG",
  38: "ENOSYS",
  40: "ELOOP",
  95: "EOPNOTSUPP",
  110: "ETIMEDOUT",
};

const ERRNO_TEXT: Record<string, string> = {
  EPERM: "operation not permitted",
  ENOENT: "no such file or directory",
  ESRCH: "no such process",
  EIO: "input/output error",
  EBADF: "bad file descriptor",
  ENOMEM: "cannot allocate memory",
  EACCES: "permission denied",
  EBUSY: "device or resource busy",
  EEXIST: "file exists",
  ENOTDIR: "not a directory",
  EISDIR: "is a directory",
  EINVAL: "invalid argument",
  EMFILE: "too many open files",
  ENOSPC: "no space left on device",
  EROFS: "read-only file system",
  ENAMETOOLONG: "file name too long",
  ENOSYS: "function not implemented",
  ELOOP: "too many levels of symbolic links",
  EOPNOTSUPP: "operation not supported",
  ETIMEDOUT: "timed out",
};

export interface HelperOptions {
  /** Extra fds (3..3+n-1) passed through to the container process. */
  preserveFds?: number;
  /** stdio for the helper (and so the container): defaults to inherit. */
  stdio?: ("inherit" | "ignore" | "pipe" | number)[];
  env?: NodeJS.ProcessEnv;
}

export class HelperSession {
  /** The helper process, when this session started it. */
  readonly child: ChildProcess | undefined;
  private readonly sock: Socket;
  private buf = "";
  private queue: HelperEvent[] = [];
  private waiters: ((e: HelperEvent) => void)[] = [];
  private ended = false;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(
    private readonly plan: Plan,
    opts: HelperOptions = {},
    /** An already connected sync socket (the helper was started by someone else). */
    connected?: Socket,
  ) {
    if (connected) {
      this.child = undefined;
      this.sock = connected;
      this.exited = new Promise((resolve) =>
        connected.on("close", () => resolve({ code: null, signal: null })),
      );
    } else {
      const preserve = opts.preserveFds ?? 0;
      const stdio: (string | number)[] = [...(opts.stdio ?? ["inherit", "inherit", "inherit"])];
      for (let i = 0; i < preserve; i++) stdio.push(3 + i);
      const syncIndex = stdio.length;
      stdio.push("pipe");
      const child = spawn(nsexecPath(), [String(syncIndex)], {
        stdio: stdio as ("inherit" | "pipe")[],
        env: opts.env ?? {},
      });
      this.child = child;
      this.exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
      child.on("error", (err) => this.push({ type: "error", error: internal("start pier-nsexec", err) }));
      this.sock = child.stdio[syncIndex] as Socket;
    }
    this.sock.on("data", (d: Buffer) => this.onData(d));
    this.sock.on("end", () => this.push({ type: "eof" }));
    this.sock.on("close", () => this.push({ type: "eof" }));
    this.sock.on("error", () => this.push({ type: "eof" }));
    this.sock.write(this.plan.encode());
  }

  /**
   * A session with a helper another process started (the engine's monitor runs
   * `pier-nsexec 3` with fd 3 connected to a socket this process listens on).
   */
  static connected(plan: Plan, sock: Socket): HelperSession {
    return new HelperSession(plan, {}, sock);
  }

  private onData(d: Buffer): void {
    this.buf += d.toString();
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      this.push(this.parse(line));
    }
  }

  private parse(line: string): HelperEvent {
    if (line.startsWith("PID ")) return { type: "pid", pid: Number(line.slice(4)) };
    if (line.startsWith("SYNC ")) return { type: "sync", tag: line.slice(5) };
    if (line === "CREATED") return { type: "created" };
    if (line.startsWith("ERR ")) {
      const m = /^ERR (-?\d+) (\d+) (.*)$/.exec(line);
      const idx = m ? Number(m[1]) : -1;
      const errno = m ? Number(m[2]) : 0;
      const msg = m ? (m[3] ?? "") : line;
      const name = ERRNO_NAMES[errno];
      const step = this.plan.ops[idx]?.what;
      const detail =
        errno === 0 ? msg : `${msg}: ${name ? ERRNO_TEXT[name] : `errno ${errno}`} (${name ?? errno})`;
      const text = step && !msg.startsWith(step) ? `${step}: ${detail}` : detail;
      return { type: "error", error: new PierError(errno ? kindOfErrno(name) : "FailedPrecondition", text) };
    }
    return { type: "error", error: internal(`unexpected message from pier-nsexec: ${line}`) };
  }

  private push(e: HelperEvent): void {
    if (e.type === "eof") {
      if (this.ended) return;
      this.ended = true;
    }
    const w = this.waiters.shift();
    if (w) w(e);
    else this.queue.push(e);
  }

  /** The next event; after the socket closed, "eof" forever. */
  next(): Promise<HelperEvent> {
    const e = this.queue.shift();
    if (e) return Promise.resolve(e);
    if (this.ended) return Promise.resolve({ type: "eof" });
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  reply(data?: string): void {
    const body = data === undefined ? "" : data;
    this.sock.write(`OK ${Buffer.byteLength(body)}\n${body}`);
  }

  abort(): void {
    if (!this.sock.destroyed) this.sock.end("ABORT\n");
  }

  close(): void {
    if (!this.sock.destroyed) this.sock.destroy();
  }
}
