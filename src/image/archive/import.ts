/**
 * `pier import`: a one-layer image from a root file system, given as a
 * directory or a tarball (plain, gzip or zstd). A tarball is first unpacked
 * into a scratch directory by pier's own unpacker, so hostile archives are
 * refused by the same rules as layers, and the layer is then packed from that
 * directory: the result is a clean, deterministic layer whatever tool made
 * the tarball.
 */
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { wrap } from "../../common/errors.ts";
import type { Digest } from "../digest.ts";
import { commitLayer } from "../layer/pack.ts";
import { unpackLayer } from "../layer/unpack.ts";
import { applyChanges } from "../service/changes.ts";
import { goTime, hostPlatform, type ConfigJSON, type ContainerConfig } from "../service/oci.ts";
import type { ImageService } from "../service/service.ts";

export interface ImportOptions {
  /** Dockerfile-style config changes ("CMD [\"sh\"]", "ENV A=b"). */
  changes?: string[];
  /** The config to start from (default empty, as docker import). */
  config?: ContainerConfig;
  /** The image's creation time (default now). */
  created?: Date;
  /** Clamp every file time to this (seconds since the epoch) for reproducible layers. */
  sourceDateEpoch?: number;
  /** History entry text. */
  createdBy?: string;
  comment?: string;
}

export interface ImportResult {
  id: Digest;
  manifest: Digest;
  name?: string;
}

export async function importRootfs(
  service: ImageService,
  source: string | AsyncIterable<Buffer>,
  name: string | undefined,
  opts: ImportOptions = {},
): Promise<ImportResult> {
  let scratch: string | undefined;
  try {
    let dir: string;
    if (typeof source === "string" && (await stat(source)).isDirectory()) {
      dir = source;
    } else {
      scratch = await mkdtemp(join(tmpdir(), "pier-import-"));
      dir = join(scratch, "rootfs");
      await mkdir(dir, { mode: 0o755 });
      const src = typeof source === "string" ? (createReadStream(source) as AsyncIterable<Buffer>) : source;
      await unpackLayer(src, dir, { whiteouts: "apply" });
    }
    const layerOpts =
      opts.sourceDateEpoch !== undefined
        ? { whiteouts: "plain" as const, compression: "gzip" as const, sourceDateEpoch: opts.sourceDateEpoch }
        : { whiteouts: "plain" as const, compression: "gzip" as const };
    const layer = await commitLayer(service.content, dir, layerOpts);
    service.recordLayer(layer);
    const created = goTime(opts.created ?? new Date());
    const platform = hostPlatform();
    const config: ConfigJSON = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      config: applyChanges(opts.config ?? {}, opts.changes ?? []),
      rootfs: { type: "layers", diff_ids: [layer.diffID] },
      history: [
        {
          created,
          created_by: opts.createdBy ?? "pier import",
          ...(opts.comment !== undefined
            ? { comment: opts.comment }
            : typeof source === "string"
              ? { comment: `Imported from ${source}` }
              : {}),
        },
      ],
    };
    const { id, manifest } = await service.createImage(name, config, [layer]);
    const out: ImportResult = { id, manifest: manifest.digest };
    if (name !== undefined) out.name = name;
    return out;
  } catch (err) {
    throw wrap(err, `import ${typeof source === "string" ? source : "rootfs stream"}`);
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}
