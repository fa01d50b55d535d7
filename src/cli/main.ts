/**
 * The `pier` CLI: docker-style global flags, then a command. Commands are loaded lazily
 * (one small module each) so start-up reads only what the command needs. The CLI talks
 * to pierd through src/api/client only.
 */
import { DEFAULT_SOCKET } from "../api/client/index.ts";
import { bool, parseArgs, str, UsageError, type FlagSpec } from "./args.ts";
import { Cli, processIo, socketPathOf, type CommandDef, type Io } from "./context.ts";
import { errorText, exitCodeFor } from "./errors.ts";

const GLOBAL: FlagSpec[] = [
  {
    name: "host",
    short: "H",
    kind: "list",
    help: "Daemon socket to connect to (unix:///run/pier/pier.sock)",
  },
  { name: "debug", short: "D", kind: "bool", help: "Enable debug mode" },
  {
    name: "log-level",
    short: "l",
    kind: "string",
    help: 'Set the logging level ("debug"|"info"|"warn"|"error"|"fatal")',
  },
  { name: "help", kind: "bool", help: "Print usage" },
  { name: "version", short: "v", kind: "bool", help: "Print version information and quit" },
];

type Loader = () => Promise<{ command: CommandDef }>;

/** Command paths → loaders. Aliases share a loader. */
const COMMANDS: Record<string, Loader> = {
  version: () => import("./commands/version.ts"),
  info: () => import("./commands/info.ts"),
  "system info": () => import("./commands/info.ts"),
  images: () => import("./commands/images.ts"),
  "image ls": () => import("./commands/images.ts"),
  "image list": () => import("./commands/images.ts"),
  "image inspect": () => import("./commands/image-inspect.ts"),
  history: () => import("./commands/history.ts"),
  "image history": () => import("./commands/history.ts"),
  tag: () => import("./commands/tag.ts"),
  "image tag": () => import("./commands/tag.ts"),
  rmi: () => import("./commands/rmi.ts"),
  "image rm": () => import("./commands/rmi.ts"),
  "image remove": () => import("./commands/rmi.ts"),
  pull: () => import("./commands/pull.ts"),
  "image pull": () => import("./commands/pull.ts"),
  push: () => import("./commands/push.ts"),
  "image push": () => import("./commands/push.ts"),
  save: () => import("./commands/save.ts"),
  "image save": () => import("./commands/save.ts"),
  load: () => import("./commands/load.ts"),
  "image load": () => import("./commands/load.ts"),
  "image prune": () => import("./commands/image-prune.ts"),
  "image bootstrap": () => import("./commands/image-bootstrap.ts"),
  build: () => import("./commands/build.ts"),
  import: () => import("./commands/import.ts"),
  "image import": () => import("./commands/import.ts"),
  login: () => import("./commands/login.ts"),
  logout: () => import("./commands/logout.ts"),
  inspect: () => import("./commands/inspect.ts"),
  explain: () => import("./commands/explain.ts"),
  ...containerCommands(),
  "volume create": () => import("./commands/volume-create.ts"),
  "volume ls": () => import("./commands/volume-ls.ts"),
  "volume list": () => import("./commands/volume-ls.ts"),
  "volume inspect": () => import("./commands/volume-inspect.ts"),
  "volume rm": () => import("./commands/volume-rm.ts"),
  "volume remove": () => import("./commands/volume-rm.ts"),
  "volume prune": () => import("./commands/volume-prune.ts"),
  "network create": () => import("./commands/network-create.ts"),
  "network ls": () => import("./commands/network-ls.ts"),
  "network list": () => import("./commands/network-ls.ts"),
  "network inspect": () => import("./commands/network-inspect.ts"),
  "network rm": () => import("./commands/network-rm.ts"),
  "network remove": () => import("./commands/network-rm.ts"),
  "network connect": () => import("./commands/network-connect.ts"),
  "network disconnect": () => import("./commands/network-disconnect.ts"),
  "network prune": () => import("./commands/network-prune.ts"),
  "system df": () => import("./commands/system-df.ts"),
  "system prune": () => import("./commands/system-prune.ts"),
  "system check": () => import("./commands/system-check.ts"),
};

/** The container commands: each as `pier X` and `pier container X`, as docker has them. */
function containerCommands(): Record<string, Loader> {
  const top: Record<string, Loader> = {
    run: () => import("./commands/run.ts"),
    create: () => import("./commands/create.ts"),
    start: () => import("./commands/start.ts"),
    stop: () => import("./commands/stop.ts"),
    restart: () => import("./commands/restart.ts"),
    kill: () => import("./commands/kill.ts"),
    rm: () => import("./commands/rm.ts"),
    ps: () => import("./commands/ps.ts"),
    logs: () => import("./commands/logs.ts"),
    exec: () => import("./commands/exec.ts"),
    attach: () => import("./commands/attach.ts"),
    commit: () => import("./commands/commit.ts"),
    top: () => import("./commands/top.ts"),
    stats: () => import("./commands/stats.ts"),
    wait: () => import("./commands/wait.ts"),
    port: () => import("./commands/port.ts"),
    cp: () => import("./commands/cp.ts"),
    rename: () => import("./commands/rename.ts"),
    pause: () => import("./commands/pause.ts"),
    unpause: () => import("./commands/unpause.ts"),
    update: () => import("./commands/update.ts"),
    diff: () => import("./commands/diff.ts"),
  };
  const out: Record<string, Loader> = { ...top };
  for (const [name, load] of Object.entries(top)) out[`container ${name}`] = load;
  out["container ls"] = top.ps!;
  out["container list"] = top.ps!;
  out["container remove"] = top.rm!;
  out["container inspect"] = () => import("./commands/container-inspect.ts");
  out["container prune"] = () => import("./commands/container-prune.ts");
  out["container explain"] = () => import("./commands/explain.ts");
  return out;
}

const GROUPS = new Set(["image", "container", "volume", "network", "system"]);

function flagHelp(flags: FlagSpec[]): string {
  const shown = flags.filter((f) => !f.hidden);
  const names = shown.map(
    (f) =>
      `${f.short ? `-${f.short}, ` : "    "}--${f.name}${f.kind === "bool" ? "" : ` ${f.arg ?? (f.kind === "list" ? "list" : "string")}`}`,
  );
  const width = Math.min(Math.max(...names.map((n) => n.length), 20) + 2, 34);
  return shown
    .map((f, i) => {
      const n = names[i]!;
      return n.length + 2 > width
        ? `  ${n}\n  ${" ".repeat(width)}${f.help}`
        : `  ${n.padEnd(width)}${f.help}`;
    })
    .join("\n");
}

/** Columns of names, as many per line as fit in 80 characters. */
function columns(names: string[]): string {
  const w = Math.max(...names.map((n) => n.length)) + 2;
  const per = Math.max(1, Math.floor(76 / w));
  const rows: string[] = [];
  for (let i = 0; i < names.length; i += per)
    rows.push(
      "  " +
        names
          .slice(i, i + per)
          .map((n) => n.padEnd(w))
          .join("")
          .trimEnd(),
    );
  return rows.join("\n");
}

function mainHelp(): string {
  const top = [...new Set([...Object.keys(COMMANDS).filter((n) => !n.includes(" ")), "registry"])].sort();
  return (
    "Usage:  pier [OPTIONS] COMMAND\n\nA container stack: docker-style commands served by pierd.\n\n" +
    `Commands:\n${columns(top.filter((n) => !GROUPS.has(n) && n !== "registry"))}\n\n` +
    `Management Commands:\n${columns([...GROUPS, "registry"].sort())}\n\n` +
    `Global Options:\n${flagHelp(GLOBAL)}\n\nRun 'pier COMMAND --help' for more information on a command.\n`
  );
}

function groupHelp(group: string): string {
  const subs = Object.keys(COMMANDS)
    .filter((n) => n.startsWith(`${group} `))
    .map((n) => n.slice(group.length + 1))
    .sort();
  return (
    `\nUsage:  pier ${group} COMMAND\n\nCommands:\n${columns(subs)}\n\n` +
    `Run 'pier ${group} COMMAND --help' for more information on a command.\n`
  );
}

export interface MainOptions {
  io?: Io;
  /** How to start pierd when none answers; default: the real one (src/cli/daemon.ts). */
  autostart?: ((socketPath: string) => Promise<number | undefined>) | null;
}

export async function main(argv: string[], opts: MainOptions = {}): Promise<number> {
  const io = opts.io ?? processIo;
  let cli: Cli | undefined;
  try {
    // Global flags stop at the first positional: the command.
    const g = parseArgs(argv, GLOBAL, "pier", false);
    if (bool(g, "version")) {
      io.out("pier version 0.1.0\n");
      return 0;
    }
    const rest = g.positionals;
    let path = rest[0];
    let args = rest.slice(1);
    if (path !== undefined && GROUPS.has(path) && rest[1] !== undefined && !rest[1].startsWith("-")) {
      path = `${path} ${rest[1]}`;
      args = rest.slice(2);
    } else if (path !== undefined && GROUPS.has(path) && (rest.length === 1 || rest[1] === "--help")) {
      io.out(groupHelp(path));
      return 0;
    }
    if (path === undefined || bool(g, "help") || path === "help") {
      io.out(mainHelp());
      return 0;
    }
    const load = COMMANDS[path];
    if (!load) {
      if (GROUPS.has(path)) throw new UsageError(`'pier ${path}' requires a subcommand`, `pier ${path}`);
      throw new UsageError(`unknown command: ${path}`, "pier");
    }
    const { command } = await load();
    const helpFlag: FlagSpec = { name: "help", kind: "bool", help: "Print usage" };
    const p = parseArgs(
      args,
      [...command.flags, helpFlag],
      `pier ${command.name}`,
      command.interspersed ?? true,
    );
    if (bool(p, "help")) {
      io.out(
        `\nUsage:  pier ${command.usage}\n\n${command.summary}\n\nOptions:\n${flagHelp(command.flags)}\n`,
      );
      return 0;
    }
    const n = p.positionals.length;
    if (
      (command.minArgs !== undefined && n < command.minArgs) ||
      (command.maxArgs !== undefined && n > command.maxArgs)
    ) {
      const want =
        command.minArgs === command.maxArgs
          ? `exactly ${command.minArgs ?? 0}`
          : command.maxArgs === undefined
            ? `at least ${command.minArgs ?? 0}`
            : `at most ${command.maxArgs}`;
      throw new UsageError(
        `"pier ${command.name}" requires ${want} argument${want.endsWith(" 1") ? "" : "s"}.\n\nUsage:  pier ${command.usage}\n\n${command.summary}`,
        `pier ${command.name}`,
      );
    }
    const hosts = g.flags.get("host") ?? [];
    const host = hosts[hosts.length - 1] ?? process.env.PIER_HOST ?? `unix://${DEFAULT_SOCKET}`;
    // pierd is started only for the default socket, or when PIER_ROOT says where its state
    // goes: `-H` alone must not bring up a daemon on /var/lib/pier behind a custom socket.
    const mayStart = socketPathOf(host) === DEFAULT_SOCKET || process.env.PIER_ROOT !== undefined;
    const autostart =
      opts.autostart === null || (!mayStart && opts.autostart === undefined)
        ? undefined
        : (opts.autostart ?? (async (sock: string) => (await import("./daemon.ts")).startDaemon(sock)));
    cli = new Cli(io, socketPathOf(host), bool(g, "debug") || str(g, "log-level") === "debug", autostart);
    const code = await command.run(cli, p);
    return code ?? 0;
  } catch (err) {
    const text = errorText(err);
    if (text) io.err(text + "\n");
    if (cli?.debug && err instanceof Error && err.stack) io.err(err.stack + "\n");
    return exitCodeFor(err);
  } finally {
    cli?.close();
  }
}
