/** The image service: images over the content store, metadata and a snapshotter. */
export { ImageService, chainIDs, IMAGE_LABEL } from "./service.ts";
export type {
  CommitOptions,
  CreateImageOptions,
  HistoryEntry,
  ImageInspect,
  ImageServiceOptions,
  ImageSummary,
  RemoveItem,
  ResolvedImage,
  TargetInput,
} from "./service.ts";
export {
  DEFAULT_DOMAIN,
  DEFAULT_TAG,
  familiarReference,
  formatReference,
  normalizeReference,
  parseReference,
  repository,
  type Reference,
} from "./reference.ts";
export { applyChanges } from "./changes.ts";
export * from "./oci.ts";
