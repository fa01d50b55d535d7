/**
 * COPY and ADD without a container: select the files (planCopy), checksum
 * them for the cache (copyChecksum), and read ADD's archives.
 *
 * Usage:
 *   const plan = await planCopy({ instruction: "COPY", from: context, sources: ["."], dest: "/app/" });
 *   const sum = await copyChecksum(plan);
 */
export { archiveStream, detectArchive, isTarHeader, type ArchiveCompression } from "./archive.ts";
export { copyChecksum } from "./checksum.ts";
export { parseChmod, resolveChown, type Owner } from "./owner.ts";
export { planCopy, type CopyEntry, type CopyEntryType, type CopyPlan, type CopyPlanOptions } from "./plan.ts";
export { resolveInTree, type Resolved } from "./resolve.ts";
