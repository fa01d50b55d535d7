/**
 * A small router for the Docker API. Patterns are paths with `{param}` segments; a param
 * written `{name*}` may span several segments, so image names such as
 * `localhost:5000/bb` or `docker.io/library/x` fit (`/images/{name*}/push`). Routes are
 * tried in the order they were added; literal routes should come before greedy ones.
 *
 * The optional `/vX.Y` prefix is split off by `splitVersion`, not by patterns.
 */
export type Params = Record<string, string>;

export interface Route<H> {
  method: string;
  pattern: string;
  handler: H;
}

interface Compiled<H> extends Route<H> {
  re: RegExp;
  names: string[];
}

export interface Match<H> {
  handler: H;
  params: Params;
  pattern: string;
}

export class Router<H> {
  private readonly routes: Compiled<H>[] = [];

  add(method: string, pattern: string, handler: H): this {
    const names: string[] = [];
    const src = pattern
      .split("/")
      .map((seg) => {
        const m = /^\{(\w+)(\*?)\}$/.exec(seg);
        if (!m) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
        names.push(m[1]!);
        return m[2] ? "(.+)" : "([^/]+)";
      })
      .join("/");
    this.routes.push({ method, pattern, handler, names, re: new RegExp(`^${src}$`) });
    return this;
  }

  /**
   * The route for a method and path (without version prefix). `undefined` when nothing
   * matches; `{ allowed }` when the path matches but not for this method.
   */
  match(method: string, path: string): Match<H> | { allowed: string[] } | undefined {
    const allowed: string[] = [];
    for (const r of this.routes) {
      const m = r.re.exec(path);
      if (!m) continue;
      if (r.method !== method && !(method === "HEAD" && r.method === "GET")) {
        allowed.push(r.method);
        continue;
      }
      const params: Params = {};
      r.names.forEach((n, i) => {
        const raw = m[i + 1] ?? "";
        let v = raw;
        try {
          v = decodeURIComponent(raw);
        } catch {
          // keep the raw text when it is not valid percent-encoding
        }
        params[n] = v;
      });
      return { handler: r.handler, params, pattern: r.pattern };
    }
    return allowed.length > 0 ? { allowed } : undefined;
  }
}

/** Splits `/v1.43/images/json` into `{ version: "1.43", path: "/images/json" }`. */
export function splitVersion(path: string): { version: string | undefined; path: string } {
  const m = /^\/v(\d+\.\d+)(\/.*)?$/.exec(path);
  if (!m) return { version: undefined, path };
  return { version: m[1], path: m[2] ?? "/" };
}
