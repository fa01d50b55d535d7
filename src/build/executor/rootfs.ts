/**
 * A state's root file system, mounted for a step that works on files without
 * a container (COPY, ADD, WORKDIR) or read from (COPY --from).
 *
 *   const fs = await workspace.mount(state, { writable: true });
 *   await writeFile(join(fs.dir, "etc/motd"), "hi\n");
 *   const layer = await fs.commit(epoch);    // the changes as a layer blob; unmounted, snapshot gone
 *
 * A writable mount is an active snapshot on top of the state's layer chain
 * (each layer unpacked once, as for containers); read-only mounts are views.
 * Snapshot keys are `build-<build id>-<n>` and mount points live in the
 * build's own directory, so whatever a crash leaves is easy to find and
 * `sweep()` removes it.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { mkdir, rm, rmdir } from "node:fs/promises";
import { join } from "node:path";
import { wrap } from "../../common/errors.ts";
import { diffMounts } from "../../image/layer/apply.ts";
import type { LayerDescriptor } from "../../image/layer/pack.ts";
import type { ImageService } from "../../image/service/service.ts";
import { mountAll, unmount, type Mount } from "../../snapshot/mount.ts";
import { BUILD_LABEL } from "./runner.ts";
import { resolvedOf, type ImageState } from "./state.ts";

export interface MountedRootfs {
  /** Where the root file system is mounted. */
  readonly dir: string;
  /** Unmounts and removes the snapshot (idempotent). */
  release(): Promise<void>;
  /** Writable mounts: unmounts, archives the changes as a layer, removes the snapshot. */
  commit(sourceDateEpoch: number): Promise<LayerDescriptor>;
}

export const BUILD_SNAPSHOT_PREFIX = "build-";

export class Workspace {
  private n = 0;

  constructor(
    private readonly images: ImageService,
    /** The build's own directory (mount points go under it). */
    private readonly dir: string,
    private readonly buildId: string,
  ) {}

  /** Unpacks the state's layers; returns the top chain ID (undefined: no layers). */
  unpack(state: ImageState): Promise<string | undefined> {
    return this.images.unpack(resolvedOf(state));
  }

  async mount(state: ImageState, opts: { writable: boolean }): Promise<MountedRootfs> {
    const parent = await this.unpack(state);
    const key = `${BUILD_SNAPSHOT_PREFIX}${this.buildId}-${++this.n}`;
    const sn = this.images.snapshotter;
    const labels = { [BUILD_LABEL]: this.buildId };
    const mounts: Mount[] = opts.writable
      ? await sn.prepare(key, parent, { labels })
      : await sn.view(key, parent, { labels });
    const dir = join(this.dir, `rootfs-${this.n}`);
    let mounted = false;
    let gone = false;
    const release = async () => {
      if (gone) return;
      gone = true;
      if (mounted) await unmount(dir, { detach: true });
      await rmdir(dir).catch(() => undefined);
      await sn.remove(key).catch(() => undefined);
    };
    try {
      await mkdir(dir, { recursive: true });
      await mountAll(mounts, dir);
      mounted = true;
    } catch (err) {
      await release();
      throw wrap(err, `mount the build's root file system`);
    }
    return {
      dir,
      release,
      commit: async (sourceDateEpoch) => {
        try {
          if (mounted) await unmount(dir);
          mounted = false;
          return await diffSnapshot(this.images, key, parent, sourceDateEpoch);
        } finally {
          await release();
        }
      },
    };
  }
}

/**
 * The changes in the active snapshot `key` (on top of the committed `parent`)
 * as a gzip layer in the content store, mtimes clamped to `sourceDateEpoch`.
 */
export async function diffSnapshot(
  images: ImageService,
  key: string,
  parent: string | undefined,
  sourceDateEpoch: number,
): Promise<LayerDescriptor> {
  const sn = images.snapshotter;
  const upper = await sn.mounts(key);
  const viewKey = `${BUILD_SNAPSHOT_PREFIX}diff-${process.pid}-${randomUUID()}`;
  let lower: Mount[] | undefined;
  try {
    // An overlay's upper dir is the diff by itself; a full copy (naive) is compared with its parent.
    const overlay = upper.length === 1 && upper[0]?.type === "overlay";
    if (!overlay && parent !== undefined) lower = await sn.view(viewKey, parent);
    return await diffMounts(images.content, lower, upper, { compression: "gzip", sourceDateEpoch });
  } catch (err) {
    throw wrap(err, "archive the step's changes");
  } finally {
    if (lower) await sn.remove(viewKey).catch(() => undefined);
  }
}

/**
 * Removes what a build left (after a crash, or a failure midway): mounts under
 * its directory first (so nothing is deleted through a mount), its snapshots,
 * then the directory.
 */
export async function sweepBuild(images: ImageService, dir: string, buildId?: string): Promise<void> {
  for (const mp of mountsUnder(dir).reverse()) await unmount(mp, { detach: true }).catch(() => undefined);
  for (const s of await images.snapshotter.list()) {
    if (!s.key.startsWith(BUILD_SNAPSHOT_PREFIX) || s.kind === "committed") continue;
    if (buildId !== undefined && s.labels[BUILD_LABEL] !== buildId) continue;
    await images.snapshotter.remove(s.key).catch(() => undefined);
  }
  // Never delete through a mount that would not go away.
  if (mountsUnder(dir).length === 0) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
}

function mountsUnder(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((mp): mp is string => mp !== undefined && mp.startsWith(dir + "/"));
}
