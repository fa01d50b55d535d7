/**
 * Temporary names for unnamed build states. The engine creates containers
 * from images it can resolve, and a build's intermediate states are not
 * images (state.ts); for the length of a RUN step its parent state is
 * recorded as a dangling image (named by its manifest digest, as docker's
 * `<none>`), then the record is dropped again — unless it existed before,
 * was tagged meanwhile, or some other container now uses the image.
 * Holds are counted, so concurrent builds on the same state share one.
 *
 * Usage:
 *   await holds.acquire(state);
 *   try { ...engine.create({ Image: state.id })... } finally { await holds.release(state); }
 */
import { IMAGE_LABEL, type ImageService } from "../../image/service/service.ts";
import type { ImageState } from "./state.ts";

interface Hold {
  count: number;
  /** Whether this hold made the record (and so removes it). */
  made: boolean;
}

export class ImageHolds {
  private readonly held = new Map<string, Hold>();
  /** Serializes acquire/release so two builds never race on one record. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly images: ImageService) {}

  acquire(state: ImageState): Promise<void> {
    return this.serial(async () => {
      const h = this.held.get(state.id);
      if (h) {
        h.count++;
        return;
      }
      const exists = this.images.meta.listImages().some((r) => r.configDigest === state.id);
      if (!exists && state.target) await this.images.putImage(undefined, state.target);
      this.held.set(state.id, { count: 1, made: !exists });
    });
  }

  release(state: ImageState): Promise<void> {
    return this.serial(async () => {
      const h = this.held.get(state.id);
      if (!h || --h.count > 0) return;
      this.held.delete(state.id);
      if (!h.made || !state.target) return;
      const inUse = (await this.images.snapshotter.list()).some(
        (s) => s.kind !== "committed" && s.labels[IMAGE_LABEL] === state.id,
      );
      if (inUse) return;
      const records = this.images.meta.listImages().filter((r) => r.configDigest === state.id);
      // Tagged meanwhile: the tag replaced the dangling record; leave it all alone.
      if (records.length !== 1 || records[0]?.name !== state.target.digest) return;
      try {
        this.images.meta.deleteImage(state.target.digest);
      } catch {
        // gone already
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.catch(() => undefined);
    return next;
  }
}
