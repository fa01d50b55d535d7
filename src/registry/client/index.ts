/** The registry client: pull and push over the OCI distribution spec. */
export { choosePlatform, recordPull, RegistryClient } from "./client.ts";
export type {
  ClientOptions,
  ManifestInfo,
  Platform,
  ProgressEvent,
  PullOptions,
  PullResult,
  PushOptions,
  PushResult,
} from "./client.ts";
export { allowsHttp, credentialsFor, parseChallenge, Transport } from "./transport.ts";
export type { AuthEntry, TransportOptions } from "./transport.ts";
