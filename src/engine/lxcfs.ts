/**
 * lxcfs: a FUSE file system whose /proc/meminfo, cpuinfo, stat, uptime, loadavg,
 * diskstats and swaps answer with the figures of the reading process's cgroup, so
 * `free -m` in a `--memory 256m` container says 256. pier binds those files over the
 * container's /proc when lxcfs is there (the seeds' fix for "/proc shows the host").
 *
 *   const dir = await ensureLxcfs("/var/lib/lxcfs");   // mounted, or undefined
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";

export function lxcfsMounted(dir: string): boolean {
  try {
    return readFileSync("/proc/self/mountinfo", "utf8")
      .split("\n")
      .some((l) => l.split(" ")[4] === dir && l.includes(" - fuse.lxcfs "));
  } catch {
    return false;
  }
}

/**
 * The lxcfs mount at `dir`: used when mounted; otherwise started (`lxcfs --enable-cfs -l`,
 * in its own session so it outlives pierd, as a system service would) when the binary is
 * installed. Undefined when there is no lxcfs.
 */
export async function ensureLxcfs(
  dir: string,
  opts: { binary?: string; pidFile?: string; log?: (s: string) => void } = {},
): Promise<string | undefined> {
  if (lxcfsMounted(dir)) return dir;
  const bin = opts.binary ?? "/usr/bin/lxcfs";
  if (!existsSync(bin)) return undefined;
  mkdirSync(dir, { recursive: true });
  // A stale mount (lxcfs died) reads ENOTCONN: take it off first.
  spawnSync("umount", ["-l", dir], { stdio: "ignore" });
  const pidFile = opts.pidFile ?? "/run/pier/lxcfs.pid";
  mkdirSync(dirname(pidFile), { recursive: true });
  const child = spawn(bin, ["--enable-cfs", "-l", "-p", pidFile, dir], {
    detached: true,
    stdio: "ignore",
  });
  child.unref();
  for (let i = 0; i < 100; i++) {
    if (lxcfsMounted(dir)) {
      opts.log?.(`lxcfs: started on ${dir} (pid ${child.pid})`);
      return dir;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  opts.log?.(`lxcfs: did not mount on ${dir}; containers see the host's /proc figures`);
  return undefined;
}
