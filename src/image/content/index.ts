export { ContentStore, IngestWriter } from "./store.ts";
export type { BlobInfo, ContentStoreOptions, Descriptor, IngestStatus, WriterOptions } from "./store.ts";
