/**
 * The one record storage hands to execution: snapshotters produce `Mount`s,
 * the runtime (or a test, or `pier` itself) mounts them. Neither side imports
 * the other; this file is all they share.
 *
 * `mountAll` performs mounts on the host. Overlay mounts whose option string
 * does not fit in one page (the kernel copies mount data into a single page, so
 * 100+ layers with absolute paths fail with EINVAL) are made in two other ways,
 * chosen here and executed by pier-fsops:
 *   1. chdir to the layers' common parent and pass short relative paths
 *      (containerd's approach; works on every kernel), else
 *   2. the new mount API, one `lowerdir+` fsconfig call per layer (Linux 6.8+).
 */
import { readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { PierError } from "../common/errors.ts";
import { errnoOf, Fsops } from "./fsops.ts";

export interface Mount {
  /** File-system type: "overlay", "bind", "tmpfs", … */
  type: string;
  /** What to mount: a directory for "bind", usually the type's name for others. */
  source: string;
  /** Where, relative to the mount point given to mountAll; absent means the mount point itself. */
  target?: string;
  /** fstab-style options: flags ("ro", "rbind", "nosuid") and data ("lowerdir=…"). */
  options: string[];
}

/** The size of the one page the kernel copies mount data into (x86_64, arm64 with 4K pages). */
export const MOUNT_DATA_MAX = 4096 - 1;

const MS = {
  RDONLY: 0x1,
  NOSUID: 0x2,
  NODEV: 0x4,
  NOEXEC: 0x8,
  SYNCHRONOUS: 0x10,
  REMOUNT: 0x20,
  DIRSYNC: 0x80,
  NOATIME: 0x400,
  NODIRATIME: 0x800,
  BIND: 0x1000,
  REC: 0x4000,
  RELATIME: 0x200000,
  STRICTATIME: 0x1000000,
} as const;

const MNT_DETACH = 2;
const MOUNT_ATTR_RDONLY = 0x1;

const FLAGS: Record<string, { set: number; clear?: boolean }> = {
  ro: { set: MS.RDONLY },
  rw: { set: MS.RDONLY, clear: true },
  bind: { set: MS.BIND },
  rbind: { set: MS.BIND | MS.REC },
  nosuid: { set: MS.NOSUID },
  suid: { set: MS.NOSUID, clear: true },
  nodev: { set: MS.NODEV },
  dev: { set: MS.NODEV, clear: true },
  noexec: { set: MS.NOEXEC },
  exec: { set: MS.NOEXEC, clear: true },
  sync: { set: MS.SYNCHRONOUS },
  async: { set: MS.SYNCHRONOUS, clear: true },
  dirsync: { set: MS.DIRSYNC },
  noatime: { set: MS.NOATIME },
  atime: { set: MS.NOATIME, clear: true },
  nodiratime: { set: MS.NODIRATIME },
  diratime: { set: MS.NODIRATIME, clear: true },
  relatime: { set: MS.RELATIME },
  strictatime: { set: MS.STRICTATIME },
};

/** Splits options into mount(2) flags and the comma-joined data string. */
export function parseMountOptions(options: readonly string[]): { flags: number; data: string[] } {
  let flags = 0;
  const data: string[] = [];
  for (const o of options) {
    const f = FLAGS[o];
    if (!f) data.push(o);
    else if (f.clear) flags &= ~f.set;
    else flags |= f.set;
  }
  return { flags, data };
}

/** What mountAll will do for one overlay mount; exported so the choice is testable without root. */
export type OverlayPlan =
  | { how: "direct"; data: string }
  | { how: "relative"; cwd: string; data: string }
  | { how: "fsmount"; params: [string, string][] };

export function planOverlay(options: readonly string[], limit = MOUNT_DATA_MAX): OverlayPlan {
  const { data } = parseMountOptions(options);
  const joined = data.join(",");
  if (joined.length <= limit) return { how: "direct", data: joined };

  const lowers: string[] = [];
  const rest: [string, string][] = [];
  for (const d of data) {
    const eq = d.indexOf("=");
    const k = eq < 0 ? d : d.slice(0, eq);
    const v = eq < 0 ? "" : d.slice(eq + 1);
    if (k === "lowerdir") lowers.push(...v.split(":"));
    else rest.push([k, v]);
  }
  const paths = [...lowers, ...rest.filter(([k]) => k === "upperdir" || k === "workdir").map(([, v]) => v)];
  const common = commonDir(paths);
  if (common !== undefined && common !== "/") {
    const rel = (p: string) => relative(common, p) || ".";
    const short = [
      ...rest.map(([k, v]) => (k === "upperdir" || k === "workdir" ? `${k}=${rel(v)}` : v ? `${k}=${v}` : k)),
      `lowerdir=${lowers.map(rel).join(":")}`,
    ].join(",");
    if (short.length <= limit) return { how: "relative", cwd: common, data: short };
  }
  return { how: "fsmount", params: [...rest, ...lowers.map((l): [string, string] => ["lowerdir+", l])] };
}

function commonDir(paths: string[]): string | undefined {
  if (paths.length === 0 || paths.some((p) => !p.startsWith("/"))) return undefined;
  let parts = paths[0]!.split(sep).slice(0, -1);
  for (const p of paths.slice(1)) {
    const q = p.split(sep);
    let i = 0;
    while (i < parts.length && i < q.length - 1 && parts[i] === q[i]) i++;
    parts = parts.slice(0, i);
  }
  return parts.join(sep) || "/";
}

let indexOffSupported: boolean | undefined;
/** Whether the overlay module knows `index=` (so snapshotters can turn it off, as containerd does). */
export function overlaySupportsIndexOff(): boolean {
  if (indexOffSupported === undefined) {
    try {
      readFileSync("/sys/module/overlay/parameters/index");
      indexOffSupported = true;
    } catch {
      indexOffSupported = false;
    }
  }
  return indexOffSupported;
}

/**
 * Mounts every record at `target` (or `target/m.target`), in order; on failure
 * what was mounted is undone. `dataLimit` (tests) lowers the one-page limit to
 * force the other overlay strategies.
 */
export async function mountAll(
  mounts: readonly Mount[],
  target: string,
  opts: { dataLimit?: number } = {},
): Promise<void> {
  await Fsops.with({}, async (f) => {
    const done: string[] = [];
    try {
      for (const m of mounts) {
        const where = m.target ? join(target, m.target) : target;
        await mountOne(f, m, where, opts.dataLimit ?? MOUNT_DATA_MAX);
        done.push(where);
      }
    } catch (err) {
      for (const w of done.reverse()) await f.umount(w, MNT_DETACH).catch(() => undefined);
      throw err;
    }
  });
}

async function mountOne(f: Fsops, m: Mount, where: string, limit: number): Promise<void> {
  const { flags, data } = parseMountOptions(m.options);
  if (m.type === "bind" || flags & MS.BIND) {
    const bindFlags = flags | MS.BIND;
    await f.mount({ source: m.source, target: where, fstype: "", flags: bindFlags & ~MS.RDONLY, data: "" });
    // A bind mount ignores every flag but MS_REC on creation; read-only etc. need a remount.
    const extra = bindFlags & ~(MS.BIND | MS.REC);
    if (extra) {
      await f
        .mount({ source: "", target: where, fstype: "", flags: MS.REMOUNT | MS.BIND | extra, data: "" })
        .catch(async (err: unknown) => {
          await f.umount(where, MNT_DETACH).catch(() => undefined);
          throw err;
        });
    }
    return;
  }
  if (m.type === "overlay") {
    const plan = planOverlay(m.options, limit);
    switch (plan.how) {
      case "direct":
        return f.mount({ source: m.source, target: where, fstype: "overlay", flags, data: plan.data });
      case "relative":
        return f.mount({
          cwd: plan.cwd,
          source: m.source,
          target: where,
          fstype: "overlay",
          flags,
          data: plan.data,
        });
      case "fsmount":
        return f
          .fsmount({
            fstype: "overlay",
            target: where,
            attrs: flags & MS.RDONLY ? MOUNT_ATTR_RDONLY : 0,
            params: [["source", m.source], ...plan.params],
          })
          .catch((err: unknown) => {
            throw new PierError(
              "ResourceExhausted",
              `overlay options exceed one page and ${describeErr(err)}`,
              {
                cause: err,
                hint: "the new mount API's lowerdir+ needs Linux 6.8",
              },
            );
          });
    }
  }
  await f.mount({ source: m.source, target: where, fstype: m.type, flags, data: data.join(",") });
}

function describeErr(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Unmounts `target` (lazily with `detach`); NotFound-free: an unmounted target is not an error. */
export async function unmount(target: string, opts: { detach?: boolean } = {}): Promise<void> {
  await Fsops.with({}, async (f) => {
    // Stacked mounts on one target come off one by one.
    for (;;) {
      try {
        await f.umount(target, opts.detach ? MNT_DETACH : 0);
      } catch (err) {
        const code = errnoOf(err);
        if (code === "EINVAL" || code === "ENOENT") return;
        throw err;
      }
    }
  });
}

/** Whether something is mounted exactly at `path` (from /proc/self/mountinfo). */
export function isMountPoint(path: string): boolean {
  const info = readFileSync("/proc/self/mountinfo", "utf8");
  for (const line of info.split("\n")) {
    const mp = line.split(" ")[4];
    if (mp !== undefined && unescapeMountinfo(mp) === path) return true;
  }
  return false;
}

function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
