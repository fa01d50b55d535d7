import { invalid } from "../../common/errors.ts";

/** A flag: its long name, short aliases, and whether it takes a value (or may repeat). */
export interface FlagSpec {
  name: string;
  short?: string;
  kind: "bool" | "string" | "multi";
  help: string;
}

export interface Parsed {
  flags: Map<string, string | boolean | string[]>;
  positionals: string[];
}

/**
 * Parses runc-style arguments: `--flag value`, `--flag=value`, `-f value`,
 * single-dash long flags (`-bundle x`, as Go's flag package allows), booleans
 * with optional `=true/false`, and `--` ending the flags. Stops at the first
 * positional when `stopAtPositional` (for `exec ID cmd -args...`).
 */
export function parseArgs(argv: string[], specs: FlagSpec[], stopAtPositional = false): Parsed {
  const flags = new Map<string, string | boolean | string[]>();
  const positionals: string[] = [];
  const byName = new Map<string, FlagSpec>();
  for (const s of specs) {
    byName.set(s.name, s);
    if (s.short) byName.set(s.short, s);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!a.startsWith("-") || a === "-") {
      positionals.push(a);
      if (stopAtPositional) {
        positionals.push(...argv.slice(i + 1));
        break;
      }
      continue;
    }
    const body = a.replace(/^--?/, "");
    const eq = body.indexOf("=");
    const name = eq >= 0 ? body.slice(0, eq) : body;
    const spec = byName.get(name);
    if (!spec)
      throw invalid(`unknown flag ${a.split("=")[0]}`, "see --help for the flags this command takes");
    if (spec.kind === "bool") {
      const v = eq >= 0 ? body.slice(eq + 1) : "true";
      if (v !== "true" && v !== "false") throw invalid(`flag --${spec.name} takes true or false, not "${v}"`);
      flags.set(spec.name, v === "true");
      continue;
    }
    let value: string;
    if (eq >= 0) value = body.slice(eq + 1);
    else {
      const next = argv[i + 1];
      if (next === undefined) throw invalid(`flag --${spec.name} needs a value`);
      value = next;
      i++;
    }
    if (spec.kind === "multi") {
      const prev = flags.get(spec.name);
      flags.set(spec.name, [...(Array.isArray(prev) ? prev : []), value]);
    } else flags.set(spec.name, value);
  }
  return { flags, positionals };
}

export function str(p: Parsed, name: string): string | undefined {
  const v = p.flags.get(name);
  return typeof v === "string" ? v : undefined;
}

export function bool(p: Parsed, name: string): boolean {
  return p.flags.get(name) === true;
}

export function multi(p: Parsed, name: string): string[] {
  const v = p.flags.get(name);
  return Array.isArray(v) ? v : [];
}

export function int(p: Parsed, name: string): number | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw invalid(`flag --${name} needs an integer, not "${v}"`);
  return Number(v);
}

export function help(usage: string, specs: FlagSpec[]): string {
  const lines = specs.map((s) => {
    const names = `${s.short ? `-${s.short}, ` : "    "}--${s.name}${s.kind === "bool" ? "" : " value"}`;
    return `   ${names.padEnd(30)} ${s.help}`;
  });
  return `usage: ${usage}\n${lines.length ? `\noptions:\n${lines.join("\n")}\n` : ""}`;
}
