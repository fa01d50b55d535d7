import { readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { PierError, invalid, precondition } from "../../common/errors.ts";
import { NAMESPACES } from "../../host/linux.ts";
import type { NamespaceType, Process } from "../../oci/runtime-spec.ts";
import type { Runtime } from "../context.ts";
import { HelperSession, type HelperOptions } from "../nsexec.ts";
import { addCgroupJoin } from "../plan/cgroup-join.ts";
import { Op, Plan } from "../plan/ops.ts";
import { addProcessOps, compileSeccompFor } from "../plan/process.ts";
import { statusOf } from "../state.ts";
import { writePidFile } from "./create.ts";

export interface ExecOptions {
  /** A full process.json (runc exec --process); otherwise the container's process with overrides. */
  processFile?: string | undefined;
  args?: string[] | undefined;
  env?: string[] | undefined;
  cwd?: string | undefined;
  user?: { uid: number; gid: number } | undefined;
  additionalGids?: number[] | undefined;
  tty?: boolean | undefined;
  consoleSocket?: string | undefined;
  detach?: boolean | undefined;
  pidFile?: string | undefined;
  caps?: string[] | undefined;
  noNewPrivs?: boolean | undefined;
  preserveFds?: number | undefined;
  stdio?: HelperOptions["stdio"];
}

/** The order to join namespaces in: user first (it grants the rights for the rest), mount last. */
const JOIN_ORDER: NamespaceType[] = ["user", "ipc", "uts", "network", "pid", "cgroup", "time", "mount"];

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

function execProcess(base: Process | undefined, o: ExecOptions): Process {
  if (o.processFile) {
    let p: Process;
    try {
      p = JSON.parse(readFileSync(o.processFile, "utf8")) as Process;
    } catch (e) {
      throw invalid(`process file ${o.processFile}: ${(e as Error).message}`);
    }
    if (!Array.isArray(p.args) || p.args.length === 0)
      throw invalid(`process file ${o.processFile}: args is required`);
    if (!p.user) throw invalid(`process file ${o.processFile}: user is required`);
    if (!p.cwd) p.cwd = "/";
    return p;
  }
  if (!o.args?.length) throw invalid("exec needs a command (or --process FILE)");
  const p: Process = { ...(base ?? { user: { uid: 0, gid: 0 }, cwd: "/" }) };
  p.args = o.args;
  p.terminal = o.tty ?? false;
  if (o.env?.length) {
    const env = new Map<string, string>();
    for (const e of [...(p.env ?? []), ...o.env]) env.set(e.slice(0, e.indexOf("=")), e);
    p.env = [...env.values()];
  }
  if (o.cwd) p.cwd = o.cwd;
  if (o.user) p.user = { ...p.user, uid: o.user.uid, gid: o.user.gid };
  if (o.additionalGids) p.user = { ...p.user, additionalGids: o.additionalGids };
  if (o.noNewPrivs) p.noNewPrivileges = true;
  if (o.caps?.length) {
    const c = { ...(p.capabilities ?? {}) };
    for (const k of ["bounding", "effective", "permitted", "ambient"] as const)
      c[k] = [...new Set([...(c[k] ?? []), ...o.caps])];
    p.capabilities = c;
  }
  return p;
}

/**
 * `exec`: starts another process in a running container — joins every one of
 * its namespaces with setns and its cgroup, with the container's capabilities,
 * seccomp filter and user unless overridden. Foreground: resolves with the
 * exit status. Detached: resolves with 0 once the process runs.
 */
export async function exec(rt: Runtime, id: string, o: ExecOptions): Promise<{ code: number; pid: number }> {
  const rec = rt.store.load(id);
  const status = statusOf(rec, rt.store, () => rt.cgroups.isFrozen(rec.cgroupPath));
  if (status !== "running" && status !== "created")
    throw precondition(`cannot exec in container "${id}": it is ${status}`);
  const p = execProcess(rec.config.process, o);
  if (p.terminal && o.detach && !o.consoleSocket)
    throw invalid("cannot allocate a terminal for a detached exec without --console-socket");
  const pid = rec.pid as number;
  const seccomp = await compileSeccompFor(rec.config.linux?.seccomp);

  const plan = new Plan();
  if (o.consoleSocket)
    plan.add(Op.CONSOLE_CONNECT, `connect to console socket ${o.consoleSocket}`, resolve(o.consoleSocket));
  if (rec.cgroupPath) addCgroupJoin(plan, rt.cgroups, rec.cgroupPath);
  const types = new Set((rec.config.linux?.namespaces ?? []).map((n) => n.type));
  for (const t of JOIN_ORDER) {
    if (!types.has(t)) continue;
    const link = NAMESPACES[t].link;
    const theirs = `/proc/${pid}/ns/${link}`;
    const ino = inode(theirs);
    if (ino === undefined) throw precondition(`cannot exec in container "${id}": its process is gone`);
    if (ino === inode(`/proc/self/ns/${link}`)) continue;
    plan.add(Op.SETNS, `join ${t} namespace of pid ${pid}`, theirs, NAMESPACES[t].flag);
  }
  const relay = Boolean(p.terminal && !o.consoleSocket);
  plan.add(Op.CLONE, "start the process", 0, o.detach ? "detach" : "wait", relay ? "relay" : "");
  plan.add(Op.PARENT_DONE, "release the process");
  plan.add(Op.SETSID, "start a new session");
  addProcessOps(plan, p, {
    seccomp,
    console: p.terminal ? (o.consoleSocket ? "socket" : "relay") : "none",
    preserveFds: o.preserveFds ?? 0,
    userns: types.has("user"),
    warn: rt.warn,
    release: () => undefined,
  });

  const session = new HelperSession(plan, {
    preserveFds: o.preserveFds ?? 0,
    stdio: o.stdio ?? ["inherit", "inherit", "inherit"],
  });
  let execPid = 0;
  for (;;) {
    const ev = await session.next();
    if (ev.type === "pid") {
      execPid = ev.pid;
      if (o.pidFile) writePidFile(o.pidFile, ev.pid);
      continue;
    }
    if (ev.type === "error") {
      session.close();
      await session.exited;
      throw ev.error;
    }
    if (ev.type === "eof") break;
  }
  const { code, signal } = await session.exited;
  session.close();
  if (o.detach) {
    if (code !== 0)
      throw new PierError("Internal", `exec helper failed (${signal ?? `exit status ${code}`})`);
    return { code: 0, pid: execPid };
  }
  return { code: signal ? 128 + (signal === "SIGKILL" ? 9 : 15) : (code ?? 255), pid: execPid };
}
