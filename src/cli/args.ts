/**
 * docker-style (cobra/pflag) argument parsing: `--flag value`, `--flag=value`, `-f value`,
 * `-fvalue`, combined bools `-it`, `--bool=false`, repeated flags collected, `--` ending
 * flags. Commands with `interspersed: false` stop at the first positional (run, exec).
 * Errors are UsageErrors (exit 125, as docker).
 */
export type FlagKind = "bool" | "string" | "list";

export interface FlagSpec {
  name: string;
  short?: string;
  kind: FlagKind;
  help: string;
  /** Placeholder in help, e.g. "string". */
  arg?: string;
  /** Other long names that set the same flag (`--net` for `--network`). */
  aliases?: string[];
  /** Left out of help (deprecated spellings). */
  hidden?: boolean;
}

export interface Parsed {
  flags: Map<string, string[]>;
  positionals: string[];
}

export class UsageError extends Error {
  constructor(
    message: string,
    /** The command path for "See 'pier images --help'.". */
    readonly command: string,
  ) {
    super(message);
    this.name = "UsageError";
  }
}

export function parseArgs(argv: string[], specs: FlagSpec[], command: string, interspersed = true): Parsed {
  const byName = new Map(specs.flatMap((s) => [s.name, ...(s.aliases ?? [])].map((n) => [n, s] as const)));
  const byShort = new Map(specs.filter((s) => s.short).map((s) => [s.short!, s]));
  const flags = new Map<string, string[]>();
  const positionals: string[] = [];
  const set = (s: FlagSpec, v: string) => {
    const prev = flags.get(s.name);
    if (s.kind === "list" && prev) prev.push(v);
    else flags.set(s.name, [v]);
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const spec = byName.get(name);
      if (!spec) throw new UsageError(`unknown flag: --${name}`, command);
      if (spec.kind === "bool") {
        const v = eq < 0 ? "true" : a.slice(eq + 1);
        if (!/^(true|false|1|0|t|f|TRUE|FALSE|True|False)$/.test(v)) {
          throw new UsageError(
            `invalid argument "${v}" for "--${name}" flag: strconv.ParseBool: parsing "${v}": invalid syntax`,
            command,
          );
        }
        set(spec, /^(true|1|t|TRUE|True)$/.test(v) ? "true" : "false");
      } else if (eq >= 0) {
        set(spec, a.slice(eq + 1));
      } else {
        const v = argv[++i];
        if (v === undefined) throw new UsageError(`flag needs an argument: --${name}`, command);
        set(spec, v);
      }
      continue;
    }
    if (a.startsWith("-") && a.length > 1) {
      for (let j = 1; j < a.length; j++) {
        const c = a[j]!;
        const spec = byShort.get(c);
        if (!spec) throw new UsageError(`unknown shorthand flag: '${c}' in ${a}`, command);
        if (spec.kind === "bool") {
          if (a[j + 1] === "=") {
            set(spec, /^(true|1|t)$/i.test(a.slice(j + 2)) ? "true" : "false");
            break;
          }
          set(spec, "true");
          continue;
        }
        let v = a.slice(j + 1);
        if (v.startsWith("=")) v = v.slice(1);
        if (v === "") {
          const next = argv[++i];
          if (next === undefined) throw new UsageError(`flag needs an argument: '${c}' in -${c}`, command);
          v = next;
        }
        set(spec, v);
        break;
      }
      continue;
    }
    positionals.push(a);
    if (!interspersed) {
      positionals.push(...argv.slice(i + 1));
      break;
    }
  }
  return { flags, positionals };
}

export const bool = (p: Parsed, name: string): boolean => p.flags.get(name)?.[0] === "true";
export const str = (p: Parsed, name: string): string | undefined => {
  const v = p.flags.get(name);
  return v === undefined ? undefined : v[v.length - 1];
};
export const list = (p: Parsed, name: string): string[] => p.flags.get(name) ?? [];
/** Whether the flag was given at all (pflag's Changed). */
export const changed = (p: Parsed, name: string): boolean => p.flags.has(name);
/** A bool flag with a default of true unless given (`--sig-proxy=false`). */
export const boolOr = (p: Parsed, name: string, dflt: boolean): boolean =>
  p.flags.has(name) ? p.flags.get(name)?.[0] === "true" : dflt;
