export { MetadataStore, MIGRATIONS, blobNode, imageNode } from "./metadata.ts";
export type {
  ConfigRecord,
  ImageInput,
  ImageRecord,
  LayerRecord,
  ManifestRecord,
  Target,
} from "./metadata.ts";
export { immediate, openDatabase } from "../../common/sqlite.ts";
export type { Database, Migration, OpenOptions, Statement } from "../../common/sqlite.ts";
