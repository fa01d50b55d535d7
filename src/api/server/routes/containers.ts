/**
 * Containers, exec and volumes over the Docker Engine API, as the docker CLI drives them
 * (see ../../../../docs and the client traces): attach and exec start are hijacked (101,
 * raw with a TTY, 8-byte frames without), `/wait` sends its headers at once and its body
 * at exit, `kill?signal=WINCH` only forwards the signal.
 */
import type { ServerResponse } from "node:http";
import type {
  ContainerCreateRequest,
  ExecCreateRequest,
  ExecStartRequest,
  HostConfig,
} from "../../container-types.ts";
import { PierError, invalid } from "../../../common/errors.ts";
import type { Engine } from "../../../engine/containers/engine.ts";
import {
  attach,
  logs,
  type Execs,
  type IoSession,
  type OutputChunk,
} from "../../../engine/containers/streams.ts";
import { inspect, summary } from "../../../engine/containers/views.ts";
import { changes, commit, explain, stats, top } from "../../../engine/containers/extras.ts";
import { findLeaks, removeLeaks } from "../../../engine/containers/check.ts";
import { getArchive, putArchive, statPath } from "../../../engine/containers/archive.ts";
import type { NetworkManager } from "../../../network/index.ts";
import type { VolumeStore } from "../../../engine/volumes/index.ts";
import { boolParam, readJson, sendJson, sendStatus } from "../context.ts";
import { Hijacked, muxFrame, readUpgradeBody } from "../hijack.ts";
import type { ApiServer } from "../server.ts";

export interface ContainerBackends {
  engine: Engine;
  execs: Execs;
  volumes: VolumeStore;
}

type Filters = Record<string, string[]>;

/** docker's `filters` query: `{"status":["running"]}` or the old `{"status":{"running":true}}`. */
export function parseFilters(q: URLSearchParams): Filters {
  const raw = q.get("filters");
  if (!raw) return {};
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filter: ${raw}`);
  }
  const out: Filters = {};
  for (const [k, val] of Object.entries((v ?? {}) as Record<string, unknown>)) {
    if (Array.isArray(val)) out[k] = val.map(String);
    else if (val && typeof val === "object") out[k] = Object.keys(val);
  }
  return out;
}

function intParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "") return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw invalid(`invalid value for ${name}: ${v}`);
  return n;
}

/** docker's --since/--until values: unix seconds (with fraction) or RFC 3339. */
function timeParam(q: URLSearchParams, name: string): number | undefined {
  const v = q.get(name);
  if (v === null || v === "" || v === "0") return undefined;
  if (/^\d+(\.\d+)?$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) throw invalid(`invalid value for ${name}: ${v}`);
  return t / 1000;
}

async function pump(
  session: IoSession,
  out: (c: OutputChunk) => void,
  isClosed: () => boolean,
): Promise<void> {
  try {
    for await (const c of session.output) {
      if (isClosed()) break;
      out(c);
    }
  } finally {
    session.close();
  }
}

/** A hijacked connection's life: stdin in, output out (framed or raw), closed at the end. */
async function serveHijacked(h: Hijacked, session: IoSession): Promise<void> {
  streamStdin(session, h.socket as never);
  h.socket.on("close", () => session.close());
  await pump(
    session,
    (c) => (c.stream === 1 ? h.stdout(c.data) : h.stderr(c.data)),
    () => h.closed,
  );
  h.close();
}

function streamStdin(session: IoSession, socket: NodeJS.ReadableStream & { resume(): void }): void {
  if (!session.stdin) {
    socket.resume(); // read and drop, so the client's half-close is seen
    return;
  }
  const stdin = session.stdin;
  socket.on("data", (c: Buffer) => stdin.write(c));
  socket.on("end", () => stdin.end());
  socket.resume();
}

export function registerContainerRoutes(server: ApiServer, b: ContainerBackends): void {
  const { engine, execs, volumes } = b;

  server.get("/containers/json", async (ctx) => {
    const all = boolParam(ctx.query, "all");
    const limit = intParam(ctx.query, "limit");
    const f = parseFilters(ctx.query);
    let recs = await engine.list();
    recs.sort((a, b2) => Date.parse(b2.created) - Date.parse(a.created));
    if (!all && !f.status)
      recs = recs.filter(
        (r) => r.state.status === "running" || r.state.status === "paused" || r.state.status === "restarting",
      );
    const match = (vals: string[] | undefined, test: (v: string) => boolean) => !vals || vals.some(test);
    recs = recs.filter(
      (r) =>
        match(f.status, (v) => r.state.status === v) &&
        match(f.name, (v) => new RegExp(v).test(r.name) || new RegExp(v).test(`/${r.name}`)) &&
        match(f.id, (v) => r.id.startsWith(v)) &&
        match(f.ancestor, (v) => r.image === v || r.imageId === v || r.imageId.startsWith(`sha256:${v}`)) &&
        match(f.exited, (v) => r.state.status === "exited" && r.state.exitCode === Number(v)) &&
        match(
          f.network,
          (v) => Object.keys(r.endpoints).includes(v) || (r.hostConfig.NetworkMode ?? "") === v,
        ) &&
        match(f.volume, (v) => r.mounts.some((m) => m.Name === v || m.Destination === v)) &&
        match(f.label, (v) => {
          const i = v.indexOf("=");
          const labels = r.config.Labels ?? {};
          return i < 0 ? v in labels : labels[v.slice(0, i)] === v.slice(i + 1);
        }),
    );
    if (limit !== undefined && limit > 0) recs = recs.slice(0, limit);
    sendJson(ctx.res, 200, recs.map(summary));
  });

  server.post("/containers/create", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as ContainerCreateRequest;
    const name = ctx.query.get("name") ?? undefined;
    const r = await engine.create(body, name);
    sendJson(ctx.res, 201, r);
  });

  server.post("/containers/prune", async (ctx) => {
    const deleted: string[] = [];
    for (const r of await engine.list()) {
      if (r.state.status !== "exited" && r.state.status !== "created" && r.state.status !== "dead") continue;
      await engine.remove(r.id, { volumes: false });
      deleted.push(r.id);
    }
    sendJson(ctx.res, 200, { ContainersDeleted: deleted.length ? deleted : null, SpaceReclaimed: 0 });
  });

  server.get("/containers/{id}/json", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    sendJson(ctx.res, 200, await inspect(engine, rec, execs.idsOf(rec.id)));
  });

  server.post("/containers/{id}/start", async (ctx) => {
    const r = await engine.start(ctx.params.id!);
    sendStatus(ctx.res, r === "already" ? 304 : 204);
  });

  server.post("/containers/{id}/stop", async (ctx) => {
    const t = intParam(ctx.query, "t");
    const signal = ctx.query.get("signal") ?? undefined;
    const r = await engine.stop(ctx.params.id!, {
      ...(t !== undefined ? { timeout: t } : {}),
      ...(signal ? { signal } : {}),
    });
    sendStatus(ctx.res, r === "not-running" ? 304 : 204);
  });

  server.post("/containers/{id}/restart", async (ctx) => {
    const t = intParam(ctx.query, "t");
    await engine.restart(ctx.params.id!, t !== undefined ? { timeout: t } : {});
    sendStatus(ctx.res, 204);
  });

  server.post("/containers/{id}/kill", async (ctx) => {
    await engine.kill(ctx.params.id!, ctx.query.get("signal") || "KILL");
    sendStatus(ctx.res, 204);
  });

  server.post("/containers/{id}/pause", async (ctx) => {
    await engine.pause(ctx.params.id!);
    sendStatus(ctx.res, 204);
  });
  server.post("/containers/{id}/unpause", async (ctx) => {
    await engine.unpause(ctx.params.id!);
    sendStatus(ctx.res, 204);
  });

  server.post("/containers/{id}/rename", async (ctx) => {
    const name = ctx.query.get("name");
    if (!name) throw invalid("name is required");
    await engine.rename(ctx.params.id!, name);
    sendStatus(ctx.res, 204);
  });

  server.post("/containers/{id}/update", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as Partial<HostConfig>;
    const warnings = await engine.update(ctx.params.id!, body);
    sendJson(ctx.res, 200, { Warnings: warnings.length ? warnings : null });
  });

  server.post("/containers/{id}/resize", async (ctx) => {
    const h = intParam(ctx.query, "h") ?? 0;
    const w = intParam(ctx.query, "w") ?? 0;
    await engine.resizeRef(ctx.params.id!, h, w);
    sendStatus(ctx.res, 200);
  });

  server.post("/containers/{id}/wait", async (ctx) => {
    const cond = ctx.query.get("condition") || "not-running";
    if (!["not-running", "next-exit", "removed"].includes(cond))
      throw invalid(`invalid condition: "${cond}"`);
    // Resolve the container first (a 404 is an ordinary error answer), then flush the
    // headers at once: the docker CLI waits for them before it sends start.
    await engine.get(ctx.params.id!);
    const done = engine.wait(ctx.params.id!, cond as "not-running" | "next-exit" | "removed");
    ctx.res.writeHead(200, { "Content-Type": "application/json" });
    ctx.res.flushHeaders();
    const r = await done;
    if (!ctx.res.writableEnded)
      ctx.res.end(JSON.stringify({ StatusCode: r.StatusCode, Error: r.Error ?? null }) + "\n");
  });

  server.delete("/containers/{id}", async (ctx) => {
    await engine.remove(ctx.params.id!, {
      force: boolParam(ctx.query, "force"),
      volumes: boolParam(ctx.query, "v"),
    });
    sendStatus(ctx.res, 204);
  });

  server.get("/containers/{id}/logs", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const q = ctx.query;
    const stdout = boolParam(q, "stdout");
    const stderr = boolParam(q, "stderr");
    if (!stdout && !stderr) throw invalid("Bad parameters: you must choose at least one stream");
    const tailRaw = q.get("tail");
    const tail = tailRaw && tailRaw !== "all" ? Number(tailRaw) : undefined;
    const since = timeParam(q, "since");
    const until = timeParam(q, "until");
    const tty = rec.config.Tty === true;
    const res: ServerResponse = ctx.res;
    res.writeHead(200, {
      "Content-Type": tty ? "application/vnd.docker.raw-stream" : "application/vnd.docker.multiplexed-stream",
    });
    res.flushHeaders();
    const ac = new AbortController();
    res.on("close", () => ac.abort());
    for await (const c of logs(
      engine,
      rec,
      {
        follow: boolParam(q, "follow"),
        stdout,
        stderr,
        timestamps: boolParam(q, "timestamps"),
        ...(tail !== undefined && Number.isFinite(tail) ? { tail } : {}),
        ...(since !== undefined ? { since } : {}),
        ...(until !== undefined ? { until } : {}),
      },
      ac.signal,
    )) {
      if (res.writableEnded || ac.signal.aborted) break;
      res.write(tty ? c.data : muxFrame(c.stream, c.data));
    }
    if (!res.writableEnded) res.end();
  });

  server.upgrade("POST", "/containers/{id}/attach", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const q = ctx.query;
    if (!boolParam(q, "stream") && !boolParam(q, "logs"))
      throw invalid("Bad parameters: you must choose at least one stream");
    if (rec.state.status === "exited" && boolParam(q, "stream") && !boolParam(q, "logs")) {
      throw new PierError("Conflict", "You cannot attach to a stopped container, start it first");
    }
    const session = await attach(engine, rec, {
      stdin: boolParam(q, "stdin"),
      stdout: boolParam(q, "stdout"),
      stderr: boolParam(q, "stderr"),
      logs: boolParam(q, "logs"),
      stream: boolParam(q, "stream"),
    });
    await serveHijacked(Hijacked.accept(ctx.socket, !session.tty, ctx.head), session);
  });

  // ---- exec -----------------------------------------------------------------------------

  server.post("/containers/{id}/exec", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as ExecCreateRequest;
    const id = await execs.create(ctx.params.id!, body);
    sendJson(ctx.res, 201, { Id: id });
  });

  server.upgrade("POST", "/exec/{id}/start", async (ctx) => {
    const len = Number(ctx.req.headers["content-length"] ?? 0);
    const raw = await readUpgradeBody(ctx.socket, ctx.head, len);
    const body = (raw.length ? JSON.parse(raw.toString("utf8")) : {}) as ExecStartRequest;
    const session = await execs.start(ctx.params.id!, {
      detach: body.Detach === true,
      ...(body.Tty !== undefined ? { tty: body.Tty } : {}),
      ...(body.ConsoleSize ? { consoleSize: body.ConsoleSize } : {}),
    });
    const h = Hijacked.accept(ctx.socket, !(session?.tty ?? body.Tty ?? false));
    if (!session) return h.close();
    await serveHijacked(h, session);
  });

  server.post("/exec/{id}/start", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as ExecStartRequest;
    const session = await execs.start(ctx.params.id!, {
      detach: body.Detach === true,
      ...(body.Tty !== undefined ? { tty: body.Tty } : {}),
    });
    if (!session) return sendStatus(ctx.res, 200);
    // Not hijacked: the output as a plain stream.
    const res = ctx.res;
    res.writeHead(200, {
      "Content-Type": session.tty
        ? "application/vnd.docker.raw-stream"
        : "application/vnd.docker.multiplexed-stream",
    });
    session.stdin?.end();
    await pump(
      session,
      (c) => res.write(session.tty ? c.data : muxFrame(c.stream, c.data)),
      () => res.writableEnded,
    );
    res.end();
  });

  server.post("/exec/{id}/resize", (ctx) => {
    execs.resize(ctx.params.id!, intParam(ctx.query, "h") ?? 0, intParam(ctx.query, "w") ?? 0);
    sendStatus(ctx.res, 200);
  });

  server.get("/exec/{id}/json", (ctx) => sendJson(ctx.res, 200, execs.inspect(ctx.params.id!)));

  // ---- volumes --------------------------------------------------------------------------

  const usersOf = async (name: string) =>
    (await engine.list())
      .filter((r) => r.mounts.some((m) => m.Type === "volume" && m.Name === name))
      .map((r) => r.id);

  server.get("/volumes", async (ctx) => {
    const f = parseFilters(ctx.query);
    let vols = await volumes.list();
    if (f.name) vols = vols.filter((v) => f.name!.some((n) => v.Name.includes(n)));
    if (f.dangling) {
      const want = f.dangling.includes("true") || f.dangling.includes("1");
      const used = new Set((await engine.list()).flatMap((r) => r.mounts.map((m) => m.Name)));
      vols = vols.filter((v) => used.has(v.Name) !== want);
    }
    if (f.label)
      vols = vols.filter((v) =>
        f.label!.every((l) => {
          const i = l.indexOf("=");
          return i < 0 ? l in (v.Labels ?? {}) : v.Labels?.[l.slice(0, i)] === l.slice(i + 1);
        }),
      );
    sendJson(ctx.res, 200, { Volumes: vols.map(({ anonymous: _a, ...v }) => v), Warnings: null });
  });

  server.post("/volumes/create", async (ctx) => {
    const body = ((await readJson(ctx.req)) ?? {}) as {
      Name?: string;
      Labels?: Record<string, string>;
      DriverOpts?: Record<string, string>;
      Driver?: string;
    };
    if (body.Driver && body.Driver !== "local")
      throw new PierError("NotFound", `plugin "${body.Driver}" not found`, {
        hint: "pier has the local volume driver only",
      });
    const { created: _c, ...v } = await volumes.create({
      ...(body.Name ? { name: body.Name } : {}),
      labels: body.Labels ?? {},
      options: body.DriverOpts ?? {},
    });
    sendJson(ctx.res, 201, v);
  });

  server.post("/volumes/prune", async (ctx) => {
    const f = parseFilters(ctx.query);
    const all = (f.all ?? []).some((v) => v === "true" || v === "1");
    const deleted: string[] = [];
    let space = 0;
    for (const v of await volumes.list()) {
      if (!all && !v.anonymous) continue;
      if ((await usersOf(v.Name)).length) continue;
      space += await volumes.size(v.Name);
      await volumes.remove(v.Name, []);
      deleted.push(v.Name);
    }
    sendJson(ctx.res, 200, { VolumesDeleted: deleted.length ? deleted : null, SpaceReclaimed: space });
  });

  server.get("/volumes/{name}", async (ctx) => {
    const { anonymous: _a, ...v } = await volumes.inspect(ctx.params.name!);
    sendJson(ctx.res, 200, v);
  });

  server.delete("/volumes/{name}", async (ctx) => {
    await volumes.remove(ctx.params.name!, await usersOf(ctx.params.name!), {
      force: boolParam(ctx.query, "force"),
    });
    sendStatus(ctx.res, 204);
  });
}

/** top, stats, changes, commit, explain; system df, check and prune. */
export function registerContainerExtraRoutes(
  server: ApiServer,
  b: ContainerBackends & { networks?: NetworkManager; imageSummaries: () => Promise<unknown[]> },
): void {
  const { engine, volumes } = b;

  server.get("/containers/{id}/top", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    sendJson(ctx.res, 200, await top(engine, rec, ctx.query.get("ps_args") ?? "-ef"));
  });

  server.get("/containers/{id}/changes", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const ch = await changes(engine, rec);
    sendJson(ctx.res, 200, ch.length ? ch : null);
  });

  server.get("/containers/{id}/stats", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const stream = ctx.query.get("stream") === null || boolParam(ctx.query, "stream");
    const oneShot = boolParam(ctx.query, "one-shot");
    const res = ctx.res;
    if (!stream) {
      // docker samples twice, a second apart, so that CPU percentages can be computed.
      let first;
      if (!oneShot) {
        first = stats(engine, rec);
        await new Promise((r) => setTimeout(r, 1000));
      }
      sendJson(res, 200, stats(engine, (await engine.get(rec.id)) ?? rec, first));
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    let prev = stats(engine, rec);
    res.write(JSON.stringify(prev) + "\n");
    let closed = false;
    res.on("close", () => (closed = true));
    while (!closed) {
      await new Promise((r) => setTimeout(r, 1000));
      const cur = await engine.get(rec.id).catch(() => undefined);
      if (!cur || closed) break;
      prev = stats(engine, cur, prev);
      res.write(JSON.stringify(prev) + "\n");
    }
    if (!res.writableEnded) res.end();
  });

  server.post("/commit", async (ctx) => {
    const q = ctx.query;
    const ref = q.get("container");
    if (!ref) throw invalid("a container is required", "name the container to commit");
    const rec = await engine.get(ref);
    const repo = q.get("repo") ?? "";
    const tag = q.get("tag") || "latest";
    const id = await commit(engine, rec, {
      ...(repo ? { name: `${repo}:${tag}` } : {}),
      ...(q.get("comment") ? { comment: q.get("comment")! } : {}),
      ...(q.get("author") ? { author: q.get("author")! } : {}),
      changes: q
        .getAll("changes")
        .flatMap((c) => c.split("\n"))
        .filter((c) => c.trim() !== ""),
      pause: q.get("pause") === null || boolParam(q, "pause"),
    });
    sendJson(ctx.res, 201, { Id: id });
  });

  server.get("/containers/{id}/explain", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    sendJson(ctx.res, 200, await explain(engine, rec));
  });

  server.get("/system/df", async (ctx) => {
    const recs = await engine.list();
    const containers = [];
    for (const r of recs) {
      const s = summary(r);
      let sizeRw = 0;
      try {
        const u = await engine.opts.images.snapshotter.usage(r.snapshotKey);
        sizeRw = u.size;
      } catch {
        // gone
      }
      containers.push({ ...s, SizeRw: sizeRw, SizeRootFs: 0 });
    }
    const vols = [];
    for (const v of await volumes.list()) {
      const { anonymous: _a, ...rest } = v;
      const refs = recs.filter((r) => r.mounts.some((m) => m.Name === v.Name)).length;
      vols.push({ ...rest, UsageData: { Size: await volumes.size(v.Name), RefCount: refs } });
    }
    const images = await b.imageSummaries();
    sendJson(ctx.res, 200, {
      LayersSize: images.reduce((a: number, i) => a + ((i as { Size?: number }).Size ?? 0), 0),
      Images: images,
      Containers: containers,
      Volumes: vols,
      BuildCache: [],
    });
  });

  server.get("/pier/system/check", async (ctx) => {
    sendJson(ctx.res, 200, { Leaks: await findLeaks(engine, b.networks) });
  });

  server.post("/pier/system/prune", async (ctx) => {
    const leaks = await findLeaks(engine, b.networks);
    const removed = await removeLeaks(engine, leaks, b.networks);
    sendJson(ctx.res, 200, { Removed: removed, SpaceReclaimed: 0 });
  });
}

/** `docker cp`: GET/PUT/HEAD /containers/{id}/archive. */
export function registerArchiveRoutes(server: ApiServer, engine: Engine): void {
  const statHeader = (s: unknown) => Buffer.from(JSON.stringify(s)).toString("base64");
  server.head("/containers/{id}/archive", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const path = ctx.query.get("path");
    if (!path) throw invalid("path is required");
    const st = await statPath(engine, rec, path);
    ctx.res.writeHead(200, { "X-Docker-Container-Path-Stat": statHeader(st) });
    ctx.res.end();
  });
  server.get("/containers/{id}/archive", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const path = ctx.query.get("path");
    if (!path) throw invalid("path is required");
    const { stat, tar, done } = await getArchive(engine, rec, path);
    ctx.res.writeHead(200, {
      "Content-Type": "application/x-tar",
      "X-Docker-Container-Path-Stat": statHeader(stat),
    });
    tar.pipe(ctx.res);
    await done;
  });
  server.put("/containers/{id}/archive", async (ctx) => {
    const rec = await engine.get(ctx.params.id!);
    const path = ctx.query.get("path");
    if (!path) throw invalid("path is required");
    await putArchive(engine, rec, path, ctx.req);
    sendStatus(ctx.res, 200);
  });
}
