/**
 * `pier save`: images as one tar stream, in either format other tools read.
 *
 *   "oci"             an OCI image layout (oci-layout, index.json, blobs/sha256/…):
 *                     the blobs exactly as stored, so every digest is kept. Each
 *                     image is one index entry annotated with its name
 *                     (`io.containerd.image.name`, as docker and containerd write)
 *                     and tag (`org.opencontainers.image.ref.name`).
 *   "docker-archive"  what `docker save` wrote before docker 25:
 *                     manifest.json, repositories, <config hex>.json, and one
 *                     <diffID hex>/layer.tar (uncompressed, so its digest is the
 *                     diffID) with VERSION and json beside it. RepoTags hold full
 *                     names ("docker.io/library/busybox:latest"), which docker
 *                     loads as it loads its own familiar ones.
 *
 * For an image whose name points at an index, this machine's manifest is
 * saved (the other platforms' blobs are not in the store). Every blob is
 * verified while it is written: a corrupt store fails the save instead of
 * producing an archive that lies. Saving to a path writes a temporary file
 * and renames it, so a failed save leaves nothing behind.
 */
import { randomUUID } from "node:crypto";
import { constants as C } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { dirname, basename, join } from "node:path";
import type { Writable } from "node:stream";
import { PierError, invalid, wrap } from "../../common/errors.ts";
import { Digester, parseDigest, type Digest } from "../digest.ts";
import { decompress } from "../layer/compression.ts";
import { encodeHeader, END_OF_ARCHIVE, padding } from "../layer/tar.ts";
import { canonical, MT, type DescriptorJSON, type IndexJSON } from "../service/oci.ts";
import { parseReference } from "../service/reference.ts";
import type { ImageService, ResolvedImage } from "../service/service.ts";

export type ArchiveFormat = "oci" | "docker-archive";

export interface SaveOptions {
  format?: ArchiveFormat;
  /** mtime of the archive's entries (default 0, so equal inputs give equal archives). */
  mtime?: number;
}

interface Item {
  img: ResolvedImage;
  /** Normalized names to record for it. */
  names: string[];
}

async function resolveAll(service: ImageService, refs: readonly string[]): Promise<Item[]> {
  if (refs.length === 0) throw invalid("save: no images given");
  const items: Item[] = [];
  for (const ref of refs) {
    const img = await service.resolve(ref);
    const names = img.matched
      ? [img.matched.name]
      : img.records.filter((r) => !r.name.startsWith("sha256:")).map((r) => r.name);
    const same = items.find((i) => i.img.id === img.id);
    if (same) same.names.push(...names.filter((n) => !same.names.includes(n)));
    else items.push({ img, names });
  }
  return items;
}

/** The archive as a stream of chunks. */
export async function* saveStream(
  service: ImageService,
  refs: readonly string[],
  opts: SaveOptions = {},
): AsyncGenerator<Buffer> {
  const items = await resolveAll(service, refs);
  const mtime = opts.mtime ?? 0;
  if ((opts.format ?? "oci") === "oci") yield* ociLayout(service, items, mtime);
  else yield* dockerArchive(service, items, mtime);
  yield END_OF_ARCHIVE;
}

/** Writes the archive to a file (atomically) or a writable stream. */
export async function save(
  service: ImageService,
  refs: readonly string[],
  out: string | Writable,
  opts: SaveOptions = {},
): Promise<void> {
  if (typeof out !== "string") {
    for await (const c of saveStream(service, refs, opts)) {
      if (!out.write(c)) await new Promise<void>((r) => out.once("drain", () => r()));
    }
    return;
  }
  const tmp = join(dirname(out), `.${basename(out)}.${process.pid}-${randomUUID()}.tmp`);
  const fh = await open(tmp, C.O_WRONLY | C.O_CREAT | C.O_EXCL, 0o644);
  try {
    try {
      for await (const c of saveStream(service, refs, opts)) await fh.write(c);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, out);
  } catch (err) {
    await rm(tmp, { force: true });
    throw wrap(err, `save to ${out}`);
  }
}

function* file(name: string, data: Buffer, mtime: number): Generator<Buffer> {
  yield encodeHeader({ name, type: "file", size: data.length, mode: 0o644, mtime });
  yield data;
  yield padding(data.length);
}

function dir(name: string, mtime: number): Buffer {
  return encodeHeader({ name: `${name}/`, type: "dir", mode: 0o755, mtime });
}

/** A stored blob as a tar entry, its digest checked as it streams. */
async function* blob(
  service: ImageService,
  name: string,
  digest: Digest,
  mtime: number,
): AsyncGenerator<Buffer> {
  const info = await service.content.info(digest);
  yield encodeHeader({ name, type: "file", size: info.size, mode: 0o644, mtime });
  const d = new Digester(parseDigest(digest).algorithm);
  for await (const c of (await service.content.reader(digest)) as AsyncIterable<Buffer>) {
    d.update(c);
    yield c;
  }
  if (d.size !== info.size || d.digest() !== digest)
    throw new PierError("Internal", `blob ${digest} is corrupt in the store`, {
      hint: "remove the image and get it again",
    });
  yield padding(info.size);
}

async function* ociLayout(service: ImageService, items: Item[], mtime: number): AsyncGenerator<Buffer> {
  yield* file("oci-layout", canonical({ imageLayoutVersion: "1.0.0" }), mtime);
  yield dir("blobs", mtime);
  yield dir("blobs/sha256", mtime);
  const written = new Set<string>();
  const index: IndexJSON = { schemaVersion: 2, mediaType: MT.ociIndex, manifests: [] };
  for (const { img, names } of items) {
    const digests = [
      ...img.manifest.layers.map((l) => l.digest),
      img.configDescriptor.digest,
      img.manifestDescriptor.digest,
    ];
    for (const d of digests) {
      if (written.has(d)) continue;
      written.add(d);
      yield* blob(service, `blobs/${d.replace(":", "/")}`, d, mtime);
    }
    const base: DescriptorJSON = {
      mediaType: img.manifestDescriptor.mediaType,
      digest: img.manifestDescriptor.digest,
      size: img.manifestDescriptor.size,
    };
    if (names.length === 0) index.manifests.push(base);
    for (const n of names) {
      const ref = parseReference(n, { defaultTag: false });
      const annotations: Record<string, string> = { "io.containerd.image.name": n };
      if (ref.tag !== undefined) annotations["org.opencontainers.image.ref.name"] = ref.tag;
      index.manifests.push({ ...base, annotations });
    }
  }
  yield* file("index.json", canonical(index), mtime);
}

async function* dockerArchive(service: ImageService, items: Item[], mtime: number): AsyncGenerator<Buffer> {
  const written = new Set<string>();
  const manifest: { Config: string; RepoTags: string[] | null; Layers: string[] }[] = [];
  const repositories: Record<string, Record<string, string>> = {};
  for (const { img, names } of items) {
    const configName = `${parseDigest(img.id).hex}.json`;
    if (!written.has(configName)) {
      written.add(configName);
      yield* blob(service, configName, img.configDescriptor.digest, mtime);
    }
    const layerNames: string[] = [];
    const diffIDs = img.config.rootfs.diff_ids;
    let parent: string | undefined;
    for (let i = 0; i < img.manifest.layers.length; i++) {
      const hex = parseDigest(diffIDs[i]!).hex;
      const name = `${hex}/layer.tar`;
      layerNames.push(name);
      if (!written.has(name)) {
        written.add(name);
        yield dir(hex, mtime);
        yield* file(`${hex}/VERSION`, Buffer.from("1.0"), mtime);
        yield* file(`${hex}/json`, canonical(parent ? { id: hex, parent } : { id: hex }), mtime);
        yield* uncompressedLayer(service, name, img.manifest.layers[i]!, diffIDs[i]!, mtime);
      }
      parent = hex;
    }
    // Full names: docker reads them as well as familiar ones, and podman would otherwise file
    // "busybox:latest" under localhost/.
    const tags = names.filter((n) => !n.includes("@"));
    manifest.push({ Config: configName, RepoTags: tags.length ? tags : null, Layers: layerNames });
    for (const t of tags) {
      const colon = t.lastIndexOf(":");
      const repo = t.slice(0, colon);
      repositories[repo] = { ...(repositories[repo] ?? {}), [t.slice(colon + 1)]: parent ?? "" };
    }
  }
  yield* file("manifest.json", canonical(manifest), mtime);
  if (Object.keys(repositories).length) yield* file("repositories", canonical(repositories), mtime);
}

async function* uncompressedLayer(
  service: ImageService,
  name: string,
  layer: DescriptorJSON,
  diffID: Digest,
  mtime: number,
): AsyncGenerator<Buffer> {
  const tarOf = async () =>
    (await decompress((await service.content.reader(layer.digest)) as AsyncIterable<Buffer>)).stream;
  let size: number | undefined;
  try {
    size = service.meta.getLayer(layer.digest).uncompressedSize;
  } catch {
    // not recorded: measure below
  }
  if (size === undefined) {
    const d = new Digester();
    for await (const c of await tarOf()) d.update(c);
    if (d.digest() !== diffID)
      throw new PierError("Internal", `layer ${layer.digest} does not match its diffID ${diffID}`);
    size = d.size;
  }
  yield encodeHeader({ name, type: "file", size, mode: 0o644, mtime });
  const d = new Digester();
  for await (const c of await tarOf()) {
    d.update(c);
    if (d.size > size) break;
    yield c;
  }
  if (d.size !== size || d.digest() !== diffID)
    throw new PierError(
      "Internal",
      `layer ${layer.digest} does not match its diffID ${diffID} (or its recorded size)`,
    );
  yield padding(size);
}
