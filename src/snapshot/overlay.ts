/**
 * The overlayfs snapshotter. Each snapshot directory holds `fs` (its own
 * changes: an overlay upper dir while active, a lower dir once committed) and
 * `work` (overlay's work dir). An active snapshot with parents mounts as
 *
 *   overlay lowerdir=<parent fs>:<grandparent fs>:…,upperdir=<fs>,workdir=<work>
 *
 * with no parents as a plain bind of its `fs`; a view as a read-only bind of
 * its only parent or an upper-less overlay of several. Committing is only a
 * metadata change: the upper dir becomes a lower dir as it is.
 *
 * Paths in the Mount records are absolute; `mountAll` shortens them when
 * 100+ layers would not fit in one page of mount options.
 */
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { DirectorySnapshotter } from "./dirs.ts";
import type { Row } from "./metastore.ts";
import { overlaySupportsIndexOff, type Mount } from "./mount.ts";
import type { Kind } from "./snapshotter.ts";

export class OverlaySnapshotter extends DirectorySnapshotter {
  readonly name = "overlayfs";

  private constructor(root: string) {
    super(root);
  }

  static async open(root: string): Promise<OverlaySnapshotter> {
    return new OverlaySnapshotter(root);
  }

  protected async populate(dir: string, _parent: Row | undefined, kind: Kind): Promise<void> {
    await mkdir(join(dir, "fs"), { mode: 0o755 });
    if (kind === "active") await mkdir(join(dir, "work"), { mode: 0o700 });
  }

  protected mountsOf(row: Row, chain: number[]): Mount[] {
    const own = this.fsDir(row.id);
    if (row.kind === "view") {
      if (chain.length === 0) return [{ type: "bind", source: own, options: ["ro", "rbind"] }];
      if (chain.length === 1)
        return [{ type: "bind", source: this.fsDir(chain[0]!), options: ["ro", "rbind"] }];
      return [
        {
          type: "overlay",
          source: "overlay",
          options: [`lowerdir=${chain.map((id) => this.fsDir(id)).join(":")}`],
        },
      ];
    }
    if (chain.length === 0) return [{ type: "bind", source: own, options: ["rw", "rbind"] }];
    const options = [
      ...(overlaySupportsIndexOff() ? ["index=off"] : []),
      `workdir=${join(this.snapshots, String(row.id), "work")}`,
      `upperdir=${own}`,
      `lowerdir=${chain.map((id) => this.fsDir(id)).join(":")}`,
    ];
    return [{ type: "overlay", source: "overlay", options }];
  }
}
