/**
 * `pier load`: imports an archive written by `pier save`, `docker save`,
 * `podman save` or `skopeo copy … oci-archive:|docker-archive:`. The format is
 * detected from what the archive holds, wherever in the stream it is:
 * `index.json` + `oci-layout` is an OCI layout; otherwise `manifest.json` is
 * a docker archive (both the classic `<id>/layer.tar` form and docker 25's
 * `blobs/sha256/…` form; symlinked layers as old docker wrote them too).
 *
 * The archive is read once, as a stream. Files under `blobs/<alg>/<hex>` go
 * into the content store verified against the digest their name claims;
 * other large files (docker layers) go in under the digest of what they hold;
 * JSON documents are kept in memory (bounded). Then the documents are
 * checked: a docker config must hash to its name, each docker layer to its
 * diffID (after decompression when it is compressed), and every image is
 * recorded through ImageService.putImage (media types, sizes, diff_ids).
 *
 * If anything is refused, the blobs this load added that nothing else uses
 * are deleted again and no name is left pointing anywhere new: a failed load
 * changes nothing.
 */
import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { posix } from "node:path";
import { PierError, invalid, wrap } from "../../common/errors.ts";
import type { Descriptor } from "../content/store.ts";
import { Digester, digestOf, type Digest } from "../digest.ts";
import { decompress, MEDIA_TYPES, sniff } from "../layer/compression.ts";
import { readTar } from "../layer/tar.ts";
import { blobNode, type ImageRecord } from "../store/metadata.ts";
import { parseConfig, parseManifest, type DescriptorJSON } from "../service/oci.ts";
import { formatReference, parseReference } from "../service/reference.ts";
import type { ImageService } from "../service/service.ts";

export interface LoadResult {
  format: "oci" | "docker-archive";
  /** Normalized names now pointing at loaded images. */
  names: string[];
  /** IDs (config digests) of the loaded images. */
  ids: Digest[];
}

export interface LoadOptions {
  /** Largest JSON document accepted (default 16 MiB). */
  maxDocument?: number;
}

const BLOB_PATH = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/;
const DOCS = /(^|\/)(index\.json|oci-layout|manifest\.json|repositories|[^/]*\.json|json|VERSION)$/;

function clean(name: string): string {
  return posix.normalize(`/${name}`).slice(1).replace(/\/$/, "");
}

/** Loads from a path or a stream of bytes. */
export async function load(
  service: ImageService,
  source: string | AsyncIterable<Buffer>,
  opts: LoadOptions = {},
): Promise<LoadResult> {
  const src = typeof source === "string" ? (createReadStream(source) as AsyncIterable<Buffer>) : source;
  const maxDoc = opts.maxDocument ?? 16 * 1024 * 1024;
  const docs = new Map<string, Buffer>();
  const files = new Map<string, Descriptor>();
  const links = new Map<string, string>();
  const added: Digest[] = [];
  const namesBefore = new Map(service.meta.listImages().map((r) => [r.name, r]));
  const loadId = `load-${process.pid}-${randomUUID()}`;
  let n = 0;
  try {
    for await (const e of readTar(src)) {
      const h = e.header;
      const name = clean(h.name);
      if (h.type === "symlink") links.set(name, clean(posix.join(posix.dirname(name), h.linkname)));
      if (h.type === "hardlink") links.set(name, clean(h.linkname));
      if (h.type !== "file") continue;
      const m = BLOB_PATH.exec(name);
      if (!m && DOCS.test(name) && h.size <= maxDoc) {
        const parts: Buffer[] = [];
        for await (const c of e.body) parts.push(c);
        docs.set(name, Buffer.concat(parts));
        continue;
      }
      const expected = m ? `${m[1]}:${m[2]}` : undefined;
      const existed = expected !== undefined && (await service.content.has(expected));
      const opts = expected !== undefined ? { expected, total: h.size } : { total: h.size };
      let desc: Descriptor;
      try {
        desc = await service.content.ingest(`${loadId}-${n++}`, e.body, opts);
      } catch (err) {
        throw wrap(err, `archive entry ${name}`);
      }
      if (!existed && !added.includes(desc.digest)) added.push(desc.digest);
      files.set(name, desc);
    }
    const resolveLink = (p: string): string => {
      for (let i = 0; i < 16 && links.has(p); i++) p = links.get(p)!;
      return p;
    };
    const fileOf = (p: string): Descriptor => {
      const d = files.get(resolveLink(clean(p)));
      if (!d) throw invalid(`archive lacks ${p}`);
      return d;
    };
    const docOf = (p: string): Buffer | undefined => docs.get(resolveLink(clean(p)));

    if (docs.has("index.json") && docs.has("oci-layout")) {
      return await loadOCI(service, docs.get("index.json")!, docOf("oci-layout")!);
    }
    const manifest = docs.get("manifest.json");
    if (!manifest)
      throw invalid("not an image archive: neither index.json + oci-layout nor manifest.json found");
    return await loadDocker(service, manifest, fileOf, docOf);
  } catch (err) {
    await undo(service, added, namesBefore);
    throw err instanceof PierError ? err : wrap(err, "load");
  }
}

async function undo(service: ImageService, added: Digest[], before: Map<string, ImageRecord>): Promise<void> {
  service.meta.transaction(() => {
    for (const r of service.meta.listImages()) {
      const old = before.get(r.name);
      if (!old) service.meta.deleteImage(r.name);
      else if (old.target.digest !== r.target.digest) {
        const input = { name: old.name, target: old.target, labels: old.labels };
        service.meta.putImage(
          old.configDigest !== undefined ? { ...input, configDigest: old.configDigest } : input,
        );
      }
    }
  });
  const live = service.meta.liveNodes();
  for (const d of added) {
    if (live.has(blobNode(d))) continue;
    service.meta.forgetBlob(d);
    await service.content.delete(d).catch(() => undefined);
  }
}

async function loadOCI(service: ImageService, indexData: Buffer, layout: Buffer): Promise<LoadResult> {
  let version: unknown;
  try {
    version = (JSON.parse(layout.toString()) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
  } catch {
    throw invalid("oci-layout is not JSON");
  }
  if (version !== "1.0.0") throw invalid(`OCI layout version ${String(version)} is not 1.0.0`);
  const index = parseManifest(indexData);
  if (index.kind !== "index") throw invalid("index.json is not an image index");
  const result: LoadResult = { format: "oci", names: [], ids: [] };
  for (const d of index.doc.manifests) {
    const name = nameOf(d);
    const id = await service.putImage(name, d);
    if (name !== undefined) result.names.push(formatReference(parseReference(name)));
    if (!result.ids.includes(id)) result.ids.push(id);
  }
  return result;
}

/** The image name an index entry carries, if it carries a whole reference. */
function nameOf(d: DescriptorJSON): string | undefined {
  const full = d.annotations?.["io.containerd.image.name"];
  if (full) return full;
  const ref = d.annotations?.["org.opencontainers.image.ref.name"];
  // A bare tag ("latest") names no repository; the image is loaded without a name.
  if (!ref || !/[/:]/.test(ref)) return undefined;
  try {
    parseReference(ref);
    return ref;
  } catch {
    return undefined;
  }
}

interface DockerEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
}

async function loadDocker(
  service: ImageService,
  manifestData: Buffer,
  fileOf: (p: string) => Descriptor,
  docOf: (p: string) => Buffer | undefined,
): Promise<LoadResult> {
  let entries: DockerEntry[];
  try {
    entries = JSON.parse(manifestData.toString()) as DockerEntry[];
  } catch {
    throw invalid("manifest.json is not JSON");
  }
  if (!Array.isArray(entries)) throw invalid("manifest.json is not a list");
  const result: LoadResult = { format: "docker-archive", names: [], ids: [] };
  for (const e of entries) {
    if (typeof e.Config !== "string" || !Array.isArray(e.Layers)) throw invalid("bad manifest.json entry");
    const configData =
      docOf(e.Config) ?? (await service.content.read(fileOf(e.Config).digest, { maxSize: 16 * 1024 * 1024 }));
    const digest = digestOf(configData);
    const claimed = /([0-9a-f]{64})(\.json)?$/.exec(e.Config)?.[1];
    if (claimed !== undefined && `sha256:${claimed}` !== digest)
      throw invalid(`config ${e.Config} is corrupt: its digest is ${digest}`);
    const config = parseConfig(configData);
    if (config.rootfs.diff_ids.length !== e.Layers.length)
      throw invalid(
        `config ${e.Config} lists ${config.rootfs.diff_ids.length} diff_ids for ${e.Layers.length} layers`,
      );
    const layers: DescriptorJSON[] = [];
    for (let i = 0; i < e.Layers.length; i++) {
      const desc = fileOf(e.Layers[i]!);
      const diffID = config.rootfs.diff_ids[i]!;
      const head = await firstBytes(service, desc.digest);
      const kind = sniff(head);
      if (kind !== "none" && kind !== "gzip" && kind !== "zstd")
        throw invalid(`layer ${e.Layers[i]}: ${kind} is not supported`);
      let uncompressed = desc.size;
      if (kind !== "none" || desc.digest !== diffID) {
        const d = new Digester();
        const { stream } = await decompress(
          (await service.content.reader(desc.digest)) as AsyncIterable<Buffer>,
        );
        for await (const c of stream) d.update(c);
        const got = d.digest();
        if (got !== diffID)
          throw invalid(`layer ${e.Layers[i]} is corrupt: it holds ${got}, the config says ${diffID}`);
        uncompressed = d.size;
      }
      const mediaType = MEDIA_TYPES[kind];
      service.meta.putLayer({
        digest: desc.digest,
        diffID,
        mediaType,
        size: desc.size,
        uncompressedSize: uncompressed,
      });
      layers.push({ mediaType, digest: desc.digest, size: desc.size });
    }
    const cfg = await service.content.put(configData, { expected: digest });
    const tags = (e.RepoTags ?? []).map((t) => formatReference(parseReference(t)));
    const { id } = await service.createImageFromConfig(tags[0], cfg, layers);
    for (const t of tags.slice(1)) await service.tag(id, t);
    result.names.push(...tags);
    if (!result.ids.includes(id)) result.ids.push(id);
  }
  return result;
}

async function firstBytes(service: ImageService, digest: Digest): Promise<Buffer> {
  const r = await service.content.reader(digest, { start: 0, end: 5 });
  const parts: Buffer[] = [];
  for await (const c of r as AsyncIterable<Buffer>) parts.push(c);
  const b = Buffer.concat(parts);
  return b.length >= 6 ? b : Buffer.concat([b, Buffer.alloc(6 - b.length)]);
}
