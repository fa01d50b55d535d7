export type { Info, Kind, SnapshotOptions, Snapshotter, Usage } from "./snapshotter.ts";
export type { Mount, OverlayPlan } from "./mount.ts";
export { isMountPoint, mountAll, MOUNT_DATA_MAX, parseMountOptions, planOverlay, unmount } from "./mount.ts";
export { OverlaySnapshotter } from "./overlay.ts";
export { NaiveSnapshotter } from "./naive.ts";
export { diskUsage } from "./dirs.ts";
export { Fsops, fsopsPath } from "./fsops.ts";
