/**
 * Classic BPF as seccomp uses it: the instruction encoding (`struct sock_filter`),
 * the `struct seccomp_data` layout the filter reads, the return values, and a
 * small interpreter and disassembler so filters can be checked without a kernel.
 *
 * A filter is an array of 8-byte little-endian instructions:
 *
 *     u16 code | u8 jt | u8 jf | u32 k
 *
 * Conditional jumps skip `jt` or `jf` instructions forward (so at most 255),
 * `ja` skips `k` instructions; a program ends in `ret`. The kernel accepts at
 * most 4096 instructions (BPF_MAXINSNS).
 */
import { internal } from "../../common/errors.ts";

export interface Insn {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Instruction classes and fields (<linux/bpf_common.h>).
export const BPF_LD = 0x00;
export const BPF_ALU = 0x04;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_K = 0x00;
export const BPF_AND = 0x50;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_JSET = 0x40;

export const BPF_MAXINSNS = 4096;
export const SOCK_FILTER_SIZE = 8;

// SECCOMP_RET_* (<linux/seccomp.h>); the low 16 bits carry data (errno, trace message).
export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
export const SECCOMP_RET_ACTION_FULL = 0xffff0000;
export const SECCOMP_RET_DATA = 0x0000ffff;

// AUDIT_ARCH_* (<linux/audit.h>): EM_* | 64BIT | LE.
export const AUDIT_ARCH_X86_64 = 0xc000003e;
export const AUDIT_ARCH_I386 = 0x40000003;

/** Offsets into `struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; }`. */
export const OFF_NR = 0;
export const OFF_ARCH = 4;
/** Little-endian: the low word of args[i] is at 16 + 8i, the high word 4 bytes later. */
export const argLo = (i: number) => 16 + 8 * i;
export const argHi = (i: number) => 20 + 8 * i;
const SECCOMP_DATA_SIZE = 64;

export const ld = (off: number): Insn => ({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: off });
export const and = (k: number): Insn => ({ code: BPF_ALU | BPF_AND | BPF_K, jt: 0, jf: 0, k });
export const ja = (k: number): Insn => ({ code: BPF_JMP | BPF_JA, jt: 0, jf: 0, k });
export const ret = (k: number): Insn => ({ code: BPF_RET | BPF_K, jt: 0, jf: 0, k });
export const jmp = (op: number, k: number, jt: number, jf: number): Insn => ({
  code: BPF_JMP | op | BPF_K,
  jt,
  jf,
  k,
});

/** Packs instructions into the byte layout of `struct sock_filter[]`, checking every field's width. */
export function encode(prog: readonly Insn[]): Buffer {
  const buf = Buffer.alloc(prog.length * SOCK_FILTER_SIZE);
  prog.forEach((insn, i) => {
    const { code, jt, jf, k } = insn;
    if (!isUint(code, 0xffff) || !isUint(jt, 0xff) || !isUint(jf, 0xff) || !isUint(k, 0xffffffff)) {
      throw internal(`seccomp: instruction ${i} does not fit sock_filter: ${JSON.stringify(insn)}`);
    }
    const o = i * SOCK_FILTER_SIZE;
    buf.writeUInt16LE(code, o);
    buf.writeUInt8(jt, o + 2);
    buf.writeUInt8(jf, o + 3);
    buf.writeUInt32LE(k, o + 4);
  });
  return buf;
}

export function decode(buf: Buffer): Insn[] {
  if (buf.length % SOCK_FILTER_SIZE !== 0) throw internal(`seccomp: filter of ${buf.length} bytes`);
  const out: Insn[] = [];
  for (let o = 0; o < buf.length; o += SOCK_FILTER_SIZE) {
    out.push({ code: buf.readUInt16LE(o), jt: buf[o + 2]!, jf: buf[o + 3]!, k: buf.readUInt32LE(o + 4) });
  }
  return out;
}

function isUint(v: number, max: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= max;
}

/** The input of a seccomp filter. Arguments are unsigned 64-bit. */
export interface SeccompData {
  nr: number;
  arch: number;
  instructionPointer?: bigint;
  args?: readonly bigint[];
}

function seccompDataBytes(d: SeccompData): Buffer {
  const b = Buffer.alloc(SECCOMP_DATA_SIZE);
  b.writeUInt32LE(d.nr >>> 0, OFF_NR);
  b.writeUInt32LE(d.arch >>> 0, OFF_ARCH);
  b.writeBigUInt64LE(BigInt.asUintN(64, d.instructionPointer ?? 0n), 8);
  for (let i = 0; i < 6; i++) b.writeBigUInt64LE(BigInt.asUintN(64, d.args?.[i] ?? 0n), 16 + 8 * i);
  return b;
}

/**
 * Runs a filter over one system call the way the kernel would, for the
 * instructions pier emits (loads, `and`, jumps, `ret k`). Returns the 32-bit
 * SECCOMP_RET_* value. Throws on anything the kernel's checker would refuse.
 */
export function runFilter(filter: Buffer | readonly Insn[], data: SeccompData): number {
  const prog = Buffer.isBuffer(filter) ? decode(filter) : filter;
  const mem = seccompDataBytes(data);
  let a = 0;
  let pc = 0;
  for (let steps = 0; steps <= prog.length; steps++) {
    const insn = prog[pc];
    if (insn === undefined) throw internal(`seccomp: filter runs off its end at ${pc}`);
    const { code, k } = insn;
    pc++;
    switch (code) {
      case BPF_LD | BPF_W | BPF_ABS:
        if (k % 4 !== 0 || k + 4 > SECCOMP_DATA_SIZE) throw internal(`seccomp: bad load offset ${k}`);
        a = mem.readUInt32LE(k);
        break;
      case BPF_ALU | BPF_AND | BPF_K:
        a = (a & k) >>> 0;
        break;
      case BPF_JMP | BPF_JA:
        pc += k;
        break;
      case BPF_JMP | BPF_JEQ | BPF_K:
        pc += a === k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JGT | BPF_K:
        pc += a > k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JGE | BPF_K:
        pc += a >= k ? insn.jt : insn.jf;
        break;
      case BPF_JMP | BPF_JSET | BPF_K:
        pc += (a & k) !== 0 ? insn.jt : insn.jf;
        break;
      case BPF_RET | BPF_K:
        return k;
      default:
        throw internal(`seccomp: unsupported instruction code 0x${code.toString(16)} at ${pc - 1}`);
    }
  }
  throw internal("seccomp: filter does not terminate");
}

/** One line per instruction, in the style of `bpf_dbg`/libseccomp's exports; for debugging and tests. */
export function disassemble(filter: Buffer | readonly Insn[]): string {
  const prog = Buffer.isBuffer(filter) ? decode(filter) : filter;
  const hex = (n: number) => `0x${n.toString(16).padStart(8, "0")}`;
  const names: Record<number, string> = {
    [BPF_JEQ]: "jeq",
    [BPF_JGT]: "jgt",
    [BPF_JGE]: "jge",
    [BPF_JSET]: "jset",
  };
  return prog
    .map((insn, i) => {
      const at = String(i).padStart(4, "0");
      const { code, jt, jf, k } = insn;
      if (code === (BPF_LD | BPF_W | BPF_ABS)) return `${at}: ld  [${k}]`;
      if (code === (BPF_ALU | BPF_AND | BPF_K)) return `${at}: and #${hex(k)}`;
      if (code === (BPF_JMP | BPF_JA)) return `${at}: ja  ${i + 1 + k}`;
      if (code === (BPF_RET | BPF_K)) return `${at}: ret #${hex(k)}`;
      const op = names[code & 0xf0];
      if ((code & 0x07) === BPF_JMP && op !== undefined) {
        return `${at}: ${op.padEnd(4)} #${hex(k)} jt ${i + 1 + jt} jf ${i + 1 + jf}`;
      }
      return `${at}: ??? code=0x${code.toString(16)} jt=${jt} jf=${jf} k=${hex(k)}`;
    })
    .join("\n");
}
