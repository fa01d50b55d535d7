/** Image routes over an ImageBackend: list, inspect, history, tag, remove, pull, push, save, load, prune. */
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { invalid, notImplemented } from "../../../common/errors.ts";
import type { ImageBackend, ImageDetail, ImageInfo, RegistryAuth, RemovedItem } from "../../backend.ts";
import { familiar, parseReference } from "../../reference.ts";
import type { DeleteItem, HistoryItem, ImageInspect, ImageSummary } from "../../types.ts";
import { compareVersions } from "../../version.ts";
import { boolParam, readJson, registryAuth, sendJson, type Ctx } from "../context.ts";
import { JsonStream } from "../progress.ts";
import type { ApiServer } from "../server.ts";

const ZERO_TIME = "0001-01-01T00:00:00Z";
const seconds = (d: Date): number => Math.floor(d.getTime() / 1000);
const before144 = (v: string) => compareVersions(v, "1.44") < 0;

export function toSummary(i: ImageInfo, version: string): ImageSummary {
  const s: ImageSummary = {
    Containers: -1,
    Created: seconds(i.created),
    Id: i.id,
    Labels: i.labels,
    ParentId: i.parentId ?? "",
    RepoDigests: i.repoDigests.map(familiar),
    RepoTags: i.names.map(familiar),
    SharedSize: -1,
    Size: i.size,
  };
  if (before144(version)) s.VirtualSize = i.size;
  return s;
}

export function toInspect(i: ImageDetail, version: string): ImageInspect & { VirtualSize?: number } {
  const out: ImageInspect & { VirtualSize?: number } = {
    Id: i.id,
    RepoTags: i.names.map(familiar),
    RepoDigests: i.repoDigests.map(familiar),
    Parent: i.parentId ?? "",
    Comment: i.comment ?? "",
    Created: i.created.toISOString(),
    DockerVersion: "",
    Author: i.author ?? "",
    Config: i.config,
    Architecture: i.architecture,
    Os: i.os,
    Size: i.size,
    GraphDriver: { Name: "overlay2", Data: null },
    RootFS: { Type: "layers", Layers: i.layers },
    Metadata: { LastTagTime: i.lastTagTime?.toISOString() ?? ZERO_TIME },
  };
  if (i.variant !== undefined) out.Variant = i.variant;
  if (before144(version)) out.VirtualSize = i.size;
  return out;
}

export function toDeleteItem(r: RemovedItem): DeleteItem {
  return "untagged" in r ? { Untagged: familiar(r.untagged) } : { Deleted: r.deleted };
}

const name = (ctx: Ctx): string => ctx.params.name ?? "";

/** `fromImage` + `tag` → one reference (`tag` may be a digest). */
export function joinRef(repo: string, tag: string | null): string {
  if (!tag) return repo;
  return tag.includes(":") ? `${repo}@${tag}` : `${repo}:${tag}`;
}

export function registerImageRoutes(server: ApiServer, images: ImageBackend): void {
  server.get("/images/json", async (ctx) => {
    const filters = parseFilters(ctx.query.get("filters"));
    const legacy = ctx.query.get("filter");
    if (legacy) (filters.reference ??= []).push(legacy);
    const list = filterImages(await images.list({ all: boolParam(ctx.query, "all") }), filters);
    sendJson(
      ctx.res,
      200,
      list.map((i) => toSummary(i, ctx.version)),
    );
  });

  server.post("/images/create", async (ctx) => {
    const fromSrc = ctx.query.get("fromSrc");
    if (fromSrc !== null) {
      await importImage(ctx, images, fromSrc);
      return;
    }
    const from = ctx.query.get("fromImage");
    if (!from) throw invalid("fromImage is required");
    const ref = joinRef(from, ctx.query.get("tag"));
    const r = parseReference(ref);
    const auth = registryAuth(ctx.req);
    const platform = ctx.query.get("platform");
    const out = new JsonStream(ctx.res);
    const shortPath = r.domain === "docker.io" ? r.path : `${r.domain}/${r.path}`;
    const announce = () => {
      if (!out.hasStarted)
        out.write({ status: `Pulling from ${shortPath}`, id: r.tag ?? r.digest ?? "latest" });
    };
    try {
      const res = await images.pull(
        ref,
        { ...(auth ? { auth } : {}), ...(platform ? { platform } : {}) },
        (e) => {
          announce();
          out.progress(e);
        },
      );
      announce();
      out.write({ status: `Digest: ${res.digest}` });
      out.write({
        status: res.upToDate
          ? `Status: Image is up to date for ${familiar(res.name)}`
          : `Status: Downloaded newer image for ${familiar(res.name)}`,
      });
    } catch (err) {
      out.fail(err);
    }
    out.end();
  });

  server.post("/images/bootstrap", async (ctx) => {
    const bootstrap = images.bootstrap?.bind(images);
    if (!bootstrap) throw notImplemented("image bootstrap is not implemented by this daemon");
    const ref = ctx.query.get("name");
    if (!ref) throw invalid("name is required (busybox[:tag] or debian:SUITE)");
    parseReference(ref);
    const out = new JsonStream(ctx.res);
    try {
      const r = await bootstrap(ref, (e) => out.progress(e));
      out.write({ status: `Bootstrapped ${familiar(r.name)}`, aux: { ID: r.id } });
    } catch (err) {
      out.fail(err);
    }
    out.end();
  });

  server.post("/images/load", async (ctx) => {
    const quiet = boolParam(ctx.query, "quiet");
    const out = new JsonStream(ctx.res);
    try {
      const r = await images.load(ctx.req as Readable, (e) => {
        if (!quiet) out.progress(e);
      });
      for (const n of r.names) out.write({ stream: `Loaded image: ${familiar(n)}\n` });
      for (const id of r.ids) out.write({ stream: `Loaded image ID: ${id}\n` });
    } catch (err) {
      out.fail(err);
    }
    out.end();
  });

  server.post("/images/prune", async (ctx) => {
    const filters = parseFilters(ctx.query.get("filters"));
    const dangling = filters.dangling?.[0];
    const r = await images.prune({ all: dangling === "false" || dangling === "0" });
    sendJson(ctx.res, 200, {
      ImagesDeleted: r.removed.length > 0 ? r.removed.map(toDeleteItem) : null,
      SpaceReclaimed: r.spaceReclaimed,
    });
  });

  server.get("/images/get", async (ctx) => {
    await save(ctx, images, ctx.query.getAll("names"));
  });

  server.post("/auth", async (ctx) => {
    const login = images.login?.bind(images);
    if (!login) throw notImplemented("registry login is not implemented by this daemon");
    const body = (await readJson(ctx.req)) as Record<string, unknown> | undefined;
    const auth: RegistryAuth = {};
    for (const k of ["username", "password", "serveraddress"] as const) {
      const v = body?.[k];
      if (typeof v === "string" && v !== "") auth[k] = v;
    }
    await login(auth);
    sendJson(ctx.res, 200, { Status: "Login Succeeded", IdentityToken: "" });
  });

  server.get("/images/{name*}/json", async (ctx) => {
    sendJson(ctx.res, 200, toInspect(await images.inspect(name(ctx)), ctx.version));
  });

  server.get("/images/{name*}/history", async (ctx) => {
    const h = await images.history(name(ctx));
    const items: HistoryItem[] = h.map((e) => ({
      Id: e.id ?? "<missing>",
      Created: seconds(e.created),
      CreatedBy: e.createdBy,
      Tags: e.tags.length > 0 ? e.tags.map(familiar) : null,
      Size: e.size,
      Comment: e.comment,
    }));
    sendJson(ctx.res, 200, items);
  });

  server.get("/images/{name*}/get", async (ctx) => {
    await save(ctx, images, [name(ctx)]);
  });

  server.post("/images/{name*}/tag", async (ctx) => {
    const repo = ctx.query.get("repo");
    if (!repo) throw invalid("repository name must have at least one component");
    const target = joinRef(repo, ctx.query.get("tag"));
    parseReference(target);
    await images.tag(name(ctx), target);
    ctx.res.writeHead(201);
    ctx.res.end();
  });

  server.post("/images/{name*}/push", async (ctx) => {
    const ref = joinRef(name(ctx), ctx.query.get("tag"));
    const r = parseReference(ref);
    const auth = registryAuth(ctx.req);
    const out = new JsonStream(ctx.res);
    const announce = () => {
      if (!out.hasStarted) out.write({ status: `The push refers to repository [${r.domain}/${r.path}]` });
    };
    try {
      const res = await images.push(ref, auth ? { auth } : {}, (e) => {
        announce();
        out.progress(e);
      });
      announce();
      out.write({ status: `${res.tag}: digest: ${res.digest} size: ${res.size}` });
      out.write({ progressDetail: {}, aux: { Tag: res.tag, Digest: res.digest, Size: res.size } });
    } catch (err) {
      out.fail(err);
    }
    out.end();
  });

  server.delete("/images/{name*}", async (ctx) => {
    const removed = await images.remove(name(ctx), {
      force: boolParam(ctx.query, "force"),
      noPrune: boolParam(ctx.query, "noprune"),
    });
    sendJson(ctx.res, 200, removed.map(toDeleteItem));
  });
}

/** docker import: `fromSrc=-` with the tarball as the body (URLs are refused by name). */
async function importImage(ctx: Ctx, images: ImageBackend, fromSrc: string): Promise<void> {
  const importRootfs = images.importRootfs?.bind(images);
  if (!importRootfs) throw notImplemented("image import (fromSrc) is not implemented by this daemon");
  if (fromSrc !== "-") throw notImplemented(`import from a URL (${fromSrc}): only fromSrc=- is supported`);
  const repo = ctx.query.get("repo");
  const target = repo ? joinRef(repo, ctx.query.get("tag")) : undefined;
  if (target !== undefined) parseReference(target);
  const message = ctx.query.get("message");
  const out = new JsonStream(ctx.res);
  try {
    const r = await importRootfs(
      ctx.req as Readable,
      {
        changes: ctx.query.getAll("changes"),
        ...(target !== undefined ? { name: target } : {}),
        ...(message ? { message } : {}),
      },
      () => {},
    );
    out.write({ status: r.id });
  } catch (err) {
    out.fail(err);
  }
  out.end();
}

async function save(ctx: Ctx, images: ImageBackend, refs: string[]): Promise<void> {
  if (refs.length === 0) throw invalid("no images given to save");
  const format = ctx.query.get("format");
  if (format !== null && format !== "oci" && format !== "docker-archive" && format !== "docker")
    throw invalid(`unknown archive format ${format} (oci or docker-archive)`);
  const tar = await images.save(refs, format === "oci" ? { format: "oci" } : {});
  ctx.res.writeHead(200, { "Content-Type": "application/x-tar" });
  try {
    await pipeline(tar, ctx.res);
  } catch {
    ctx.res.destroy();
  }
}

/** docker's `filters` query: `{"dangling":["true"]}` (or the old `{"dangling":{"true":true}}`). */
export function parseFilters(raw: string | null): Record<string, string[]> {
  if (!raw) return {};
  let o: unknown;
  try {
    o = JSON.parse(raw);
  } catch {
    throw invalid(`invalid filter: ${raw}`);
  }
  const out: Record<string, string[]> = {};
  if (o === null || typeof o !== "object") return out;
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (Array.isArray(v)) out[k] = v.map(String);
    else if (v && typeof v === "object") out[k] = Object.keys(v);
  }
  return out;
}

/** A docker reference filter pattern (path.Match style: `*`, `?`, `[...]`) as a RegExp. */
function globToRegExp(pattern: string): RegExp {
  let re = "";
  for (const c of pattern) {
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/**
 * `/images/json` filters: `reference` (familiar name, glob; without a tag any tag matches;
 * only the matching names are kept, as dockerd does), `dangling`, `label` (`k` or `k=v`).
 * Others are refused by name.
 */
export function filterImages(list: ImageInfo[], filters: Record<string, string[]>): ImageInfo[] {
  for (const k of Object.keys(filters)) {
    if (!["reference", "dangling", "label"].includes(k)) throw invalid(`invalid filter '${k}'`);
  }
  let out = list;
  const dangling = filters.dangling?.[0];
  if (dangling !== undefined) {
    const want = dangling === "true" || dangling === "1";
    out = out.filter((i) => (i.names.length === 0) === want);
  }
  for (const l of filters.label ?? []) {
    const eq = l.indexOf("=");
    out = out.filter((i) => (eq < 0 ? l in i.labels : i.labels[l.slice(0, eq)] === l.slice(eq + 1)));
  }
  const refs = filters.reference;
  if (refs && refs.length > 0) {
    const matchers = refs.map((r) => {
      const slash = r.lastIndexOf("/");
      const hasTag = r.lastIndexOf(":") > slash;
      return { re: globToRegExp(r), hasTag };
    });
    out = out
      .map((i) => ({
        ...i,
        names: i.names.filter((n) => {
          const f = familiar(n);
          const repo = f.slice(0, f.lastIndexOf(":") > f.lastIndexOf("/") ? f.lastIndexOf(":") : f.length);
          return matchers.some((m) => m.re.test(m.hasTag ? f : repo));
        }),
      }))
      .filter((i) => i.names.length > 0);
  }
  return out;
}
