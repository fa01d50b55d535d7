/**
 * The builder behind pierd's `POST /build`: receives the context, builds with
 * the requested output style, always removes the build's directory, and
 * prunes the cache for `POST /build/prune`.
 *
 *   const build = await openBuildBackend({ images, pull, engine, root });  // pierd's composition root
 *   createApiServer({ ..., build });
 */
import type { Readable } from "node:stream";
import { join } from "node:path";
import type { ProgressEvent } from "../../api/backend.ts";
import type { BuildBackend, BuildEvents, BuildOptions } from "../../api/server/routes/build.ts";
import type { Engine } from "../../engine/containers/engine.ts";
import { collectGarbage } from "../../image/gc.ts";
import type { ImageService } from "../../image/service/service.ts";
import { Builder } from "./builder.ts";
import { EngineRunner } from "./engine-runner.ts";
import { Reporter } from "./output.ts";

export class BuilderBackend implements BuildBackend {
  constructor(
    readonly builder: Builder,
    private readonly images: ImageService,
  ) {}

  async build(
    context: Readable,
    opts: BuildOptions,
    events: BuildEvents,
    signal: AbortSignal,
  ): Promise<{ id: string; names: string[] }> {
    const reporter = new Reporter(opts.output, { write: events.text, progress: events.progress });
    const buildDir = await this.builder.receiveContext(context);
    try {
      return await this.builder.build(
        {
          buildDir,
          dockerfile: opts.dockerfile,
          tags: opts.tags,
          buildArgs: opts.buildArgs,
          labels: opts.labels,
          noCache: opts.noCache,
          pull: opts.pull,
          ...(opts.target !== undefined ? { target: opts.target } : {}),
          ...(opts.network !== undefined ? { network: opts.network } : {}),
          ...(opts.platform !== undefined ? { platform: opts.platform } : {}),
        },
        reporter,
        signal,
      );
    } finally {
      await this.builder.discard(buildDir);
    }
  }

  async prune(): Promise<{ deleted: string[]; spaceReclaimed: number }> {
    const deleted = this.builder.cache.clear();
    const gc = await collectGarbage(this.images.meta, this.images.content, { graceMs: 0 });
    return { deleted, spaceReclaimed: gc.reclaimedBytes };
  }
}

/** pierd's builder: RUN steps in `engine`'s containers, state under `<root>/build`. */
export async function openBuildBackend(o: {
  images: {
    service: ImageService;
    pull(ref: string, opts: object, progress: (e: ProgressEvent) => void): Promise<unknown>;
  };
  engine: Engine;
  root: string;
}): Promise<BuilderBackend> {
  const builder = await Builder.open({
    images: o.images.service,
    runner: new EngineRunner(o.engine),
    dir: join(o.root, "build"),
    pull: async (ref, reporter) => {
      await o.images.pull(ref, {}, (e) => reporter.progress(e));
    },
  });
  return new BuilderBackend(builder, o.images.service);
}
