/**
 * `docker cp`: files in and out of a container as tar streams (GET/PUT/HEAD
 * /containers/{id}/archive). Paths are resolved inside the container's root the way the
 * container sees them: symlinks are followed within the root (never out of it), and a path
 * under a volume or bind mount goes to that mount's source on the host. A stopped
 * container's rootfs is mounted for the time of the copy.
 */
import { spawn } from "node:child_process";
import { lstatSync, readlinkSync, type Stats } from "node:fs";
import { basename, dirname, join, posix } from "node:path";
import type { Readable } from "node:stream";
import type { ContainerPathStat } from "../../api/container-types.ts";
import { PierError } from "../../common/errors.ts";
import { isMountPoint, mountAll, unmount } from "../../snapshot/index.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRecord } from "./record.ts";
import { withInitLayer } from "./rootfs.ts";

/** Resolves `p` (absolute, in the container) under `root`, following symlinks inside it. */
export function scopedPath(root: string, p: string, followLast = true): string {
  const parts = posix.normalize(`/${p}`).split("/").filter(Boolean);
  let cur = "/";
  for (let i = 0, hops = 0; i < parts.length; i++) {
    const next = posix.join(cur, parts[i]!);
    const last = i === parts.length - 1;
    let st: Stats | undefined;
    try {
      st = lstatSync(join(root, next));
    } catch {
      st = undefined;
    }
    if (st?.isSymbolicLink() && (!last || followLast)) {
      if (++hops > 40) throw new PierError("InvalidArgument", `too many symlinks in ${p}`);
      const target = readlinkSync(join(root, next));
      const rest = parts.slice(i + 1);
      const base = target.startsWith("/") ? "/" : cur;
      parts.splice(
        0,
        parts.length,
        ...posix.normalize(posix.join(base, target)).split("/").filter(Boolean),
        ...rest,
      );
      cur = "/";
      i = -1;
      continue;
    }
    cur = next;
  }
  return cur;
}

/** Where container path `p` is on the host: under a mount's source, or under the rootfs. */
function hostPath(rec: ContainerRecord, rootfs: string, p: string, followLast = true): string {
  const inside = scopedPath(rootfs, p, followLast);
  const mounts = [...rec.mounts]
    .filter((m) => m.Type !== "tmpfs")
    .sort((a, b) => b.Destination.length - a.Destination.length);
  for (const m of mounts) {
    if (inside === m.Destination || inside.startsWith(`${m.Destination}/`)) {
      return join(m.Source, inside.slice(m.Destination.length));
    }
  }
  return join(rootfs, inside);
}

/** Runs `fn` with the container's rootfs mounted (mounting it if it is stopped). */
export async function withRootfs<T>(
  engine: Engine,
  rec: ContainerRecord,
  fn: (rootfs: string) => Promise<T>,
): Promise<T> {
  const f = engine.files(rec.id);
  if (isMountPoint(f.merged)) return fn(f.merged);
  const layered = withInitLayer(await engine.opts.images.rootfsMounts(rec.snapshotKey), f.init);
  await mountAll(layered.mounts, f.merged);
  try {
    return await fn(f.merged);
  } finally {
    await unmount(f.merged, { detach: true }).catch(() => undefined);
  }
}

export function pathStat(path: string, name: string): ContainerPathStat {
  let st: Stats;
  try {
    st = lstatSync(path);
  } catch {
    throw new PierError("NotFound", `Could not find the file ${name} in container`);
  }
  // Go's os.FileMode bits, added (not OR-ed: JavaScript's | works on signed 32 bits).
  let mode = st.mode & 0o777;
  if (st.isDirectory()) mode += 2 ** 31;
  if (st.isSymbolicLink()) mode += 2 ** 27;
  return {
    name: basename(name) || "/",
    size: st.size,
    mode,
    mtime: st.mtime.toISOString(),
    linkTarget: st.isSymbolicLink() ? readlinkSync(path) : "",
  };
}

/** HEAD: the stat of a path in the container. */
export async function statPath(engine: Engine, rec: ContainerRecord, p: string): Promise<ContainerPathStat> {
  return withRootfs(engine, rec, async (root) => pathStat(hostPath(rec, root, p, false), p));
}

/** GET: a tar of `p` (its last element as the tar's top entry), and its stat. */
export async function getArchive(
  engine: Engine,
  rec: ContainerRecord,
  p: string,
): Promise<{ stat: ContainerPathStat; tar: Readable; done: Promise<void> }> {
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  let ready!: (v: { stat: ContainerPathStat; tar: Readable }) => void;
  let failed!: (e: unknown) => void;
  const got = new Promise<{ stat: ContainerPathStat; tar: Readable }>((res, rej) => {
    ready = res;
    failed = rej;
  });
  const done = withRootfs(engine, rec, async (root) => {
    const host = hostPath(rec, root, p, !p.endsWith("/."));
    const stat = pathStat(host, p);
    const tar = spawn("tar", ["-C", dirname(host), "-cf", "-", "--", basename(host)], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    tar.on("close", () => release());
    ready({ stat, tar: tar.stdout });
    await released;
  }).catch((e: unknown) => failed(e));
  const r = await got;
  return { ...r, done };
}

/** PUT: extracts a tar into directory `p` of the container. */
export async function putArchive(
  engine: Engine,
  rec: ContainerRecord,
  p: string,
  body: Readable,
): Promise<void> {
  if (rec.hostConfig.ReadonlyRootfs)
    throw new PierError("PermissionDenied", "container rootfs is marked read-only");
  await withRootfs(engine, rec, async (root) => {
    const host = hostPath(rec, root, p);
    let st: Stats;
    try {
      st = lstatSync(host);
    } catch {
      throw new PierError("NotFound", `Could not find the file ${p} in container`);
    }
    if (!st.isDirectory())
      throw new PierError("InvalidArgument", `extraction point is not a directory: ${p}`);
    await new Promise<void>((resolve, reject) => {
      const tar = spawn("tar", ["-C", host, "-xf", "-", "--no-same-owner", "--no-overwrite-dir"], {
        stdio: ["pipe", "ignore", "pipe"],
      });
      let err = "";
      tar.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
      body.pipe(tar.stdin);
      tar.on("close", (code) =>
        code === 0 ? resolve() : reject(new PierError("InvalidArgument", `extract into ${p}: ${err.trim()}`)),
      );
      tar.on("error", reject);
    });
  });
}
