import type { CgroupManager } from "../../cgroups/index.ts";
import { Op, type Plan } from "./ops.ts";

/**
 * How the new process gets into its cgroups. On cgroup v1 it moves itself, thread by
 * thread, through each hierarchy's `tasks` file the moment it is released: a thread
 * moving itself skips the kernel's global threadgroup lock, whose first writer waits for
 * an RCU grace period (5-20 ms, runc pays it). On v2 the helper writes the child's pid to
 * `cgroup.procs` right after clone. Files are opened before any setns.
 */
export function addCgroupJoin(plan: Plan, cg: CgroupManager, path: string): void {
  for (const f of cg.procsFiles(path)) {
    if (cg.version === 1) {
      const tasks = f.replace(/cgroup\.procs$/, "tasks");
      plan.add(Op.JOIN_CGROUP, `join cgroup ${tasks}`, tasks, "self");
    } else {
      plan.add(Op.JOIN_CGROUP, `join cgroup ${f}`, f, "parent");
    }
  }
}
