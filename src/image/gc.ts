/**
 * Garbage collection of the content store: a blob lives while a root reaches it
 * through the metadata's reference edges (images → manifests → configs and
 * layers; leases and containers are roots too). Everything else, older than a
 * grace period (so a pull that committed a blob but has not yet tagged its image
 * keeps it even without a lease), is deleted, and so are stale ingests.
 *
 * The live set is computed and the blobs deleted while holding the database's
 * write lock, so no other process can add a reference to a blob being deleted.
 */
import { unlinkSync } from "node:fs";
import type { ContentStore } from "./content/store.ts";
import type { Digest } from "./digest.ts";
import { blobNode, type MetadataStore } from "./store/metadata.ts";

export interface GcOptions {
  /** Blobs younger than this are kept even when unreferenced (default 10 minutes). */
  graceMs?: number;
  /** Ingests untouched for this long are removed (default 24 hours). */
  ingestGraceMs?: number;
  /** Report what would be removed without removing it. */
  dryRun?: boolean;
}

export interface GcResult {
  removed: Digest[];
  reclaimedBytes: number;
  ingests: string[];
}

export async function collectGarbage(
  meta: MetadataStore,
  content: ContentStore,
  opts: GcOptions = {},
): Promise<GcResult> {
  const cutoff = Date.now() - (opts.graceMs ?? 10 * 60_000);
  const blobs = await content.list();
  const result: GcResult = { removed: [], reclaimedBytes: 0, ingests: [] };
  meta.transaction(() => {
    const live = meta.liveNodes();
    for (const b of blobs) {
      if (live.has(blobNode(b.digest)) || b.createdAt.getTime() > cutoff) continue;
      result.removed.push(b.digest);
      result.reclaimedBytes += b.size;
      if (opts.dryRun) continue;
      meta.forgetBlob(b.digest);
      try {
        unlinkSync(content.blobPath(b.digest));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
      }
    }
  });
  if (!opts.dryRun)
    result.ingests = await content.gcIngests({ olderThanMs: opts.ingestGraceMs ?? 86_400_000 });
  return result;
}
