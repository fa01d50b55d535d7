import { invalid, precondition } from "../../common/errors.ts";
import { SIGNALS, SIGRTMAX, SIGRTMIN } from "../../host/linux.ts";
import type { Runtime } from "../context.ts";
import { alive, statusOf, type ContainerRecord } from "../state.ts";

/** Parses "KILL", "SIGKILL", "sigkill", "9", "RTMIN+3" into a signal number. */
export function parseSignal(s: string): number {
  const t = s.trim().toUpperCase();
  if (/^\d+$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= SIGRTMAX) return n;
    throw invalid(`unknown signal "${s}"`, "use a name such as TERM or KILL, or a number from 1 to 64");
  }
  const name = t.startsWith("SIG") ? t.slice(3) : t;
  const known = SIGNALS[name];
  if (known !== undefined) return known;
  const rt = /^RTMIN(?:\+(\d+))?$/.exec(name) ?? /^RTMAX(?:-(\d+))?$/.exec(name);
  if (rt) {
    const off = Number(rt[1] ?? 0);
    const n = name.startsWith("RTMIN") ? SIGRTMIN + off : SIGRTMAX - off;
    if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
  }
  throw invalid(`unknown signal "${s}"`, "use a name such as TERM or KILL, or a number from 1 to 64");
}

/** `kill`: sends a signal to the container's init, or with `all` to every process in its cgroup. */
export function kill(rt: Runtime, id: string, signal: string = "SIGTERM", all = false): void {
  const sig = parseSignal(signal);
  const rec = rt.store.load(id);
  const status = statusOf(rec, rt.store, () => rt.cgroups.isFrozen(rec.cgroupPath));
  if (status === "stopped" && !all) throw precondition(`container "${id}" is not running`);
  if (all) {
    if (rec.cgroupPath && rt.cgroups.exists(rec.cgroupPath)) rt.cgroups.killAll(rec.cgroupPath, sig);
    return;
  }
  try {
    process.kill(rec.pid as number, sig);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ESRCH") throw precondition(`container "${id}" is not running`);
    throw e;
  }
}

/** Waits (synchronously, bounded) until the container's init is gone or a zombie. */
export function waitGone(rec: ContainerRecord, ms: number): boolean {
  const until = Date.now() + ms;
  const cell = new Int32Array(new SharedArrayBuffer(4));
  while (alive(rec)) {
    if (Date.now() > until) return false;
    Atomics.wait(cell, 0, 0, 2);
  }
  return true;
}
