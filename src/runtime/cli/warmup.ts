import * as fs from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
      cgroup: { manager: cg, path },
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

/**
 * When the build runs as root on a machine with busybox-static, it also runs one real
 * `true` container through create/start/state/delete and run (in a temporary bundle and
 * state root, removed afterwards), so the code cache covers the whole lifecycle. Best
 * effort: any failure only means a colder cache.
 */
export async function warmupContainer(): Promise<void> {
  if (process.getuid?.() !== 0 || !fs.existsSync("/bin/busybox")) return;
  const dir = fs.mkdtempSync(join(tmpdir(), "pier-warmup-"));
  try {
    fs.chmodSync(dir, 0o755);
    const rootfs = join(dir, "rootfs");
    fs.mkdirSync(join(rootfs, "bin"), { recursive: true });
    for (const d of ["proc", "sys", "dev", "tmp"]) fs.mkdirSync(join(rootfs, d));
    fs.copyFileSync("/bin/busybox", join(rootfs, "bin/busybox"));
    fs.symlinkSync("busybox", join(rootfs, "bin/true"));
    const spec = defaultSpec({ terminal: false, args: ["true"] });
    spec.root = { path: rootfs };
    spec.linux!.cgroupsPath = `/pier-warmup-${process.pid}`;
    fs.writeFileSync(join(dir, "config.json"), JSON.stringify(spec));
    const { Runtime } = await import("../context.ts");
    const { run } = await import("../container/run.ts");
    const { create } = await import("../container/create.ts");
    const { start } = await import("../container/start.ts");
    const { state } = await import("../container/state.ts");
    const { deleteContainer } = await import("../container/delete.ts");
    const rt = new Runtime({ root: join(dir, "state"), onWarn: () => undefined });
    const stdio: ("ignore" | "inherit")[] = ["ignore", "ignore", "ignore"];
    await run(rt, "warmup-run", { bundle: dir, stdio, forwardSignals: false });
    await create(rt, "warmup-create", { bundle: dir, stdio });
    start(rt, "warmup-create");
    JSON.stringify(state(rt, "warmup-create"));
    deleteContainer(rt, "warmup-create", true);
  } catch {
    // a colder cache, nothing worse
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
