/**
 * `pier update`: new cgroup limits (and restart policy) for running or stopped containers.
 * The body is docker's: every resource field, unset ones 0 or null (null = unchanged).
 */
import type { ContainerUpdateRequest } from "../../api/client/index.ts";
import { str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { flagValue } from "../flag-values.ts";
import { parseRestartPolicy } from "../opts/host.ts";
import { memSwapBytes, nanoCpus, parseInt64, ramInBytes, ValueError } from "../opts/values.ts";
import { forEachTarget } from "../multi.ts";

const FLAGS = [
  {
    name: "blkio-weight",
    kind: "string",
    help: "Block IO (relative weight), between 10 and 1000, or 0 to disable",
  },
  { name: "cpu-period", kind: "string", help: "Limit CPU CFS (Completely Fair Scheduler) period" },
  { name: "cpu-quota", kind: "string", help: "Limit CPU CFS (Completely Fair Scheduler) quota" },
  { name: "cpu-rt-period", kind: "string", help: "Limit the CPU real-time period in microseconds" },
  { name: "cpu-rt-runtime", kind: "string", help: "Limit the CPU real-time runtime in microseconds" },
  { name: "cpu-shares", short: "c", kind: "string", help: "CPU shares (relative weight)" },
  { name: "cpus", kind: "string", help: "Number of CPUs" },
  { name: "cpuset-cpus", kind: "string", help: "CPUs in which to allow execution (0-3, 0,1)" },
  { name: "cpuset-mems", kind: "string", help: "MEMs in which to allow execution (0-3, 0,1)" },
  { name: "memory", short: "m", kind: "string", help: "Memory limit" },
  { name: "memory-reservation", kind: "string", help: "Memory soft limit" },
  {
    name: "memory-swap",
    kind: "string",
    help: "Swap limit equal to memory plus swap: -1 to enable unlimited swap",
  },
  { name: "pids-limit", kind: "string", help: "Tune container pids limit (set -1 for unlimited)" },
  { name: "restart", kind: "string", help: "Restart policy to apply when a container exits" },
] as const;

export const command: CommandDef = {
  name: "update",
  usage: "update [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Update configuration of one or more containers",
  minArgs: 1,
  flags: [...FLAGS],
  async run(cli, p) {
    if (!FLAGS.some((f) => p.flags.has(f.name))) {
      throw new UsageError("you must provide one or more flags when using this command", "pier update");
    }
    const v = <T>(name: string, short: string | undefined, parse: (s: string) => T) =>
      flagValue(p, name, short ? `-${short}, --${name}` : `--${name}`, "pier update", parse);
    const int = (name: string, short?: string) => v(name, short, parseInt64) ?? 0;
    let restart;
    try {
      restart = parseRestartPolicy(str(p, "restart") ?? "");
    } catch (e) {
      if (e instanceof ValueError) throw new UsageError(e.message, "pier update");
      throw e;
    }
    const body: ContainerUpdateRequest = {
      CpuShares: int("cpu-shares", "c"),
      Memory: v("memory", "m", ramInBytes) ?? 0,
      NanoCpus: v("cpus", undefined, nanoCpus) ?? 0,
      CgroupParent: "",
      BlkioWeight: int("blkio-weight"),
      BlkioWeightDevice: null,
      BlkioDeviceReadBps: null,
      BlkioDeviceWriteBps: null,
      BlkioDeviceReadIOps: null,
      BlkioDeviceWriteIOps: null,
      CpuPeriod: int("cpu-period"),
      CpuQuota: int("cpu-quota"),
      CpuRealtimePeriod: int("cpu-rt-period"),
      CpuRealtimeRuntime: int("cpu-rt-runtime"),
      CpusetCpus: str(p, "cpuset-cpus") ?? "",
      CpusetMems: str(p, "cpuset-mems") ?? "",
      Devices: null,
      DeviceCgroupRules: null,
      DeviceRequests: null,
      MemoryReservation: v("memory-reservation", undefined, ramInBytes) ?? 0,
      MemorySwap: v("memory-swap", undefined, memSwapBytes) ?? 0,
      MemorySwappiness: null,
      OomKillDisable: null,
      PidsLimit: v("pids-limit", undefined, parseInt64) ?? null,
      Ulimits: null,
      CpuCount: 0,
      CpuPercent: 0,
      IOMaximumIOps: 0,
      IOMaximumBandwidth: 0,
      RestartPolicy: restart,
    };
    await forEachTarget(cli, p.positionals, async (c, n) => {
      const r = await c.containers.update(n, body);
      for (const w of r?.Warnings ?? []) cli.io.err(`${w}\n`);
    });
  },
};
