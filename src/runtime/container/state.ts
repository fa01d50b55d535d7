import type { Runtime } from "../context.ts";
import { statusOf, toState, type ContainerRecord } from "../state.ts";
import type { State, Status } from "../../oci/runtime-spec.ts";

export interface FullState extends State {
  rootfs: string;
  created: string;
  owner: string;
}

function frozen(rt: Runtime, rec: ContainerRecord): boolean {
  try {
    return rec.cgroupPath !== "" && rt.cgroups.isFrozen(rec.cgroupPath);
  } catch {
    return false;
  }
}

export function containerStatus(rt: Runtime, rec: ContainerRecord): Status {
  return statusOf(rec, rt.store, () => frozen(rt, rec));
}

/** `state`: the OCI state of one container, worked out from the kernel now. */
export function state(rt: Runtime, id: string): FullState {
  const rec = rt.store.load(id);
  return full(rec, containerStatus(rt, rec));
}

function full(rec: ContainerRecord, status: Status): FullState {
  return { ...toState(rec, status), rootfs: rec.rootfs, created: rec.created, owner: rec.owner };
}

/** `list`: every container under the state root. */
export function list(rt: Runtime): FullState[] {
  const out: FullState[] = [];
  for (const id of rt.store.ids()) {
    try {
      const rec = rt.store.load(id);
      out.push(full(rec, containerStatus(rt, rec)));
    } catch {
      // removed meanwhile
    }
  }
  return out;
}

/** Pids of every process in the container's cgroup. */
export function pids(rt: Runtime, id: string): number[] {
  const rec = rt.store.load(id);
  if (!rec.cgroupPath || !rt.cgroups.exists(rec.cgroupPath)) return [];
  return rt.cgroups.pids(rec.cgroupPath);
}
