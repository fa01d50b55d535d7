import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cgroupContract, type Observed } from "./contract-suite.ts";
import { blkioToIoWeight, sharesToWeight } from "./common.ts";
import { cgroupVersion } from "./detect.ts";
import { makeFakeCgroup2Root, removeFakeCgroup2Root } from "./fake.ts";
import { CgroupV1, hostV1Hierarchies } from "./v1.ts";
import { CgroupV2 } from "./v2.ts";

const read = (f: string): string | undefined => (existsSync(f) ? readFileSync(f, "utf8").trim() : undefined);
const limit = (s: string | undefined): number | null =>
  s === undefined || s === "max" || s === "-1" || Number(s) >= 2 ** 62 ? null : Number(s);

/** A block device of this host, for throttles (the v1 kernel checks that it exists). */
function blockDevice(): string {
  const devs = readdirSync("/sys/block").sort(
    (a, b) => Number(a.startsWith("loop")) - Number(b.startsWith("loop")),
  );
  for (const d of devs) {
    const s = read(`/sys/block/${d}/dev`);
    if (s) return s;
  }
  return "7:0";
}

cgroupContract("v1", () => {
  if (process.getuid?.() !== 0) return "needs root";
  try {
    if (cgroupVersion() !== 1) return "this host is not cgroup v1";
  } catch (err) {
    return (err as Error).message;
  }
  const m = new CgroupV1();
  const mount = (c: string) =>
    hostV1Hierarchies().find((h) => h.controllers.includes(c))?.mountPoint ?? "/nonexistent";
  const device = blockDevice();
  return {
    manager: m,
    device,
    cleanup: () => undefined,
    observe(p): Observed {
      const f = (c: string, name: string) => read(`${mount(c)}${p}/${name}`);
      const weight = f("blkio", "blkio.weight") ?? f("blkio", "blkio.bfq.weight")?.replace(/^default /, "");
      const bps = (f("blkio", "blkio.throttle.read_bps_device") ?? "")
        .split("\n")
        .find((l) => l.startsWith(device + " "));
      return {
        memoryLimit: limit(f("memory", "memory.limit_in_bytes")),
        memorySwapLimit: limit(f("memory", "memory.memsw.limit_in_bytes")),
        memoryReservation: limit(f("memory", "memory.soft_limit_in_bytes")),
        cpuWeight: sharesToWeight(Number(f("cpu", "cpu.shares"))),
        cpuQuota: limit(f("cpu", "cpu.cfs_quota_us")),
        cpuPeriod: Number(f("cpu", "cpu.cfs_period_us")),
        cpus: f("cpuset", "cpuset.cpus") ?? "",
        mems: f("cpuset", "cpuset.mems") ?? "",
        pidsMax: limit(f("pids", "pids.max")),
        ioWeight: weight === undefined ? undefined : blkioToIoWeight(Number(weight)),
        readBps: bps ? Number(bps.split(" ")[1]) : null,
      };
    },
  };
});

cgroupContract("v2 (fake tree)", () => {
  const root = mkdtempSync(join(tmpdir(), "pier-cg2-"));
  const fs = makeFakeCgroup2Root(root);
  const device = "8:0";
  return {
    manager: new CgroupV2({ root, fs }),
    device,
    cleanup: () => removeFakeCgroup2Root(root),
    observe(p): Observed {
      const f = (name: string) => read(`${root}${p}/${name}`);
      const [quota, period] = (f("cpu.max") ?? "max 100000").split(" ");
      const mem = limit(f("memory.max"));
      const swap = limit(f("memory.swap.max"));
      const io = (f("io.max") ?? "").split("\n").find((l) => l.startsWith(device + " "));
      const rbps = io
        ?.split(" ")
        .find((kv) => kv.startsWith("rbps="))
        ?.slice(5);
      return {
        memoryLimit: mem,
        memorySwapLimit: mem === null || swap === null ? null : mem + swap,
        memoryReservation: limit(f("memory.low")),
        cpuWeight: Number(f("cpu.weight")),
        cpuQuota: limit(quota),
        cpuPeriod: Number(period),
        cpus: f("cpuset.cpus") ?? "",
        mems: f("cpuset.mems") ?? "",
        pidsMax: limit(f("pids.max")),
        ioWeight: Number((f("io.weight") ?? "").split("\n")[0]?.replace(/^default /, "")),
        readBps: limit(rbps),
      };
    },
  };
});
