/**
 * `pier image bootstrap busybox`: a busybox image with no network, from
 * Debian's busybox-static package (its /bin/busybox).
 *
 * The tree: /bin/busybox, one symlink to it per applet (from
 * `busybox --list-full`), a minimal /etc/passwd and /etc/group, and the
 * usual empty directories. Every time in the layer and the config is the
 * busybox binary's own mtime (the package's build time), modes are set
 * explicitly and owners are root, so the same package gives the same digest
 * on every machine.
 */
import { execFile } from "node:child_process";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { PierError, wrap } from "../../common/errors.ts";
import { importRootfs, type ImportResult } from "../archive/import.ts";
import type { ImageService } from "../service/service.ts";

const run = promisify(execFile);

export interface BusyboxOptions {
  /** The static busybox binary (default /bin/busybox from busybox-static). */
  binary?: string;
}

const DIRS: [string, number][] = [
  ["bin", 0o755],
  ["sbin", 0o755],
  ["usr", 0o755],
  ["usr/bin", 0o755],
  ["usr/sbin", 0o755],
  ["etc", 0o755],
  ["root", 0o700],
  ["home", 0o755],
  ["tmp", 0o1777],
  ["var", 0o755],
  ["var/tmp", 0o1777],
  ["proc", 0o555],
  ["sys", 0o555],
  ["dev", 0o755],
];

const PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n";
const GROUP = "root:x:0:\nnogroup:x:65534:\n";
export const DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Whether an ELF executable is static: it has no PT_INTERP program header (ELF64, little-endian). */
async function isStatic(bin: string): Promise<boolean> {
  const b = await readFile(bin);
  if (b.length < 64 || b.readUInt32BE(0) !== 0x7f454c46 || b[4] !== 2) return false;
  const phoff = Number(b.readBigUInt64LE(32));
  const phentsize = b.readUInt16LE(54);
  const phnum = b.readUInt16LE(56);
  for (let i = 0; i < phnum; i++) {
    const off = phoff + i * phentsize;
    if (off + 4 > b.length) return false;
    if (b.readUInt32LE(off) === 3) return false; // PT_INTERP
  }
  return true;
}

export async function bootstrapBusybox(
  service: ImageService,
  name = "busybox:latest",
  opts: BusyboxOptions = {},
): Promise<ImportResult> {
  const bin = opts.binary ?? "/bin/busybox";
  let st;
  try {
    st = await stat(bin);
  } catch (err) {
    throw new PierError("FailedPrecondition", `no busybox at ${bin}`, {
      hint: "apt-get install busybox-static",
      cause: err,
    });
  }
  if (!(await isStatic(bin)))
    throw new PierError("FailedPrecondition", `${bin} is not statically linked`, {
      hint: "apt-get install busybox-static",
    });
  const epoch = Math.floor(st.mtimeMs / 1000);
  const { stdout } = await run(bin, ["--list-full"]);
  let version = "";
  try {
    version = (await run("dpkg-query", ["-W", "-f=${Version}", "busybox-static"])).stdout.trim();
  } catch {
    // not a Debian package: no version in the history
  }
  const scratch = await mkdtemp(join(tmpdir(), "pier-busybox-"));
  try {
    const root = join(scratch, "rootfs");
    await mkdir(root, { mode: 0o755 });
    await chmod(root, 0o755);
    for (const [d, mode] of DIRS) {
      await mkdir(join(root, d));
      await chmod(join(root, d), mode);
    }
    await copyFile(bin, join(root, "bin/busybox"));
    await chmod(join(root, "bin/busybox"), 0o755);
    for (const applet of stdout
      .split("\n")
      .map((l) => l.trim())
      .filter(Boolean)) {
      if (applet === "bin/busybox" || applet.includes("..") || applet.startsWith("/")) continue;
      const at = join(root, applet);
      await mkdir(dirname(at), { recursive: true, mode: 0o755 });
      await symlink("/bin/busybox", at).catch((err: unknown) => {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      });
    }
    await writeFile(join(root, "etc/passwd"), PASSWD, { mode: 0o644 });
    await writeFile(join(root, "etc/group"), GROUP, { mode: 0o644 });
    await chmod(join(root, "etc/passwd"), 0o644);
    await chmod(join(root, "etc/group"), 0o644);
    const created = new Date(epoch * 1000);
    return await importRootfs(service, root, name, {
      sourceDateEpoch: epoch,
      created,
      config: { Env: [DEFAULT_PATH], Cmd: ["sh"] },
      createdBy: `pier image bootstrap busybox${version ? ` (busybox-static ${version})` : ""}`,
      comment: "",
    });
  } catch (err) {
    throw wrap(err, "bootstrap busybox");
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
