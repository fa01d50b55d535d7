/** Base images without a network: busybox from busybox-static, Debian from debootstrap. */
export { bootstrapBusybox, DEFAULT_PATH, type BusyboxOptions } from "./busybox.ts";
export { bootstrapDebian, hasDebootstrap, type DebianOptions } from "./debian.ts";
