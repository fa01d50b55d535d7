import type { Resources } from "../oci/runtime-spec.ts";

/**
 * A `CgroupManager` puts a container's processes in a cgroup and limits what they use.
 *
 * Vocabulary:
 * - A **cgroup path** is absolute inside the cgroup tree, like `/pier/3f2a` (see
 *   `parseCgroupsPath` for how `linux.cgroupsPath` becomes one). It names a directory under
 *   every hierarchy: on cgroup v1 there is one hierarchy per controller (or per group of
 *   controllers, like `cpu,cpuacct`), so `/pier/3f2a` is `/sys/fs/cgroup/memory/pier/3f2a`,
 *   `/sys/fs/cgroup/cpu/pier/3f2a` and so on; on cgroup v2 there is one tree, and it is
 *   `/sys/fs/cgroup/pier/3f2a`.
 * - **Resources** are the OCI `linux.resources`. `create` and `apply` write them to the
 *   kernel's files; the kernel's refusals (a memory limit below current usage, a quota
 *   it does not accept) become `InvalidArgument` errors naming the file and the value.
 * - What cannot be enforced on this host (v2 device rules, which need eBPF; swap without
 *   swap accounting; block I/O weights without a weight-capable scheduler...) is not an
 *   error: `create`/`apply` return it as a list of `Unenforced` items for the caller to warn
 *   about. An empty list means everything asked for is in force.
 *
 * Everything is synchronous: the runtime's command line is start-up-time critical, and
 * each operation is a handful of small file writes.
 *
 * Lifecycle of a container's cgroup, as the runtime drives it:
 *
 * ```ts
 * const cg = detectCgroups();                       // v1 or v2, from /sys/fs/cgroup
 * const path = parseCgroupsPath(spec.linux?.cgroupsPath, id, false); // "/pier/<id>"
 * for (const u of cg.create(path, spec.linux?.resources)) warn(`${u.field}: ${u.reason}`);
 * const files = cg.procsFiles(path);   // the helper writes its pid there before clone
 * // ... container runs ...
 * cg.freeze(path); cg.thaw(path);      // pause / resume
 * cg.apply(path, { pids: { limit: 100 } });         // update
 * cg.killAll(path, "SIGKILL");         // freezes, kills, thaws, waits until empty
 * cg.destroy(path);                    // removes every directory, children first
 * ```
 *
 * Implementations: `CgroupV1` (v1.ts) and `CgroupV2` (v2.ts), which both pass
 * contract-suite.ts, and `FakeCgroupManager` (fake.ts: in memory, recording calls, for
 * tests of the layers above).
 */
export interface CgroupManager {
  readonly version: 1 | 2;
  /**
   * Creates the cgroup at `path` in every hierarchy (and its missing parents), then applies
   * `resources`. Idempotent: creating an existing cgroup only applies the resources. If it
   * throws, the cgroup may exist half-configured: the caller destroys it.
   */
  create(path: string, resources?: Resources): Unenforced[];
  /**
   * The `cgroup.procs` files a process writes its own pid to in order to join the cgroup,
   * one per hierarchy. The runtime's C helper writes to these before it clones the container.
   */
  procsFiles(path: string): string[];
  /** Applies (updates) resources; fields that are absent are left as they are. */
  apply(path: string, resources: Resources): Unenforced[];
  /** Every pid in the cgroup and its descendants; `[]` if the cgroup does not exist. */
  pids(path: string): number[];
  /** Freezes every process of the cgroup; returns once the kernel says it is frozen. */
  freeze(path: string): void;
  thaw(path: string): void;
  isFrozen(path: string): boolean;
  /**
   * Sends `signal` to every process. For SIGKILL it freezes first, kills, thaws (so nothing
   * can fork away in between, like runc's signalAllProcesses), then waits until the cgroup
   * is empty, up to `timeoutMs` (default 5000): `Unavailable` if it is not.
   */
  killAll(path: string, signal: number | NodeJS.Signals, timeoutMs?: number): void;
  /**
   * Removes the cgroup's directories in every hierarchy, children first, retrying briefly
   * while the kernel says busy. No error if it is already gone; `FailedPrecondition` if
   * processes are still in it.
   */
  destroy(path: string): void;
  exists(path: string): boolean;
  /** Usage counters; `NotFound` if the cgroup does not exist. */
  stats(path: string): CgroupStats;
  /**
   * For a `cgroup` mount inside the container: each hierarchy of this cgroup on the host,
   * and its name under the container's /sys/fs/cgroup. On v2 there is one, named "" (the
   * mount point itself).
   */
  mountSources(path: string): CgroupMountSource[];
  /** Symlinks to make beside the mountSources, e.g. `cpu -> cpu,cpuacct`. None on v2. */
  mountSymlinks(): CgroupSymlink[];
}

/** A requested setting that this host cannot enforce. `field` names the OCI field. */
export interface Unenforced {
  field: string;
  reason: string;
}

export interface CgroupMountSource {
  name: string;
  hostPath: string;
}

export interface CgroupSymlink {
  name: string;
  target: string;
}

/** Counters of a cgroup. Limits are `null` when unlimited; counters absent on a host are 0. */
export interface CgroupStats {
  memory: {
    /** Bytes in use now (v1 memory.usage_in_bytes, v2 memory.current). */
    usage: number;
    /** Peak usage, when the kernel keeps it. */
    maxUsage: number | null;
    limit: number | null;
    /** Times usage hit the limit (v1 memory.failcnt, v2 memory.events "max"). */
    failcnt: number;
    /** Processes killed by the OOM killer in this cgroup. */
    oomKills: number;
  };
  cpu: {
    usageNs: number;
    userNs: number;
    systemNs: number;
    /** CFS bandwidth: periods elapsed, periods throttled, total time throttled. */
    periods: number;
    throttledPeriods: number;
    throttledNs: number;
  };
  pids: { current: number; limit: number | null };
}
