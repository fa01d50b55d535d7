/**
 * The plain-copy ("naive") snapshotter: every snapshot is a full copy of its
 * parent (`cp -a`, which keeps owners, modes, times, xattrs, devices and hard
 * links; reflinks where the file system has them), mounted with a bind mount.
 * Slow and large, but it needs nothing from the kernel beyond bind mounts, and
 * it is the reference the overlay snapshotter is tested against.
 */
import { execFile } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { wrap } from "../common/errors.ts";
import { DirectorySnapshotter } from "./dirs.ts";
import type { Row } from "./metastore.ts";
import type { Mount } from "./mount.ts";

const run = promisify(execFile);

export class NaiveSnapshotter extends DirectorySnapshotter {
  readonly name = "naive";

  private constructor(root: string) {
    super(root);
  }

  static async open(root: string): Promise<NaiveSnapshotter> {
    return new NaiveSnapshotter(root);
  }

  protected async populate(dir: string, parent: Row | undefined): Promise<void> {
    const fs = join(dir, "fs");
    if (!parent) {
      await mkdir(fs, { mode: 0o755 });
      return;
    }
    try {
      await run("cp", ["-a", "--reflink=auto", "--", this.fsDir(parent.id), fs]);
    } catch (err) {
      throw wrap(err, `copy snapshot ${parent.key}`);
    }
  }

  protected mountsOf(row: Row): Mount[] {
    return [
      { type: "bind", source: this.fsDir(row.id), options: [row.kind === "view" ? "ro" : "rw", "rbind"] },
    ];
  }
}
