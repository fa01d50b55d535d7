import { precondition } from "../../common/errors.ts";
import type { Runtime } from "../context.ts";
import { containerStatus } from "./state.ts";

/** `pause`: freezes every process of a running container (freezer cgroup). */
export function pause(rt: Runtime, id: string): void {
  const rec = rt.store.load(id);
  const s = containerStatus(rt, rec);
  if (s !== "running") throw precondition(`cannot pause container "${id}": it is ${s}`);
  rt.cgroups.freeze(rec.cgroupPath);
}

/** `resume`: thaws a paused container. */
export function resume(rt: Runtime, id: string): void {
  const rec = rt.store.load(id);
  const s = containerStatus(rt, rec);
  if (s !== "paused") throw precondition(`cannot resume container "${id}": it is ${s}`);
  rt.cgroups.thaw(rec.cgroupPath);
}
