/**
 * Compiles an OCI seccomp profile (config.json `linux.seccomp`) into the classic
 * BPF program the kernel runs on every system call, without libseccomp.
 *
 * Policy, as runc applies it:
 * - `architectures` lists the ABIs a process may use; the machine's own is
 *   always allowed. A call from any other ABI is killed (KILL_PROCESS). x32
 *   shares AUDIT_ARCH_X86_64 with x86_64 and is told apart by bit 30 of the
 *   number, so x32 numbers are judged by the x32 rules only, and killed when
 *   x32 is not listed: they cannot slip past the x86_64 rules.
 * - Names are resolved per ABI; a name an ABI does not have is skipped there,
 *   a name no table knows is skipped everywhere (newer kernels, other arches).
 * - For one system call, the rules with `args` are tried in profile order and
 *   the first whose conditions all hold decides; then the first rule without
 *   `args` decides; else `defaultAction`. So "allow, but refuse arg0 == X"
 *   and "refuse, but allow arg0 == X" both work.
 * - The conditions of one rule are ANDed, except that when the same argument
 *   index appears twice in one rule they are ORed, each becoming its own rule
 *   (runc's compatibility behaviour; ANDing two EQs on one argument could
 *   never match).
 * - Arguments are compared as unsigned 64-bit values (high and low 32-bit
 *   words); for the 32-bit i386 ABI only the low word, as libseccomp does.
 * - Unless the default action lets calls through (ALLOW, LOG, TRACE), numbers
 *   above the highest one the profile names for an ABI answer ENOSYS rather
 *   than the default, as runc's patch does: a program then falls back from a
 *   syscall newer than the profile (glibc and clone3, fchmodat2, ...) instead
 *   of failing on EPERM. `{ enosysNewSyscalls: false }` turns this off.
 *
 * Shape of the program: load `arch`, dispatch on it (unknown: kill); per
 * AUDIT_ARCH load `nr` and binary-search the sorted intervals of numbers that
 * share a verdict (so ~7 compares for Docker's profile); a verdict is a `ret`,
 * or a chain of argument checks ending in `ret`s. The program is built from
 * its end backwards, so every jump target is known when the jump is written;
 * a target more than 255 instructions away is reached through a `ja`
 * trampoline (or a fresh copy of the `ret`), so no 8-bit offset overflows.
 */
import type { Seccomp, SeccompArg, SeccompSyscall } from "../../oci/runtime-spec.ts";
import { internal, invalid, notImplemented } from "../../common/errors.ts";
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  BPF_JEQ,
  BPF_JGE,
  BPF_JGT,
  BPF_MAXINSNS,
  OFF_ARCH,
  OFF_NR,
  SECCOMP_RET_ACTION_FULL,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_KILL_THREAD,
  SECCOMP_RET_LOG,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_TRAP,
  and,
  argHi,
  argLo,
  encode,
  ja,
  jmp,
  ld,
  ret,
  type Insn,
} from "./bpf.ts";
import { SYSCALLS_X32, SYSCALLS_X86, SYSCALLS_X86_64, X32_SYSCALL_BIT } from "./syscalls.generated.ts";

export interface CompileOptions {
  /** Answer ENOSYS for numbers above the highest the profile names (see above). Default true. */
  enosysNewSyscalls?: boolean;
}

const EPERM = 1;
const ENOSYS = 38;
/** The kernel clamps larger errno values to MAX_ERRNO; refuse them instead. */
const MAX_ERRNO = 4095;
const U32 = 0xffffffff;
const U64_MAX = (1n << 64n) - 1n;

/** An ABI pier can filter, and the slice of syscall numbers it owns under its AUDIT_ARCH. */
interface Abi {
  name: string;
  audit: number;
  table: Readonly<Record<string, number>>;
  lo: number;
  hi: number;
  argBits: 32 | 64;
}

const ABIS: Record<string, Abi> = {
  SCMP_ARCH_X86_64: {
    name: "SCMP_ARCH_X86_64",
    audit: AUDIT_ARCH_X86_64,
    table: SYSCALLS_X86_64,
    lo: 0,
    hi: X32_SYSCALL_BIT - 1,
    argBits: 64,
  },
  // x32 passes 64-bit registers to a 64-bit kernel, so its arguments are compared in full.
  SCMP_ARCH_X32: {
    name: "SCMP_ARCH_X32",
    audit: AUDIT_ARCH_X86_64,
    table: SYSCALLS_X32,
    lo: X32_SYSCALL_BIT,
    hi: U32,
    argBits: 64,
  },
  SCMP_ARCH_X86: {
    name: "SCMP_ARCH_X86",
    audit: AUDIT_ARCH_I386,
    table: SYSCALLS_X86,
    lo: 0,
    hi: U32,
    argBits: 32,
  },
};

/** Every architecture name the OCI runtime spec knows; the ones not in ABIS are not implemented. */
const KNOWN_ARCHES = new Set([
  ...Object.keys(ABIS),
  "SCMP_ARCH_ARM",
  "SCMP_ARCH_AARCH64",
  "SCMP_ARCH_MIPS",
  "SCMP_ARCH_MIPS64",
  "SCMP_ARCH_MIPS64N32",
  "SCMP_ARCH_MIPSEL",
  "SCMP_ARCH_MIPSEL64",
  "SCMP_ARCH_MIPSEL64N32",
  "SCMP_ARCH_PPC",
  "SCMP_ARCH_PPC64",
  "SCMP_ARCH_PPC64LE",
  "SCMP_ARCH_S390",
  "SCMP_ARCH_S390X",
  "SCMP_ARCH_PARISC",
  "SCMP_ARCH_PARISC64",
  "SCMP_ARCH_RISCV64",
  "SCMP_ARCH_LOONGARCH64",
  "SCMP_ARCH_M68K",
  "SCMP_ARCH_SH",
  "SCMP_ARCH_SHEB",
]);

const NODE_ARCHES: Record<string, string> = {
  x64: "SCMP_ARCH_X86_64",
  ia32: "SCMP_ARCH_X86",
  arm64: "SCMP_ARCH_AARCH64",
  arm: "SCMP_ARCH_ARM",
  ppc64: "SCMP_ARCH_PPC64LE",
  s390x: "SCMP_ARCH_S390X",
  riscv64: "SCMP_ARCH_RISCV64",
  loong64: "SCMP_ARCH_LOONGARCH64",
  mips: "SCMP_ARCH_MIPS",
  mipsel: "SCMP_ARCH_MIPSEL",
};

/** The SCMP_ARCH_* name of the machine this process runs on. */
export function hostSeccompArch(): string {
  return NODE_ARCHES[process.arch] ?? `SCMP_ARCH_${process.arch.toUpperCase()}`;
}

type Op = "NE" | "LT" | "LE" | "EQ" | "GE" | "GT" | "MASKED_EQ";
const OPS: Record<string, Op> = {
  SCMP_CMP_NE: "NE",
  SCMP_CMP_LT: "LT",
  SCMP_CMP_LE: "LE",
  SCMP_CMP_EQ: "EQ",
  SCMP_CMP_GE: "GE",
  SCMP_CMP_GT: "GT",
  SCMP_CMP_MASKED_EQ: "MASKED_EQ",
};

/** One argument comparison; for MASKED_EQ, `(arg & value) == datum` (OCI: value is the mask, valueTwo the datum). */
interface Cmp {
  index: number;
  op: Op;
  value: bigint;
  datum: bigint;
}

/** A profile rule after validation: `when` is a list of alternatives (ORed) of conjunctions; `[[]]` = always. */
interface Rule {
  names: readonly string[];
  action: number;
  when: Cmp[][];
}

/** What one syscall number gets: the first matching conditional rule, else `fallback`. */
interface Verdict {
  rules: { conds: Cmp[]; action: number }[];
  fallback: number;
}

type Leaf = { action: number } | { verdict: Verdict; argBits: 32 | 64 };

interface Interval {
  start: number;
  leaf: Leaf;
  key: string;
}

/**
 * Compiles `cfg` to the bytes of a `struct sock_filter[]` for the machine
 * `nativeArch` (an SCMP_ARCH_* name; default: this machine). Throws
 * InvalidArgument for malformed profiles (naming the field) and
 * NotImplemented for what pier does not support (SCMP_ACT_NOTIFY, non-x86
 * machines).
 */
export function compileSeccomp(cfg: Seccomp, nativeArch?: string, options: CompileOptions = {}): Buffer {
  if (typeof cfg !== "object" || cfg === null) throw invalid("seccomp: profile must be an object");
  if (cfg.listenerPath !== undefined && cfg.listenerPath !== "") {
    throw notImplemented("seccomp listenerPath: seccomp user notification is not supported");
  }
  const abis = selectAbis(cfg.architectures, nativeArch ?? hostSeccompArch());
  const defaultAction = parseAction(
    cfg.defaultAction,
    cfg.defaultErrnoRet,
    "defaultAction",
    "defaultErrnoRet",
  );
  if (cfg.syscalls !== undefined && !Array.isArray(cfg.syscalls))
    throw invalid("seccomp syscalls: must be a list");
  const rules = (cfg.syscalls ?? []).map((s, i) => parseRule(s, `syscalls[${i}]`));
  const enosys = (options.enosysNewSyscalls ?? true) && !letsThrough(defaultAction);

  // One block per AUDIT_ARCH value, covering all 2^32 numbers: x86_64 owns
  // [0, 2^30), x32 [2^30, 2^32); a slice whose ABI is not allowed is killed.
  const blocks: { audit: number; intervals: Interval[] }[] = [];
  for (const audit of new Set(abis.map((a) => a.audit))) {
    const slices = Object.values(ABIS).filter((a) => a.audit === audit);
    const intervals = slices
      .sort((a, b) => a.lo - b.lo)
      .flatMap((abi) =>
        abis.includes(abi)
          ? abiIntervals(abi, rules, defaultAction, enosys)
          : [interval(abi.lo, { action: SECCOMP_RET_KILL_PROCESS })],
      );
    blocks.push({ audit, intervals: merge(intervals) });
  }
  // The native ABI is dispatched first: nearly every call comes from it.
  const native = abis[0]!.audit;
  blocks.sort((a, b) => Number(b.audit === native) - Number(a.audit === native));

  const prog = new Generator().program(blocks);
  if (prog.length > BPF_MAXINSNS) {
    throw invalid(`seccomp: profile compiles to ${prog.length} BPF instructions, more than ${BPF_MAXINSNS}`);
  }
  return encode(prog);
}

function selectAbis(architectures: unknown, native: string): Abi[] {
  const nativeAbi = ABIS[native];
  if (nativeAbi === undefined) {
    if (native.startsWith("SCMP_ARCH_"))
      throw notImplemented(`seccomp: architecture ${native} is not supported`);
    throw invalid(`seccomp: unknown native architecture ${JSON.stringify(native)}`);
  }
  const out = [nativeAbi];
  if (architectures === undefined || architectures === null) return out;
  if (!Array.isArray(architectures)) throw invalid("seccomp architectures: must be a list");
  architectures.forEach((name: unknown, i) => {
    const abi = typeof name === "string" ? ABIS[name] : undefined;
    if (abi !== undefined) {
      if (!out.includes(abi)) out.push(abi);
    } else if (typeof name !== "string" || !KNOWN_ARCHES.has(name)) {
      throw invalid(`seccomp architectures[${i}]: unknown architecture ${JSON.stringify(name)}`);
    }
    // Else a known architecture of another machine (aarch64 on x86_64): it cannot occur here.
  });
  return out;
}

function parseAction(name: unknown, errnoRet: unknown, field: string, errnoField: string): number {
  const data = (max: number, fallback: number): number => {
    if (errnoRet === undefined || errnoRet === null) return fallback;
    if (typeof errnoRet !== "number" || !Number.isInteger(errnoRet) || errnoRet < 0 || errnoRet > max) {
      throw invalid(
        `seccomp ${errnoField}: must be an integer from 0 to ${max}, got ${JSON.stringify(errnoRet)}`,
      );
    }
    return errnoRet;
  };
  const noData = (action: number): number => {
    if (errnoRet !== undefined && errnoRet !== null) {
      throw invalid(
        `seccomp ${errnoField}: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take one, not ${String(name)}`,
      );
    }
    return action;
  };
  switch (name) {
    case "SCMP_ACT_KILL":
    case "SCMP_ACT_KILL_THREAD":
      return noData(SECCOMP_RET_KILL_THREAD);
    case "SCMP_ACT_KILL_PROCESS":
      return noData(SECCOMP_RET_KILL_PROCESS);
    case "SCMP_ACT_TRAP":
      return noData(SECCOMP_RET_TRAP);
    case "SCMP_ACT_ERRNO":
      return (SECCOMP_RET_ERRNO | data(MAX_ERRNO, EPERM)) >>> 0;
    case "SCMP_ACT_TRACE":
      // The tracer reads this as the event message; runc defaults it to EPERM too.
      return (SECCOMP_RET_TRACE | data(0xffff, EPERM)) >>> 0;
    case "SCMP_ACT_ALLOW":
      return noData(SECCOMP_RET_ALLOW);
    case "SCMP_ACT_LOG":
      return noData(SECCOMP_RET_LOG);
    case "SCMP_ACT_NOTIFY":
      throw notImplemented(`seccomp ${field}: SCMP_ACT_NOTIFY (user notification) is not supported`);
    default:
      throw invalid(
        `seccomp ${field}: unknown action ${JSON.stringify(name)}`,
        "use SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL(_PROCESS|_THREAD), SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG",
      );
  }
}

function letsThrough(action: number): boolean {
  const kind = (action & SECCOMP_RET_ACTION_FULL) >>> 0;
  return kind === SECCOMP_RET_ALLOW || kind === SECCOMP_RET_LOG || kind === SECCOMP_RET_TRACE;
}

function parseRule(s: SeccompSyscall, field: string): Rule {
  if (typeof s !== "object" || s === null) throw invalid(`seccomp ${field}: must be an object`);
  if (!Array.isArray(s.names) || !s.names.every((n) => typeof n === "string")) {
    throw invalid(`seccomp ${field}.names: must be a list of strings`);
  }
  const action = parseAction(s.action, s.errnoRet, `${field}.action`, `${field}.errnoRet`);
  if (s.args !== undefined && s.args !== null && !Array.isArray(s.args)) {
    throw invalid(`seccomp ${field}.args: must be a list`);
  }
  const cmps = (s.args ?? []).map((a, j) => parseArg(a, `${field}.args[${j}]`));
  const indexes = cmps.map((c) => c.index);
  const repeated = new Set(indexes).size !== indexes.length;
  return { names: s.names, action, when: repeated ? cmps.map((c) => [c]) : [cmps] };
}

function parseArg(a: SeccompArg, field: string): Cmp {
  if (typeof a !== "object" || a === null) throw invalid(`seccomp ${field}: must be an object`);
  if (typeof a.index !== "number" || !Number.isInteger(a.index) || a.index < 0 || a.index > 5) {
    throw invalid(`seccomp ${field}.index: must be 0 to 5, got ${JSON.stringify(a.index)}`);
  }
  const op = typeof a.op === "string" ? OPS[a.op] : undefined;
  if (op === undefined) {
    throw invalid(
      `seccomp ${field}.op: unknown operator ${JSON.stringify(a.op)}`,
      `use ${Object.keys(OPS).join(", ")}`,
    );
  }
  const value = u64(a.value, `${field}.value`);
  const datum = a.valueTwo === undefined ? 0n : u64(a.valueTwo, `${field}.valueTwo`);
  return { index: a.index, op, value, datum };
}

/** A profile number as an unsigned 64-bit value; negative values are taken as two's complement. */
function u64(v: unknown, field: string): bigint {
  let b: bigint;
  if (typeof v === "bigint") b = v;
  else if (typeof v === "number" && Number.isInteger(v)) b = BigInt(v);
  else throw invalid(`seccomp ${field}: must be an integer, got ${JSON.stringify(v)}`);
  if (b < -(1n << 63n) || b > U64_MAX) throw invalid(`seccomp ${field}: ${b} does not fit in 64 bits`);
  return BigInt.asUintN(64, b);
}

function interval(start: number, leaf: Leaf): Interval {
  return { start, leaf, key: leafKey(leaf) };
}

function leafKey(leaf: Leaf): string {
  if ("action" in leaf) return `ret ${leaf.action}`;
  return JSON.stringify([leaf.argBits, leaf.verdict], (_k, v: unknown) =>
    typeof v === "bigint" ? String(v) : v,
  );
}

/** The verdicts of one ABI's numbers, as sorted intervals starting at `abi.lo`. */
function abiIntervals(abi: Abi, rules: Rule[], defaultAction: number, enosys: boolean): Interval[] {
  const found = new Map<number, { rules: Verdict["rules"]; fallback: number | undefined }>();
  for (const rule of rules) {
    for (const name of rule.names) {
      if (!Object.hasOwn(abi.table, name)) continue;
      const nr = abi.table[name]!;
      let v = found.get(nr);
      if (v === undefined) found.set(nr, (v = { rules: [], fallback: undefined }));
      for (const conds of rule.when) {
        if (conds.length > 0) v.rules.push({ conds, action: rule.action });
        else v.fallback ??= rule.action;
      }
    }
  }
  const numbers = [...found.keys()].sort((a, b) => a - b);
  const last = numbers.at(-1);
  const enosysFrom = enosys && last !== undefined ? last + 1 : Infinity;
  const gap = (n: number) =>
    interval(n, { action: n >= enosysFrom ? (SECCOMP_RET_ERRNO | ENOSYS) >>> 0 : defaultAction });

  const out: Interval[] = [];
  let next = abi.lo;
  for (const nr of numbers) {
    if (nr > next) out.push(gap(next));
    const v = found.get(nr)!;
    const fallback = v.fallback ?? defaultAction;
    const conditional = v.rules.slice();
    // Trailing rules that decide the same as the fallback change nothing.
    while (conditional.length > 0 && conditional.at(-1)!.action === fallback) conditional.pop();
    const leaf: Leaf =
      conditional.length === 0
        ? { action: fallback }
        : { verdict: { rules: conditional, fallback }, argBits: abi.argBits };
    out.push(interval(nr, leaf));
    next = nr + 1;
  }
  if (next <= abi.hi) {
    out.push(gap(next));
    if (enosysFrom > next && enosysFrom <= abi.hi) out.push(gap(enosysFrom));
  }
  return out;
}

function merge(intervals: Interval[]): Interval[] {
  return intervals.filter((iv, i) => i === 0 || intervals[i - 1]!.key !== iv.key);
}

/** Where a jump goes: a `ret` of this value (shared or copied as distance requires), or an instruction. */
type Target = { action: number } | { at: number };

/**
 * Builds a program from its end backwards. `at` labels count instructions from
 * the end, so they stay valid as more is prepended; the offset of a jump
 * placed now to label L is `size - L - 1`.
 *
 * Invariant: an instruction that falls through (`ld`, `and`) is prepended
 * right after its successor (see `fallInto`); anything else a jump needs
 * (trampolines, `ret`s) is prepended before the jump itself, so it lands
 * after the jump in program order, where only jumps reach it.
 */
class Assembler {
  private readonly rev: Insn[] = [];
  private readonly rets = new Map<number, number>();

  get size(): number {
    return this.rev.length;
  }

  private emit(insn: Insn): number {
    this.rev.push(insn);
    return this.rev.length - 1;
  }

  private distance(at: number): number {
    return this.rev.length - at - 1;
  }

  /** The label of `t`, materialising a `ret` when no copy of it is comfortably within reach. */
  private place(t: Target): number {
    if ("at" in t) return t.at;
    const near = this.rets.get(t.action);
    if (near !== undefined && this.distance(near) <= 200) return near;
    const at = this.emit(ret(t.action));
    this.rets.set(t.action, at);
    return at;
  }

  /** Prepends `if (A op k) goto t else goto f`; returns its label. */
  jump(op: number, k: number, t: Target, f: Target): Target {
    if (sameTarget(t, f)) return t;
    let tAt = this.place(t);
    let fAt = this.place(f);
    // Up to two trampolines may follow; keep room so neither pushes the other past 255.
    if (this.distance(tAt) > 253) tAt = this.emit(ja(this.distance(tAt)));
    if (this.distance(fAt) > 254) fAt = this.emit(ja(this.distance(fAt)));
    const jt = this.distance(tAt);
    const jf = this.distance(fAt);
    if (jt > 255 || jf > 255) throw internal(`seccomp: jump offsets ${jt}/${jf} exceed 255`);
    return { at: this.emit(jmp(op, k >>> 0, jt, jf)) };
  }

  /** Makes `t` the instruction that the next prepended one falls through to. */
  fallInto(t: Target): void {
    const at = this.place(t);
    if (at !== this.rev.length - 1) this.emit(ja(this.distance(at)));
  }

  /** Prepends `insn` falling through to `t`. An `ld` or `and` before a bare `ret` is useless: skipped. */
  before(insn: Insn, t: Target): Target {
    if ("action" in t) return t;
    this.fallInto(t);
    return { at: this.emit(insn) };
  }

  finish(entry: Target): Insn[] {
    this.fallInto(entry);
    return this.rev.slice().reverse();
  }
}

function sameTarget(a: Target, b: Target): boolean {
  return "action" in a ? "action" in b && a.action === b.action : "at" in b && a.at === b.at;
}

class Generator {
  private readonly asm = new Assembler();
  private readonly leaves = new Map<string, Target>();

  program(blocks: { audit: number; intervals: Interval[] }[]): Insn[] {
    const entries = [...blocks].reverse().map((b) => ({ audit: b.audit, entry: this.block(b.intervals) }));
    let dispatch: Target = { action: SECCOMP_RET_KILL_PROCESS };
    for (const { audit, entry } of entries) dispatch = this.asm.jump(BPF_JEQ, audit, entry, dispatch);
    return this.asm.finish(this.asm.before(ld(OFF_ARCH), dispatch));
  }

  private block(intervals: Interval[]): Target {
    return this.asm.before(ld(OFF_NR), this.search(intervals, 0, intervals.length));
  }

  /** Binary search over intervals[lo, hi) with the syscall number in A. */
  private search(iv: Interval[], lo: number, hi: number): Target {
    if (hi - lo === 1) return this.leaf(iv[lo]!);
    const mid = (lo + hi) >>> 1;
    const above = this.search(iv, mid, hi);
    const below = this.search(iv, lo, mid);
    return this.asm.jump(BPF_JGE, iv[mid]!.start, above, below);
  }

  private leaf(iv: Interval): Target {
    if ("action" in iv.leaf) return { action: iv.leaf.action };
    const cached = this.leaves.get(iv.key);
    if (cached !== undefined) return cached;
    const { verdict, argBits } = iv.leaf;
    let next: Target = { action: verdict.fallback };
    for (const rule of verdict.rules.slice().reverse()) {
      let t: Target = { action: rule.action };
      for (const c of rule.conds.slice().reverse()) t = this.compare(c, argBits, t, next);
      next = t;
    }
    this.leaves.set(iv.key, next);
    return next;
  }

  /** Code that goes to `yes` when comparison `c` holds for the call's argument, else to `no`. */
  private compare(c: Cmp, argBits: 32 | 64, yes: Target, no: Target): Target {
    const a = this.asm;
    const vLo = Number(c.value & 0xffffffffn);
    const vHi = Number(c.value >> 32n);
    const lo = argLo(c.index);
    const hi = argHi(c.index);
    const word = (off: number, op: number, k: number, t: Target, f: Target) =>
      a.before(ld(off), a.jump(op, k, t, f));
    const wide = argBits === 64;

    // Orderings: decide on the high word unless it equals vHi, then on the low word.
    const ordered = (loOp: number, loYes: Target, loNo: Target, hiAbove: Target, hiBelow: Target): Target => {
      const low = word(lo, loOp, vLo, loYes, loNo);
      if (!wide) return low;
      // After "hi > vHi" fails, hi <= vHi; when vHi is 0 that already means hi == vHi.
      const equal = vHi === 0 ? low : a.jump(BPF_JEQ, vHi, low, hiBelow);
      return a.before(ld(hi), a.jump(BPF_JGT, vHi, hiAbove, equal));
    };

    switch (c.op) {
      case "EQ":
      case "NE": {
        const [t, f] = c.op === "EQ" ? [yes, no] : [no, yes];
        const low = word(lo, BPF_JEQ, vLo, t, f);
        return wide ? word(hi, BPF_JEQ, vHi, low, f) : low;
      }
      case "GT":
        return ordered(BPF_JGT, yes, no, yes, no);
      case "GE":
        return ordered(BPF_JGE, yes, no, yes, no);
      case "LT": // not GE
        return ordered(BPF_JGE, no, yes, no, yes);
      case "LE": // not GT
        return ordered(BPF_JGT, no, yes, no, yes);
      case "MASKED_EQ": {
        const masked = (off: number, mask: number, datum: number, t: Target, f: Target): Target => {
          if (mask === 0) return datum === 0 ? t : f;
          const test = a.jump(BPF_JEQ, datum, t, f);
          return a.before(ld(off), mask === U32 ? test : a.before(and(mask), test));
        };
        const mLo = Number(c.value & 0xffffffffn);
        const mHi = Number(c.value >> 32n);
        const dLo = Number(c.datum & 0xffffffffn);
        const dHi = Number(c.datum >> 32n);
        const low = masked(lo, mLo, dLo, yes, no);
        return wide ? masked(hi, mHi, dHi, low, no) : low;
      }
    }
  }
}
