/**
 * The registry server's optional authentication:
 *
 *   basic  every request carries `Authorization: Basic base64(user:pass)`;
 *          without it the answer is 401 + `WWW-Authenticate: Basic realm="pier"`.
 *   token  docker's token flow: a request without a valid bearer token gets
 *          401 + `WWW-Authenticate: Bearer realm="<url>/token",service="…",scope="repository:<name>:<actions>"`;
 *          the client asks `GET /token?service=…&scope=…` (with basic credentials,
 *          or anonymously) and retries with `Authorization: Bearer <token>`.
 *
 * Users are given like htpasswd lines: a plain password, or `{SHA}base64(sha1)`
 * as `htpasswd -s` writes (bcrypt is not in node's crypto). Tokens are HMAC-SHA256
 * signed by a key that lives only in the server process; they list the granted
 * access, so a token for one repository does not open another. A known user
 * is granted everything it asks for; anonymous users get `pull` when
 * `anonymousPull` is set, nothing otherwise.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

export interface BasicAuth {
  type: "basic";
  users: Record<string, string>;
  realm?: string;
}

export interface TokenAuth {
  type: "token";
  users: Record<string, string>;
  /** Default "pier-registry". */
  service?: string;
  /** Anonymous tokens may pull (default false). */
  anonymousPull?: boolean;
  /** Token lifetime in seconds (default 300). */
  expiresIn?: number;
}

export type AuthOptions = BasicAuth | TokenAuth;

export interface Access {
  type: string;
  name: string;
  actions: string[];
}

export function checkPassword(users: Record<string, string>, user: string, password: string): boolean {
  const stored = users[user];
  if (stored === undefined) return false;
  const given = stored.startsWith("{SHA}")
    ? `{SHA}${createHash("sha1").update(password).digest("base64")}`
    : password;
  const a = createHash("sha256").update(stored).digest();
  const b = createHash("sha256").update(given).digest();
  return timingSafeEqual(a, b);
}

/** user:pass from an `Authorization: Basic …` header. */
export function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? "");
  if (!m) return undefined;
  const s = Buffer.from(m[1]!, "base64").toString("utf8");
  const colon = s.indexOf(":");
  if (colon < 0) return undefined;
  return { user: s.slice(0, colon), password: s.slice(colon + 1) };
}

/** `repository:foo/bar:pull,push` → Access (undefined when malformed). */
export function parseScope(scope: string): Access | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first < 0 || last === first) return undefined;
  return {
    type: scope.slice(0, first),
    name: scope.slice(first + 1, last),
    actions: scope
      .slice(last + 1)
      .split(",")
      .filter((a) => a !== ""),
  };
}

export class TokenIssuer {
  private readonly key = randomBytes(32);
  readonly service: string;
  private readonly opts: TokenAuth;

  constructor(opts: TokenAuth) {
    this.opts = opts;
    this.service = opts.service ?? "pier-registry";
  }

  /** Grants what `user` (undefined: anonymous) may have of the requested scopes. */
  issue(user: string | undefined, scopes: string[]): { token: string; expiresIn: number } {
    const access: Access[] = [];
    for (const s of scopes) {
      const a = parseScope(s);
      if (!a) continue;
      const allowed =
        user !== undefined ? a.actions : this.opts.anonymousPull ? a.actions.filter((x) => x === "pull") : [];
      if (allowed.length > 0) access.push({ ...a, actions: allowed });
    }
    const expiresIn = this.opts.expiresIn ?? 300;
    const payload = Buffer.from(
      JSON.stringify({
        sub: user ?? "",
        aud: this.service,
        exp: Math.floor(Date.now() / 1000) + expiresIn,
        access,
      }),
    ).toString("base64url");
    return { token: `${payload}.${this.sign(payload)}`, expiresIn };
  }

  /** The access a valid, unexpired token grants; undefined otherwise. */
  verify(token: string): Access[] | undefined {
    const dot = token.indexOf(".");
    if (dot < 0) return undefined;
    const payload = token.slice(0, dot);
    const sig = Buffer.from(token.slice(dot + 1));
    const want = Buffer.from(this.sign(payload));
    if (sig.length !== want.length || !timingSafeEqual(sig, want)) return undefined;
    try {
      const claims = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as {
        exp: number;
        aud: string;
        access: Access[];
      };
      if (claims.aud !== this.service || claims.exp * 1000 < Date.now()) return undefined;
      return claims.access;
    } catch {
      return undefined;
    }
  }

  private sign(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}

export function allows(access: Access[], repo: string, action: string): boolean {
  return access.some(
    (a) =>
      a.type === "repository" && a.name === repo && (a.actions.includes(action) || a.actions.includes("*")),
  );
}
