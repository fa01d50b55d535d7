import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Seccomp, SeccompArg, SeccompSyscall } from "../../oci/runtime-spec.ts";
import { isKind } from "../../common/errors.ts";
import { compileSeccomp, type CompileOptions } from "./compile.ts";
import { defaultSeccompProfile, DEFAULT_ALLOWED_SYSCALLS } from "./default-profile.ts";
import { seccompFilterFlags } from "./flags.ts";
import {
  AUDIT_ARCH_I386,
  AUDIT_ARCH_X86_64,
  BPF_JMP,
  BPF_MAXINSNS,
  decode,
  disassemble,
  runFilter,
} from "./bpf.ts";
import { SYSCALLS_X32, SYSCALLS_X86, SYSCALLS_X86_64 } from "./syscalls.generated.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

// ---------------------------------------------------------------------------
// A reference model of the policy, written for clarity rather than speed; the
// compiled BPF, run in the interpreter, must agree with it everywhere.

const KILL_PROCESS = 0x80000000;
const KILL_THREAD = 0;
const TRAP = 0x00030000;
const ERRNO = 0x00050000;
const TRACE = 0x7ff00000;
const LOG = 0x7ffc0000;
const ALLOW = 0x7fff0000;
const errno = (e: number) => ERRNO + e;
const EPERM = errno(1);
const ENOSYS = errno(38);
const X32_BIT = 0x40000000;
const M32 = 0xffffffffn;

interface RefAbi {
  scmp: string;
  audit: number;
  table: Readonly<Record<string, number>>;
  bits: 32 | 64;
}
const X86_64: RefAbi = {
  scmp: "SCMP_ARCH_X86_64",
  audit: AUDIT_ARCH_X86_64,
  table: SYSCALLS_X86_64,
  bits: 64,
};
const X32: RefAbi = { scmp: "SCMP_ARCH_X32", audit: AUDIT_ARCH_X86_64, table: SYSCALLS_X32, bits: 64 };
const X86: RefAbi = { scmp: "SCMP_ARCH_X86", audit: AUDIT_ARCH_I386, table: SYSCALLS_X86, bits: 32 };

function refAction(name: string, errnoRet: number | undefined): number {
  const actions: Record<string, number> = {
    SCMP_ACT_KILL: KILL_THREAD,
    SCMP_ACT_KILL_THREAD: KILL_THREAD,
    SCMP_ACT_KILL_PROCESS: KILL_PROCESS,
    SCMP_ACT_TRAP: TRAP,
    SCMP_ACT_ERRNO: ERRNO + (errnoRet ?? 1),
    SCMP_ACT_TRACE: TRACE + (errnoRet ?? 1),
    SCMP_ACT_ALLOW: ALLOW,
    SCMP_ACT_LOG: LOG,
  };
  const v = actions[name];
  if (v === undefined) throw new Error(`no action ${name}`);
  return v;
}

function refHolds(c: SeccompArg, args: readonly bigint[], bits: 32 | 64): boolean {
  const cut = (v: bigint) => (bits === 32 ? v & M32 : BigInt.asUintN(64, v));
  const a = cut(args[c.index] ?? 0n);
  const v = cut(BigInt(c.value));
  const d = cut(BigInt(c.valueTwo ?? 0));
  switch (c.op) {
    case "SCMP_CMP_EQ":
      return a === v;
    case "SCMP_CMP_NE":
      return a !== v;
    case "SCMP_CMP_LT":
      return a < v;
    case "SCMP_CMP_LE":
      return a <= v;
    case "SCMP_CMP_GT":
      return a > v;
    case "SCMP_CMP_GE":
      return a >= v;
    case "SCMP_CMP_MASKED_EQ":
      return (a & v) === d;
  }
  throw new Error(`no op ${c.op}`);
}

function reference(cfg: Seccomp, arch: number, nr: number, args: readonly bigint[], enosys = true): number {
  let abi: RefAbi;
  if (arch === AUDIT_ARCH_X86_64) abi = nr >= X32_BIT ? X32 : X86_64;
  else if (arch === AUDIT_ARCH_I386) abi = X86;
  else return KILL_PROCESS;
  const listed = new Set(["SCMP_ARCH_X86_64", ...(cfg.architectures ?? [])]);
  if (!listed.has(abi.scmp)) return KILL_PROCESS;
  const def = refAction(cfg.defaultAction, cfg.defaultErrnoRet);
  let unconditional: number | undefined;
  let highest = -1;
  for (const rule of cfg.syscalls ?? []) {
    for (const name of rule.names) {
      if (!Object.hasOwn(abi.table, name)) continue;
      const n = abi.table[name]!;
      highest = Math.max(highest, n);
      if (n !== nr) continue;
      const conds = rule.args ?? [];
      if (conds.length === 0) {
        unconditional ??= refAction(rule.action, rule.errnoRet);
        continue;
      }
      const sameIndexTwice = new Set(conds.map((c) => c.index)).size !== conds.length;
      const holds = sameIndexTwice
        ? conds.some((c) => refHolds(c, args, abi.bits))
        : conds.every((c) => refHolds(c, args, abi.bits));
      if (holds) return refAction(rule.action, rule.errnoRet);
    }
  }
  if (unconditional !== undefined) return unconditional;
  const permissive = def === ALLOW || def === LOG || (def & 0xffff0000) === TRACE;
  if (enosys && !permissive && highest >= 0 && nr > highest) return ENOSYS;
  return def;
}

/** Deterministic pseudo-random numbers (mulberry32), so failures reproduce. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rand64 = (r: () => number) =>
  (BigInt(Math.floor(r() * 2 ** 32)) << 32n) | BigInt(Math.floor(r() * 2 ** 32));

/** Values around each given one, in both words: where comparisons go wrong. */
function probesAround(values: readonly bigint[], r: () => number): bigint[] {
  const out = new Set<bigint>([0n, 1n, M32, M32 + 1n, (1n << 64n) - 1n, 1n << 63n]);
  for (const v of values) {
    for (const d of [-1n, 0n, 1n]) {
      out.add(BigInt.asUintN(64, v + d));
      out.add(BigInt.asUintN(64, v + (d << 32n))); // high word moves, low word stays
      out.add(BigInt.asUintN(64, (v & M32) + d));
    }
  }
  for (let i = 0; i < 8; i++) out.add(rand64(r));
  return [...out];
}

function assertAgrees(
  cfg: Seccomp,
  filter: Buffer,
  cases: Iterable<[number, number, bigint[]]>,
  opts?: CompileOptions,
) {
  const prog = decode(filter);
  let n = 0;
  for (const [arch, nr, args] of cases) {
    const got = runFilter(prog, { arch, nr, args });
    const want = reference(cfg, arch, nr, args, opts?.enosysNewSyscalls ?? true);
    if (got !== want) {
      assert.fail(
        `arch 0x${arch.toString(16)} nr 0x${nr.toString(16)} args [${args.map((a) => "0x" + a.toString(16))}]: ` +
          `filter says 0x${got.toString(16)}, policy says 0x${want.toString(16)}`,
      );
    }
    n++;
  }
  assert.ok(n > 0);
}

/** Every number each ABI knows, a few it does not, and the edges of the x32 range. */
function* everyCall(args: bigint[][] = [[]]): Generator<[number, number, bigint[]]> {
  const extra = [0x1ff, 470, 1000, 0x3fffffff, 0x40000000 + 1000, 0x7fffffff, 0xfffffffe, 0xffffffff];
  for (const abi of [X86_64, X32, X86]) {
    const nrs = new Set([...Object.values(abi.table), ...extra]);
    for (const nr of nrs) for (const a of args) yield [abi.audit, nr, a];
  }
  for (const a of args) yield [0x40000028 /* AUDIT_ARCH_ARM */, 20, a];
}

function expectError(fn: () => unknown, kind: "InvalidArgument" | "NotImplemented", text: RegExp) {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isKind(err, kind), `expected ${kind}, got ${String(err)}`);
    assert.match((err as Error).message, text);
    return true;
  });
}

// ---------------------------------------------------------------------------

describe("compileSeccomp: encoding", () => {
  test("writes struct sock_filter little-endian: u16 code, u8 jt, u8 jf, u32 k", () => {
    const f = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" }, "SCMP_ARCH_X86_64");
    assert.equal(f.length % 8, 0);
    // ld [4] (the arch), then jeq #AUDIT_ARCH_X86_64 jt +JT jf +JF.
    assert.deepEqual([...f.subarray(0, 8)], [0x20, 0x00, 0, 0, 0x04, 0x00, 0x00, 0x00]);
    assert.deepEqual([...f.subarray(8, 16)], [0x15, 0x00, f[10], f[11], 0x3e, 0x00, 0x00, 0xc0]);
    assert.deepEqual(decode(f)[1], { code: 0x15, jt: f[10], jf: f[11], k: 0xc000003e });
  });

  test("a small profile compiles to the expected program", () => {
    const f = compileSeccomp(
      {
        defaultAction: "SCMP_ACT_ALLOW",
        syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }],
      },
      "SCMP_ARCH_X86_64",
    );
    assert.equal(
      disassemble(f),
      [
        "0000: ld  [4]",
        "0001: jeq  #0xc000003e jt 2 jf 8",
        "0002: ld  [0]",
        "0003: jge  #0x00000028 jt 6 jf 4",
        "0004: jge  #0x00000027 jt 5 jf 7",
        "0005: ret #0x00050026",
        "0006: jge  #0x40000000 jt 8 jf 7", // x32 numbers: x32 is not listed, so kill
        "0007: ret #0x7fff0000",
        "0008: ret #0x80000000",
      ].join("\n"),
    );
  });

  test("maps every action", () => {
    const cases: [SeccompSyscall, number][] = [
      [{ names: ["getpid"], action: "SCMP_ACT_KILL" }, KILL_THREAD],
      [{ names: ["getpid"], action: "SCMP_ACT_KILL_THREAD" }, KILL_THREAD],
      [{ names: ["getpid"], action: "SCMP_ACT_KILL_PROCESS" }, KILL_PROCESS],
      [{ names: ["getpid"], action: "SCMP_ACT_TRAP" }, TRAP],
      [{ names: ["getpid"], action: "SCMP_ACT_ERRNO" }, EPERM],
      [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 0 }, errno(0)],
      [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 4095 }, errno(4095)],
      [{ names: ["getpid"], action: "SCMP_ACT_TRACE" }, TRACE + 1],
      [{ names: ["getpid"], action: "SCMP_ACT_TRACE", errnoRet: 77 }, TRACE + 77],
      [{ names: ["getpid"], action: "SCMP_ACT_LOG" }, LOG],
      [{ names: ["getpid"], action: "SCMP_ACT_ALLOW" }, ALLOW],
    ];
    for (const [rule, want] of cases) {
      const f = compileSeccomp(
        { defaultAction: "SCMP_ACT_KILL_PROCESS", syscalls: [rule] },
        "SCMP_ARCH_X86_64",
      );
      assert.equal(runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 39 }), want, JSON.stringify(rule));
    }
    const d = compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", defaultErrnoRet: 13 }, "SCMP_ARCH_X86_64");
    assert.equal(runFilter(d, { arch: AUDIT_ARCH_X86_64, nr: 39 }), errno(13));
  });

  test("refuses what it does not know, naming the field", () => {
    const one = (s: Partial<SeccompSyscall>): Seccomp => ({
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["read"], action: "SCMP_ACT_ALLOW" },
        { names: ["getpid"], action: "SCMP_ACT_ALLOW", ...s },
      ],
    });
    const x = "SCMP_ARCH_X86_64";
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_NOPE" }, x),
      "InvalidArgument",
      /defaultAction.*NOPE/,
    );
    expectError(
      () => compileSeccomp(one({ action: "ALLOW" }), x),
      "InvalidArgument",
      /syscalls\[1\]\.action.*"ALLOW"/,
    );
    expectError(
      () => compileSeccomp(one({ action: "SCMP_ACT_NOTIFY" }), x),
      "NotImplemented",
      /SCMP_ACT_NOTIFY/,
    );
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_NOTIFY" }, x),
      "NotImplemented",
      /defaultAction.*SCMP_ACT_NOTIFY/,
    );
    const arg = (a: Partial<SeccompArg>) => one({ args: [{ index: 0, value: 1, op: "SCMP_CMP_EQ", ...a }] });
    expectError(
      () => compileSeccomp(arg({ op: "SCMP_CMP_XX" }), x),
      "InvalidArgument",
      /args\[0\]\.op.*SCMP_CMP_XX/,
    );
    expectError(() => compileSeccomp(arg({ index: 6 }), x), "InvalidArgument", /args\[0\]\.index/);
    expectError(() => compileSeccomp(arg({ value: 1.5 }), x), "InvalidArgument", /args\[0\]\.value/);
    expectError(
      () => compileSeccomp(arg({ value: 2 ** 64 }), x),
      "InvalidArgument",
      /args\[0\]\.value.*64 bits/,
    );
    expectError(
      () => compileSeccomp(one({ action: "SCMP_ACT_ERRNO", errnoRet: 4096 }), x),
      "InvalidArgument",
      /errnoRet/,
    );
    expectError(() => compileSeccomp(one({ errnoRet: 1 }), x), "InvalidArgument", /syscalls\[1\]\.errnoRet/);
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_Z80"] }, x),
      "InvalidArgument",
      /architectures\[0\].*Z80/,
    );
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW" }, "SCMP_ARCH_AARCH64"),
      "NotImplemented",
      /SCMP_ARCH_AARCH64/,
    );
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", listenerPath: "/run/x.sock" }, x),
      "NotImplemented",
      /listenerPath/,
    );
  });

  test("skips unknown syscall names and other machines' architectures", () => {
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"],
      syscalls: [{ names: ["no_such_syscall", "toString", "__proto__", "getpid"], action: "SCMP_ACT_ALLOW" }],
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    assert.equal(runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 39 }), ALLOW);
    assert.equal(runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 38 }), EPERM);
  });

  test("negative values are two's complement", () => {
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        { names: ["getpid"], action: "SCMP_ACT_ERRNO", args: [{ index: 2, value: -1, op: "SCMP_CMP_EQ" }] },
      ],
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    assert.equal(runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 39, args: [0n, 0n, (1n << 64n) - 1n] }), EPERM);
    assert.equal(runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 39, args: [0n, 0n, M32] }), ALLOW);
  });

  test("seccompFilterFlags", () => {
    assert.equal(seccompFilterFlags({}), 0);
    assert.equal(
      seccompFilterFlags({ flags: ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"] }),
      5,
    );
    expectError(
      () => seccompFilterFlags({ flags: ["SECCOMP_FILTER_FLAG_X"] }),
      "InvalidArgument",
      /flags\[0\]/,
    );
    expectError(
      () => seccompFilterFlags({ flags: ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"] }),
      "NotImplemented",
      /WAIT_KILLABLE_RECV/,
    );
  });
});

describe("compileSeccomp: policy", () => {
  test("architectures: unlisted ABIs are killed; x32 numbers never reach the x86_64 rules", () => {
    const rules: SeccompSyscall[] = [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 7 }];
    const only64 = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: rules }, "SCMP_ARCH_X86_64");
    assert.equal(runFilter(only64, { arch: AUDIT_ARCH_X86_64, nr: 39 }), errno(7));
    assert.equal(runFilter(only64, { arch: AUDIT_ARCH_X86_64, nr: 39 | X32_BIT }), KILL_PROCESS);
    assert.equal(runFilter(only64, { arch: AUDIT_ARCH_X86_64, nr: 0xffffffff }), KILL_PROCESS);
    assert.equal(runFilter(only64, { arch: AUDIT_ARCH_I386, nr: 20 }), KILL_PROCESS);
    assert.equal(runFilter(only64, { arch: 0xc00000b7 /* aarch64 */, nr: 39 }), KILL_PROCESS);

    const all = compileSeccomp(
      { defaultAction: "SCMP_ACT_ALLOW", architectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"], syscalls: rules },
      "SCMP_ARCH_X86_64",
    );
    assert.equal(runFilter(all, { arch: AUDIT_ARCH_X86_64, nr: 39 | X32_BIT }), errno(7));
    assert.equal(runFilter(all, { arch: AUDIT_ARCH_X86_64, nr: 40 | X32_BIT }), ALLOW);
    assert.equal(runFilter(all, { arch: AUDIT_ARCH_I386, nr: 20 }), errno(7));
    assert.equal(runFilter(all, { arch: AUDIT_ARCH_I386, nr: 39 }), ALLOW); // i386 39 is mkdir

    // x32 alone (without x86_64 listed) still cannot use x86_64 numbers on an x86_64 host: the native ABI is always in.
    const native32 = compileSeccomp({ defaultAction: "SCMP_ACT_ALLOW", syscalls: rules }, "SCMP_ARCH_X86");
    assert.equal(runFilter(native32, { arch: AUDIT_ARCH_I386, nr: 20 }), errno(7));
    assert.equal(runFilter(native32, { arch: AUDIT_ARCH_X86_64, nr: 39 }), KILL_PROCESS);
  });

  test("rules for one syscall: conditions first in order, then the first unconditional rule", () => {
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [
        { names: ["personality"], action: "SCMP_ACT_ALLOW" },
        // Decides the same as the fallback, but first: 7 is allowed although 7 > 4.
        {
          names: ["personality"],
          action: "SCMP_ACT_ALLOW",
          args: [{ index: 0, value: 7, op: "SCMP_CMP_EQ" }],
        },
        {
          names: ["personality"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 5,
          args: [{ index: 0, value: 5, op: "SCMP_CMP_EQ" }],
        },
        {
          names: ["personality"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 6,
          args: [{ index: 0, value: 4, op: "SCMP_CMP_GT" }],
        },
        { names: ["personality"], action: "SCMP_ACT_TRAP" }, // shadowed by the first unconditional rule
        // Two conditions on different arguments: AND.
        {
          names: ["getpid"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 1, op: "SCMP_CMP_EQ" },
            { index: 1, value: 2, op: "SCMP_CMP_EQ" },
          ],
        },
        // The same argument twice: OR (runc).
        {
          names: ["getppid"],
          action: "SCMP_ACT_ALLOW",
          args: [
            { index: 0, value: 1, op: "SCMP_CMP_EQ" },
            { index: 0, value: 2, op: "SCMP_CMP_EQ" },
          ],
        },
      ],
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    const run = (nr: number, ...args: bigint[]) => runFilter(f, { arch: AUDIT_ARCH_X86_64, nr, args });
    assert.equal(run(135, 0n), ALLOW);
    assert.equal(run(135, 5n), errno(5));
    assert.equal(run(135, 9n), errno(6));
    assert.equal(run(135, 7n), ALLOW);
    assert.equal(run(39, 1n, 2n), ALLOW);
    assert.equal(run(39, 1n, 3n), EPERM);
    assert.equal(run(39, 2n, 2n), EPERM);
    assert.equal(run(110, 1n), ALLOW);
    assert.equal(run(110, 2n), ALLOW);
    assert.equal(run(110, 3n), EPERM);
    assertAgrees(cfg, f, everyCall([[0n], [5n], [7n], [9n], [1n, 2n], [2n, 2n], [1n, 3n]]));
  });

  test("64-bit comparisons, every operator, both word sizes, against the model", () => {
    const r = rng(42);
    const ops = ["EQ", "NE", "LT", "LE", "GE", "GT", "MASKED_EQ"];
    const values = [0n, 1n, 5n, M32, M32 + 1n, 0x1_00000005n, 0x7fff_ffff_0000_0000n, 0x0012_3456_789a_bcdfn];
    // One syscall per (operator, value), so no rule shadows another; values on arguments 0..5.
    const common = Object.keys(SYSCALLS_X86_64).filter(
      (n) => Object.hasOwn(X32.table, n) && Object.hasOwn(X86.table, n),
    );
    const rules: SeccompSyscall[] = [];
    ops.forEach((op, i) => {
      values.forEach((v, j) => {
        const arg: SeccompArg = { index: (i + j) % 6, value: Number(v), op: `SCMP_CMP_${op}` };
        if (op === "MASKED_EQ") arg.valueTwo = Number(v & 0x00ff_0000_0000_fff5n);
        assert.equal(BigInt(arg.value), v, "test values must be exact doubles");
        const name = common[i * values.length + j]!;
        rules.push({ names: [name], action: "SCMP_ACT_ERRNO", errnoRet: 100 + j, args: [arg] });
      });
    });
    // A datum with bits outside the mask, in either word, never matches.
    const outside: [number, number][] = [
      [0xff, 0x1_00000005],
      [0xff_00000000, 0x5],
    ];
    for (const [value, valueTwo] of outside) {
      const name = common[rules.length]!;
      rules.push({
        names: [name],
        action: "SCMP_ACT_ERRNO",
        args: [{ index: 0, value, valueTwo, op: "SCMP_CMP_MASKED_EQ" }],
      });
    }
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: rules,
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    const probes = probesAround(values, r);
    function* cases(): Generator<[number, number, bigint[]]> {
      for (const abi of [X86_64, X32, X86]) {
        for (const rule of rules) {
          const nr = abi.table[rule.names[0]!]!;
          const at = rule.args![0]!.index;
          for (const p of probes)
            yield [abi.audit, nr, [0, 1, 2, 3, 4, 5].map((k) => (k === at ? p : rand64(r)))];
        }
      }
    }
    assertAgrees(cfg, f, cases());
  });

  test("the high word decides: GT 0x1_00000000 is not fooled by a large low word", () => {
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        {
          names: ["getpid"],
          action: "SCMP_ACT_ERRNO",
          args: [{ index: 0, value: 0x1_00000000, op: "SCMP_CMP_GT" }],
        },
      ],
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    const run = (a: bigint) => runFilter(f, { arch: AUDIT_ARCH_X86_64, nr: 39, args: [a] });
    assert.equal(run(0xffff_ffffn), ALLOW);
    assert.equal(run(0x1_0000_0000n), ALLOW);
    assert.equal(run(0x1_0000_0001n), EPERM);
    assert.equal(run(0x2_0000_0000n), EPERM);
  });

  test("ENOSYS for numbers above the profile's highest, unless the default lets calls through", () => {
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      syscalls: [{ names: ["read", "openat2"], action: "SCMP_ACT_ALLOW" }],
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    const run = (nr: number) => runFilter(f, { arch: AUDIT_ARCH_X86_64, nr });
    assert.equal(run(0), ALLOW);
    assert.equal(run(437), ALLOW);
    assert.equal(run(436), EPERM);
    assert.equal(run(438), ENOSYS);
    assert.equal(run(X32_BIT - 1), ENOSYS);
    const off = compileSeccomp(cfg, "SCMP_ARCH_X86_64", { enosysNewSyscalls: false });
    assert.equal(runFilter(off, { arch: AUDIT_ARCH_X86_64, nr: 438 }), EPERM);
    const log = compileSeccomp({ ...cfg, defaultAction: "SCMP_ACT_LOG" }, "SCMP_ARCH_X86_64");
    assert.equal(runFilter(log, { arch: AUDIT_ARCH_X86_64, nr: 438 }), LOG);
  });

  test("long programs: no jump offset overflows, every verdict still right", () => {
    // Every syscall of every ABI gets conditional rules with its own values and actions,
    // so leaves are large and far from the search tree that jumps to them.
    const actions = ["SCMP_ACT_ALLOW", "SCMP_ACT_TRAP", "SCMP_ACT_LOG", "SCMP_ACT_KILL_PROCESS"];
    const names = [...new Set([...Object.keys(SYSCALLS_X86_64), ...Object.keys(SYSCALLS_X86)])].sort();
    const rules: SeccompSyscall[] = names.map((name, i) => ({
      names: [name],
      action: actions[i % actions.length]!,
      args: [{ index: i % 6, value: i * 0x1_0000_0001 + 3, op: i % 3 === 0 ? "SCMP_CMP_GT" : "SCMP_CMP_EQ" }],
    }));
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ERRNO",
      architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
      syscalls: rules,
    };
    const f = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
    const prog = decode(f);
    assert.ok(prog.length > 1000 && prog.length <= BPF_MAXINSNS, `${prog.length} instructions`);
    assert.ok(
      prog.some((i) => i.code === BPF_JMP && i.k > 255),
      "expected long `ja` trampolines in a program this size",
    );
    const args = names.map((_n, i) => {
      const v = BigInt(i * 0x1_0000_0001 + 3);
      return [0, 1, 2, 3, 4, 5].map((k) => (k === i % 6 ? v : 0n));
    });
    const bump = args.map((a) => a.map((v) => v + 1n));
    assertAgrees(cfg, f, everyCall([[], ...args.slice(0, 6), ...bump.slice(0, 6)]));
    // The full cross product is large; check each syscall with its own values.
    for (const abi of [X86_64, X32, X86]) {
      names.forEach((name, i) => {
        if (!Object.hasOwn(abi.table, name)) return;
        const nr = abi.table[name]!;
        assertAgrees(cfg, f, [
          [abi.audit, nr, args[i]!],
          [abi.audit, nr, bump[i]!],
          [abi.audit, nr, []],
        ]);
      });
    }
  });

  test("refuses programs longer than BPF_MAXINSNS", () => {
    const rules: SeccompSyscall[] = [];
    for (let i = 0; i < 1200; i++) {
      rules.push({
        names: ["getpid"],
        action: "SCMP_ACT_ALLOW",
        args: [{ index: 0, value: i * 2 ** 32 + i, op: "SCMP_CMP_EQ" }],
      });
    }
    expectError(
      () => compileSeccomp({ defaultAction: "SCMP_ACT_ERRNO", syscalls: rules }, "SCMP_ARCH_X86_64"),
      "InvalidArgument",
      /4096/,
    );
  });
});

describe("defaultSeccompProfile", () => {
  const cfg = defaultSeccompProfile();
  const filter = compileSeccomp(cfg, "SCMP_ARCH_X86_64");
  const x64 = (name: string, ...args: bigint[]) =>
    runFilter(filter, { arch: AUDIT_ARCH_X86_64, nr: SYSCALLS_X86_64[name]!, args });

  test("is small, and a fresh copy each call", () => {
    assert.ok(decode(filter).length < 600, `${decode(filter).length} instructions`);
    const a = defaultSeccompProfile();
    a.syscalls!.length = 0;
    assert.ok(defaultSeccompProfile().syscalls!.length > 0);
    assert.equal(new Set(DEFAULT_ALLOWED_SYSCALLS).size, DEFAULT_ALLOWED_SYSCALLS.length);
    const known = DEFAULT_ALLOWED_SYSCALLS.filter((n) =>
      [X86_64, X86, X32].some((abi) => Object.hasOwn(abi.table, n)),
    );
    assert.ok(known.length > 300, `${known.length} known names`);
  });

  test("allows ordinary work and refuses what Docker refuses", () => {
    for (const name of [
      "read",
      "write",
      "openat",
      "mmap",
      "execve",
      "exit_group",
      "futex",
      "rt_sigreturn",
      "wait4",
      "chroot",
      "ptrace",
    ]) {
      assert.equal(x64(name), ALLOW, name);
    }
    const refused = [
      "mount",
      "umount2",
      "unshare",
      "setns",
      "reboot",
      "swapon",
      "swapoff",
      "kexec_load",
      "kexec_file_load",
      "init_module",
      "finit_module",
      "delete_module",
      "bpf",
      "perf_event_open",
      "keyctl",
      "add_key",
      "request_key",
      "clock_settime",
      "settimeofday",
      "acct",
      "pivot_root",
      "open_by_handle_at",
      "userfaultfd",
      "move_pages",
      "io_uring_setup",
      "fsopen",
      "open_tree",
      "sethostname",
      "syslog",
      "iopl",
      "ioperm",
      "mbind",
      "kcmp",
      "vhangup",
      "quotactl",
      "lookup_dcookie",
      "fanotify_init",
      "process_madvise",
      "pidfd_getfd",
      "create_module",
      "nfsservctl",
    ];
    for (const name of refused) assert.equal(x64(name), EPERM, name);
  });

  test("clone without namespace flags; clone3 answers ENOSYS", () => {
    const SIGCHLD = 17n;
    assert.equal(x64("clone", SIGCHLD), ALLOW);
    assert.equal(x64("clone", 0x3d0f00n /* pthread_create's flags */), ALLOW);
    for (const ns of [
      0x20000n,
      0x02000000n,
      0x04000000n,
      0x08000000n,
      0x10000000n,
      0x20000000n,
      0x40000000n,
    ]) {
      assert.equal(x64("clone", SIGCHLD | ns), EPERM, `0x${ns.toString(16)}`);
    }
    assert.equal(x64("clone3"), ENOSYS);
    assert.equal(
      runFilter(filter, { arch: AUDIT_ARCH_I386, nr: SYSCALLS_X86["clone"]!, args: [0x20000n] }),
      EPERM,
    );
  });

  test("personality only with the safe values; socket except AF_VSOCK", () => {
    for (const v of [0n, 8n, 0x20000n, 0x20008n, 0xffffffffn]) assert.equal(x64("personality", v), ALLOW);
    for (const v of [0x40000n /* ADDR_NO_RANDOMIZE */, 0x1_00000000n, 0xffffffff_ffffffffn, 9n]) {
      assert.equal(x64("personality", v), EPERM, `0x${v.toString(16)}`);
    }
    assert.equal(x64("socket", 1n), ALLOW);
    assert.equal(x64("socket", 40n), EPERM);
  });

  test("agrees with the model on every number of every ABI", () => {
    const args = [[], [17n], [0x20011n], [0x40000n], [0xffffffffn], [40n], [0x1_00000000n], [8n]];
    assertAgrees(cfg, filter, everyCall(args));
  });
});

// ---------------------------------------------------------------------------
// Real kernel: install the filters with native/tools/seccomp-run and watch.

const PROBE_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* i386 system call from a 64-bit process: the kernel reports AUDIT_ARCH_I386. */
static long int80(unsigned long nr, const unsigned long *a)
{
	long ret;
	__asm__ volatile("int $0x80"
			 : "=a"(ret)
			 : "a"(nr), "b"(a[0]), "c"(a[1]), "d"(a[2]), "S"(a[3]), "D"(a[4])
			 : "memory", "r8", "r9", "r10", "r11");
	int r = (int)ret;
	if (r < 0 && r > -4096) {
		errno = -r;
		return -1;
	}
	return r;
}

/* probe ABI:NR[:ARG...]... with ABI x64, x32, i386; or fork:FLAGS (raw clone, child exits).
 * Prints "RET ERRNO" per call. */
int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IONBF, 0);
	for (int i = 1; i < argc; i++) {
		char *abi = strtok(argv[i], ":");
		unsigned long v[7] = { 0 };
		char *tok;
		for (int n = 0; n < 7 && (tok = strtok(NULL, ":")) != NULL; n++)
			v[n] = strtoul(tok, NULL, 0);
		long ret;
		errno = 0;
		if (strcmp(abi, "x64") == 0) {
			ret = syscall((long)v[0], v[1], v[2], v[3], v[4], v[5], v[6]);
		} else if (strcmp(abi, "x32") == 0) {
			ret = syscall((long)(v[0] | 0x40000000UL), v[1], v[2], v[3], v[4], v[5], v[6]);
		} else if (strcmp(abi, "i386") == 0) {
			ret = int80(v[0], v + 1);
		} else if (strcmp(abi, "fork") == 0) {
			ret = syscall(SYS_clone, v[0] | SIGCHLD, 0UL, 0UL, 0UL, 0UL);
			if (ret == 0)
				_exit(0);
			if (ret > 0)
				waitpid((pid_t)ret, NULL, __WALL);
		} else {
			fprintf(stderr, "probe: bad abi %s\n", abi);
			return 2;
		}
		printf("%ld %d\n", ret, ret == -1 ? errno : 0);
	}
	return 0;
}
`;

function kernelSkipReason(): string | false {
  if (process.platform !== "linux" || process.arch !== "x64") return "needs Linux on x86_64";
  if (process.getuid?.() !== 0) return "needs root (unshare/mount controls)";
  if (!existsSync("/bin/busybox")) return "needs /bin/busybox";
  if (spawnSync("gcc", ["--version"]).status !== 0) return "needs gcc";
  return false;
}

describe("on the kernel", { skip: kernelSkipReason() }, () => {
  let dir = "";
  let seccompRun = "";
  let probe = "";
  let n = 0;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "pier-seccomp-"));
    const built = join(ROOT, "build/tools/seccomp-run");
    seccompRun = existsSync(built) ? built : join(dir, "seccomp-run");
    const cc = (out: string, src: string, extra: string[] = []) => {
      const r = spawnSync("gcc", ["-O2", "-Wall", "-Wextra", "-Werror", ...extra, "-o", out, src], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `gcc ${src}: ${r.stderr}`);
    };
    if (seccompRun !== built) cc(seccompRun, join(ROOT, "native/tools/seccomp-run.c"));
    writeFileSync(join(dir, "probe.c"), PROBE_C);
    probe = join(dir, "probe");
    cc(probe, join(dir, "probe.c"));
  });
  after(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function run(cfg: Seccomp | null, cmd: string[]): SpawnSyncReturns<string> {
    let argv = cmd;
    if (cfg !== null) {
      const file = join(dir, `filter-${n++}.bpf`);
      writeFileSync(file, compileSeccomp(cfg));
      argv = [seccompRun, file, ...cmd];
    }
    return spawnSync(argv[0]!, argv.slice(1), { encoding: "utf8", timeout: 20_000 });
  }
  /** Runs the probe; returns "RET ERRNO" lines, or the signal that ended it. */
  function calls(cfg: Seccomp | null, ...specs: string[]): string[] | NodeJS.Signals {
    const r = run(cfg, [probe, ...specs]);
    if (r.signal) return r.signal;
    assert.equal(r.status, 0, `probe ${specs.join(" ")}: ${r.stderr}`);
    return r.stdout.trim().split("\n");
  }
  const failed = (errnum: number) => `-1 ${errnum}`;

  test("the default profile: busybox works, namespaces and mounts do not", () => {
    const cfg = defaultSeccompProfile();
    const t = run(cfg, ["/bin/busybox", "true"]);
    assert.equal(t.status, 0, t.stderr);
    const sh = run(cfg, [
      "/bin/busybox",
      "sh",
      "-c",
      "echo hello | busybox tr a-z A-Z; busybox ls / >/dev/null",
    ]);
    assert.equal(sh.stdout, "HELLO\n", sh.stderr);

    assert.equal(
      run(null, ["/bin/busybox", "unshare", "-n", "true"]).status,
      0,
      "control: unshare works unfiltered",
    );
    const u = run(cfg, ["/bin/busybox", "unshare", "-n", "true"]);
    assert.notEqual(u.status, 0);
    assert.match(u.stderr, /Operation not permitted/);
    assert.notEqual(run(cfg, ["/bin/busybox", "unshare", "-m", "true"]).status, 0);

    const mnt = join(dir, "mnt");
    mkdirSync(mnt);
    const m = run(cfg, ["/bin/busybox", "mount", "-t", "tmpfs", "x", mnt]);
    assert.notEqual(m.status, 0, "mount must be refused");
    // Control: the same mount works unfiltered (undone at once, so the temp dir can go).
    const ctl = run(null, ["/bin/busybox", "mount", "-t", "tmpfs", "x", mnt]);
    try {
      assert.equal(ctl.status, 0, ctl.stderr);
    } finally {
      if (ctl.status === 0) assert.equal(run(null, ["/bin/busybox", "umount", mnt]).status, 0);
    }
  });

  test("the default profile: clone flags, clone3, personality, socket", () => {
    const cfg = defaultSeccompProfile();
    const [fork, forkNs, clone3, pQuery, pNoRandom, pHigh, vsock, unix] = calls(
      cfg,
      "fork:0",
      "fork:0x20000", // CLONE_NEWNS
      "x64:435", // clone3(NULL, 0)
      "x64:135:0xffffffff",
      "x64:135:0x40000", // ADDR_NO_RANDOMIZE
      "x64:135:0x100000000", // the kernel would see 0; the filter sees the high word
      "x64:41:40:1:0", // socket(AF_VSOCK, SOCK_STREAM)
      "x64:41:1:1:0", // socket(AF_UNIX, SOCK_STREAM)
    ) as string[];
    assert.match(fork!, /^[1-9]\d* 0$/);
    assert.equal(forkNs, failed(1));
    assert.equal(clone3, failed(38));
    assert.match(pQuery!, /^\d+ 0$/);
    assert.equal(pNoRandom, failed(1));
    assert.equal(pHigh, failed(1));
    assert.equal(vsock, failed(1));
    assert.match(unix!, /^\d+ 0$/);
    // Control: without the filter, CLONE_NEWNS works for root and clone3(NULL) is EFAULT/EINVAL.
    const [ctlNs, ctl3] = calls(null, "fork:0x20000", "x64:435") as string[];
    assert.match(ctlNs!, /^[1-9]\d* 0$/);
    assert.notEqual(ctl3, failed(38));
  });

  test("errnoRet, actions and a 64-bit comparison on getpid", () => {
    const errno38: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 38 }],
    };
    assert.deepEqual(calls(errno38, "x64:39", "x64:110"), [failed(38), calls(null, "x64:110")[0]]);

    const gt: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [
        {
          names: ["getpid"],
          action: "SCMP_ACT_ERRNO",
          errnoRet: 99,
          args: [{ index: 0, value: 0x1_00000000, op: "SCMP_CMP_GT" }],
        },
      ],
    };
    const out = calls(
      gt,
      "x64:39:0xffffffff",
      "x64:39:0x100000000",
      "x64:39:0x100000001",
      "x64:39:0x200000000",
    ) as string[];
    assert.deepEqual(
      out.map((l) => l.split(" ")[1]),
      ["0", "0", "99", "99"],
    );

    const act = (action: string): Seccomp => ({
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: [{ names: ["getppid"], action }],
    });
    assert.match((calls(act("SCMP_ACT_LOG"), "x64:110") as string[])[0]!, /^\d+ 0$/);
    assert.deepEqual(calls(act("SCMP_ACT_TRACE"), "x64:110"), [failed(38)]); // no tracer: ENOSYS
    assert.equal(calls(act("SCMP_ACT_TRAP"), "x64:110"), "SIGSYS");
    assert.equal(calls(act("SCMP_ACT_KILL"), "x64:110"), "SIGSYS");
    assert.equal(calls(act("SCMP_ACT_KILL_PROCESS"), "x64:110"), "SIGSYS");
  });

  test("every comparison operator agrees with the model in the kernel", () => {
    const sys = ["getpid", "getppid", "getuid", "getgid", "geteuid", "getegid", "gettid"];
    const ops = ["EQ", "NE", "LT", "LE", "GE", "GT", "MASKED_EQ"];
    const value = 0x1_00000005;
    const cfg: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      syscalls: ops.map((op, i) => ({
        names: [sys[i]!],
        action: "SCMP_ACT_ERRNO",
        errnoRet: 100 + i,
        args: [
          op === "MASKED_EQ"
            ? { index: 1, value: 0x1f_000000ff, valueTwo: 0x01_00000005, op: "SCMP_CMP_MASKED_EQ" }
            : { index: 1, value, op: `SCMP_CMP_${op}` },
        ],
      })),
    };
    const probes = [
      0n,
      5n,
      0x1_00000004n,
      0x1_00000005n,
      0x1_00000006n,
      0x2_00000000n,
      0xffffffffn,
      0x1_00000000n,
    ];
    probes.push(0xffffffff_ffffffffn, 0xe1_00000005n, 0x01_00000f05n);
    const specs: string[] = [];
    const want: string[] = [];
    for (const name of sys) {
      for (const p of probes) {
        specs.push(`x64:${SYSCALLS_X86_64[name]}:0:0x${p.toString(16)}`);
        const r = reference(cfg, AUDIT_ARCH_X86_64, SYSCALLS_X86_64[name]!, [0n, p]);
        want.push(r === ALLOW ? "0" : String(r & 0xffff));
      }
    }
    const got = (calls(cfg, ...specs) as string[]).map((l) => l.split(" ")[1]);
    assert.deepEqual(got, want);
  });

  test("architectures: x32 numbers and i386 calls are judged by their own rules or killed", (t) => {
    const rules: SeccompSyscall[] = [{ names: ["getpid"], action: "SCMP_ACT_ERRNO", errnoRet: 77 }];
    const only64: Seccomp = {
      defaultAction: "SCMP_ACT_ALLOW",
      architectures: ["SCMP_ARCH_X86_64"],
      syscalls: rules,
    };
    assert.deepEqual(calls(only64, "x64:39"), [failed(77)]);
    assert.equal(calls(only64, "x32:39"), "SIGSYS", "an x32 getpid must not bypass the x86_64 rules");

    const withX32: Seccomp = { ...only64, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"] };
    // x32 getpid: refused by the x32 rule; x32 getppid: allowed (then ENOSYS here if the kernel lacks x32).
    const [pid32, ppid32] = calls(withX32, "x32:39", "x32:110") as string[];
    assert.equal(pid32, failed(77));
    assert.ok(ppid32 === failed(38) || /^\d+ 0$/.test(ppid32!), ppid32);

    const ia32 = calls(null, "i386:20");
    if (typeof ia32 === "string" || !/^\d+ 0$/.test(ia32[0]!)) {
      t.skip("i386 part: this kernel has no IA32 emulation");
      return;
    }
    assert.equal(calls(only64, "i386:20"), "SIGSYS");
    const withX86: Seccomp = { ...only64, architectures: ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"] };
    assert.deepEqual(calls(withX86, "i386:20", "i386:64"), [failed(77), calls(null, "x64:110")[0]]);
  });
});
