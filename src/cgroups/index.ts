/** The cgroups layer: one manager interface, the v1 and v2 drivers, detection, paths. */
export type { CgroupManager, CgroupMountSource, CgroupStats, CgroupSymlink, Unenforced } from "./manager.ts";
export { CgroupV1, type V1Hierarchy, hostV1Hierarchies, parseMountinfoV1 } from "./v1.ts";
export { CgroupV2, DEVICES_NOT_ENFORCED } from "./v2.ts";
export { DEFAULT_PARENT, cgroupVersion, detectCgroups, expandSlice, parseCgroupsPath } from "./detect.ts";
export { type CgroupFs, sharesToWeight, blkioToIoWeight } from "./common.ts";
