import { readFileSync } from "node:fs";
import { invalid, notImplemented } from "../../common/errors.ts";
import { CAPABILITIES, RLIMITS, RLIMIT_PROC_NAMES } from "../../host/linux.ts";
import type { Process, Seccomp } from "../../oci/runtime-spec.ts";
import { Op, type Plan } from "./ops.ts";

/** Capability names → 64-bit mask. Unknown names are refused; names this kernel lacks are dropped. */
export function capMask(names: string[] | undefined, field: string, warn: (m: string) => void): bigint {
  let mask = 0n;
  const last = capLast();
  for (const raw of names ?? []) {
    const name = raw.toUpperCase().startsWith("CAP_") ? raw.toUpperCase() : `CAP_${raw.toUpperCase()}`;
    const bit = (CAPABILITIES as readonly string[]).indexOf(name);
    if (bit < 0) throw invalid(`${field}: unknown capability "${raw}"`, "use names such as CAP_NET_ADMIN");
    if (bit > last) {
      warn(`${field}: ${name} is not supported by this kernel; ignored`);
      continue;
    }
    mask |= 1n << BigInt(bit);
  }
  return mask;
}

let lastCap: number | undefined;
function capLast(): number {
  if (lastCap === undefined) {
    try {
      lastCap = Number(readFileSync("/proc/sys/kernel/cap_last_cap", "utf8").trim());
    } catch {
      lastCap = CAPABILITIES.length - 1;
    }
  }
  return lastCap;
}

interface HostLimits {
  hard: number[];
  sysResource: boolean;
}
let hostLimits: HostLimits | undefined;

/** This process's hard limits and whether it may raise them (CAP_SYS_RESOURCE). */
function readHostLimits(): HostLimits {
  if (hostLimits) return hostLimits;
  const hard: number[] = [];
  const text = readFileSync("/proc/self/limits", "utf8");
  for (const line of text.split("\n")) {
    const i = RLIMIT_PROC_NAMES.findIndex((n) => line.startsWith(n));
    if (i < 0) continue;
    const cols = line.slice(RLIMIT_PROC_NAMES[i]!.length).trim().split(/\s+/);
    hard[i] = cols[1] === "unlimited" ? Infinity : Number(cols[1]);
  }
  const status = readFileSync("/proc/self/status", "utf8");
  const eff = /CapEff:\s*([0-9a-f]+)/.exec(status)?.[1] ?? "0";
  const sysResource = ((BigInt(`0x${eff}`) >> 24n) & 1n) === 1n;
  return (hostLimits = { hard, sysResource });
}

const U64_MAX = 18446744073709551615n;

/**
 * Emits the ops that turn the helper's child into the configured process:
 * rlimits, oom score, terminal, executable lookup, then (after `release`,
 * which waits for `start`) capabilities, user, seccomp, umask, cwd and exec.
 */
export function addProcessOps(
  plan: Plan,
  p: Process,
  o: {
    seccomp: CompiledSeccomp | undefined;
    console: "socket" | "relay" | "none";
    preserveFds: number;
    release: (plan: Plan) => void;
    warn: (m: string) => void;
    userns: boolean;
  },
): void {
  for (const rl of p.rlimits ?? []) {
    const res = RLIMITS[rl.type];
    if (res === undefined)
      throw invalid(`process.rlimits: unknown limit "${rl.type}"`, "use names like RLIMIT_NOFILE");
    if (rl.soft > rl.hard)
      throw invalid(`process.rlimits ${rl.type}: soft limit ${rl.soft} is above the hard limit ${rl.hard}`);
    const host = readHostLimits();
    const hostHard = host.hard[res] ?? Infinity;
    if (!host.sysResource && rl.hard > hostHard)
      throw invalid(
        `process.rlimits ${rl.type}: hard limit ${rl.hard} is above this host's limit ${hostHard}, ` +
          `and the runtime lacks CAP_SYS_RESOURCE to raise it`,
        `lower the limit to at most ${hostHard} (podman: --ulimit ${rl.type.slice(7).toLowerCase()}=${hostHard}:${hostHard})`,
      );
    const big = (n: number) => (n >= Number.MAX_SAFE_INTEGER || n < 0 ? U64_MAX : BigInt(n));
    plan.add(Op.RLIMIT, `set ${rl.type} to ${rl.soft}:${rl.hard}`, res, big(rl.soft), big(rl.hard));
  }
  if (p.oomScoreAdj !== undefined)
    plan.add(
      Op.WRITE,
      `set oom_score_adj to ${p.oomScoreAdj}`,
      "/proc/self/oom_score_adj",
      String(p.oomScoreAdj),
    );
  if (o.console !== "none") {
    const size = p.consoleSize;
    plan.add(Op.PTY, "set up the terminal", o.console, size?.height ?? 0, size?.width ?? 0, 1);
  }
  plan.add(Op.WAIT_PARENT, "wait to be put in the cgroup");
  const env = p.env ?? [];
  const path =
    [...env]
      .reverse()
      .find((e) => e.startsWith("PATH="))
      ?.slice(5) ?? "";
  const args = p.args ?? [];
  plan.add(Op.LOOKUP, `find executable ${args[0]}`, args[0] ?? "", path);
  plan.add(Op.CLOSE_FROM, "close inherited files", 3 + o.preserveFds);

  o.release(plan);

  const caps = p.capabilities ?? {};
  const bounding = capMask(caps.bounding, "process.capabilities.bounding", o.warn);
  const eff = capMask(caps.effective, "process.capabilities.effective", o.warn);
  const perm = capMask(caps.permitted, "process.capabilities.permitted", o.warn);
  const inh = capMask(caps.inheritable, "process.capabilities.inheritable", o.warn);
  const amb = capMask(caps.ambient, "process.capabilities.ambient", o.warn);
  const hex = (n: bigint) => n.toString(16);

  plan.add(Op.CAP_BOUNDING, "drop capabilities from the bounding set", hex(bounding));
  // Without no_new_privs a filter can only be loaded while CAP_SYS_ADMIN is still held.
  if (o.seccomp && !p.noNewPrivileges)
    plan.add(Op.SECCOMP, "load the seccomp filter", o.seccomp.filter, o.seccomp.flags);
  plan.add(Op.KEEPCAPS, "keep capabilities across setuid", 1);
  const gids = p.user.additionalGids ?? [];
  plan.add(Op.SETGROUPS, `set supplementary groups [${gids.join(",")}]`, ...gids);
  plan.add(Op.SETRESGID, `set gid ${p.user.gid}`, p.user.gid);
  plan.add(Op.SETRESUID, `set uid ${p.user.uid}`, p.user.uid);
  plan.add(Op.KEEPCAPS, "stop keeping capabilities", 0);
  plan.add(Op.CAPSET, "set capabilities", hex(eff), hex(perm), hex(inh));
  if (amb !== 0n) plan.add(Op.AMBIENT, "raise ambient capabilities", hex(amb));
  if (p.noNewPrivileges) plan.add(Op.NNP, "set no_new_privs");
  if (o.seccomp && p.noNewPrivileges)
    plan.add(Op.SECCOMP, "load the seccomp filter", o.seccomp.filter, o.seccomp.flags);
  plan.add(Op.UMASK, "set umask", (p.user.umask ?? 0o022).toString(8));
  plan.add(Op.CHDIR, `change to cwd ${p.cwd}`, p.cwd);
  plan.add(Op.EXEC, `exec ${args[0]}`, args.length, ...args, ...env);
  if (p.apparmorProfile)
    o.warn(`process.apparmorProfile "${p.apparmorProfile}" ignored: AppArmor is not enabled`);
  if (p.selinuxLabel) o.warn(`process.selinuxLabel ignored: SELinux is not enabled`);
}

export interface CompiledSeccomp {
  filter: Buffer;
  flags: number;
}

const compiled = new Map<string, CompiledSeccomp>();

/**
 * Compiles the seccomp section lazily (the compiler is only loaded when a config has one).
 * A long-lived caller (pierd) starts many containers with the same profile: the last few
 * programs are kept, by the profile's JSON.
 */
export async function compileSeccompFor(s: Seccomp | undefined): Promise<CompiledSeccomp | undefined> {
  if (!s) return undefined;
  if (s.listenerPath) throw notImplemented("linux.seccomp.listenerPath (seccomp user notification)");
  const key = JSON.stringify(s);
  const hit = compiled.get(key);
  if (hit) return hit;
  const { compileSeccomp, seccompFilterFlags } = await import("../seccomp/index.ts");
  const c = { filter: compileSeccomp(s), flags: seccompFilterFlags(s) };
  if (compiled.size >= 8) compiled.delete(compiled.keys().next().value!);
  compiled.set(key, c);
  return c;
}
