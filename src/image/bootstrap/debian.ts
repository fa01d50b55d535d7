/**
 * `pier image bootstrap debian:<suite>`: runs debootstrap (minbase variant)
 * into a scratch directory and imports it as a one-layer image. Needs the
 * `debootstrap` program, root, and network access to the mirror. Whatever
 * debootstrap left mounted under the scratch directory (it mounts /proc and
 * /sys in the target) is unmounted before it is removed.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PierError, invalid, wrap } from "../../common/errors.ts";
import { unmount } from "../../snapshot/mount.ts";
import { importRootfs, type ImportResult } from "../archive/import.ts";
import { parseReference } from "../service/reference.ts";
import type { ImageService } from "../service/service.ts";
import { DEFAULT_PATH } from "./busybox.ts";

export interface DebianOptions {
  /** Default http://deb.debian.org/debian. */
  mirror?: string;
  /** Default "minbase". */
  variant?: string;
  /** Receives debootstrap's output lines (default: discarded). */
  log?: (line: string) => void;
}

export function hasDebootstrap(): boolean {
  return spawnSync("debootstrap", ["--version"], { stdio: "ignore" }).status === 0;
}

export async function bootstrapDebian(
  service: ImageService,
  name = "debian:bookworm",
  opts: DebianOptions = {},
): Promise<ImportResult> {
  const ref = parseReference(name);
  const suite = ref.tag;
  if (suite === undefined || suite === "latest" || !/^[a-z]+$/.test(suite))
    throw invalid(`bootstrap debian needs a suite as its tag (debian:bookworm), got ${name}`);
  if (!hasDebootstrap())
    throw new PierError("FailedPrecondition", "debootstrap is not installed", {
      hint: "apt-get install debootstrap",
    });
  if (process.getuid?.() !== 0) throw new PierError("PermissionDenied", "debootstrap needs root");
  const scratch = await mkdtemp(join(tmpdir(), "pier-debootstrap-"));
  const root = join(scratch, "rootfs");
  try {
    const args = [
      `--variant=${opts.variant ?? "minbase"}`,
      suite,
      root,
      opts.mirror ?? "http://deb.debian.org/debian",
    ];
    await runLogged("debootstrap", args, opts.log);
    await unmountUnder(scratch);
    await rm(join(root, "var/cache/apt/archives"), { recursive: true, force: true });
    await rm(join(root, "var/lib/apt/lists"), { recursive: true, force: true });
    return await importRootfs(service, root, name, {
      config: { Env: [DEFAULT_PATH], Cmd: ["bash"] },
      createdBy: `pier image bootstrap ${name} (debootstrap ${args.join(" ")})`,
      comment: "",
    });
  } catch (err) {
    throw wrap(err, `bootstrap ${name}`);
  } finally {
    await unmountUnder(scratch).catch(() => undefined);
    await rm(scratch, { recursive: true, force: true });
  }
}

function runLogged(cmd: string, args: string[], log?: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const onData = (d: Buffer) => {
      const s = d.toString();
      tail = (tail + s).slice(-4000);
      if (log) for (const l of s.split("\n")) if (l) log(l);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new PierError("Unavailable", `${cmd} exited with ${code}: ${tail.trim()}`)),
    );
  });
}

/** Unmounts everything mounted beneath `dir`, deepest first. */
async function unmountUnder(dir: string): Promise<void> {
  const info = await readFile("/proc/self/mountinfo", "utf8");
  const points = info
    .split("\n")
    .map((l) => l.split(" ")[4])
    .filter((p): p is string => p !== undefined && p.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const p of points) await unmount(p, { detach: true });
}
