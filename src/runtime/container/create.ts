import { readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { PierError, invalid, isKind, notFound, wrap } from "../../common/errors.ts";
import { parseCgroupsPath } from "../../cgroups/index.ts";
import type { DeviceCgroup, Resources, Spec } from "../../oci/runtime-spec.ts";
import { validateSpec } from "../../oci/validate.ts";
import type { Runtime } from "../context.ts";
import { HelperSession, type HelperEvent, type HelperOptions } from "../nsexec.ts";
import { buildInitPlan } from "../plan/init.ts";
import type { Plan } from "../plan/ops.ts";
import { compileSeccompFor } from "../plan/process.ts";
import { defaultDevices } from "../plan/rootfs.ts";
import { alive, procStat, toState, type ContainerRecord } from "../state.ts";
import { runHooks } from "./hooks.ts";
import { cleanup } from "./delete.ts";

export interface CreateOptions {
  bundle: string;
  pidFile?: string | undefined;
  consoleSocket?: string | undefined;
  noPivot?: boolean | undefined;
  preserveFds?: number | undefined;
  /** stdio of the container process; inherit this process's by default. */
  stdio?: HelperOptions["stdio"];
  /**
   * Talk to a helper someone else starts (instead of spawning pier-nsexec): called with the
   * plan, it returns the session once that helper's sync socket is connected.
   */
  helper?: (plan: Plan) => Promise<HelperSession>;
}

/** Reads and validates <bundle>/config.json. */
export function loadBundle(bundle: string): { spec: Spec; rootfs: string; bundle: string } {
  const dir = resolve(bundle);
  let text: string;
  try {
    text = readFileSync(join(dir, "config.json"), "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT")
      throw notFound(
        `bundle ${dir} has no config.json`,
        "create one with `pier-runtime spec` in the bundle directory",
      );
    throw wrap(e, `read ${join(dir, "config.json")}`);
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw invalid(
      `config.json is not valid JSON: ${(e as Error).message}`,
      "fix the syntax of the bundle's config.json",
    );
  }
  const spec = validateSpec(raw);
  const rootfs = resolve(dir, spec.root?.path ?? "");
  let isDir = false;
  try {
    isDir = statSync(rootfs).isDirectory();
  } catch {
    throw notFound(`rootfs ${rootfs} does not exist`, "fix root.path in config.json or create the rootfs");
  }
  if (!isDir) throw invalid(`rootfs ${rootfs} is not a directory`);
  return { spec, rootfs, bundle: dir };
}

/** The device cgroup rules: the config's own, then access to the devices every container gets. */
function withDefaultDeviceRules(spec: Spec): Resources | undefined {
  const r = spec.linux?.resources;
  if (!r?.devices?.length) return r;
  const extra: DeviceCgroup[] = [...defaultDevices(), ...(spec.linux?.devices ?? [])]
    .filter((d) => d.type !== "p")
    .map((d) => ({
      allow: true,
      type: d.type === "b" ? "b" : "c",
      major: d.major ?? 0,
      minor: d.minor ?? 0,
      access: "rwm",
    }));
  extra.push({ allow: true, type: "c", major: 136, minor: null, access: "rwm" }); // /dev/pts/*
  extra.push({ allow: true, type: "c", major: 5, minor: 2, access: "rwm" }); // /dev/ptmx
  extra.push({ allow: true, type: "c", major: 5, minor: 1, access: "rwm" }); // /dev/console
  return { ...r, devices: [...r.devices, ...extra] };
}

export interface Launched {
  rec: ContainerRecord;
  session: HelperSession;
}

/**
 * Sets a container up from its bundle. In "create" mode it ends waiting on
 * the exec fifo; in "run" mode the caller releases it with `session.reply()`.
 */
export async function launch(
  rt: Runtime,
  id: string,
  o: CreateOptions,
  mode: "create" | "run",
  foreground: boolean,
): Promise<Launched> {
  const { spec, rootfs, bundle } = loadBundle(o.bundle);
  const seccomp = await compileSeccompFor(spec.linux?.seccomp);
  const cgroupPath = parseCgroupsPath(spec.linux?.cgroupsPath, id, rt.systemdCgroup);
  const cg = rt.cgroups;
  const hooks = spec.hooks ?? {};
  const cgroupns = (spec.linux?.namespaces ?? []).some((n) => n.type === "cgroup" && !n.path);
  const dir = rt.store.dir(id);
  const plan = buildInitPlan({
    spec,
    bundle,
    rootfs,
    cgroup: { manager: cg, path: cgroupPath },
    cgroupMount: () => ({
      version: cg.version,
      sources: cg.mountSources(cgroupPath),
      symlinks: cg.mountSymlinks(),
      cgroupns,
    }),
    mode,
    foreground,
    fifoPath: join(dir, "exec.fifo"),
    consoleSocket: o.consoleSocket ? resolve(o.consoleSocket) : undefined,
    noPivot: o.noPivot ?? false,
    preserveFds: o.preserveFds ?? 0,
    seccomp,
    hooks: {
      runtime: Boolean(hooks.prestart?.length || hooks.createRuntime?.length),
      createContainer: Boolean(hooks.createContainer?.length),
      startContainer: Boolean(hooks.startContainer?.length),
    },
    warn: rt.warn,
  });

  rt.store.claim(id);
  const rec: ContainerRecord = {
    id,
    bundle,
    rootfs,
    created: new Date().toISOString(),
    owner: "root",
    phase: "creating",
    cgroupPath,
    systemdCgroup: rt.systemdCgroup,
    config: spec,
  };
  let session: HelperSession | undefined;
  try {
    rt.store.save(rec);
    const resources = withDefaultDeviceRules(spec);
    let unenforced;
    try {
      unenforced = cg.create(cgroupPath, resources);
    } catch (e) {
      // A delete may have removed the shared parent between our mkdirs: once more.
      if (!isKind(e, "NotFound") && (e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      unenforced = cg.create(cgroupPath, resources);
    }
    for (const u of unenforced) rt.warn(`${u.field}: ${u.reason}`);
    session = o.helper
      ? await o.helper(plan)
      : new HelperSession(plan, {
          preserveFds: o.preserveFds ?? 0,
          stdio: o.stdio ?? ["inherit", "inherit", "inherit"],
        });
    // The child may ask for hooks before the helper has reported its pid (the helper is busy
    // moving it into its cgroups meanwhile); hooks need the pid, so such requests wait.
    const waiting: HelperEvent[] = [];
    for (;;) {
      const ev =
        rec.pid !== undefined && waiting.length > 0 ? (waiting.shift() as HelperEvent) : await session.next();
      if (ev.type === "sync" && rec.pid === undefined) {
        waiting.push(ev);
        continue;
      }
      if (ev.type === "pid") {
        rec.pid = ev.pid;
        const st = procStat(ev.pid);
        if (st) rec.pidStart = st.start;
        rt.store.save(rec);
      } else if (ev.type === "sync" && ev.tag === "hooks") {
        const state = toState(rec, "creating");
        runHooks("prestart", hooks.prestart, state);
        runHooks("createRuntime", hooks.createRuntime, state);
        session.reply();
      } else if (ev.type === "sync" && ev.tag === "state") {
        session.reply(JSON.stringify(toState(rec, "created")));
      } else if (ev.type === "created") {
        rec.phase = "created";
        rt.store.save(rec);
        if (o.pidFile && rec.pid) writePidFile(o.pidFile, rec.pid);
        return { rec, session };
      } else if (ev.type === "error") {
        throw ev.error;
      } else {
        const { code, signal } = await session.exited;
        throw new PierError(
          "Internal",
          `container process exited during set-up (${signal ? `signal ${signal}` : `exit status ${code}`})`,
        );
      }
    }
  } catch (e) {
    session?.close();
    if (rec.pid && alive(rec)) {
      try {
        process.kill(rec.pid, "SIGKILL");
      } catch {
        // already gone
      }
    }
    if (session) await session.exited;
    try {
      cleanup(rt, rec);
    } catch (ce) {
      rt.warn(`clean up after failed create: ${(ce as Error).message}`);
    }
    throw e instanceof PierError ? e : wrap(e, `create container ${id}`);
  }
}

export function writePidFile(path: string, pid: number): void {
  const tmp = join(dirname(resolve(path)), `.${process.pid}.pid`);
  writeFileSync(tmp, String(pid));
  renameSync(tmp, path);
}

/** `create`: set the container up and leave it waiting for `start`. */
export async function create(rt: Runtime, id: string, o: CreateOptions): Promise<ContainerRecord> {
  const { rec, session } = await launch(rt, id, o, "create", false);
  session.close();
  return rec;
}
