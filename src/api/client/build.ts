/**
 * docker's `POST /build` from the client side: the context goes as a tar in
 * the body, the options as query parameters (as the docker CLI sends them),
 * the answer is the JSON-lines stream of the build. `progress: "plain"` asks
 * pierd for BuildKit-style plain text (other daemons ignore it).
 *
 *   for await (const m of buildImage(client, tarStream, { tags: ["hello"] })) show(m);
 */
import type { Readable } from "node:stream";
import type { JsonMessage } from "../types.ts";
import type { ApiClient } from "./client.ts";

export interface BuildImageOptions {
  tags?: string[];
  /** The Dockerfile's path inside the context (default "Dockerfile"). */
  dockerfile?: string;
  buildArgs?: Record<string, string>;
  labels?: Record<string, string>;
  target?: string;
  noCache?: boolean;
  pull?: boolean;
  quiet?: boolean;
  network?: string;
  platform?: string;
  progress?: "plain";
}

const EMPTY_CONFIG = "e30="; // base64 of "{}": no registry credentials

export function buildImage(
  client: ApiClient,
  context: Readable,
  opts: BuildImageOptions = {},
): AsyncGenerator<JsonMessage> {
  const obj = (o: Record<string, string> | undefined) =>
    o && Object.keys(o).length > 0 ? JSON.stringify(o) : undefined;
  return client.stream("POST", "/build", {
    query: {
      t: opts.tags && opts.tags.length > 0 ? opts.tags : undefined,
      dockerfile: opts.dockerfile,
      buildargs: obj(opts.buildArgs),
      labels: obj(opts.labels),
      target: opts.target,
      nocache: opts.noCache ? "1" : undefined,
      pull: opts.pull ? "1" : undefined,
      q: opts.quiet ? "1" : undefined,
      networkmode: opts.network,
      platform: opts.platform,
      progress: opts.progress,
      version: "1",
    },
    stream: context,
    headers: { "Content-Type": "application/x-tar", "X-Registry-Config": EMPTY_CONFIG },
  });
}

/** `POST /build/prune`: drops the build cache. */
export function pruneBuildCache(
  client: ApiClient,
): Promise<{ CachesDeleted: string[] | null; SpaceReclaimed: number }> {
  return client.json("POST", "/build/prune");
}
