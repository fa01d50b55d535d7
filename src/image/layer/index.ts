export { applyLayer, diffMounts } from "./apply.ts";
export { compress, decompress, hasZstd, MEDIA_TYPES, sniff, type Compression } from "./compression.ts";
export { commitLayer, layerStream, packDiff, packLayer } from "./pack.ts";
export type { LayerDescriptor, LayerOptions, PackOptions } from "./pack.ts";
export { encodeHeader, END_OF_ARCHIVE, padding, readTar } from "./tar.ts";
export type { EntryType, HeaderInput, ReadTarOptions, TarEntry, TarHeader } from "./tar.ts";
export { cleanName, unpackLayer } from "./unpack.ts";
export type { UnpackOptions, UnpackResult } from "./unpack.ts";
