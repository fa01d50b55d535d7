import { rmdirSync } from "node:fs";
import { precondition, isKind } from "../../common/errors.ts";
import { DEFAULT_PARENT } from "../../cgroups/index.ts";
import type { Runtime } from "../context.ts";
import { alive, statusOf, toState, type ContainerRecord } from "../state.ts";
import { runHooks } from "./hooks.ts";
import { waitGone } from "./kill.ts";

/**
 * `delete`: removes a stopped (or, with force, any) container: its processes,
 * its cgroup and its state. Runs poststop hooks. Nothing of it is left.
 */
export function deleteContainer(rt: Runtime, id: string, force = false): void {
  let rec: ContainerRecord;
  try {
    rec = rt.store.load(id);
  } catch (e) {
    if (force && isKind(e, "NotFound")) return;
    throw e;
  }
  const status = statusOf(rec, rt.store, () => isFrozen(rt, rec));
  if ((status === "running" || status === "paused") && !force)
    throw precondition(
      `cannot delete container "${id}" while it is ${status}`,
      "stop it first (kill), or use delete --force",
    );
  if (alive(rec) && rec.pid) {
    try {
      process.kill(rec.pid, "SIGKILL");
    } catch {
      // gone meanwhile
    }
    waitGone(rec, 5000);
  }
  cleanup(rt, rec);
  if (rec.phase === "created" && rec.config.hooks?.poststop?.length) {
    try {
      runHooks("poststop", rec.config.hooks.poststop, toState(rec, "stopped"));
    } catch (e) {
      rt.warn((e as Error).message);
    }
  }
}

function isFrozen(rt: Runtime, rec: ContainerRecord): boolean {
  try {
    return rec.cgroupPath !== "" && rt.cgroups.isFrozen(rec.cgroupPath);
  } catch {
    return false;
  }
}

/** Kills whatever is left in the cgroup, removes it and the state directory. */
export function cleanup(rt: Runtime, rec: ContainerRecord): void {
  if (rec.cgroupPath) {
    const cg = rt.cgroups;
    // With its own pid namespace, nothing of a container outlives its init: the kernel
    // kills the rest. Otherwise (or if init still lives) look for stragglers first.
    const ownPidns = (rec.config.linux?.namespaces ?? []).some((n) => n.type === "pid" && !n.path);
    if (!ownPidns || alive(rec) ? cg.exists(rec.cgroupPath) && cg.pids(rec.cgroupPath).length > 0 : false)
      cg.killAll(rec.cgroupPath, "SIGKILL");
    cg.destroy(rec.cgroupPath);
    removeEmptyDefaultParent(rt, rec.cgroupPath);
  }
  rt.store.remove(rec.id);
}

/**
 * Containers without a cgroupsPath live under /pier/<id>; the last one out removes the
 * shared /pier parent so nothing of pier stays in the cgroup tree. A create racing with
 * this retries (see launch).
 */
function removeEmptyDefaultParent(rt: Runtime, path: string): void {
  const parent = `/${DEFAULT_PARENT}`;
  if (!path.startsWith(`${parent}/`)) return;
  for (const s of rt.cgroups.mountSources(parent)) {
    try {
      rmdirSync(s.hostPath);
    } catch {
      // not empty (other containers), or already gone
    }
  }
}
