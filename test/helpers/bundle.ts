import { execFileSync, spawnSync, type SpawnSyncReturns } from "node:child_process";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Spec } from "../../src/oci/runtime-spec.ts";
import { defaultSpec } from "../../src/runtime/spec.ts";

export const REPO = resolve(import.meta.dirname, "../..");
export const RUNTIME = join(REPO, "bin/pier-runtime");

/** A busybox rootfs from Debian's busybox-static: /bin/busybox and a symlink per applet. */
export function makeRootfs(dir: string): string {
  const bin = join(dir, "bin");
  mkdirSync(bin, { recursive: true });
  copyFileSync("/bin/busybox", join(bin, "busybox"));
  const applets = execFileSync("/bin/busybox", ["--list"], { encoding: "utf8" }).split("\n").filter(Boolean);
  for (const a of applets) if (a !== "busybox") symlinkSync("busybox", join(bin, a));
  for (const d of ["proc", "sys", "dev", "tmp", "etc", "root", "usr/bin", "sbin"])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(
    join(dir, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  writeFileSync(join(dir, "etc/group"), "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n");
  return dir;
}

/** A scratch area for one test file: a shared rootfs, bundles and a state root, removed by `cleanup`. */
export class Scratch {
  readonly dir: string;
  readonly root: string;
  readonly rootfs: string;
  private n = 0;

  constructor(name: string) {
    this.dir = mkdtempSync(join(tmpdir(), `pier-test-${name}-`));
    chmodSync(this.dir, 0o755); // user-namespaced containers must reach the rootfs
    this.root = join(this.dir, "state");
    this.rootfs = makeRootfs(join(this.dir, "rootfs"));
  }

  /** A unique container id for this run. */
  id(label = "c"): string {
    return `pt-${label}-${process.pid}-${++this.n}`;
  }

  /** A bundle whose config is the default spec changed by `edit`; args default to `sh`. */
  bundle(args: string[], edit?: (s: Spec) => void): string {
    const b = join(this.dir, `bundle-${++this.n}`);
    mkdirSync(b);
    const spec = defaultSpec({ args, terminal: false });
    spec.root = { path: this.rootfs, readonly: false };
    edit?.(spec);
    writeFileSync(join(b, "config.json"), JSON.stringify(spec, null, 2));
    return b;
  }

  /**
   * Runs pier-runtime with this scratch's state root. A detached container (run -d, create)
   * keeps the stdio it was given, so those get files instead of pipes (a pipe would stay
   * open as long as the container lives).
   */
  rt(args: string[], opts: { input?: string; timeout?: number } = {}): SpawnSyncReturns<string> {
    const detached = args.includes("-d") || args.includes("--detach") || args[0] === "create";
    if (!detached)
      return spawnSync(RUNTIME, ["--root", this.root, ...args], {
        encoding: "utf8",
        input: opts.input ?? "",
        timeout: opts.timeout ?? 60_000,
      });
    const out = join(this.dir, `out-${++this.n}`);
    const err = join(this.dir, `err-${this.n}`);
    const o = openSync(out, "w");
    const e = openSync(err, "w");
    try {
      const r = spawnSync(RUNTIME, ["--root", this.root, ...args], {
        encoding: "utf8",
        stdio: ["ignore", o, e],
        timeout: opts.timeout ?? 60_000,
      });
      return { ...r, stdout: readFileSync(out, "utf8"), stderr: readFileSync(err, "utf8") };
    } finally {
      closeSync(o);
      closeSync(e);
    }
  }

  cleanup(): void {
    // Delete every container this scratch still has, then the files.
    const ids = spawnSync(RUNTIME, ["--root", this.root, "list", "-q"], { encoding: "utf8" }).stdout ?? "";
    for (const id of ids.split("\n").filter(Boolean))
      spawnSync(RUNTIME, ["--root", this.root, "delete", "--force", id]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}
