/**
 * Build arguments and variables: which value a `$NAME` has at each point of a
 * build, and each instruction with its variables expanded.
 *
 * The rules (Docker's, as BuildKit implements them):
 * - ARGs before the first FROM are global. Their defaults may use earlier
 *   global ARGs; `--build-arg` overrides them. They are visible in FROM lines
 *   only, and inside a stage only after `ARG NAME` redeclares them (which then
 *   takes the global value).
 * - The platform ARGs (BUILDPLATFORM, BUILDOS, BUILDARCH, BUILDVARIANT,
 *   TARGETPLATFORM, TARGETOS, TARGETARCH, TARGETVARIANT, TARGETSTAGE) are
 *   global without being declared.
 * - In a stage, `ARG NAME[=default]` takes the --build-arg value if one was
 *   given, else the default (expanded now), else the global value, else it is
 *   declared but unset. From there on it is visible to later instructions and
 *   in RUN's environment, never in the image config.
 * - The proxy ARGs (HTTP_PROXY, HTTPS_PROXY, FTP_PROXY, NO_PROXY, ALL_PROXY, in
 *   both cases) given with --build-arg reach RUN's environment without being
 *   declared, and are left out of cache keys unless declared.
 * - ENV sets a variable in the image config and for later instructions. One
 *   ENV line is expanded as a whole before it applies (`ENV A=1 B=$A` sees
 *   the old A). Between ARG and ENV of one name the later definition wins
 *   (the documented case, ENV after ARG, then gives ENV's value).
 * - A stage built FROM another stage inherits its variables and ARGs.
 * - Expanded: FROM (image, --platform; global ARGs), ADD/COPY (sources, dest,
 *   --chown, --chmod, ADD --checksum, here-document bodies not quoted),
 *   ENV, LABEL, ARG defaults, EXPOSE (split into words), STOPSIGNAL, USER,
 *   VOLUME, WORKDIR, RUN --mount values. Not expanded: RUN, CMD, ENTRYPOINT
 *   (the shell does it), SHELL, HEALTHCHECK, MAINTAINER, ONBUILD (its trigger
 *   is expanded when it runs in a later build), COPY --from (an error if it
 *   holds a variable).
 *
 * Usage:
 *   const g = GlobalScope.create(df, { buildArgs: { VERSION: "1.2" } });
 *   const { image } = g.expandFrom(df.stages[0]!.from);
 *   const scope = StageScope.fromImage(g, ["PATH=/usr/bin"]);
 *   for (const ins of df.stages[0]!.instructions) {
 *     const { instruction, usedArgs } = scope.expand(ins);   // ENV/ARG also update scope
 *   }
 */
import { SIGNALS, SIGRTMAX, SIGRTMIN } from "../../host/linux.ts";
import type {
  ArgInstruction,
  Dockerfile,
  FromInstruction,
  InlineSource,
  Instruction,
  KeyValue,
  RunInstruction,
} from "./ast.ts";
import { atLocation, invalid } from "./errors.ts";
import { processWord, type Lookup } from "./lexer.ts";
import { parseMount, type Mount } from "./mounts.ts";
import { parsePorts } from "./ports.ts";

export const PROXY_ARGS: readonly string[] = [
  "HTTP_PROXY",
  "http_proxy",
  "HTTPS_PROXY",
  "https_proxy",
  "FTP_PROXY",
  "ftp_proxy",
  "NO_PROXY",
  "no_proxy",
  "ALL_PROXY",
  "all_proxy",
];

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

export interface ScopeOptions {
  /** --build-arg values. */
  buildArgs?: Record<string, string>;
  /** The platform the build runs on (default linux/amd64). */
  buildPlatform?: string;
  /** The platform the image is for (default: the build platform). */
  targetPlatform?: string;
  /** The target stage's name (TARGETSTAGE; default "default"). */
  target?: string;
}

/** "linux/arm64/v8" → its parts; throws InvalidArgument on a malformed value. */
export function parsePlatform(s: string): Platform {
  const parts = s.split("/");
  if (parts.length < 2 || parts.length > 3 || parts.some((p) => !/^[a-zA-Z0-9_.-]+$/.test(p))) {
    throw invalid(`invalid platform ${JSON.stringify(s)}`, "write it as os/arch[/variant], e.g. linux/amd64");
  }
  const p: Platform = {
    os: (parts[0] as string).toLowerCase(),
    architecture: (parts[1] as string).toLowerCase(),
  };
  if (parts[2] !== undefined) p.variant = parts[2];
  return p;
}

export const formatPlatform = (p: Platform): string =>
  `${p.os}/${p.architecture}${p.variant !== undefined ? `/${p.variant}` : ""}`;

/** The global ARGs (and the platform ARGs) after --build-arg overrides. */
export class GlobalScope {
  private constructor(
    /** The escape character of the Dockerfile. */
    readonly escape: string,
    /** Values visible in FROM lines and to `ARG NAME` redeclarations. */
    readonly values: ReadonlyMap<string, string>,
    /** --build-arg values. */
    readonly buildArgs: ReadonlyMap<string, string>,
  ) {}

  static create(df: Dockerfile, opts: ScopeOptions = {}): GlobalScope {
    const build = parsePlatform(opts.buildPlatform ?? "linux/amd64");
    const target = opts.targetPlatform !== undefined ? parsePlatform(opts.targetPlatform) : build;
    const buildArgs = new Map(Object.entries(opts.buildArgs ?? {}));
    const values = new Map<string, string>();
    const auto: [string, string][] = [
      ["BUILDPLATFORM", formatPlatform(build)],
      ["BUILDOS", build.os],
      ["BUILDARCH", build.architecture],
      ["BUILDVARIANT", build.variant ?? ""],
      ["TARGETPLATFORM", formatPlatform(target)],
      ["TARGETOS", target.os],
      ["TARGETARCH", target.architecture],
      ["TARGETVARIANT", target.variant ?? ""],
      ["TARGETSTAGE", opts.target ?? df.stages[df.stages.length - 1]?.name ?? "default"],
    ];
    for (const [k, v] of auto) values.set(k, buildArgs.get(k) ?? v);
    const lookup: Lookup = (k) => values.get(k);
    for (const ins of df.globalArgs) {
      for (const def of ins.args) {
        const given = buildArgs.get(def.name);
        if (given !== undefined) {
          values.set(def.name, given);
        } else if (def.default !== undefined) {
          try {
            values.set(def.name, processWord(def.default, lookup, { escape: df.escape }).value);
          } catch (err) {
            throw atLocation(err, ins.loc);
          }
        }
      }
    }
    return new GlobalScope(df.escape, values, buildArgs);
  }

  /** FROM's image and --platform with the global ARGs expanded, and the ARGs that were used. */
  expandFrom(from: FromInstruction): { image: string; platform?: string; usedArgs: Record<string, string> } {
    const used: Record<string, string> = {};
    const lookup: Lookup = (k) => {
      const v = this.values.get(k);
      if (v !== undefined) used[k] = v;
      return v;
    };
    try {
      const image = processWord(from.image, lookup, { escape: this.escape }).value;
      if (image === "") {
        throw invalid(
          `base name (${from.image}) should not be blank`,
          "give the ARG it uses a default or pass --build-arg",
        );
      }
      const out: { image: string; platform?: string; usedArgs: Record<string, string> } = {
        image,
        usedArgs: used,
      };
      if (from.platform !== undefined) {
        const p = processWord(from.platform, lookup, { escape: this.escape }).value;
        if (p === "") throw invalid(`empty platform value from expression ${from.platform}`);
        out.platform = formatPlatform(parsePlatform(p));
      }
      return out;
    } catch (err) {
      throw atLocation(err, from.loc);
    }
  }
}

/** An instruction with its variables expanded, and what the expansion depended on. */
export interface Evaluated<T extends Instruction = Instruction> {
  instruction: T;
  /**
   * The build ARGs (name → value) this instruction depends on: for RUN every
   * ARG declared so far (the command may read any of them from its
   * environment); for the others the ARGs its expansion referenced.
   */
  usedArgs: Record<string, string>;
  /** RUN: the parsed --mount options. */
  mounts?: Mount[];
  /** EXPOSE: the `port/proto` keys. */
  ports?: string[];
}

/** The variables of one stage as its instructions run. */
export class StageScope {
  /** Image config env (ENV instructions and the base image). */
  private readonly config: Map<string, string>;
  /** What expansion and RUN see: config env and declared ARGs, later definition wins. */
  private readonly vars: Map<string, string>;
  /** Declared ARGs in order (undefined: declared without a value). */
  private readonly args: Map<string, string | undefined>;

  private constructor(
    private readonly globals: GlobalScope,
    config: Map<string, string>,
    vars: Map<string, string>,
    args: Map<string, string | undefined>,
  ) {
    this.config = config;
    this.vars = vars;
    this.args = args;
  }

  /** A stage whose base is an image with this config env (`KEY=value` strings). */
  static fromImage(globals: GlobalScope, env: readonly string[] = []): StageScope {
    const config = new Map<string, string>();
    for (const e of env) {
      const eq = e.indexOf("=");
      config.set(eq < 0 ? e : e.slice(0, eq), eq < 0 ? "" : e.slice(eq + 1));
    }
    return new StageScope(globals, config, new Map(config), new Map());
  }

  /** A stage built FROM another stage: it inherits that stage's variables and ARGs. */
  static fromStage(parent: StageScope): StageScope {
    return new StageScope(parent.globals, new Map(parent.config), new Map(parent.vars), new Map(parent.args));
  }

  /** The value `$name` has now. */
  readonly lookup: Lookup = (name) => this.vars.get(name);

  /** The image config's Env (`KEY=value`), in order. */
  configEnv(): string[] {
    return [...this.config].map(([k, v]) => `${k}=${v}`);
  }

  /** The environment of a RUN: config env and ARGs, plus proxy --build-args. */
  runEnv(): string[] {
    const out = [...this.vars].map(([k, v]) => `${k}=${v}`);
    for (const p of PROXY_ARGS) {
      const v = this.globals.buildArgs.get(p);
      if (v !== undefined && !this.vars.has(p)) out.push(`${p}=${v}`);
    }
    return out;
  }

  /** Declared ARGs that have a value, as seen now (an ENV of the same name set later wins). */
  declaredArgs(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.args) {
      const now = this.vars.get(k) ?? v;
      if (now !== undefined) out[k] = now;
    }
    return out;
  }

  /** Names of every ARG declared in this stage (and inherited). */
  declaredArgNames(): string[] {
    return [...this.args.keys()];
  }

  /**
   * `ins` with its variables expanded. ENV and ARG also take effect in this
   * scope (WORKDIR, USER and the rest are the caller's image config).
   */
  expand<T extends Instruction>(ins: T): Evaluated<T> {
    try {
      return this.expandUnlocated(ins) as Evaluated<T>;
    } catch (err) {
      throw atLocation(err, ins.loc);
    }
  }

  private expandUnlocated(ins: Instruction): Evaluated {
    const used: Record<string, string> = {};
    const opts = { escape: this.globals.escape };
    const run = (w: string) => {
      const res = processWord(w, this.lookup, opts);
      this.record(res.matched, used);
      return res;
    };
    const word = (w: string): string => run(w).value;
    const words = (w: string): string[] => run(w).words;
    const opt = (w: string | undefined): string | undefined => (w === undefined ? undefined : word(w));
    const pairs = (ps: KeyValue[]): KeyValue[] => ps.map((p) => ({ key: word(p.key), value: word(p.value) }));

    switch (ins.kind) {
      case "FROM":
        throw invalid("FROM is expanded with the global ARGs (GlobalScope.expandFrom)");
      case "ENV": {
        const expanded = pairs(ins.pairs);
        for (const { key, value } of expanded) {
          this.config.set(key, value);
          this.vars.set(key, value);
        }
        return { instruction: { ...ins, pairs: expanded }, usedArgs: used };
      }
      case "LABEL":
        return { instruction: { ...ins, pairs: pairs(ins.pairs) }, usedArgs: used };
      case "ARG":
        return { instruction: this.declare(ins, used), usedArgs: used };
      case "COPY":
      case "ADD": {
        if (
          ins.kind === "COPY" &&
          ins.from !== undefined &&
          processWord(ins.from, () => undefined).value !== ins.from
        ) {
          throw invalid(
            "variable expansion is not supported for --from, define a new stage with FROM using ARG from global scope as a workaround",
          );
        }
        const out = {
          ...ins,
          sources: ins.sources.map(word),
          dest: word(ins.dest),
          inline: ins.inline.map((s) => this.expandInline(s, used)),
        };
        const chown = opt(ins.chown);
        if (chown !== undefined) out.chown = chown;
        const chmod = opt(ins.chmod);
        if (chmod !== undefined) out.chmod = chmod;
        if (out.kind === "ADD" && ins.kind === "ADD" && ins.checksum !== undefined)
          out.checksum = word(ins.checksum);
        return { instruction: out, usedArgs: used };
      }
      case "WORKDIR":
        return { instruction: { ...ins, path: word(ins.path) }, usedArgs: used };
      case "USER":
        return { instruction: { ...ins, user: word(ins.user) }, usedArgs: used };
      case "STOPSIGNAL": {
        const signal = word(ins.signal);
        parseSignal(signal);
        return { instruction: { ...ins, signal }, usedArgs: used };
      }
      case "VOLUME":
        return { instruction: { ...ins, paths: ins.paths.map(word) }, usedArgs: used };
      case "EXPOSE": {
        const ports = ins.ports.flatMap(words);
        return { instruction: { ...ins, ports }, usedArgs: used, ports: parsePorts(ports) };
      }
      case "RUN": {
        const mounts = ins.mounts.map((m) => parseMount(m, word));
        const out: Evaluated<RunInstruction> = { instruction: ins, usedArgs: this.declaredArgs(), mounts };
        return out;
      }
      default:
        return { instruction: ins, usedArgs: used };
    }
  }

  /** Notes which referenced variables are ARGs (ENV-only variables are part of the parent image). */
  private record(matched: Set<string>, used: Record<string, string>): void {
    for (const k of matched) {
      const v = this.vars.get(k);
      if (v !== undefined && this.args.has(k) && this.config.get(k) !== v) used[k] = v;
    }
  }

  private expandInline(s: InlineSource, used: Record<string, string>): InlineSource {
    if (!s.expand) return s;
    // Here-document bodies: quotes are ordinary characters, `\` escapes (whatever # escape= says).
    const res = processWord(s.content, this.lookup, { skipProcessQuotes: true });
    this.record(res.matched, used);
    return { ...s, content: res.value };
  }

  private declare(ins: ArgInstruction, used: Record<string, string>): ArgInstruction {
    const args = ins.args.map((def) => {
      const given = this.globals.buildArgs.get(def.name);
      let value: string | undefined;
      if (given !== undefined) {
        value = given;
      } else if (def.default !== undefined) {
        const res = processWord(def.default, this.lookup, { escape: this.globals.escape });
        this.record(res.matched, used);
        value = res.value;
      } else {
        value = this.globals.values.get(def.name);
      }
      this.args.set(def.name, value);
      if (value !== undefined) this.vars.set(def.name, value);
      return value === undefined ? { name: def.name } : { name: def.name, default: value };
    });
    return { ...ins, args };
  }
}

/** The signal number a STOPSIGNAL value names (`SIGTERM`, `TERM`, `15`, `SIGRTMIN+3`). */
export function parseSignal(s: string): number {
  if (/^\d+$/.test(s)) {
    const n = Number(s);
    if (n >= 1 && n <= SIGRTMAX) return n;
  } else {
    const name = s.toUpperCase().replace(/^SIG/, "");
    const known = SIGNALS[name];
    if (known !== undefined) return known;
    const rt = /^RTM(IN|AX)([+-]\d+)?$/.exec(name);
    if (rt) {
      const n = (rt[1] === "IN" ? SIGRTMIN : SIGRTMAX) + Number(rt[2] ?? 0);
      if (n >= SIGRTMIN && n <= SIGRTMAX) return n;
    }
  }
  throw invalid(`Invalid signal: ${s}`, "use a signal name such as SIGTERM or a number");
}

/** WORKDIR: a relative path is joined to the current one; the result is absolute and clean. */
export function resolveWorkdir(current: string, path: string): string {
  if (path === "") throw invalid("cannot normalize nothing", "give WORKDIR a path");
  const joined = path.startsWith("/") ? path : `${current || "/"}/${path}`;
  const parts: string[] = [];
  for (const p of joined.split("/")) {
    if (p === "" || p === ".") continue;
    if (p === "..") parts.pop();
    else parts.push(p);
  }
  return "/" + parts.join("/");
}
