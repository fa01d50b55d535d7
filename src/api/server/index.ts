/** The Docker Engine API server: build one from backends, listen on a unix socket. */
import type { Backends } from "../backend.ts";
import {
  registerArchiveRoutes,
  registerContainerExtraRoutes,
  registerContainerRoutes,
} from "./routes/containers.ts";
import { registerBuildRoutes } from "./routes/build.ts";
import { registerImageRoutes } from "./routes/images.ts";
import { registerNetworkRoutes } from "./routes/networks.ts";
import { registerSystemRoutes } from "./routes/system.ts";
import { ApiServer, type ServerOptions } from "./server.ts";

export { ApiServer, answers, type ServerOptions } from "./server.ts";
export { statusOfKind, errorResponse } from "./errors.ts";
export { Router, splitVersion } from "./router.ts";
export { JsonStream } from "./progress.ts";
export { Hijacked, MuxDecoder, muxFrame, readUpgradeBody, writeUpgraded } from "./hijack.ts";
export type { Ctx, Handler, UpgradeCtx, UpgradeHandler } from "./context.ts";

/** A server with every route pier has so far. */
export function createApiServer(backends: Backends, opts: ServerOptions = {}): ApiServer {
  const server = new ApiServer(opts);
  if (backends.containers) {
    registerContainerRoutes(server, backends.containers);
    registerArchiveRoutes(server, backends.containers.engine);
    const images = backends.images;
    registerContainerExtraRoutes(server, {
      ...backends.containers,
      ...(backends.networks ? { networks: backends.networks } : {}),
      imageSummaries: async () =>
        (await images.list({ all: false })).map((i) => ({
          Id: i.id,
          RepoTags: i.names,
          RepoDigests: i.repoDigests,
          Created: Math.floor(i.created.getTime() / 1000),
          Size: i.size,
          SharedSize: -1,
          Labels: i.labels,
          Containers: -1,
          ParentId: i.parentId ?? "",
        })),
    });
  }
  if (backends.networks && backends.containers)
    registerNetworkRoutes(server, backends.networks, backends.containers.engine);
  if (backends.build) registerBuildRoutes(server, backends.build); // before system's /build/prune stub
  registerSystemRoutes(server, backends);
  registerImageRoutes(server, backends.images);
  return server;
}
