/** The image library: content store, metadata, layers, garbage collection. */
export * from "./content/index.ts";
export * from "./store/index.ts";
export * from "./layer/index.ts";
export { collectGarbage, type GcOptions, type GcResult } from "./gc.ts";
export {
  Digester,
  digestOf,
  isDigest,
  parseDigest,
  type Algorithm,
  type Digest,
  type ParsedDigest,
} from "./digest.ts";
export * from "./service/index.ts";
export * from "./archive/index.ts";
export * from "./bootstrap/index.ts";
