/**
 * Raw nodes → typed instructions, with Docker's checks and error texts
 * (argument counts, accepted flags, HEALTHCHECK options, stage names…).
 * Errors are InvalidArgument PierErrors located at the instruction's line.
 *
 * Usage:
 *   const node = { ...nodeFromLine("WORKDIR /app", "\\"), heredocs: [] };
 *   toInstruction(node, { file: "Dockerfile", startLine: 3, endLine: 3 })  // { kind: "WORKDIR", path: "/app", ... }
 */
import type {
  AddInstruction,
  ArgDefinition,
  CommandLine,
  CopyInstruction,
  Healthcheck,
  InlineSource,
  Instruction,
  InstructionKind,
  KeyValue,
} from "./ast.ts";
import { INSTRUCTION_KINDS } from "./ast.ts";
import { parseDuration } from "./duration.ts";
import { atLocation, invalid, suggest, type Location } from "./errors.ts";
import { parseFlags, type FlagSpec } from "./flags.ts";
import { heredocBody, parseHeredoc } from "./heredoc.ts";
import type { Node } from "./node.ts";

const VALID_STAGE_NAME = /^[a-z][a-z0-9-_.]*$/;

/** Flags each instruction accepts (HEALTHCHECK's apply to HEALTHCHECK CMD). */
export const FLAGS: Record<InstructionKind, FlagSpec> = {
  FROM: { platform: "string" },
  RUN: { mount: "strings", network: "string", security: "string" },
  COPY: {
    from: "string",
    chown: "string",
    chmod: "string",
    link: "bool",
    exclude: "strings",
    parents: "bool",
  },
  ADD: {
    chown: "string",
    chmod: "string",
    link: "bool",
    "keep-git-dir": "bool",
    checksum: "string",
    unpack: "bool",
    exclude: "strings",
  },
  HEALTHCHECK: {
    interval: "string",
    timeout: "string",
    "start-period": "string",
    "start-interval": "string",
    retries: "string",
  },
  CMD: {},
  ENTRYPOINT: {},
  ENV: {},
  LABEL: {},
  ARG: {},
  WORKDIR: {},
  USER: {},
  EXPOSE: {},
  VOLUME: {},
  SHELL: {},
  STOPSIGNAL: {},
  ONBUILD: {},
  MAINTAINER: {},
};

export function toInstruction(node: Node, loc: Location): Instruction {
  try {
    return convert(node, loc);
  } catch (err) {
    throw atLocation(err, loc);
  }
}

function convert(node: Node, loc: Location): Instruction {
  const kind = node.keyword.toUpperCase() as InstructionKind;
  if (!INSTRUCTION_KINDS.includes(kind)) {
    const close = suggest(node.keyword, INSTRUCTION_KINDS);
    throw invalid(
      `unknown instruction: ${node.keyword}`,
      close !== undefined
        ? `did you mean ${close}?`
        : `instructions are ${INSTRUCTION_KINDS.join(", ")}; a line ending in \\ continues on the next`,
    );
  }
  const base = { loc, original: node.original, keyword: node.keyword, flags: node.flags };
  const args = node.args;
  const flags = () => parseFlags(kind, node.flags, FLAGS[kind]);
  const noFlags = () => parseFlags(kind, node.flags, {});

  switch (kind) {
    case "FROM": {
      const f = flags();
      let name: string | undefined;
      if (args.length === 3 && (args[1] as string).toLowerCase() === "as") {
        name = (args[2] as string).toLowerCase();
        if (!VALID_STAGE_NAME.test(name)) {
          throw invalid(
            `invalid name for build stage: ${JSON.stringify(args[2])}, name can't start with a number or contain symbols`,
            "stage names are letters, digits, '-', '_' and '.', starting with a letter",
          );
        }
      } else if (args.length !== 1) {
        throw invalid("FROM requires either one or three arguments", "write it as FROM <image> [AS <name>]");
      }
      const out: Instruction = { ...base, kind, image: args[0] as string };
      if (name !== undefined) out.name = name;
      const platform = f.string("platform");
      if (platform !== undefined) out.platform = platform;
      return out;
    }
    case "RUN": {
      const f = flags();
      if (args.length === 0)
        throw invalid("RUN requires at least one argument", "write the command after RUN");
      const network = f.string("network");
      if (network !== undefined && !["default", "none", "host"].includes(network)) {
        throw invalid(
          `invalid network mode ${JSON.stringify(network)}`,
          "use --network=default, none or host",
        );
      }
      const security = f.string("security");
      if (security !== undefined && !["sandbox", "insecure"].includes(security)) {
        throw invalid(
          `invalid security mode ${JSON.stringify(security)}`,
          "use --security=sandbox or insecure",
        );
      }
      for (const m of f.strings("mount")) checkMountFrom(m);
      const out: Instruction = {
        ...base,
        kind,
        command: commandLine(args, node.json),
        heredocs: node.heredocs,
        mounts: f.strings("mount"),
      };
      if (network !== undefined) out.network = network;
      if (security !== undefined) out.security = security;
      return out;
    }
    case "CMD":
    case "ENTRYPOINT":
      noFlags();
      return { ...base, kind, command: commandLine(args, node.json) };
    case "SHELL":
      noFlags();
      if (args.length === 0) throw invalid("SHELL requires at least one argument");
      if (!node.json) {
        throw invalid(
          `SHELL requires the arguments to be in JSON form`,
          `write it as SHELL ${JSON.stringify(args[0]?.split(/\s+/) ?? [])}`,
        );
      }
      return { ...base, kind, shell: args };
    case "COPY":
    case "ADD":
      return copyLike(kind, node, base, flags);
    case "ENV":
    case "LABEL": {
      noFlags();
      if (args.length === 0)
        throw invalid(`${kind} requires at least one argument`, `write it as ${kind} key=value`);
      const pairs: KeyValue[] = [];
      let legacy = false;
      for (let i = 0; i < args.length; i += 3) {
        const key = args[i] as string;
        if (key === "") throw invalid(`${kind} names can not be blank`);
        pairs.push({ key, value: args[i + 1] as string });
        if (args[i + 2] === "") legacy = true;
      }
      return { ...base, kind, pairs, legacy };
    }
    case "ARG": {
      noFlags();
      if (args.length === 0)
        throw invalid("ARG requires at least one argument", "write it as ARG name[=default]");
      const defs: ArgDefinition[] = args.map((a) => {
        const eq = a.indexOf("=");
        if (eq < 0) return { name: a };
        if (eq === 0) throw invalid("ARG names can not be blank");
        return { name: a.slice(0, eq), default: a.slice(eq + 1) };
      });
      return { ...base, kind, args: defs };
    }
    case "WORKDIR":
    case "USER":
    case "MAINTAINER":
    case "STOPSIGNAL": {
      if (args.length !== 1) throw invalid(`${kind} requires exactly one argument`);
      noFlags();
      const v = args[0] as string;
      if (kind === "WORKDIR") return { ...base, kind, path: v };
      if (kind === "USER") return { ...base, kind, user: v };
      if (kind === "STOPSIGNAL") return { ...base, kind, signal: v };
      return { ...base, kind, maintainer: v };
    }
    case "EXPOSE":
      if (args.length === 0)
        throw invalid("EXPOSE requires at least one argument", "write it as EXPOSE 80/tcp");
      noFlags();
      return { ...base, kind, ports: args };
    case "VOLUME": {
      if (args.length === 0) throw invalid("VOLUME requires at least one argument");
      noFlags();
      const paths = args.map((v) => v.trim());
      if (paths.some((p) => p === "")) throw invalid("VOLUME specified can not be an empty string");
      return { ...base, kind, paths };
    }
    case "HEALTHCHECK":
      return { ...base, kind, health: healthcheck(node) };
    case "ONBUILD": {
      if (!node.sub)
        throw invalid("ONBUILD requires at least one argument", "write it as ONBUILD <instruction>");
      noFlags();
      const trigger = node.sub.keyword.toUpperCase();
      if (trigger === "ONBUILD") throw invalid("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed");
      if (trigger === "FROM" || trigger === "MAINTAINER") {
        throw invalid(`${trigger} isn't allowed as an ONBUILD trigger`);
      }
      let expression = node.original.replace(/^\s*ONBUILD\s*/i, "");
      for (const h of node.heredocs) expression += "\n" + h.content + h.name;
      const sub = convert({ ...node.sub, heredocs: node.heredocs }, loc);
      return { ...base, kind, expression, trigger: sub };
    }
  }
}

function commandLine(args: string[], json: boolean): CommandLine {
  if (json) return { form: "exec", argv: args };
  return { form: "shell", text: args.join(" ") };
}

function copyLike(
  kind: "COPY" | "ADD",
  node: Node,
  base: { loc: Location; original: string; keyword: string; flags: string[] },
  flags: () => ReturnType<typeof parseFlags>,
): CopyInstruction | AddInstruction {
  if (node.args.length < 2) {
    throw invalid(
      `${kind} requires at least two arguments, but only one was provided. Destination could not be determined`,
      `write it as ${kind} <source>... <destination>`,
    );
  }
  const f = flags();
  const dest = node.args[node.args.length - 1] as string;
  if (parseHeredoc(dest)) throw invalid(`${kind} cannot accept a heredoc as a destination`);
  const byName = new Map(node.heredocs.map((h) => [h.name, h]));
  const sources: string[] = [];
  const inline: InlineSource[] = [];
  for (const src of node.args.slice(0, -1)) {
    const h = parseHeredoc(src);
    if (h) {
      const body = byName.get(h.name);
      inline.push({
        name: h.name,
        content: body ? heredocBody({ ...body, chomp: h.chomp }) : "",
        expand: h.expand,
      });
    } else {
      sources.push(src);
    }
  }
  const common = {
    ...base,
    sources,
    inline,
    dest,
    link: f.bool("link") ?? false,
    excludes: f.strings("exclude"),
    json: node.json,
  };
  const chown = f.string("chown");
  const chmod = f.string("chmod");
  if (kind === "COPY") {
    const out: CopyInstruction = { ...common, kind, parents: f.bool("parents") ?? false };
    const from = f.string("from");
    if (from !== undefined) out.from = from;
    if (chown !== undefined) out.chown = chown;
    if (chmod !== undefined) out.chmod = chmod;
    return out;
  }
  const out: AddInstruction = { ...common, kind };
  if (chown !== undefined) out.chown = chown;
  if (chmod !== undefined) out.chmod = chmod;
  const keep = f.bool("keep-git-dir");
  if (keep !== undefined) out.keepGitDir = keep;
  const checksum = f.string("checksum");
  if (checksum !== undefined) out.checksum = checksum;
  const unpack = f.bool("unpack");
  if (unpack !== undefined) out.unpack = unpack;
  return out;
}

function healthcheck(node: Node): Healthcheck {
  if (node.args.length === 0) {
    throw invalid(
      "HEALTHCHECK requires at least one argument",
      "write it as HEALTHCHECK CMD <command> or HEALTHCHECK NONE",
    );
  }
  const type = (node.args[0] as string).toUpperCase();
  const rest = node.args.slice(1);
  if (type === "NONE") {
    if (rest.length !== 0 || node.flags.length !== 0) throw invalid("HEALTHCHECK NONE takes no arguments");
    return { type: "NONE" };
  }
  const f = parseFlags("HEALTHCHECK", node.flags, FLAGS.HEALTHCHECK);
  if (type !== "CMD") throw invalid(`Unknown type ${JSON.stringify(type)} in HEALTHCHECK (try CMD)`);
  if (rest.length === 0) throw invalid("Missing command after HEALTHCHECK CMD");
  const retriesText = f.string("retries");
  let retries = 0;
  if (retriesText !== undefined && retriesText !== "") {
    if (!/^[+-]?\d+$/.test(retriesText) || Math.abs(Number(retriesText)) > 2 ** 31 - 1) {
      throw invalid(
        `strconv.ParseInt: parsing ${JSON.stringify(retriesText)}: invalid syntax`,
        "--retries takes a whole number",
      );
    }
    retries = Number(retriesText);
    if (retries < 0) throw invalid(`--retries cannot be negative (${retries})`);
  }
  return {
    type: "CMD",
    command: commandLine(rest, node.json),
    intervalNs: interval("interval", f.string("interval")),
    timeoutNs: interval("timeout", f.string("timeout")),
    startPeriodNs: interval("start-period", f.string("start-period")),
    startIntervalNs: interval("start-interval", f.string("start-interval")),
    retries,
  };
}

function interval(name: string, value: string | undefined): number {
  if (value === undefined || value === "") return 0;
  const ns = parseDuration(value);
  if (ns === 0) return 0;
  if (ns < 1e6) throw invalid(`Interval ${JSON.stringify(name)} cannot be less than 1ms`);
  return ns;
}

/** `from=` in a --mount names a stage or image and cannot hold variables (Docker's rule). */
function checkMountFrom(mount: string): void {
  for (const field of mount.split(",")) {
    const eq = field.indexOf("=");
    if (eq < 0 || field.slice(0, eq).trim().toLowerCase() !== "from") continue;
    const value = field.slice(eq + 1);
    const d = value.indexOf("$");
    if (d !== -1 && d !== value.length - 1) {
      throw invalid("'from' doesn't support variable expansion, define alias stage instead");
    }
  }
}
