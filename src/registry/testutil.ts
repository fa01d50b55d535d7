/**
 * Test helpers for the registry: small images made in a content store, temp
 * directories, and raw HTTP against a server.
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import type { ContentStore } from "../image/content/store.ts";
import { digestOf } from "../image/digest.ts";
import { encodeHeader, END_OF_ARCHIVE, padding } from "../image/layer/tar.ts";
import { MEDIA, type OciDescriptor } from "./reference.ts";

export interface TestImage {
  manifest: OciDescriptor;
  config: OciDescriptor;
  layers: OciDescriptor[];
}

/** A tar of `files` (name → content), gzipped. */
export function layerTar(files: Record<string, Buffer | string>): { tar: Buffer; gz: Buffer } {
  const parts: Buffer[] = [];
  for (const [name, body] of Object.entries(files)) {
    const data = Buffer.isBuffer(body) ? body : Buffer.from(body);
    parts.push(encodeHeader({ name, type: "file", size: data.length, mode: 0o644, mtime: 1_700_000_000 }));
    parts.push(data, padding(data.length));
  }
  parts.push(END_OF_ARCHIVE);
  const tar = Buffer.concat(parts);
  return { tar, gz: gzipSync(tar) };
}

/**
 * Puts a small image into `content`: one layer per entry of `layers`, a
 * config, an OCI manifest. `big` adds random bytes (to force chunked uploads).
 */
export async function makeImage(
  content: ContentStore,
  opts: { layers?: Record<string, Buffer | string>[]; arch?: string; label?: string } = {},
): Promise<TestImage> {
  const specs = opts.layers ?? [
    { "etc/hello": "hello from pier\n", "bin/tool": "#!/bin/sh\necho tool\n" },
    { "data/blob": randomBytes(1024) },
  ];
  const layers: OciDescriptor[] = [];
  const diffIDs: string[] = [];
  for (const files of specs) {
    const { tar, gz } = layerTar(files);
    const d = await content.put(gz);
    layers.push({ mediaType: MEDIA.ociLayerGzip, digest: d.digest, size: d.size });
    diffIDs.push(digestOf(tar));
  }
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.arch ?? "amd64",
      os: "linux",
      config: { Env: ["PATH=/bin"], Labels: { test: opts.label ?? "pier" } },
      rootfs: { type: "layers", diff_ids: diffIDs },
    }),
  );
  const c = await content.put(config);
  const configDesc: OciDescriptor = { mediaType: MEDIA.ociConfig, digest: c.digest, size: c.size };
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: MEDIA.ociManifest, config: configDesc, layers }),
  );
  const m = await content.put(manifest);
  return {
    manifest: { mediaType: MEDIA.ociManifest, digest: m.digest, size: m.size },
    config: configDesc,
    layers,
  };
}

/** An OCI index over images, each with its platform. */
export async function makeIndex(
  content: ContentStore,
  images: { image: TestImage; arch: string }[],
): Promise<OciDescriptor> {
  const index = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: images.map(({ image, arch }) => ({
        ...image.manifest,
        platform: { os: "linux", architecture: arch },
      })),
    }),
  );
  const d = await content.put(index);
  return { mediaType: MEDIA.ociIndex, digest: d.digest, size: d.size };
}

export async function withTempDir<T>(prefix: string, fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await fn(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One plain HTTP request to a test server (a fresh connection each time). */
export function raw(
  url: string,
  method: string,
  opts: { headers?: Record<string, string>; body?: Buffer | string } = {},
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, {
      method,
      headers: { Connection: "close", ...opts.headers },
      agent: false,
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`${method} ${url}: timeout`)));
    req.on("error", reject);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
      res.on("error", reject);
    });
    req.end(opts.body);
  });
}

/** The first spec error code of a response body. */
export function errorCode(r: RawResponse): string | undefined {
  try {
    return (JSON.parse(r.body.toString("utf8")) as { errors?: { code?: string }[] }).errors?.[0]?.code;
  } catch {
    return undefined;
  }
}
