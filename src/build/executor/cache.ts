/**
 * The build cache: cache key (cache-key.ts) → the image state a step produced.
 *
 * It is nothing but garbage-collection edges in the image metadata: the root
 * node `build-cache:<key>` points at the state's manifest blob, which points
 * at its config and layers. So a cache entry keeps exactly its blobs alive,
 * `pier image prune` and `rmi` never take them, a lookup is one indexed
 * query, and removing the entries (`prune`) lets GC reclaim what only the
 * cache held. Entries survive pierd restarts with the metadata.
 *
 * Usage:
 *   const cache = new BuildCache(images);
 *   const hit = await cache.get(key);            // manifest digest or undefined
 *   cache.put(key, state.target!.digest);
 */
import type { Digest } from "../../image/digest.ts";
import type { ImageService } from "../../image/service/service.ts";
import { blobNode } from "../../image/store/metadata.ts";

const PREFIX = "build-cache:";

export class BuildCache {
  constructor(private readonly images: ImageService) {}

  /** The manifest digest cached under `key`, if its blob is still there. */
  async get(key: string): Promise<Digest | undefined> {
    const target = this.images.meta.refsFrom(PREFIX + key).find((t) => t.startsWith("blob:"));
    if (target === undefined) return undefined;
    const digest = target.slice("blob:".length);
    try {
      await this.images.content.info(digest);
      return digest;
    } catch {
      return undefined;
    }
  }

  put(key: string, manifest: Digest): void {
    this.images.meta.transaction(() => {
      this.images.meta.removeRefs(PREFIX + key);
      this.images.meta.addRef(PREFIX + key, blobNode(manifest));
    });
  }

  /** Every entry's key. */
  keys(): string[] {
    return this.images.meta.db
      .prepare<{ source: string }>("SELECT DISTINCT source FROM refs WHERE source LIKE ? ORDER BY source")
      .all(`${PREFIX}%`)
      .map((r) => r.source.slice(PREFIX.length));
  }

  /** Drops every entry; returns their keys (the blobs go at the next garbage collection). */
  clear(): string[] {
    const keys = this.keys();
    this.images.meta.transaction(() => {
      for (const k of keys) this.images.meta.removeRefs(PREFIX + k);
    });
    return keys;
  }
}
