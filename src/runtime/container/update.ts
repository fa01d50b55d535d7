import { precondition } from "../../common/errors.ts";
import type { Resources } from "../../oci/runtime-spec.ts";
import type { Runtime } from "../context.ts";
import { containerStatus } from "./state.ts";

/** `update`: changes the resource limits of a live container. */
export function update(rt: Runtime, id: string, resources: Resources): void {
  const rec = rt.store.load(id);
  const s = containerStatus(rt, rec);
  if (s === "stopped") throw precondition(`cannot update container "${id}": it is stopped`);
  rt.cgroups.apply(rec.cgroupPath, resources);
  rec.config.linux = {
    ...(rec.config.linux ?? {}),
    resources: { ...(rec.config.linux?.resources ?? {}), ...resources },
  };
  rt.store.save(rec);
}
