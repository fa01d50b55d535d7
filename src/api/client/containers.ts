/**
 * The container endpoints of the Docker Engine API (1.43), plus pier's
 * `GET /containers/{id}/explain`. Names and ids go into paths escaped; query flags are
 * sent only when set, as the docker CLI sends them.
 */
import type { IncomingMessage } from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import type {
  ChangesItem,
  ContainerCreateRequest,
  ContainerCreateResponse,
  ContainerExplain,
  ContainerInspect,
  ContainerPathStat,
  ContainerPruneResponse,
  ContainerStats,
  ContainerSummary,
  ContainerTopResponse,
  ContainerUpdateRequest,
  ContainerUpdateResponse,
  ContainerWaitResponse,
  IdResponse,
} from "../container-types.ts";
import type { ApiClient } from "./client.ts";
import { filtersParam, type Filters } from "./filters.ts";
import { readJsonLines } from "./jsonlines.ts";

export type WaitCondition = "not-running" | "next-exit" | "removed" | "";

/** A `/wait` whose headers have arrived; `result` settles when the container exits. */
export interface PendingWait {
  result: Promise<ContainerWaitResponse>;
  /** Drops the request (docker run -d leaves it behind). */
  cancel(): void;
}

export interface AttachOptions {
  stdin?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Replay the logs first. */
  logs?: boolean;
  detachKeys?: string;
}

export interface LogsOptions {
  follow?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Unix seconds as docker sends them ("1700000000" or "1700000000.000000000"). */
  since?: string;
  until?: string;
  timestamps?: boolean;
  details?: boolean;
  /** A number of lines or "all". */
  tail?: string;
}

export interface CommitOptions {
  container: string;
  repo?: string;
  tag?: string;
  comment?: string;
  author?: string;
  changes?: string[];
  pause?: boolean;
  /** A config to merge (docker's body); empty by default. */
  config?: unknown;
}

const p = (id: string) => `/containers/${encodeURIComponent(id)}`;

export class ContainersApi {
  constructor(private readonly c: ApiClient) {}

  list(
    opts: { all?: boolean; limit?: number; size?: boolean; filters?: Filters } = {},
  ): Promise<ContainerSummary[]> {
    return this.c.json("GET", "/containers/json", {
      query: {
        all: opts.all ? "1" : undefined,
        limit: opts.limit !== undefined && opts.limit > 0 ? String(opts.limit) : undefined,
        size: opts.size ? "1" : undefined,
        filters: filtersParam(opts.filters),
      },
    });
  }

  create(
    body: ContainerCreateRequest,
    opts: { name?: string; platform?: string } = {},
  ): Promise<ContainerCreateResponse> {
    return this.c.json("POST", "/containers/create", {
      query: { name: opts.name || undefined, platform: opts.platform || undefined },
      body,
    });
  }

  inspect(id: string, opts: { size?: boolean } = {}): Promise<ContainerInspect> {
    return this.c.json("GET", `${p(id)}/json`, { query: { size: opts.size ? "1" : undefined } });
  }

  /** 204, or 304 when already started (not an error, as docker). */
  async start(id: string, opts: { detachKeys?: string } = {}): Promise<void> {
    await this.c.empty("POST", `${p(id)}/start`, { query: { detachKeys: opts.detachKeys } });
  }

  async stop(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.c.empty("POST", `${p(id)}/stop`, {
      query: { t: opts.timeout === undefined ? undefined : String(opts.timeout), signal: opts.signal },
    });
  }

  async restart(id: string, opts: { timeout?: number; signal?: string } = {}): Promise<void> {
    await this.c.empty("POST", `${p(id)}/restart`, {
      query: { t: opts.timeout === undefined ? undefined : String(opts.timeout), signal: opts.signal },
    });
  }

  /** A signal name ("HUP", "SIGTERM") or number; none means the daemon's default (KILL). */
  async kill(id: string, signal?: string): Promise<void> {
    await this.c.empty("POST", `${p(id)}/kill`, { query: { signal: signal || undefined } });
  }

  async remove(id: string, opts: { force?: boolean; volumes?: boolean; link?: boolean } = {}): Promise<void> {
    await this.c.empty("DELETE", p(id), {
      query: {
        force: opts.force ? "1" : undefined,
        v: opts.volumes ? "1" : undefined,
        link: opts.link ? "1" : undefined,
      },
    });
  }

  /**
   * `POST /containers/{id}/wait`: resolves as soon as the daemon sent the headers (the run
   * flow must not start the container before), with the body still to come.
   */
  async wait(id: string, condition: WaitCondition = ""): Promise<PendingWait> {
    const r = await this.c.call("POST", `${p(id)}/wait`, { query: { condition: condition || undefined } });
    const result = (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of r.body) chunks.push(chunk as Buffer);
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (text === "") throw new Error("wait: the daemon closed the connection before the container exited");
      return JSON.parse(text) as ContainerWaitResponse;
    })();
    // The caller may never read it (detached runs); an unread rejection must not crash.
    result.catch(() => {});
    return { result, cancel: () => r.body.destroy() };
  }

  /** The hijacked stdio of the container (see hijack.ts). */
  attach(id: string, opts: AttachOptions): Promise<Socket> {
    return this.c.hijack(`${p(id)}/attach`, {
      query: {
        detachKeys: opts.detachKeys || undefined,
        logs: opts.logs ? "1" : undefined,
        stderr: opts.stderr ? "1" : undefined,
        stdin: opts.stdin ? "1" : undefined,
        stdout: opts.stdout ? "1" : undefined,
        stream: "1",
      },
    });
  }

  async resize(id: string, height: number, width: number): Promise<void> {
    await this.c.empty("POST", `${p(id)}/resize`, { query: { h: String(height), w: String(width) } });
  }

  /** The log body: multiplexed frames unless the container has a TTY (use copyStd). */
  async logs(id: string, opts: LogsOptions): Promise<IncomingMessage> {
    const r = await this.c.call("GET", `${p(id)}/logs`, {
      query: {
        details: opts.details ? "1" : undefined,
        follow: opts.follow ? "1" : undefined,
        since: opts.since,
        stderr: opts.stderr ? "1" : undefined,
        stdout: opts.stdout ? "1" : undefined,
        tail: opts.tail,
        timestamps: opts.timestamps ? "1" : undefined,
        until: opts.until,
      },
    });
    return r.body;
  }

  /** One sample (`stream: false`) or a sample per second until the container is gone. */
  async *stats(id: string, opts: { stream: boolean; oneShot?: boolean }): AsyncGenerator<ContainerStats> {
    const r = await this.c.call("GET", `${p(id)}/stats`, {
      query: { stream: opts.stream ? undefined : "0", "one-shot": opts.oneShot ? "1" : undefined },
    });
    try {
      yield* readJsonLines<ContainerStats>(r.body);
    } finally {
      r.body.destroy();
    }
  }

  top(id: string, psArgs?: string): Promise<ContainerTopResponse> {
    return this.c.json("GET", `${p(id)}/top`, { query: { ps_args: psArgs || undefined } });
  }

  async changes(id: string): Promise<ChangesItem[]> {
    return (await this.c.json<ChangesItem[] | null>("GET", `${p(id)}/changes`)) ?? [];
  }

  async rename(id: string, name: string): Promise<void> {
    await this.c.empty("POST", `${p(id)}/rename`, { query: { name } });
  }

  async pause(id: string): Promise<void> {
    await this.c.empty("POST", `${p(id)}/pause`);
  }

  async unpause(id: string): Promise<void> {
    await this.c.empty("POST", `${p(id)}/unpause`);
  }

  update(id: string, body: ContainerUpdateRequest): Promise<ContainerUpdateResponse> {
    return this.c.json("POST", `${p(id)}/update`, { body });
  }

  /** `POST /commit`: the container's writable layer as a new image. */
  commit(o: CommitOptions): Promise<IdResponse> {
    return this.c.json("POST", "/commit", {
      query: {
        author: o.author ?? "",
        changes: o.changes && o.changes.length > 0 ? o.changes : undefined,
        comment: o.comment ?? "",
        container: o.container,
        pause: o.pause === false ? "0" : undefined,
        repo: o.repo ?? "",
        tag: o.tag ?? "",
      },
      ...(o.config === undefined ? {} : { body: o.config }),
    });
  }

  /** `HEAD /containers/{id}/archive?path=`: what is at `path` (404 when nothing). */
  async statPath(id: string, path: string): Promise<ContainerPathStat> {
    const r = await this.c.call("HEAD", `${p(id)}/archive`, { query: { path } });
    r.body.resume();
    return decodeStat(r.headers["x-docker-container-path-stat"]);
  }

  /** `GET /containers/{id}/archive?path=`: a tar of `path`, and its stat. */
  async getArchive(id: string, path: string): Promise<{ stat: ContainerPathStat; body: IncomingMessage }> {
    const r = await this.c.call("GET", `${p(id)}/archive`, { query: { path } });
    return { stat: decodeStat(r.headers["x-docker-container-path-stat"]), body: r.body };
  }

  /** `PUT /containers/{id}/archive?path=`: extracts a tar into the directory `path`. */
  async putArchive(
    id: string,
    path: string,
    tar: Readable,
    opts: { noOverwriteDirNonDir?: boolean; copyUIDGID?: boolean } = {},
  ): Promise<void> {
    const r = await this.c.call("PUT", `${p(id)}/archive`, {
      query: {
        copyUIDGID: opts.copyUIDGID ? "true" : undefined,
        noOverwriteDirNonDir: opts.noOverwriteDirNonDir === false ? undefined : "true",
        path,
      },
      stream: tar,
      headers: { "Content-Type": "application/x-tar" },
    });
    r.body.resume();
  }

  /** `GET /containers/{id}/export`: the container's filesystem as a tar. */
  async export(id: string): Promise<IncomingMessage> {
    return (await this.c.call("GET", `${p(id)}/export`)).body;
  }

  prune(filters?: Filters): Promise<ContainerPruneResponse> {
    return this.c.json("POST", "/containers/prune", { query: { filters: filtersParam(filters) } });
  }

  /** pier extension: what the container is made of (namespaces, cgroup, layers, mounts). */
  explain(id: string): Promise<ContainerExplain> {
    return this.c.json("GET", `${p(id)}/explain`);
  }
}

function decodeStat(h: string | string[] | undefined): ContainerPathStat {
  const v = Array.isArray(h) ? h[0] : h;
  if (!v) return { name: "", size: 0, mode: 0, mtime: "", linkTarget: "" };
  return JSON.parse(Buffer.from(v, "base64").toString("utf8")) as ContainerPathStat;
}
