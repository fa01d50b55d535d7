/**
 * Test support for image-service tests: a scratch directory with an
 * ImageService in it, and mount points that are always unmounted (then the
 * service closed and the directory removed), even when a test fails.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isMountPoint, mountAll, unmount, type Mount } from "../../snapshot/mount.ts";
import { ImageService, type ImageServiceOptions } from "./service.ts";

export interface Scratch {
  dir: string;
  service: ImageService;
  /** Mounts at a fresh directory under the scratch dir and remembers it for cleanup. */
  mount(mounts: readonly Mount[], name: string): Promise<string>;
  unmount(target: string): Promise<void>;
  cleanup(): Promise<void>;
}

export async function scratch(prefix: string, opts: ImageServiceOptions = {}): Promise<Scratch> {
  const dir = mkdtempSync(join(tmpdir(), `pier-${prefix}-`));
  const service = await ImageService.open(join(dir, "root"), opts);
  const mounted = new Set<string>();
  return {
    dir,
    service,
    async mount(mounts, name) {
      const target = join(dir, "mnt", name);
      mkdirSync(target, { recursive: true });
      await mountAll(mounts, target);
      mounted.add(target);
      return target;
    },
    async unmount(target) {
      await unmount(target);
      mounted.delete(target);
    },
    async cleanup() {
      for (const t of mounted) if (isMountPoint(t)) await unmount(t, { detach: true }).catch(() => undefined);
      await service.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
