/**
 * Docker's `POST /build` (the legacy builder's protocol, what `docker build`
 * and `DOCKER_BUILDKIT=0 docker build` send) and `POST /build/prune`.
 *
 * The body is the context as a tar (.dockerignore already applied by the
 * docker CLI; pier's CLI sends the whole directory and the builder applies
 * it); options come as query parameters: t (repeated), dockerfile, q,
 * nocache, pull, buildargs and labels (JSON objects), target, networkmode,
 * platform. The answer is a JSON-lines stream: `{"stream": …}` text, pull
 * progress, `{"aux":{"ID":…}}`, then "Successfully built …" and one
 * "Successfully tagged …" per name (with q=1 only the ID). A failure is a last
 * `{"errorDetail":{"code","message"},"error"}` line; its code is the failing
 * RUN's exit status, which the docker CLI exits with.
 *
 * Refused by name: BuildKit sessions (version=2), remote contexts (remote=),
 * and resource or cache options pier's builder does not have. `progress=plain`
 * (pier's CLI) asks for BuildKit-style plain text.
 */
import type { Readable } from "node:stream";
import { describe, invalid, notImplemented } from "../../../common/errors.ts";
import type { ProgressEvent } from "../../backend.ts";
import { familiar } from "../../reference.ts";
import { boolParam, sendJson } from "../context.ts";
import { JsonStream } from "../progress.ts";
import type { ApiServer } from "../server.ts";

export interface BuildOptions {
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  tags: string[];
  buildArgs: Record<string, string>;
  labels: Record<string, string>;
  target?: string;
  noCache: boolean;
  pull: boolean;
  network?: string;
  platform?: string;
  /** classic: docker's legacy text; plain: BuildKit's plain text; quiet: nothing but the result. */
  output: "classic" | "plain" | "quiet";
}

export interface BuildEvents {
  /** Text for the user. */
  text(s: string): void;
  progress(e: ProgressEvent): void;
}

export interface BuildBackend {
  /** Reads the context tar, builds, names the image. Throws a PierError (with `exitCode` for a failing RUN). */
  build(
    context: Readable,
    opts: BuildOptions,
    events: BuildEvents,
    signal: AbortSignal,
  ): Promise<{ id: string; names: string[] }>;
  /** Drops the build cache; returns the entries removed and the bytes freed. */
  prune(): Promise<{ deleted: string[]; spaceReclaimed: number }>;
}

/** Options docker's /build has that pier's builder does not: refused when set. */
const UNSUPPORTED: Record<string, string> = {
  remote: "remote build contexts (git, URL)",
  cachefrom: "--cache-from",
  squash: "--squash",
  extrahosts: "--add-host",
  memory: "--memory",
  memswap: "--memory-swap",
  cpushares: "--cpu-shares",
  cpusetcpus: "--cpuset-cpus",
  cpusetmems: "--cpuset-mems",
  cpuperiod: "--cpu-period",
  cpuquota: "--cpu-quota",
  shmsize: "--shm-size",
  ulimits: "--ulimit",
  isolation: "--isolation",
  securityopt: "--security-opt",
  outputs: "--output",
  session: "BuildKit sessions",
};

const isUnset = (v: string) =>
  v === "" || v === "0" || v === "null" || v === "{}" || v === "[]" || v === "default";

function jsonObject(q: URLSearchParams, name: string): Record<string, string> {
  const raw = q.get(name);
  if (raw === null || raw === "") return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid(`${name} is not JSON: ${raw}`);
  }
  if (v === null) return {};
  if (typeof v !== "object" || Array.isArray(v)) throw invalid(`${name} must be a JSON object`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    // docker sends {"NAME": null} for `--build-arg NAME` with NAME unset in the environment.
    if (val === null) continue;
    out[k] = String(val);
  }
  return out;
}

export function parseBuildQuery(q: URLSearchParams): BuildOptions {
  const version = q.get("version");
  if (version === "2") {
    throw notImplemented("BuildKit (version=2) is not implemented by pierd", "build with DOCKER_BUILDKIT=0");
  }
  for (const [name, what] of Object.entries(UNSUPPORTED)) {
    const v = q.get(name);
    if (v !== null && !isUnset(v)) throw notImplemented(`build: ${what} is not implemented`);
  }
  const progress = q.get("progress");
  const opts: BuildOptions = {
    dockerfile: q.get("dockerfile") || "Dockerfile",
    tags: q.getAll("t").filter((t) => t !== ""),
    buildArgs: jsonObject(q, "buildargs"),
    labels: jsonObject(q, "labels"),
    noCache: boolParam(q, "nocache"),
    pull: boolParam(q, "pull"),
    output: boolParam(q, "q") ? "quiet" : progress === "plain" ? "plain" : "classic",
  };
  const target = q.get("target");
  if (target) opts.target = target;
  const network = q.get("networkmode");
  if (network && network !== "default") opts.network = network;
  const platform = q.get("platform");
  if (platform) opts.platform = platform;
  return opts;
}

export function registerBuildRoutes(server: ApiServer, builder: BuildBackend): void {
  server.post("/build", async (ctx) => {
    const opts = parseBuildQuery(ctx.query);
    const out = new JsonStream(ctx.res);
    const ac = new AbortController();
    ctx.res.on("close", () => {
      if (!ctx.res.writableEnded) ac.abort();
    });
    // The stream starts now: every later failure is an error line the CLI turns into its exit code.
    out.start();
    try {
      const r = await builder.build(
        ctx.req as Readable,
        opts,
        { text: (s) => out.write({ stream: s }), progress: (e) => out.progress(e) },
        ac.signal,
      );
      out.write({ aux: { ID: r.id } });
      if (opts.output === "quiet") {
        out.write({ stream: `${r.id}\n` });
      } else if (opts.output === "classic") {
        out.write({ stream: `Successfully built ${r.id.replace(/^sha256:/, "").slice(0, 12)}\n` });
        for (const n of r.names) out.write({ stream: `Successfully tagged ${familiar(n)}\n` });
      }
    } catch (err) {
      const message = describe(err);
      const exitCode = (err as { exitCode?: unknown }).exitCode;
      const code = typeof exitCode === "number" && exitCode > 0 ? exitCode : 1;
      out.write({ errorDetail: { code, message }, error: message });
      // The rest of a context the build no longer reads.
      ctx.req.resume();
    }
    out.end();
  });

  server.post("/build/prune", async (ctx) => {
    const r = await builder.prune();
    sendJson(ctx.res, 200, { CachesDeleted: r.deleted, SpaceReclaimed: r.spaceReclaimed });
  });
}
