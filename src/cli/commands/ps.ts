/**
 * `pier ps`: docker's columns and Go-template fields (.ID .Image .Command .CreatedAt
 * .RunningFor .Ports .State .Status .Size .Names .Labels .Mounts .Networks
 * .LocalVolumes), -a, -q, -n/--last, -l, -s, --no-trunc, --filter, --format (table/json).
 */
import { familiar, parseFilterFlags, parseReference, type ContainerSummary } from "../../api/client/index.ts";
import { bool, list, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { intFlag } from "../flag-values.ts";
import { displayablePorts } from "../opts/ports.ts";
import { formatRows } from "../table.ts";
import { ellipsis, goTime, humanSize, shortId, since } from "../units.ts";

export interface ContainerRow {
  ID: string;
  Image: string;
  Command: string;
  CreatedAt: string;
  RunningFor: string;
  Ports: string;
  State: string;
  Status: string;
  Size: string;
  Names: string;
  Labels: string;
  Mounts: string;
  Networks: string;
  LocalVolumes: string;
  /** The image's platform when the daemon says (API 1.46+); null otherwise, as docker prints it. */
  Platform: string | null;
}

export const HEADERS: Record<string, string> = {
  ID: "CONTAINER ID",
  Image: "IMAGE",
  Command: "COMMAND",
  CreatedAt: "CREATED AT",
  RunningFor: "CREATED",
  Ports: "PORTS",
  State: "STATE",
  Status: "STATUS",
  Size: "SIZE",
  Names: "NAMES",
  Labels: "LABELS",
  Mounts: "MOUNTS",
  Networks: "NETWORKS",
  LocalVolumes: "LOCAL VOLUMES",
  Platform: "PLATFORM",
};

/** Go's strconv.Quote, near enough: JSON's escapes. */
const quote = (s: string) => JSON.stringify(s);

function imageOf(c: ContainerSummary, trunc: boolean): string {
  if (!c.Image) return "<no image>";
  if (!trunc) return c.Image;
  if (shortId(c.ImageID) === shortId(c.Image)) return shortId(c.Image);
  try {
    const r = parseReference(c.Image);
    // The digest goes when truncating; a tag stays.
    return familiar(`${r.domain}/${r.path}${r.tag ? `:${r.tag}` : ""}`);
  } catch {
    return c.Image;
  }
}

/** One row per container, as docker's ContainerContext renders it. */
export function containerRow(c: ContainerSummary, opts: { trunc: boolean; now?: number }): ContainerRow {
  const trunc = opts.trunc;
  let names = (c.Names ?? []).map((n) => n.replace(/^\//, ""));
  if (trunc) {
    const own = names.find((n) => !n.includes("/"));
    if (own !== undefined) names = [own];
  }
  const mounts = (c.Mounts ?? []).map((m) => {
    const name = m.Name || m.Source;
    return trunc ? ellipsis(name, 15) : name;
  });
  const labels = Object.entries(c.Labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .sort();
  const srw = humanSize(c.SizeRw ?? 0);
  return {
    ID: trunc ? shortId(c.Id) : c.Id,
    Image: imageOf(c, trunc),
    Command: quote(trunc ? ellipsis(c.Command ?? "", 20) : (c.Command ?? "")),
    CreatedAt: goTime(c.Created),
    RunningFor: since(c.Created, opts.now),
    Ports: displayablePorts(c.Ports ?? []),
    State: c.State,
    Status: c.Status,
    Size: (c.SizeRootFs ?? 0) > 0 ? `${srw} (virtual ${humanSize(c.SizeRootFs ?? 0)})` : srw,
    Names: names.join(","),
    Labels: labels.join(","),
    Mounts: mounts.join(","),
    Networks: Object.keys(c.NetworkSettings?.Networks ?? {})
      .sort()
      .join(","),
    LocalVolumes: String((c.Mounts ?? []).filter((m) => m.Driver === "local").length),
    Platform: null,
  };
}

export const DEFAULT_FORMAT =
  "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}";

export const command: CommandDef = {
  name: "ps",
  usage: "ps [OPTIONS]",
  summary: "List containers",
  maxArgs: 0,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all containers (default shows just running)" },
    { name: "filter", short: "f", kind: "list", help: "Filter output based on conditions provided" },
    {
      name: "format",
      kind: "string",
      help: "Format output using a custom template ('table', 'json', or a Go template)",
    },
    {
      name: "last",
      short: "n",
      kind: "string",
      help: "Show n last created containers (includes all states) (default -1)",
    },
    {
      name: "latest",
      short: "l",
      kind: "bool",
      help: "Show the latest created container (includes all states)",
    },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display container IDs" },
    { name: "size", short: "s", kind: "bool", help: "Display total file sizes" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier ps");
    }
    const last = intFlag(p, "last", "-n, --last", "pier ps") ?? -1;
    const limit = bool(p, "latest") ? 1 : last;
    const format = str(p, "format");
    const quiet = bool(p, "quiet");
    const size = bool(p, "size") || (!quiet && format !== undefined && format.includes(".Size"));
    const list_ = await (
      await cli.client()
    ).containers.list({
      all: bool(p, "all"),
      ...(limit > 0 ? { limit } : {}),
      size,
      filters,
    });
    const trunc = !bool(p, "no-trunc");
    if (quiet && (format === undefined || format === "")) {
      cli.io.out(list_.map((c) => `${trunc ? shortId(c.Id) : c.Id}\n`).join(""));
      return;
    }
    const rows = list_.map((c) => containerRow(c, { trunc }));
    const def = bool(p, "size") ? `${DEFAULT_FORMAT}\t{{.Size}}` : DEFAULT_FORMAT;
    cli.io.out(formatRows(rows, { format: format || undefined, defaultFormat: def, headers: HEADERS }));
  },
};
