/** Image archives: save and load (OCI layout, docker-archive) and rootfs import. */
export { save, saveStream, type ArchiveFormat, type SaveOptions } from "./save.ts";
export { load, type LoadOptions, type LoadResult } from "./load.ts";
export { importRootfs, type ImportOptions, type ImportResult } from "./import.ts";
