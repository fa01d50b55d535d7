/**
 * A session with `pier-fsops`, the C helper that executes the file-system
 * operations Node cannot make: mknod, xattrs, mount/umount and the new mount API.
 * TypeScript decides every operation; the helper executes it and answers one
 * line per request (see native/fsops.c for the wire format).
 *
 * Requests are pipelined: many calls may be in flight and answers come back
 * in order. With `root`, file paths are relative to that directory and the
 * kernel (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) refuses any that would
 * leave it or pass through a symlink.
 *
 * (This and mount.ts are host wrappers; they live here until src/host takes them.)
 */
import { spawn, type ChildProcessByStdio } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { dirname, join, resolve } from "node:path";
import type { Readable, Writable } from "node:stream";
import { PierError, wrap } from "../common/errors.ts";

/** Finds the helper: $PIER_FSOPS, next to the running binary, or the repository's bin/. */
export function fsopsPath(): string {
  const candidates = [
    process.env.PIER_FSOPS,
    process.argv[1] ? join(dirname(process.argv[1]), "pier-fsops") : undefined,
    resolve(import.meta.dirname, "../../bin/pier-fsops"),
  ];
  for (const c of candidates) {
    if (!c) continue;
    try {
      accessSync(c, constants.X_OK);
      return c;
    } catch {
      // try the next one
    }
  }
  throw new PierError("FailedPrecondition", "pier-fsops helper not found", {
    hint: "run `make build`, or point PIER_FSOPS at a built native/fsops.c",
  });
}

/** The errno name ("ENOENT") behind a helper failure, if there was one. */
export function errnoOf(err: unknown): string | undefined {
  const cause = err instanceof Error ? (err.cause as { code?: unknown } | undefined) : undefined;
  return typeof cause?.code === "string" ? cause.code : undefined;
}

interface Pending {
  resolve: (payload: string) => void;
  reject: (err: PierError) => void;
  what: string;
}

export class Fsops {
  private readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  private readonly pending: Pending[] = [];
  private buf = "";
  private stderr = "";
  private exited: PierError | undefined;
  private readonly done: Promise<void>;

  private constructor(root: string | undefined) {
    const args = root === undefined ? [] : ["--root", root];
    this.child = spawn(fsopsPath(), args, { stdio: ["pipe", "pipe", "pipe"] });
    this.child.stdout.setEncoding("utf8");
    this.child.stdout.on("data", (d: string) => this.onData(d));
    this.child.stderr.setEncoding("utf8");
    this.child.stderr.on("data", (d: string) => {
      if (this.stderr.length < 4096) this.stderr += d;
    });
    this.child.stdin.on("error", () => {
      // surfaced through the exit handler below
    });
    this.done = new Promise((res) => {
      this.child.on("error", (err) => {
        this.fail(wrap(err, "pier-fsops"));
        res();
      });
      this.child.on("close", (code, signal) => {
        this.fail(
          new PierError(
            "Internal",
            `pier-fsops exited (${signal ?? code})${this.stderr ? `: ${this.stderr.trim()}` : ""}`,
          ),
        );
        res();
      });
    });
  }

  /** Starts a helper; with `root`, file paths are confined beneath it. */
  static open(opts: { root?: string } = {}): Fsops {
    return new Fsops(opts.root);
  }

  /** Runs `fn` with a fresh session and always closes it. */
  static async with<T>(opts: { root?: string }, fn: (f: Fsops) => Promise<T>): Promise<T> {
    const f = Fsops.open(opts);
    try {
      return await fn(f);
    } finally {
      await f.close();
    }
  }

  mknod(path: string, mode: number, major = 0, minor = 0): Promise<void> {
    return this.call(`mknod ${path}`, ["mknod", path, String(mode), String(major), String(minor)]).then(
      () => undefined,
    );
  }

  /** Sets an xattr on `path` itself (never through a final symlink). */
  setxattr(path: string, name: string, value: Buffer): Promise<void> {
    return this.call(`setxattr ${name} ${path}`, ["setxattr", path, name, value.toString("hex")]).then(
      () => undefined,
    );
  }

  /** All xattrs of `path` itself (not following a final symlink); empty where unsupported. */
  async getxattrs(path: string): Promise<Map<string, Buffer>> {
    const payload = await this.call(`getxattrs ${path}`, ["getxattrs", path]);
    const out = new Map<string, Buffer>();
    for (const pair of payload.split(" ")) {
      if (!pair) continue;
      const eq = pair.indexOf("=");
      out.set(Buffer.from(pair.slice(0, eq), "hex").toString("utf8"), Buffer.from(pair.slice(eq + 1), "hex"));
    }
    return out;
  }

  /** mount(2); with `cwd`, relative paths in `data` resolve there (the short-lowerdir trick). */
  mount(m: { cwd?: string; source: string; target: string; fstype: string; flags: number; data: string }) {
    return this.call(`mount ${m.fstype} on ${m.target}`, [
      "mount",
      m.cwd ?? "",
      m.source,
      m.target,
      m.fstype,
      String(m.flags),
      m.data,
    ]).then(() => undefined);
  }

  /** The new mount API: one fsconfig per parameter (an empty value sets a flag). */
  fsmount(m: { cwd?: string; fstype: string; target: string; attrs: number; params: [string, string][] }) {
    return this.call(`fsmount ${m.fstype} on ${m.target}`, [
      "fsmount",
      m.cwd ?? "",
      m.fstype,
      m.target,
      String(m.attrs),
      String(m.params.length),
      ...m.params.flat(),
    ]).then(() => undefined);
  }

  umount(target: string, flags = 0): Promise<void> {
    return this.call(`umount ${target}`, ["umount", target, String(flags)]).then(() => undefined);
  }

  /** Ends the session; waits for the helper to exit. */
  async close(): Promise<void> {
    if (this.exited === undefined) this.child.stdin.end();
    await this.done;
  }

  private call(what: string, fields: string[]): Promise<string> {
    if (this.exited) return Promise.reject(this.exited);
    for (const f of fields) {
      if (f.includes("\0"))
        return Promise.reject(new PierError("InvalidArgument", `${what}: NUL in argument`));
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject, what });
      this.child.stdin.write(fields.map((f) => f + "\0").join(""));
    });
  }

  private onData(d: string): void {
    this.buf += d;
    let nl: number;
    while ((nl = this.buf.indexOf("\n")) >= 0) {
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      const p = this.pending.shift();
      if (!p) continue;
      if (line === "ok") p.resolve("");
      else if (line.startsWith("ok ")) p.resolve(line.slice(3));
      else {
        const m = /^err (\S+) (.*)$/.exec(line);
        const code = m?.[1] ?? "EIO";
        const err = Object.assign(new Error(m?.[2] ?? line), { code });
        p.reject(wrap(err, p.what));
      }
    }
  }

  private fail(err: PierError): void {
    if (this.exited) return;
    this.exited = err;
    for (const p of this.pending.splice(0)) p.reject(err);
  }
}
