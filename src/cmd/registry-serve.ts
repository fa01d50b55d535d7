// `pier registry serve`: a distribution-spec registry in the foreground, storing into
// pier's content store at --root (the same one pierd uses when --root is its state dir:
// <root>/image/content and <root>/image/metadata.db, repositories in <root>/registry).
// It lives in src/cmd, not src/cli, because it runs the registry library in this
// process instead of asking pierd.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { describe, invalid } from "../common/errors.ts";
import { ContentStore } from "../image/content/index.ts";
import { MetadataStore } from "../image/store/index.ts";
import { serve, type AuthOptions } from "../registry/server/index.ts";

const USAGE = `Usage:  pier registry serve [OPTIONS]

Serve an OCI distribution registry over pier's content store (foreground).

Options:
      --addr string     Address to listen on (default 127.0.0.1:5000; port 0 picks a free one)
      --root string     pier state directory (default $PIER_ROOT or /var/lib/pier)
      --user list       user:password allowed to push and pull (basic auth; none: open)
      --token           With --user: bearer-token auth instead of basic
  -h, --help            Print usage
`;

function splitAddr(addr: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d+)$/.exec(addr);
  if (!m) throw invalid(`--addr ${addr}: want HOST:PORT`);
  const host = m[1]!.replace(/^\[|\]$/g, "") || "127.0.0.1";
  return { host, port: Number(m[2]) };
}

export async function registryServe(argv: string[]): Promise<number> {
  let addr = "127.0.0.1:5000";
  let root = process.env.PIER_ROOT ?? "/var/lib/pier";
  const users: Record<string, string> = {};
  let token = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw invalid(`flag needs an argument: ${flag}`);
      return v;
    };
    if (flag === "--addr") addr = value();
    else if (flag === "--root") root = value();
    else if (flag === "--user") {
      const u = value();
      const c = u.indexOf(":");
      if (c <= 0) throw invalid(`--user ${u}: want user:password`);
      users[u.slice(0, c)] = u.slice(c + 1);
    } else if (flag === "--token") token = true;
    else if (flag === "-h" || flag === "--help") {
      process.stdout.write(USAGE);
      return 0;
    } else throw invalid(`unknown flag: ${a}\nSee 'pier registry serve --help'.`);
  }
  const { host, port } = splitAddr(addr);
  const auth: AuthOptions | undefined =
    Object.keys(users).length === 0 ? undefined : token ? { type: "token", users } : { type: "basic", users };
  mkdirSync(join(root, "image"), { recursive: true });
  const content = await ContentStore.open(join(root, "image", "content"));
  const meta = MetadataStore.open(join(root, "image", "metadata.db"));
  const server = await serve({
    root,
    host,
    port,
    content,
    meta,
    ...(auth ? { auth } : {}),
  }).catch((err: unknown) => {
    meta.close();
    throw err;
  });
  process.stdout.write(`pier registry listening on ${server.url} (root ${root})\n`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
  await server.close();
  meta.close();
  return 0;
}

/** The entry point used by src/cmd/pier.ts for `pier registry ...`. */
export async function registryMain(argv: string[]): Promise<number> {
  if (argv[0] !== "serve") {
    process.stderr.write(
      `pier registry: ${argv[0] ? `unknown command ${argv[0]}` : "requires a subcommand"}\n\n${USAGE}`,
    );
    return 1;
  }
  try {
    return await registryServe(argv.slice(1));
  } catch (err) {
    process.stderr.write(`pier registry serve: ${describe(err)}\n`);
    return 1;
  }
}
