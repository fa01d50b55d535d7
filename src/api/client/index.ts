/** The Docker Engine API client: the only part of src/api the CLI imports. */
export { ApiClient, ConnectError, DaemonError, DEFAULT_SOCKET, encodeName, kindOfStatus } from "./client.ts";
export type { ClientOptions, RequestOptions, Response } from "./client.ts";
export type { AttachOptions, CommitOptions, LogsOptions, PendingWait, WaitCondition } from "./containers.ts";
export { filtersParam, parseFilterFlags, type Filters } from "./filters.ts";
export { readJsonLines } from "./jsonlines.ts";
export { copyStd, frame, StdDemuxer, type Frame, type StdSinks, type StdStream } from "./stdcopy.ts";
export type * from "../types.ts";
export type * from "../container-types.ts";
export { familiar, normalize, parseReference, repository, type Reference } from "../reference.ts";
export { API_VERSION, compareVersions } from "../version.ts";
export { buildImage, pruneBuildCache, type BuildImageOptions } from "./build.ts";
