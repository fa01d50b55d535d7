import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { join, resolve } from "node:path";
import { PierError, describe, exitCodeOf, invalid, notImplemented } from "../../common/errors.ts";
import type { Resources } from "../../oci/runtime-spec.ts";
import { Runtime } from "../context.ts";
import { bool, help, int, multi, parseArgs, str, type FlagSpec, type Parsed } from "./args.ts";

const VERSION = "0.1.0";
const SPEC_VERSION = "1.1.0";

const GLOBAL: FlagSpec[] = [
  { name: "root", kind: "string", help: "state directory (default /run/pier-runtime)" },
  { name: "log", kind: "string", help: "log file (default: stderr)" },
  { name: "log-format", kind: "string", help: "text or json" },
  { name: "debug", kind: "bool", help: "log debug messages" },
  { name: "systemd-cgroup", kind: "bool", help: 'cgroupsPath is "slice:prefix:name"' },
  { name: "criu", kind: "string", help: "ignored (checkpointing is not supported)" },
  { name: "rootless", kind: "string", help: "ignored (detected automatically)" },
  { name: "help", short: "h", kind: "bool", help: "show help" },
  { name: "version", short: "v", kind: "bool", help: "print the version" },
];

const out = (s: string) => writeSync(1, s);

interface Command {
  usage: string;
  flags: FlagSpec[];
  /** Stop parsing flags at the first positional after the id (exec's command keeps its own flags). */
  stopAt?: boolean;
  run: (rt: Runtime, p: Parsed) => Promise<number> | number;
}

const needId = (p: Parsed, cmd: string): string => {
  const id = p.positionals[0];
  if (!id) throw invalid(`${cmd} needs a container id`, `usage: pier-runtime ${COMMANDS[cmd]?.usage ?? cmd}`);
  return id;
};

const bundleFlags: FlagSpec[] = [
  { name: "bundle", short: "b", kind: "string", help: "bundle directory (default: current directory)" },
  { name: "pid-file", kind: "string", help: "write the container's pid to this file" },
  { name: "console-socket", kind: "string", help: "unix socket to send the terminal's master fd to" },
  { name: "no-pivot", kind: "bool", help: "use chroot instead of pivot_root (rootfs on ramfs)" },
  { name: "no-new-keyring", kind: "bool", help: "accepted for compatibility (no keyring is created)" },
  { name: "preserve-fds", kind: "string", help: "pass N extra fds (3..3+N-1) to the container" },
  { name: "pidfd-socket", kind: "string", help: "not supported" },
];

const COMMANDS: Record<string, Command> = {
  create: {
    usage: "create [options] <container-id>",
    flags: bundleFlags,
    run: async (rt, p) => {
      const { create } = await import("../container/create.ts");
      await create(rt, needId(p, "create"), launchOpts(p));
      return 0;
    },
  },
  run: {
    usage: "run [options] <container-id>",
    flags: [
      ...bundleFlags,
      { name: "detach", short: "d", kind: "bool", help: "do not wait for the container to exit" },
      { name: "keep", kind: "bool", help: "keep the container's state after it exits" },
    ],
    run: async (rt, p) => {
      const { run } = await import("../container/run.ts");
      return run(rt, needId(p, "run"), {
        ...launchOpts(p),
        detach: bool(p, "detach"),
        keep: bool(p, "keep"),
      });
    },
  },
  start: {
    usage: "start <container-id>",
    flags: [],
    run: async (rt, p) => {
      const { start } = await import("../container/start.ts");
      start(rt, needId(p, "start"));
      return 0;
    },
  },
  state: {
    usage: "state <container-id>",
    flags: [],
    run: async (rt, p) => {
      const { state } = await import("../container/state.ts");
      out(JSON.stringify(state(rt, needId(p, "state")), null, 2) + "\n");
      return 0;
    },
  },
  kill: {
    usage: "kill [--all] <container-id> [signal]",
    flags: [{ name: "all", short: "a", kind: "bool", help: "signal every process in the container" }],
    run: async (rt, p) => {
      const { kill } = await import("../container/kill.ts");
      kill(rt, needId(p, "kill"), p.positionals[1] ?? "SIGTERM", bool(p, "all"));
      return 0;
    },
  },
  delete: {
    usage: "delete [--force] <container-id>",
    flags: [{ name: "force", short: "f", kind: "bool", help: "kill the container if it is running" }],
    run: async (rt, p) => {
      const { deleteContainer } = await import("../container/delete.ts");
      deleteContainer(rt, needId(p, "delete"), bool(p, "force"));
      return 0;
    },
  },
  exec: {
    usage: "exec [options] <container-id> <command> [args...]",
    stopAt: true,
    flags: [
      { name: "process", short: "p", kind: "string", help: "process.json describing the process" },
      { name: "tty", short: "t", kind: "bool", help: "allocate a terminal" },
      { name: "console-socket", kind: "string", help: "unix socket to send the terminal's master fd to" },
      { name: "cwd", kind: "string", help: "working directory" },
      { name: "env", short: "e", kind: "multi", help: "set an environment variable" },
      { name: "user", short: "u", kind: "string", help: "uid[:gid]" },
      { name: "additional-gids", short: "g", kind: "multi", help: "additional gid" },
      { name: "detach", short: "d", kind: "bool", help: "do not wait for the process" },
      { name: "pid-file", kind: "string", help: "write the process's pid to this file" },
      { name: "cap", short: "c", kind: "multi", help: "add a capability" },
      { name: "no-new-privs", kind: "bool", help: "set no_new_privs" },
      { name: "preserve-fds", kind: "string", help: "pass N extra fds" },
      { name: "process-label", kind: "string", help: "ignored (no SELinux)" },
      { name: "apparmor", kind: "string", help: "ignored (no AppArmor)" },
      { name: "ignore-paused", kind: "bool", help: "accepted for compatibility" },
      { name: "cgroup", kind: "multi", help: "not supported" },
    ],
    run: async (rt, p) => {
      const { exec } = await import("../container/exec.ts");
      const id = needId(p, "exec");
      const user = str(p, "user");
      let u: { uid: number; gid: number } | undefined;
      if (user !== undefined) {
        const m = /^(\d+)(?::(\d+))?$/.exec(user);
        if (!m) throw invalid(`--user "${user}" must be uid[:gid] with numbers`);
        u = { uid: Number(m[1]), gid: Number(m[2] ?? 0) };
      }
      const r = await exec(rt, id, {
        processFile: str(p, "process"),
        args: p.positionals.slice(1),
        env: multi(p, "env"),
        cwd: str(p, "cwd"),
        user: u,
        additionalGids: multi(p, "additional-gids").length
          ? multi(p, "additional-gids").map(Number)
          : undefined,
        tty: bool(p, "tty"),
        consoleSocket: str(p, "console-socket"),
        detach: bool(p, "detach"),
        pidFile: str(p, "pid-file"),
        caps: multi(p, "cap"),
        noNewPrivs: bool(p, "no-new-privs"),
        preserveFds: int(p, "preserve-fds") ?? 0,
      });
      return r.code;
    },
  },
  list: {
    usage: "list [--format table|json] [--quiet]",
    flags: [
      { name: "format", short: "f", kind: "string", help: "table or json" },
      { name: "quiet", short: "q", kind: "bool", help: "only ids" },
    ],
    run: async (rt, p) => {
      const { list } = await import("../container/state.ts");
      const all = list(rt);
      if (bool(p, "quiet")) out(all.map((s) => s.id + "\n").join(""));
      else if (str(p, "format") === "json") out(JSON.stringify(all) + "\n");
      else if (str(p, "format") && str(p, "format") !== "table")
        throw invalid(`--format "${str(p, "format")}" is not table or json`);
      else {
        const rows = [["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]];
        for (const s of all) rows.push([s.id, String(s.pid ?? 0), s.status, s.bundle, s.created, s.owner]);
        out(table(rows));
      }
      return 0;
    },
  },
  ps: {
    usage: "ps [--format table|json] <container-id> [ps options]",
    stopAt: true,
    flags: [{ name: "format", short: "f", kind: "string", help: "table or json" }],
    run: async (rt, p) => {
      const { pids } = await import("../container/state.ts");
      const list = pids(rt, needId(p, "ps"));
      if (str(p, "format") === "json") {
        out(JSON.stringify(list) + "\n");
        return 0;
      }
      const psArgs = p.positionals.length > 1 ? p.positionals.slice(1) : ["-ef"];
      const text = execFileSync("ps", psArgs, { encoding: "utf8" });
      const lines = text.split("\n");
      const header = lines[0] ?? "";
      const col = header.trim().split(/\s+/).indexOf("PID");
      if (col < 0) throw invalid(`ps ${psArgs.join(" ")} prints no PID column`);
      const want = new Set(list);
      out(header + "\n");
      for (const l of lines.slice(1)) {
        const f = l.trim().split(/\s+/);
        if (want.has(Number(f[col]))) out(l + "\n");
      }
      return 0;
    },
  },
  pause: {
    usage: "pause <container-id>",
    flags: [],
    run: async (rt, p) => {
      const { pause } = await import("../container/pause.ts");
      pause(rt, needId(p, "pause"));
      return 0;
    },
  },
  resume: {
    usage: "resume <container-id>",
    flags: [],
    run: async (rt, p) => {
      const { resume } = await import("../container/pause.ts");
      resume(rt, needId(p, "resume"));
      return 0;
    },
  },
  update: {
    usage: "update [options] <container-id>",
    flags: [
      { name: "resources", short: "r", kind: "string", help: "resources JSON file (- for stdin)" },
      { name: "memory", kind: "string", help: "memory limit in bytes" },
      { name: "memory-swap", kind: "string", help: "memory+swap limit in bytes" },
      { name: "memory-reservation", kind: "string", help: "memory soft limit in bytes" },
      { name: "cpu-shares", kind: "string", help: "cpu shares" },
      { name: "cpu-quota", kind: "string", help: "cfs quota in µs" },
      { name: "cpu-period", kind: "string", help: "cfs period in µs" },
      { name: "cpuset-cpus", kind: "string", help: "cpus to use" },
      { name: "cpuset-mems", kind: "string", help: "memory nodes to use" },
      { name: "pids-limit", kind: "string", help: "max processes" },
      { name: "blkio-weight", kind: "string", help: "block io weight (10-1000)" },
    ],
    run: async (rt, p) => {
      const { update } = await import("../container/update.ts");
      let r: Resources = {};
      const file = str(p, "resources");
      if (file) r = JSON.parse(readFileSync(file === "-" ? 0 : file, "utf8")) as Resources;
      const n = (k: string) => int(p, k);
      const mem = { limit: n("memory"), swap: n("memory-swap"), reservation: n("memory-reservation") };
      if (Object.values(mem).some((v) => v !== undefined)) r.memory = { ...r.memory, ...defined(mem) };
      const cpu = {
        shares: n("cpu-shares"),
        quota: n("cpu-quota"),
        period: n("cpu-period"),
        cpus: str(p, "cpuset-cpus"),
        mems: str(p, "cpuset-mems"),
      };
      if (Object.values(cpu).some((v) => v !== undefined)) r.cpu = { ...r.cpu, ...defined(cpu) };
      const pl = n("pids-limit");
      if (pl !== undefined) r.pids = { limit: pl };
      const bw = n("blkio-weight");
      if (bw !== undefined) r.blockIO = { ...r.blockIO, weight: bw };
      update(rt, needId(p, "update"), r);
      return 0;
    },
  },
  spec: {
    usage: "spec [--bundle DIR] [--rootless]",
    flags: [
      { name: "bundle", short: "b", kind: "string", help: "where to write config.json" },
      { name: "rootless", kind: "bool", help: "a spec for a rootless container" },
    ],
    run: async (_rt, p) => {
      const { defaultSpec } = await import("../spec.ts");
      const dir = resolve(str(p, "bundle") ?? ".");
      const file = join(dir, "config.json");
      if (existsSync(file))
        throw new PierError("AlreadyExists", `${file} exists`, { hint: "remove it first" });
      writeFileSync(file, JSON.stringify(defaultSpec({ rootless: bool(p, "rootless") }), null, 2) + "\n");
      return 0;
    },
  },
  features: {
    usage: "features",
    flags: [],
    run: async () => {
      const { features } = await import("../features.ts");
      out(JSON.stringify(features(), null, 2) + "\n");
      return 0;
    },
  },
  events: {
    usage: "events <container-id>",
    flags: [
      { name: "stats", kind: "bool", help: "" },
      { name: "interval", kind: "string", help: "" },
    ],
    run: () => {
      throw notImplemented("events", "read the cgroup files, or use `pier-runtime state`");
    },
  },
  __warmup: {
    usage: "__warmup (used by the build to make the code cache)",
    flags: [],
    run: async () => {
      const { warmup, warmupContainer } = await import("./warmup.ts");
      await warmup();
      await warmupContainer();
      await import("../container/create.ts");
      await import("../container/run.ts");
      await import("../container/start.ts");
      await import("../container/delete.ts");
      await import("../container/state.ts");
      await import("../nsexec.ts");
      return 0;
    },
  },
  checkpoint: {
    usage: "checkpoint",
    flags: [],
    run: () => {
      throw notImplemented("checkpoint (CRIU)");
    },
  },
  restore: {
    usage: "restore",
    flags: [],
    run: () => {
      throw notImplemented("restore (CRIU)");
    },
  },
};

function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as never;
}

function launchOpts(p: Parsed) {
  if (str(p, "pidfd-socket")) throw notImplemented("--pidfd-socket");
  return {
    bundle: str(p, "bundle") ?? ".",
    pidFile: str(p, "pid-file"),
    consoleSocket: str(p, "console-socket"),
    noPivot: bool(p, "no-pivot"),
    preserveFds: int(p, "preserve-fds") ?? 0,
  };
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows
    .map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3))).join("") + "\n")
    .join("");
}

function usage(): string {
  const cmds = Object.entries(COMMANDS)
    .filter(([n]) => !n.startsWith("__"))
    .map(([n, c]) => `   ${n.padEnd(12)} ${c.usage}`)
    .join("\n");
  return `pier-runtime: an OCI runtime (runc's command line)\n\nusage: pier-runtime [global options] <command> [options]\n\ncommands:\n${cmds}\n\n${help("pier-runtime [global options] ...", GLOBAL).split("\n").slice(1).join("\n")}`;
}

/** Runs the command line and resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  let rt: Runtime | undefined;
  try {
    const ci = argv.findIndex((a, i) => !a.startsWith("-") && !isValueOf(argv, i));
    const globalArgs = parseArgs(ci < 0 ? argv : argv.slice(0, ci), GLOBAL);
    if (bool(globalArgs, "version")) {
      out(`pier-runtime version ${VERSION}\nspec: ${SPEC_VERSION}\n`);
      return 0;
    }
    if (ci < 0 || bool(globalArgs, "help")) {
      out(usage());
      return ci < 0 && !bool(globalArgs, "help") ? 2 : 0;
    }
    const name = argv[ci] as string;
    const cmd = COMMANDS[name];
    if (!cmd) throw invalid(`unknown command "${name}"`, "run pier-runtime --help for the list");
    const logFormat = str(globalArgs, "log-format");
    if (logFormat && logFormat !== "text" && logFormat !== "json")
      throw invalid(`--log-format must be text or json, not "${logFormat}"`);
    rt = new Runtime({
      ...(str(globalArgs, "root") ? { root: str(globalArgs, "root") as string } : {}),
      ...(str(globalArgs, "log") ? { log: str(globalArgs, "log") as string } : {}),
      logFormat: logFormat === "json" ? "json" : "text",
      debug: bool(globalArgs, "debug"),
      systemdCgroup: bool(globalArgs, "systemd-cgroup"),
    });
    const rest = argv.slice(ci + 1);
    const p = parseArgs(
      rest,
      [...cmd.flags, { name: "help", short: "h", kind: "bool", help: "show help" }],
      cmd.stopAt,
    );
    if (bool(p, "help")) {
      out(help(`pier-runtime ${cmd.usage}`, cmd.flags));
      return 0;
    }
    return await cmd.run(rt, p);
  } catch (e) {
    const msg = describe(e);
    rt?.log("error", e instanceof Error ? e.message : String(e));
    writeSync(2, `pier-runtime: ${msg}\n`);
    return exitCodeOf(e);
  }
}

/** True when argv[i] is the value of the global flag before it (e.g. `--root DIR`). */
function isValueOf(argv: string[], i: number): boolean {
  if (i === 0) return false;
  const prev = argv[i - 1] as string;
  const name = prev.replace(/^--?/, "");
  if (prev.includes("=") || !prev.startsWith("-")) return false;
  return GLOBAL.some((g) => g.kind !== "bool" && (g.name === name || g.short === name));
}
