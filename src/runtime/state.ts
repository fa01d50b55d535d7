import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  rmdirSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";
import { alreadyExists, invalid, notFound } from "../common/errors.ts";
import type { Spec, State, Status } from "../oci/runtime-spec.ts";

/**
 * What the runtime keeps about a container, in <root>/<id>/state.json.
 * The status is not stored: it is worked out from the kernel each time
 * (is the pid alive and the same process? is the exec fifo still there?
 * is the cgroup frozen?), so it is never stale.
 */
export interface ContainerRecord {
  id: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  /** "creating" until the process reported it is set up. */
  phase: "creating" | "created";
  pid?: number;
  /** Start time of pid (field 22 of /proc/PID/stat), to detect pid reuse. */
  pidStart?: string;
  cgroupPath: string;
  systemdCgroup: boolean;
  config: Spec;
}

export const DEFAULT_ROOT = "/run/pier-runtime";

export function validateId(id: string | undefined): string {
  if (!id) throw invalid("container id is required");
  if (id === "." || id === ".." || !/^[\w+.-]+$/.test(id) || id.length > 1024)
    throw invalid(`invalid container id "${id}"`, "use letters, digits, '_', '+', '-' and '.' only (no '/')");
  return id;
}

export class StateStore {
  constructor(readonly root: string = DEFAULT_ROOT) {}

  dir(id: string): string {
    return join(this.root, validateId(id));
  }

  fifo(id: string): string {
    return join(this.dir(id), "exec.fifo");
  }

  /** Claims the id: fails with AlreadyExists if a container has it. */
  claim(id: string): string {
    const dir = this.dir(id);
    mkdirSync(this.root, { recursive: true, mode: 0o711 });
    try {
      mkdirSync(dir, { mode: 0o711 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST")
        throw alreadyExists(`container "${id}" already exists`, `choose another id or delete it first`);
      throw e;
    }
    return dir;
  }

  save(rec: ContainerRecord): void {
    const dir = this.dir(rec.id);
    const tmp = join(dir, `.state.json.${process.pid}`);
    // No fsync: like runc's, the state lives in /run (tmpfs) and is rebuilt from the kernel.
    const fd = openSync(tmp, "w", 0o600);
    try {
      writeSync(fd, JSON.stringify(rec));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, join(dir, "state.json"));
  }

  load(id: string): ContainerRecord {
    const dir = this.dir(id);
    let text: string;
    try {
      text = readFileSync(join(dir, "state.json"), "utf8");
    } catch {
      if (existsSync(dir)) {
        // Created so far only as a claimed directory (a crash before the first save).
        return {
          id,
          bundle: "",
          rootfs: "",
          created: new Date(0).toISOString(),
          owner: "root",
          phase: "creating",
          cgroupPath: "",
          systemdCgroup: false,
          config: { ociVersion: "1.0.2" },
        };
      }
      throw notFound(`container "${id}" does not exist`);
    }
    return JSON.parse(text) as ContainerRecord;
  }

  remove(id: string): void {
    const dir = this.dir(id);
    // The usual contents first (cheap), then anything else a crash may have left.
    for (const f of ["state.json", "exec.fifo"]) {
      try {
        unlinkSync(join(dir, f));
      } catch {
        // not there
      }
    }
    try {
      rmdirSync(dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  ids(): string[] {
    try {
      return readdirSync(this.root).filter((n) => !n.startsWith("."));
    } catch {
      return [];
    }
  }
}

/** Field 22 of /proc/PID/stat (start time) and field 3 (state), or undefined if gone. */
export function procStat(pid: number): { start: string; state: string } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0] ?? "", start: rest[19] ?? "" };
}

/** Is the recorded process still the same, living process? */
export function alive(rec: ContainerRecord): boolean {
  if (!rec.pid) return false;
  const st = procStat(rec.pid);
  if (!st || st.state === "Z" || st.state === "X") return false;
  return rec.pidStart === undefined || st.start === rec.pidStart;
}

export function statusOf(rec: ContainerRecord, store: StateStore, frozen: () => boolean): Status {
  if (!alive(rec)) return "stopped";
  if (rec.phase === "creating") return "creating";
  if (existsSync(store.fifo(rec.id))) return "created";
  return frozen() ? "paused" : "running";
}

export function toState(rec: ContainerRecord, status: Status): State {
  const s: State = { ociVersion: "1.0.2", id: rec.id, status, bundle: rec.bundle };
  if (status !== "stopped" && rec.pid) s.pid = rec.pid;
  else s.pid = 0;
  if (rec.config.annotations) s.annotations = rec.config.annotations;
  return s;
}
