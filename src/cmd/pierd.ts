// pierd: the engine as a service, serving the Docker Engine API on a unix socket.
// This is the composition root: it builds the backends and hands them to the API server.
// The image backend is the real image layer (src/engine/images) over the state directory.
import { join } from "node:path";
import type { Backends } from "../api/backend.ts";
import { createApiServer } from "../api/server/index.ts";
import { openBuildBackend } from "../build/executor/index.ts";
import { describe } from "../common/errors.ts";
import { Engine } from "../engine/containers/engine.ts";
import { Execs } from "../engine/containers/streams.ts";
import { HealthChecks } from "../engine/containers/health.ts";
import { ServiceImageBackend } from "../engine/images/index.ts";
import { VolumeStore } from "../engine/volumes/index.ts";
import { networkPlugin } from "../engine/containers/network-plugin.ts";
import { ensureLxcfs } from "../engine/lxcfs.ts";
import { NetworkManager, startDnsServer } from "../network/index.ts";

const DEFAULT_HOST = "unix:///run/pier/pier.sock";
const DEFAULT_ROOT = "/var/lib/pier";

interface Options {
  socketPath: string;
  root: string;
  debug: boolean;
  insecureRegistries: string[];
  bridgePrefix?: string;
  bip?: string;
  execRoot?: string;
  lxcfs?: boolean;
  lxcfsDir?: string;
}

const USAGE = `Usage:  pierd [OPTIONS]

Serve the Docker Engine API for pier (foreground).

Options:
  -H, --host string   Daemon socket (default ${DEFAULT_HOST})
      --root string   State directory (default ${DEFAULT_ROOT}, or $PIER_ROOT)
      --insecure-registry list
                      Registry (host[:port]) that may be reached over plain http
                      (localhost and 127.0.0.1 always may)
      --bridge-prefix string
                      Prefix of the bridges pier makes (default "pier": pier0, pier-<id>)
      --bip string    Subnet of the default bridge network (default: chosen, 172.17.0.0/16 first)
      --exec-root string
                      Directory for sockets of running containers (default /run/pier)
      --lxcfs-dir string
                      Where lxcfs is (or is started) mounted (default /var/lib/lxcfs)
      --no-lxcfs      Never bind lxcfs's /proc files into containers
  -D, --debug         Log every request
  -h, --help          Print usage
`;

function parse(argv: string[]): Options | "help" {
  let host = DEFAULT_HOST;
  let root = process.env.PIER_ROOT ?? DEFAULT_ROOT;
  let debug = false;
  const insecureRegistries: string[] = [];
  let bridgePrefix: string | undefined;
  let bip: string | undefined;
  let execRoot: string | undefined;
  let lxcfs = true;
  let lxcfsDir: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.indexOf("=");
    const [flag, inline] = a.startsWith("--") && eq > 0 ? [a.slice(0, eq), a.slice(eq + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new Error(`flag needs an argument: ${flag}`);
      return v;
    };
    if (flag === "-H" || flag === "--host") host = value();
    else if (flag === "--root") root = value();
    else if (flag === "--insecure-registry") insecureRegistries.push(value());
    else if (flag === "--bridge-prefix") bridgePrefix = value();
    else if (flag === "--bip") bip = value();
    else if (flag === "--exec-root") execRoot = value();
    else if (flag === "--lxcfs-dir") lxcfsDir = value();
    else if (flag === "--no-lxcfs") lxcfs = false;
    else if (flag === "-D" || flag === "--debug") debug = true;
    else if (flag === "-h" || flag === "--help") return "help";
    else throw new Error(`unknown flag: ${a}`);
  }
  if (!host.startsWith("unix://") && !host.startsWith("/"))
    throw new Error(`only unix sockets are supported: ${host}`);
  return {
    socketPath: host.startsWith("unix://") ? host.slice(7) : host,
    root,
    debug,
    insecureRegistries,
    ...(bridgePrefix ? { bridgePrefix } : {}),
    ...(bip ? { bip } : {}),
    ...(execRoot ? { execRoot } : {}),
    lxcfs,
    ...(lxcfsDir ? { lxcfsDir } : {}),
  };
}

/** The one place backends are chosen. `close` releases what they hold (the image database). */
export async function makeBackends(opts: {
  root: string;
  insecureRegistries?: string[];
  log?: (s: string) => void;
  bridgePrefix?: string;
  bip?: string;
  execRoot?: string;
  lxcfs?: boolean;
  lxcfsDir?: string;
}): Promise<{ backends: Backends; close(): Promise<void> }> {
  const images = await ServiceImageBackend.open(join(opts.root, "image"), {
    insecure: opts.insecureRegistries ?? [],
  });
  const volumes = await VolumeStore.open(opts.root);
  const networks = await NetworkManager.open({
    stateDir: join(opts.root, "network"),
    ...(opts.bridgePrefix ? { bridgePrefix: opts.bridgePrefix } : {}),
    ...(opts.bip ? { defaultBridge: { subnet: opts.bip } } : {}),
  });
  await networks.restore();
  const dns = await startDnsServer(networks, { onError: (e) => opts.log?.(`dns: ${e.message}`) });
  // lxcfs is found or started when the first container needs it, not at daemon start.
  const lxcfs =
    opts.lxcfs === false
      ? undefined
      : () =>
          ensureLxcfs(opts.lxcfsDir ?? "/var/lib/lxcfs", {
            pidFile: join(opts.execRoot ?? "/run/pier", "lxcfs.pid"),
            ...(opts.log ? { log: opts.log } : {}),
          });
  const engine = await Engine.open({
    root: opts.root,
    ...(lxcfs ? { lxcfs } : {}),
    images: images.service,
    volumes,
    networks: networkPlugin(networks),
    runDir: join(opts.execRoot ?? "/run/pier", "c"),
    ...(opts.log ? { log: opts.log } : {}),
  });
  const build = await openBuildBackend({ images, engine, root: opts.root });
  const execs = new Execs(engine);
  const health = new HealthChecks(engine, execs);
  await health.resume();
  return {
    backends: {
      images,
      root: opts.root,
      containers: { engine, execs, volumes },
      networks,
      build,
      system: {
        async info() {
          const recs = await engine.list();
          const count = (s: string[]) => recs.filter((r) => s.includes(r.state.status)).length;
          return {
            images: (await images.list()).length,
            containers: {
              running: count(["running", "restarting"]),
              paused: count(["paused"]),
              stopped: count(["created", "exited", "dead", "removing"]),
            },
          };
        },
      },
    },
    close: async () => {
      health.close();
      await engine.close();
      await dns.close();
      networks.close();
      await images.close();
    },
  };
}

const log = (s: string) => process.stderr.write(`${new Date().toISOString()} pierd: ${s}\n`);

async function run(argv: string[]): Promise<number> {
  if (argv[0] === "__warmup") return 0;
  const opts = parse(argv);
  if (opts === "help") {
    process.stdout.write(USAGE);
    return 0;
  }
  const made = await makeBackends({ ...opts, log });
  const server = createApiServer(made.backends, opts.debug ? { log, onError: log } : { onError: log });
  try {
    await server.listen(opts.socketPath);
  } catch (err) {
    await made.close();
    throw err;
  }
  log(`listening on unix://${opts.socketPath} (pid ${process.pid}, root ${opts.root})`);
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`${sig}: shutting down`);
      server
        .close()
        .then(() => made.close())
        .then(resolve, resolve);
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
  return 0;
}

run(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    log(describe(e));
    process.exit(1);
  },
);
