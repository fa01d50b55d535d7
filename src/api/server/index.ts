/** The Docker Engine API server: build one from backends, listen on a unix socket. */
import type { Backends } from "../backend.ts";
import { registerContainerRoutes } from "./routes/containers.ts";
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
  if (backends.containers) registerContainerRoutes(server, backends.containers);
  if (backends.networks && backends.containers)
    registerNetworkRoutes(server, backends.networks, backends.containers.engine);
  registerSystemRoutes(server, backends);
  registerImageRoutes(server, backends.images);
  return server;
}
