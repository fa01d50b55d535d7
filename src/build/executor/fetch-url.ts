/**
 * ADD of an http(s) URL: the file is downloaded by pierd (redirects followed,
 * at most 10) into the build's scratch directory, named after the last
 * component of the URL's path, with mode 0600 and the server's Last-Modified
 * time, as docker does; it is never unpacked. `ADD --checksum=sha256:…`
 * verifies the bytes. The download happens on every build (docker's legacy
 * builder does the same): the cache key is the content, so an unchanged file
 * still hits the cache.
 *
 * Usage:
 *   const f = await fetchUrl("http://127.0.0.1:8000/app.tar.gz", scratchDir, signal);
 *   f.name   // "app.tar.gz"; f.dir holds it
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, utimes } from "node:fs/promises";
import { get as httpGet, type IncomingMessage } from "node:http";
import { get as httpsGet } from "node:https";
import { join, posix } from "node:path";
import { pipeline } from "node:stream/promises";
import { PierError } from "../../common/errors.ts";

export interface Fetched {
  /** The directory holding the file (a source tree for planCopy). */
  dir: string;
  /** The file's name in it. */
  name: string;
  /** "sha256:<hex>" of its bytes. */
  digest: string;
}

const MAX_REDIRECTS = 10;

export const isUrl = (s: string): boolean => /^https?:\/\//i.test(s);

function request(url: string, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const get = url.toLowerCase().startsWith("https:") ? httpsGet : httpGet;
    const req = get(url, { headers: { "User-Agent": "pier-build" }, ...(signal ? { signal } : {}) }, resolve);
    req.setTimeout(60_000, () => req.destroy(new Error("no answer for 60 s")));
    req.on("error", reject);
  });
}

export async function fetchUrl(url: string, scratch: string, signal?: AbortSignal): Promise<Fetched> {
  let name: string;
  try {
    name = decodeURIComponent(posix.basename(new URL(url).pathname));
  } catch {
    throw new PierError("InvalidArgument", `ADD: invalid URL ${url}`);
  }
  if (name === "" || name === "/" || name === "." || name === "..") name = "index.html";
  await mkdir(scratch, { recursive: true });
  const dir = await mkdtemp(join(scratch, "url-"));
  let at = url;
  for (let hops = 0; ; hops++) {
    let res: IncomingMessage;
    try {
      res = await request(at, signal);
    } catch (err) {
      throw new PierError("Unavailable", `ADD ${url}: ${(err as Error).message}`, {
        cause: err,
        hint: "the URL must be reachable from the machine pierd runs on",
      });
    }
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (status >= 300 && status < 400 && location !== undefined) {
      res.resume();
      if (hops >= MAX_REDIRECTS) throw new PierError("Unavailable", `ADD ${url}: too many redirects`);
      at = new URL(location, at).toString();
      continue;
    }
    if (status !== 200) {
      res.resume();
      throw new PierError(status === 404 ? "NotFound" : "Unavailable", `ADD ${url}: HTTP status ${status}`);
    }
    const path = join(dir, name);
    const hash = createHash("sha256");
    res.on("data", (c: Buffer) => hash.update(c));
    await pipeline(res, createWriteStream(path, { mode: 0o600 }));
    const modified = Date.parse(res.headers["last-modified"] ?? "");
    if (!Number.isNaN(modified)) await utimes(path, modified / 1000, modified / 1000);
    return { dir, name, digest: `sha256:${hash.digest("hex")}` };
  }
}
