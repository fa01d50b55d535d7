/**
 * `pier system check` / `prune`: what pier left in the kernel or on disk that no live
 * container accounts for — rootfs mounts, cgroups, network namespaces, runtime states,
 * monitors, snapshots, container directories — plus the network layer's own leaks.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import { execFileSync } from "node:child_process";
import type { SystemLeak } from "../../api/container-types.ts";
import type { NetworkManager } from "../../network/index.ts";
import { deleteContainer } from "../../runtime/index.ts";
import { unmount } from "../../snapshot/index.ts";
import type { Engine } from "./engine.ts";

const CGROUP_ROOT = "/sys/fs/cgroup";

function isLive(status: string): boolean {
  return status === "running" || status === "paused";
}

export async function findLeaks(engine: Engine, networks?: NetworkManager): Promise<SystemLeak[]> {
  const leaks: SystemLeak[] = [];
  const recs = await engine.list();
  const live = new Set(recs.filter((r) => isLive(r.state.status)).map((r) => r.id));
  const known = new Set(recs.map((r) => r.id));
  // Rootfs mounts of containers that are not running.
  const mountinfo = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  for (const line of mountinfo) {
    const mp = line.split(" ")[4];
    if (!mp?.startsWith(engine.store.dir + "/")) continue;
    const id = mp.slice(engine.store.dir.length + 1).split("/")[0]!;
    if (!live.has(id))
      leaks.push({
        Kind: "mount",
        Id: id,
        Path: mp,
        Detail: `rootfs of ${known.has(id) ? "a stopped" : "an unknown"} container is still mounted`,
      });
  }
  // cgroups named /pier/<id> in any hierarchy.
  for (const h of existsSync(CGROUP_ROOT) ? readdirSync(CGROUP_ROOT) : []) {
    const dir = `${CGROUP_ROOT}/${h}/pier`;
    if (!existsSync(dir)) continue;
    for (const id of readdirSync(dir)) {
      if (!/^[0-9a-f]{64}$/.test(id) || live.has(id)) continue;
      // Only this engine's containers: another pierd (another root) or a standalone
      // pier-runtime may own the rest of /pier.
      if (!known.has(id) && !existsSync(engine.store.pathOf(id))) continue;
      leaks.push({
        Kind: "cgroup",
        Id: id,
        Path: `${dir}/${id}`,
        Detail: "cgroup of a container that is not running",
      });
    }
  }
  // Network namespaces pier-<id12>.
  const nsDir = "/run/netns";
  for (const n of existsSync(nsDir) ? readdirSync(nsDir) : []) {
    const m = /^pier-([0-9a-f]{12})$/.exec(n);
    if (!m) continue;
    const owner = recs.find((r) => r.id.startsWith(m[1]!));
    // Not one of ours (another pierd's): leave it.
    if (!owner || isLive(owner.state.status)) continue;
    leaks.push({
      Kind: "netns",
      ...(owner ? { Id: owner.id } : {}),
      Path: `${nsDir}/${n}`,
      Detail: "network namespace of a container that is not running",
    });
  }
  // Runtime states of containers that are not running.
  for (const id of engine.runtime.store.ids()) {
    if (!live.has(id))
      leaks.push({
        Kind: "runtime-state",
        Id: id,
        Detail: "runtime state of a container that is not running",
      });
  }
  // Snapshots container-<id> without a container.
  for (const s of await engine.opts.images.snapshotter.list()) {
    const m = /^container-([0-9a-f]{64})$/.exec(s.key);
    if (m && !known.has(m[1]!))
      leaks.push({ Kind: "snapshot", Id: m[1]!, Detail: `writable layer ${s.key} of a removed container` });
  }
  // Directories without a record.
  for (const id of await engine.store.ids()) {
    if (!known.has(id))
      leaks.push({
        Kind: "container",
        Id: id,
        Path: engine.store.pathOf(id),
        Detail: "container directory without a record",
      });
  }
  if (networks) {
    for (const l of await networks.check())
      leaks.push({
        Kind: `network-${l.kind}`,
        Detail: l.description,
        ...("name" in l ? { Id: l.name } : {}),
      });
  }
  return leaks;
}

export async function removeLeaks(
  engine: Engine,
  leaks: SystemLeak[],
  networks?: NetworkManager,
): Promise<SystemLeak[]> {
  const removed: SystemLeak[] = [];
  for (const l of leaks) {
    try {
      switch (l.Kind) {
        case "mount":
          await unmount(l.Path!, { detach: true });
          break;
        case "cgroup":
          // Processes still in it are killed first (a container nothing tracks any more).
          try {
            for (const p of readFileSync(`${l.Path}/cgroup.procs`, "utf8").split("\n").filter(Boolean))
              process.kill(Number(p), "SIGKILL");
          } catch {
            // none
          }
          rmdirSync(l.Path!);
          break;
        case "netns":
          execFileSync("ip", ["netns", "delete", l.Path!.split("/").pop()!], { stdio: "ignore" });
          break;
        case "runtime-state":
          deleteContainer(engine.runtime, l.Id!, true);
          break;
        case "snapshot":
          await engine.opts.images.removeRootfs(`container-${l.Id!}`);
          break;
        case "container":
          rmSync(l.Path!, { recursive: true, force: true });
          break;
        default:
          continue;
      }
      removed.push(l);
    } catch {
      // left for the next check
    }
  }
  if (networks) {
    const netLeaks = await networks.check();
    if (netLeaks.length) {
      await networks.cleanup(netLeaks);
      for (const l of leaks) if (l.Kind.startsWith("network-")) removed.push(l);
    }
  }
  return removed;
}
