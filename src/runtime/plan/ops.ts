/**
 * The plan pier-nsexec executes: an ordered list of operations, each with a
 * few string (or raw byte) arguments and a human description used when it
 * fails. The numbers must match `enum op` in native/nsexec.c.
 *
 * The plan has three sections, in order:
 *   1. helper ops (join cgroups, setns) — run in the helper before cloning;
 *   2. CLONE, then parent ops (uid/gid maps) closed by PARENT_DONE;
 *   3. child ops — run in the new process up to EXEC.
 */
export const Op = {
  JOIN_CGROUP: 1,
  SETNS: 2,
  CLONE: 3,
  UID_MAP: 4,
  GID_MAP: 5,
  PARENT_DONE: 6,
  SETSID: 7,
  MOUNT: 8,
  MKDIRP: 9,
  TOUCH: 10,
  MKNOD: 11,
  SYMLINK: 12,
  REMOUNT: 13,
  MASK: 14,
  PIVOT: 15,
  CHROOT: 16,
  SYNC: 17,
  HOOK: 18,
  WRITE: 19,
  HOSTNAME: 20,
  DOMAINNAME: 21,
  LO_UP: 22,
  RLIMIT: 23,
  CONSOLE_CONNECT: 24,
  PTY: 25,
  FIFO_OPEN: 26,
  FIFO_WAIT: 27,
  CREATED: 28,
  CAP_BOUNDING: 29,
  KEEPCAPS: 30,
  SETGROUPS: 31,
  SETRESGID: 32,
  SETRESUID: 33,
  CAPSET: 34,
  AMBIENT: 35,
  NNP: 36,
  SECCOMP: 37,
  UMASK: 38,
  CHDIR: 39,
  LOOKUP: 40,
  EXEC: 41,
  PERSONALITY: 42,
  CLOSE_FROM: 43,
  UNSHARE: 44,
  MKFIFO: 45,
  WAIT_PARENT: 46,
} as const;

export type OpCode = (typeof Op)[keyof typeof Op];

export interface PlanOp {
  op: OpCode;
  args: (string | Buffer)[];
  /** What this step does, for error messages: "mount proc on /proc". */
  what: string;
}

export class Plan {
  readonly ops: PlanOp[] = [];

  add(op: OpCode, what: string, ...args: (string | number | bigint | Buffer)[]): this {
    this.ops.push({ op, what, args: args.map((a) => (Buffer.isBuffer(a) ? a : String(a))) });
    return this;
  }

  /** Encodes as records of u16 op, u16 argc, then argc × (u32 length, bytes), little endian. */
  encode(): Buffer {
    let size = 4;
    for (const o of this.ops) {
      size += 4;
      for (const a of o.args) size += 4 + (typeof a === "string" ? Buffer.byteLength(a) : a.length);
    }
    const out = Buffer.allocUnsafe(size);
    out.writeUInt32LE(size - 4, 0);
    let off = 4;
    for (const o of this.ops) {
      out.writeUInt16LE(o.op, off);
      out.writeUInt16LE(o.args.length, off + 2);
      off += 4;
      for (const a of o.args) {
        const n = typeof a === "string" ? out.write(a, off + 4) : a.copy(out, off + 4);
        out.writeUInt32LE(n, off);
        off += 4 + n;
      }
    }
    return out;
  }
}
