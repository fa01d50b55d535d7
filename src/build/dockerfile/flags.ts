/**
 * Instruction flags (`COPY --from=build`, `RUN --mount=...`), checked against
 * what each instruction accepts, with Docker's rules: `--name=value` for
 * strings (an empty value is allowed, a missing `=` is not), `--name`,
 * `--name=true` or `--name=false` for booleans, repeatable flags collect every
 * value, any other repetition is an error, `--` ends the flags.
 *
 * Usage:
 *   const f = parseFlags("COPY", ["--from=build", "--link"], { from: "string", link: "bool" });
 *   f.string("from")  // "build"
 *   f.bool("link")    // true
 */
import { invalid, suggest } from "./errors.ts";

export type FlagType = "string" | "bool" | "strings";
export type FlagSpec = Record<string, FlagType>;

export class ParsedFlags {
  constructor(
    private readonly values: Map<string, string[]>,
    private readonly bools: Map<string, boolean>,
  ) {}

  /** The value of a string flag, or undefined when it was not given. */
  string(name: string): string | undefined {
    return this.values.get(name)?.[0];
  }
  /** Every value of a repeatable flag, in order. */
  strings(name: string): string[] {
    return this.values.get(name) ?? [];
  }
  /** A boolean flag: undefined when not given. */
  bool(name: string): boolean | undefined {
    return this.bools.get(name);
  }
  /** The names of the flags that were given. */
  used(): string[] {
    return [...this.values.keys(), ...this.bools.keys()].sort();
  }
}

export function parseFlags(instruction: string, args: readonly string[], spec: FlagSpec): ParsedFlags {
  const values = new Map<string, string[]>();
  const bools = new Map<string, boolean>();
  const known = Object.keys(spec).sort();
  for (const a of args) {
    if (a === "--") break;
    if (!a.startsWith("--")) throw invalid(`arg should start with -- : ${a}`);
    const eq = a.indexOf("=");
    const flagName = eq < 0 ? a : a.slice(0, eq);
    const value = eq < 0 ? undefined : a.slice(eq + 1);
    const name = flagName.slice(2);
    const type = Object.hasOwn(spec, name) ? spec[name] : undefined;
    if (type === undefined) {
      const close = suggest(name, known);
      const accepted = known.length
        ? `${instruction} accepts ${known.map((k) => `--${k}`).join(", ")}`
        : `${instruction} takes no flags`;
      throw invalid(
        `unknown flag: ${flagName}`,
        close !== undefined ? `did you mean --${close}? (${accepted})` : accepted,
      );
    }
    if (type !== "strings" && (values.has(name) || bools.has(name))) {
      throw invalid(`duplicate flag specified: ${flagName}`);
    }
    switch (type) {
      case "bool": {
        if (value === "") throw invalid(`missing a value on flag: ${flagName}`);
        const v = (value ?? "true").toLowerCase();
        if (v !== "true" && v !== "false") {
          throw invalid(`expecting boolean value for flag ${flagName}, not: ${value ?? ""}`);
        }
        bools.set(name, v === "true");
        break;
      }
      case "string":
      case "strings":
        if (value === undefined) {
          throw invalid(`missing a value on flag: ${flagName}`, `write it as ${flagName}=<value>`);
        }
        values.set(name, [...(values.get(name) ?? []), value]);
        break;
    }
  }
  return new ParsedFlags(values, bools);
}
