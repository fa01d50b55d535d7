/** What a route handler gets: the request, its params and query, and reply helpers. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { invalid } from "../../common/errors.ts";
import type { Params } from "./router.ts";

export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  /** The path without the version prefix. */
  path: string;
  params: Params;
  query: URLSearchParams;
  /** The API version this request is served at (negotiated). */
  version: string;
}

export type Handler = (ctx: Ctx) => Promise<void> | void;

/** An upgraded (hijacked) request: the raw socket, and the bytes already read past the headers. */
export interface UpgradeCtx extends Omit<Ctx, "res"> {
  socket: Duplex;
  head: Buffer;
}

export type UpgradeHandler = (ctx: UpgradeCtx) => Promise<void> | void;

/** Headers dockerd puts on every answer. */
export const COMMON_HEADERS: Record<string, string> = {
  "Api-Version": "",
  "Docker-Experimental": "false",
  Ostype: "linux",
  Server: "pier (linux)",
};

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = Buffer.from(JSON.stringify(body) + "\n");
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": data.length });
  res.end(data);
}

export function sendStatus(res: ServerResponse, status: number): void {
  res.writeHead(status);
  res.end();
}

/** docker's boolean query values: 1/true/True/yes are true; absent, 0, false are false. */
export function boolParam(q: URLSearchParams, name: string): boolean {
  const v = q.get(name);
  if (v === null) return false;
  const s = v.toLowerCase();
  return !(s === "" || s === "0" || s === "false" || s === "no");
}

const MAX_JSON_BODY = 16 << 20;

/** Reads and parses a JSON body; an empty body is `undefined`. */
export async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > MAX_JSON_BODY) throw invalid("request body too large");
    chunks.push(c);
  }
  const text = Buffer.concat(chunks).toString("utf8").trim();
  if (text === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw invalid("invalid JSON in request body");
  }
}

/** Decodes X-Registry-Auth (base64url JSON); an absent or empty header is undefined. */
export function registryAuth(req: IncomingMessage): Record<string, string> | undefined {
  const h = req.headers["x-registry-auth"];
  if (typeof h !== "string" || h === "") return undefined;
  try {
    const o = JSON.parse(Buffer.from(h, "base64url").toString("utf8")) as unknown;
    if (o === null || typeof o !== "object") return undefined;
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(o)) if (typeof v === "string" && v !== "") out[k] = v;
    return Object.keys(out).length > 0 ? out : undefined;
  } catch {
    return undefined;
  }
}
