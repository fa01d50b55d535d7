/** The Docker Engine API client: the only part of src/api the CLI imports. */
export { ApiClient, ConnectError, DaemonError, DEFAULT_SOCKET, encodeName, kindOfStatus } from "./client.ts";
export type { ClientOptions, RequestOptions, Response } from "./client.ts";
export { readJsonLines } from "./jsonlines.ts";
export type * from "../types.ts";
export { familiar, normalize, parseReference, repository, type Reference } from "../reference.ts";
export { API_VERSION } from "../version.ts";
