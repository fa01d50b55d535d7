/**
 * The container's root file system, as the seeds draw it: the image's read-only layers,
 * an init layer, and the container's own copy-on-write layer, joined by overlayfs.
 *
 *   <ctr>/init/      the init layer: empty /etc/hosts, /etc/hostname, /etc/resolv.conf
 *                    (placeholders the real files are bind-mounted over) and the mount
 *                    points every container needs (/proc, /sys, /dev, …)
 *   <ctr>/merged/    where the overlay is mounted while the container runs
 *
 * The writable layer is an image-layer snapshot (ImageService.prepareRootfs), so `commit`
 * diffs only it: neither the init layer nor anything bind-mounted ends up in an image.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Mount } from "../../snapshot/index.ts";

/** Writes the init layer's placeholders. */
export function makeInitLayer(dir: string): void {
  for (const d of ["etc", "proc", "sys", "dev", "dev/pts", "dev/shm"])
    mkdirSync(join(dir, d), { recursive: true, mode: 0o755 });
  for (const f of ["etc/hosts", "etc/hostname", "etc/resolv.conf"])
    writeFileSync(join(dir, f), "", { mode: 0o644 });
}

export interface Layered {
  mounts: Mount[];
  lowerDirs: string[];
  upperDir?: string;
  workDir?: string;
}

/** Puts the init layer right under the writable layer of an overlay mount. */
export function withInitLayer(mounts: Mount[], initDir: string): Layered {
  const out: Mount[] = [];
  let lowerDirs: string[] = [];
  let upperDir: string | undefined;
  let workDir: string | undefined;
  for (const m of mounts) {
    if (m.type !== "overlay" || m.target) {
      out.push(m);
      if (m.type === "bind" && !m.target) upperDir = m.source;
      continue;
    }
    const options = m.options.map((o) => {
      if (o.startsWith("lowerdir=")) {
        lowerDirs = [initDir, ...o.slice("lowerdir=".length).split(":")];
        return `lowerdir=${lowerDirs.join(":")}`;
      }
      if (o.startsWith("upperdir=")) upperDir = o.slice("upperdir=".length);
      if (o.startsWith("workdir=")) workDir = o.slice("workdir=".length);
      return o;
    });
    out.push({ ...m, options });
  }
  return {
    mounts: out,
    lowerDirs,
    ...(upperDir !== undefined ? { upperDir } : {}),
    ...(workDir !== undefined ? { workDir } : {}),
  };
}
