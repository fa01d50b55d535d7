/** Typed reads of string flags with docker's error for a bad value (a UsageError, exit 125). */
import { str, UsageError, type Parsed } from "./args.ts";
import { parseInt64, ValueError } from "./opts/values.ts";

/** Parses a flag's value, or undefined when not given. `display` is `-t, --timeout`. */
export function flagValue<T>(
  p: Parsed,
  name: string,
  display: string,
  command: string,
  parse: (v: string) => T,
): T | undefined {
  const v = str(p, name);
  if (v === undefined) return undefined;
  try {
    return parse(v);
  } catch (e) {
    if (e instanceof ValueError) {
      throw new UsageError(`invalid argument "${v}" for "${display}" flag: ${e.message}`, command);
    }
    throw e;
  }
}

export const intFlag = (p: Parsed, name: string, display: string, command: string): number | undefined =>
  flagValue(p, name, display, command, parseInt64);
