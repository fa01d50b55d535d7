/**
 * Layers meet snapshots through Mount records only (containerd's applier and
 * differ): a layer is applied to the mounts of an active snapshot, and the
 * changes in an active snapshot are archived from its mounts.
 *
 * Fast paths, without mounting anything: an overlay mount's upperdir is
 * written (or read) directly in overlay whiteout format; a bind mount's source
 * directory holds the whole tree, so whiteouts are applied as deletions (and a
 * diff is taken against the parent's view). Anything else is mounted on a
 * temporary directory first.
 */
import { mkdtemp, rmdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PierError } from "../../common/errors.ts";
import { mountAll, parseMountOptions, unmount, type Mount } from "../../snapshot/mount.ts";
import type { ContentStore } from "../content/store.ts";
import { commitLayer, type LayerDescriptor, type LayerOptions } from "./pack.ts";
import { unpackLayer, type UnpackOptions, type UnpackResult } from "./unpack.ts";

function option(m: Mount, key: string): string | undefined {
  const o = m.options.find((x) => x.startsWith(`${key}=`));
  return o?.slice(key.length + 1);
}

function isReadOnly(m: Mount): boolean {
  return m.options.includes("ro");
}

/** The directory behind a single bind mount. */
function bindSource(mounts: readonly Mount[], writable: boolean): string | undefined {
  const m = mounts.length === 1 ? mounts[0]! : undefined;
  if (!m || (writable && isReadOnly(m))) return undefined;
  return m.type === "bind" || parseMountOptions(m.options).flags & MS_BIND ? m.source : undefined;
}

const MS_BIND = 0x1000;

/** Unpacks a layer into the active snapshot whose mounts these are. */
export async function applyLayer(
  mounts: readonly Mount[],
  source: AsyncIterable<Buffer>,
  opts: Omit<UnpackOptions, "whiteouts"> = {},
): Promise<UnpackResult> {
  const only = mounts.length === 1 ? mounts[0]! : undefined;
  if (only?.type === "overlay") {
    const upper = option(only, "upperdir");
    if (upper === undefined)
      throw new PierError("FailedPrecondition", "cannot apply a layer to a read-only overlay");
    return unpackLayer(source, upper, { ...opts, whiteouts: "overlay" });
  }
  const dir = bindSource(mounts, true);
  if (dir !== undefined) return unpackLayer(source, dir, { ...opts, whiteouts: "apply" });
  if (mounts.some(isReadOnly))
    throw new PierError("FailedPrecondition", "cannot apply a layer to read-only mounts");
  return withMounted(mounts, (target) => unpackLayer(source, target, { ...opts, whiteouts: "apply" }));
}

/**
 * Archives the changes of an active snapshot into the content store. `upper`
 * are its mounts; `lower` the mounts of a view of its parent (needed only when
 * the snapshot is a full copy, not an overlay; omit for a snapshot without parent).
 */
export async function diffMounts(
  content: ContentStore,
  lower: readonly Mount[] | undefined,
  upper: readonly Mount[],
  opts: Omit<LayerOptions, "whiteouts" | "lower"> = {},
): Promise<LayerDescriptor> {
  const only = upper.length === 1 ? upper[0]! : undefined;
  if (only?.type === "overlay") {
    const dir = option(only, "upperdir");
    if (dir === undefined)
      throw new PierError("FailedPrecondition", "a read-only overlay has no changes to archive");
    return commitLayer(content, dir, { ...opts, whiteouts: "overlay" });
  }
  const dir = bindSource(upper, false);
  if (dir === undefined) throw new PierError("NotImplemented", "diff of these mounts is not implemented");
  if (lower === undefined || lower.length === 0)
    return commitLayer(content, dir, { ...opts, whiteouts: "plain" });
  const low = bindSource(lower, false);
  if (low !== undefined) return commitLayer(content, dir, { ...opts, whiteouts: "plain", lower: low });
  return withMounted(lower, (target) =>
    commitLayer(content, dir, { ...opts, whiteouts: "plain", lower: target }),
  );
}

async function withMounted<T>(mounts: readonly Mount[], fn: (target: string) => Promise<T>): Promise<T> {
  const target = await mkdtemp(join(tmpdir(), "pier-apply-"));
  try {
    await mountAll(mounts, target);
    try {
      return await fn(target);
    } finally {
      await unmount(target, { detach: true });
    }
  } finally {
    await rmdir(target);
  }
}
