import { invalid } from "../../common/errors.ts";
import { NAMESPACES } from "../../host/linux.ts";
import type { IdMapping, Namespace, Spec } from "../../oci/runtime-spec.ts";
import type { CgroupManager } from "../../cgroups/index.ts";
import { addCgroupJoin } from "./cgroup-join.ts";
import { Op, Plan } from "./ops.ts";
import { addProcessOps, type CompiledSeccomp } from "./process.ts";
import { addPostPivotOps, addRootfsOps, type CgroupMountInfo } from "./rootfs.ts";

export interface InitPlanInput {
  spec: Spec;
  bundle: string;
  rootfs: string;
  /** cgroup.procs files the helper joins before cloning. */
  /** The cgroup manager and the container's cgroup path: the process joins it. */
  cgroup: { manager: CgroupManager; path: string };
  cgroupMount: () => CgroupMountInfo;
  /** create: wait on the exec fifo for `start`; run: wait for a SYNC from this process. */
  mode: "create" | "run";
  /** run in the foreground: the helper stays, reaps the container and exits with its status. */
  foreground: boolean;
  fifoPath: string;
  consoleSocket?: string | undefined;
  noPivot: boolean;
  preserveFds: number;
  seccomp: CompiledSeccomp | undefined;
  hooks: { runtime: boolean; createContainer: boolean; startContainer: boolean };
  warn: (m: string) => void;
}

/** Namespaced sysctls, and the namespace each needs (as runc checks). */
function sysctlNamespace(key: string): keyof typeof NAMESPACES | undefined {
  if (key.startsWith("fs.mqueue.")) return "ipc";
  if (/^kernel\.(msgmax|msgmnb|msgmni|sem|shmall|shmmax|shmmni|shm_rmid_forced)$/.test(key)) return "ipc";
  if (key.startsWith("net.")) return "network";
  if (key === "kernel.hostname" || key === "kernel.domainname") return "uts";
  return undefined;
}

function mapLines(maps: IdMapping[]): string {
  return maps.map((m) => `${m.containerID} ${m.hostID} ${m.size}\n`).join("");
}

/** The plan that turns config.json into a created (or, for `run`, started) container. */
export function buildInitPlan(i: InitPlanInput): Plan {
  const { spec } = i;
  const p = spec.process;
  if (!p) throw invalid("config.json: process is required");
  const plan = new Plan();
  const nss: Namespace[] = spec.linux?.namespaces ?? [];
  const has = (t: string) => nss.find((n) => n.type === t);
  const isNew = (t: string) => {
    const n = has(t);
    return n !== undefined && !n.path;
  };
  if (!has("mount")) throw invalid("config.json: linux.namespaces must include a mount namespace");
  if (has("mount")?.path) throw invalid("config.json: joining an existing mount namespace is not supported");
  const userns = has("user") !== undefined;
  if (isNew("user") && !(spec.linux?.uidMappings?.length && spec.linux?.gidMappings?.length))
    throw invalid("config.json: a new user namespace needs linux.uidMappings and linux.gidMappings");
  if (!isNew("user") && (spec.linux?.uidMappings?.length || spec.linux?.gidMappings?.length))
    throw invalid("config.json: linux.uidMappings are set but there is no new user namespace");
  if (spec.hostname && !isNew("uts"))
    throw invalid(
      'config.json: hostname needs a new uts namespace (add {"type": "uts"} to linux.namespaces)',
    );
  if (p.terminal && !i.consoleSocket && (i.mode === "create" || !i.foreground))
    throw invalid(
      "process.terminal is true but no --console-socket was given",
      "pass --console-socket, or set terminal to false",
    );

  // Helper section: console socket (path resolved on the host), fifo, cgroups, namespaces to join.
  if (i.consoleSocket)
    plan.add(Op.CONSOLE_CONNECT, `connect to console socket ${i.consoleSocket}`, i.consoleSocket);
  if (i.mode === "create") plan.add(Op.MKFIFO, "create the exec fifo", i.fifoPath, "622");
  addCgroupJoin(plan, i.cgroup.manager, i.cgroup.path);
  const joins = nss.filter((n) => n.path);
  joins.sort((a, b) => (a.type === "user" ? -1 : b.type === "user" ? 1 : 0));
  for (const n of joins)
    plan.add(Op.SETNS, `join ${n.type} namespace ${n.path}`, n.path as string, NAMESPACES[n.type].flag);
  let flags = 0;
  for (const n of nss) if (!n.path) flags |= NAMESPACES[n.type].flag;
  // A cgroup namespace is rooted at the cgroup its creator is in: it is unshared only once
  // the helper has moved the child into the container's cgroup (as runc does).
  flags &= ~NAMESPACES.cgroup.flag;
  const relay = Boolean(p.terminal && !i.consoleSocket);
  plan.add(
    Op.CLONE,
    "create the container process",
    flags,
    i.foreground ? "wait" : "detach",
    relay ? "relay" : "",
  );
  if (isNew("user")) {
    plan.add(Op.UID_MAP, "write uid_map", mapLines(spec.linux?.uidMappings ?? []));
    plan.add(Op.GID_MAP, "write gid_map", mapLines(spec.linux?.gidMappings ?? []));
  }
  plan.add(Op.PARENT_DONE, "release the container process");

  // Child section.
  if (userns) {
    plan.add(Op.SETRESGID, "become root in the user namespace", 0);
    plan.add(Op.SETRESUID, "become root in the user namespace", 0);
  }
  if (isNew("cgroup")) {
    plan.add(Op.WAIT_PARENT, "wait to be put in the cgroup");
    plan.add(Op.UNSHARE, "create the cgroup namespace", NAMESPACES.cgroup.flag);
  }
  plan.add(Op.SETSID, "start a new session");
  plan.add(Op.UMASK, "clear the umask", "0");
  if (isNew("network")) plan.add(Op.LO_UP, "bring up the loopback interface");
  if (isNew("uts") && spec.hostname !== undefined)
    plan.add(Op.HOSTNAME, `set hostname ${spec.hostname}`, spec.hostname);
  if (isNew("uts") && spec.domainname !== undefined)
    plan.add(Op.DOMAINNAME, `set domainname ${spec.domainname}`, spec.domainname);

  addRootfsOps(plan, {
    spec,
    bundle: i.bundle,
    rootfs: i.rootfs,
    userns,
    netnsNew: isNew("network"),
    cgroup: i.cgroupMount,
    warn: i.warn,
  });
  if (i.hooks.runtime) plan.add(Op.SYNC, "run prestart and createRuntime hooks", "hooks");
  if (i.hooks.createContainer || i.hooks.startContainer)
    plan.add(Op.SYNC, "get the state for hooks", "state");
  for (const h of spec.hooks?.createContainer ?? []) addHook(plan, h, "createContainer");
  if (i.mode === "create") plan.add(Op.FIFO_OPEN, "open the exec fifo", i.fifoPath);
  if (i.noPivot) plan.add(Op.CHROOT, `chroot to ${i.rootfs}`, i.rootfs);
  else plan.add(Op.PIVOT, `pivot_root to ${i.rootfs}`, i.rootfs);
  addPostPivotOps(plan, spec);
  for (const [key, value] of Object.entries(spec.linux?.sysctl ?? {})) {
    const ns = sysctlNamespace(key);
    if (!ns) throw invalid(`linux.sysctl: "${key}" is not namespaced and cannot be set for a container`);
    if (!isNew(ns)) throw invalid(`linux.sysctl: "${key}" needs a new ${ns} namespace`);
    plan.add(Op.WRITE, `set sysctl ${key}=${value}`, `/proc/sys/${key.replace(/\./g, "/")}`, value);
  }

  addProcessOps(plan, p, {
    seccomp: i.seccomp,
    console: p.terminal ? (i.consoleSocket ? "socket" : "relay") : "none",
    preserveFds: i.preserveFds,
    userns,
    warn: i.warn,
    release: (pl) => {
      if (i.mode === "create") {
        pl.add(Op.CREATED, "report created", "close");
        pl.add(Op.FIFO_WAIT, "wait for start");
      } else {
        pl.add(Op.CREATED, "report created", "");
        pl.add(Op.SYNC, "wait for start", "start");
      }
      for (const h of spec.hooks?.startContainer ?? []) addHook(pl, h, "startContainer");
    },
  });
  return plan;
}

function addHook(
  plan: Plan,
  h: { path: string; args?: string[]; env?: string[]; timeout?: number },
  kind: string,
) {
  const args = h.args?.length ? h.args : [h.path];
  plan.add(
    Op.HOOK,
    `run ${kind} hook ${h.path}`,
    h.timeout ?? 0,
    h.path,
    args.length,
    ...args,
    ...(h.env ?? []),
  );
}
