/** The registry server: OCI distribution spec 1.1 over pier's content store. */
export { serve } from "./server.ts";
export type { AccessLogEntry, RegistryServer, ServeOptions } from "./server.ts";
export type { AuthOptions, BasicAuth, TokenAuth } from "./auth.ts";
export { Repositories, type RepoManifest } from "./repos.ts";
