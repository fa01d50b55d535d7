import { detectCgroups, parseCgroupsPath } from "../../cgroups/index.ts";
import { validateSpec } from "../../oci/validate.ts";
import { HelperSession } from "../nsexec.ts";
import { buildInitPlan } from "../plan/init.ts";
import { Op, Plan } from "../plan/ops.ts";
import { defaultSpec } from "../spec.ts";
import { toState, type ContainerRecord } from "../state.ts";

/**
 * Runs the start-up-critical code once without touching the system (it plans a container
 * in a rootfs that does not exist and encodes the plan), so the build can save V8's
 * compiled code for it. Nothing is created, written or started.
 */
export async function warmup(): Promise<void> {
  const spec = validateSpec(JSON.parse(JSON.stringify(defaultSpec({ terminal: false, args: ["true"] }))));
  spec.process!.user.additionalGids = [1];
  const cg = detectCgroups();
  const path = parseCgroupsPath(undefined, "warmup", false);
  for (const mode of ["create", "run"] as const) {
    const plan = buildInitPlan({
      spec,
      bundle: "/nonexistent-pier-warmup",
      rootfs: "/nonexistent-pier-warmup/rootfs",
      cgroupProcs: cg.procsFiles(path),
      cgroupMount: () => ({
        version: cg.version,
        sources: cg.mountSources(path),
        symlinks: cg.mountSymlinks(),
        cgroupns: false,
      }),
      mode,
      foreground: mode === "run",
      fifoPath: "/nonexistent-pier-warmup/exec.fifo",
      noPivot: false,
      preserveFds: 0,
      seccomp: undefined,
      hooks: { runtime: false, createContainer: false, startContainer: false },
      warn: () => undefined,
    });
    plan.encode();
  }
  const rec: ContainerRecord = {
    id: "warmup",
    bundle: "/",
    rootfs: "/",
    created: new Date().toISOString(),
    owner: "root",
    phase: "created",
    cgroupPath: path,
    systemdCgroup: false,
    config: spec,
  };
  JSON.stringify(toState(rec, "running"));
  JSON.stringify(rec);
  // The helper round trip, with a plan that only forks and runs /bin/true (no namespaces,
  // no cgroups, no mounts).
  const tiny = new Plan()
    .add(Op.CLONE, "fork", 0, "wait", "")
    .add(Op.PARENT_DONE, "release")
    .add(Op.WAIT_PARENT, "wait")
    .add(Op.LOOKUP, "find true", "true", "/usr/bin:/bin")
    .add(Op.EXEC, "exec true", 1, "true");
  const session = new HelperSession(tiny, { stdio: ["ignore", "ignore", "inherit"] });
  for (let ev = await session.next(); ev.type !== "eof" && ev.type !== "error"; ev = await session.next());
  await session.exited;
  session.close();
}
