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
    const parts: Buffer[] = [];
    let total = 0;
    for (const o of this.ops) {
      const head = Buffer.allocUnsafe(4);
      head.writeUInt16LE(o.op, 0);
      head.writeUInt16LE(o.args.length, 2);
      parts.push(head);
      total += 4;
      for (const a of o.args) {
        const b = typeof a === "string" ? Buffer.from(a) : a;
        const len = Buffer.allocUnsafe(4);
        len.writeUInt32LE(b.length, 0);
        parts.push(len, b);
        total += 4 + b.length;
      }
    }
    const out = Buffer.allocUnsafe(4 + total);
    out.writeUInt32LE(total, 0);
    let off = 4;
    for (const p of parts) {
      p.copy(out, off);
      off += p.length;
    }
    return out;
  }
}
