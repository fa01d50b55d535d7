/**
 * What the `… prune` commands share: `--filter` and `--force` flags, the filter parsing, and
 * the confirmation prompt (skipped with -f).
 *
 *   const filters = await prunePrelude(cli, p, "pier network prune", "WARNING! …");
 *   if (!filters) return; // the user said no
 */
import { parseFilterFlags } from "../api/client/index.ts";
import { bool, list, UsageError, type FlagSpec, type Parsed } from "./args.ts";
import { fullIo, type Cli } from "./context.ts";
import { confirm } from "./prompt.ts";

export const pruneFlags = (filterExample: string): FlagSpec[] => [
  { name: "filter", kind: "list", help: `Provide filter values (e.g. "${filterExample}")` },
  { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
];

/** The parsed filters, or undefined when the user declined. */
export async function prunePrelude(
  cli: Cli,
  p: Parsed,
  command: string,
  warning: string,
): Promise<Record<string, string[]> | undefined> {
  let filters: Record<string, string[]>;
  try {
    filters = parseFilterFlags(list(p, "filter"));
  } catch (e) {
    throw new UsageError((e as Error).message, command);
  }
  if (!bool(p, "force") && !(await confirm(fullIo(cli.io), warning))) return undefined;
  return filters;
}
