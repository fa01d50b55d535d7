/** `pier volume ls`: DRIVER and VOLUME NAME; -q, --filter, --format (fields .Name .Driver .Scope .Mountpoint .Labels .CreatedAt). */
import { parseFilterFlags, type Volume } from "../../api/client/index.ts";
import { bool, list, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";

const HEADERS = {
  Name: "VOLUME NAME",
  Driver: "DRIVER",
  Scope: "SCOPE",
  Mountpoint: "MOUNTPOINT",
  Labels: "LABELS",
  Links: "LINKS",
  Size: "SIZE",
  Group: "GROUP",
  Availability: "AVAILABILITY",
  Status: "STATUS",
};

export function volumeRow(v: Volume) {
  return {
    Name: v.Name,
    Driver: v.Driver,
    Scope: v.Scope,
    Mountpoint: v.Mountpoint,
    Labels: Object.entries(v.Labels ?? {})
      .map(([k, x]) => `${k}=${x}`)
      .sort()
      .join(","),
    Links: v.UsageData ? String(v.UsageData.RefCount) : "N/A",
    Size: v.UsageData && v.UsageData.Size >= 0 ? String(v.UsageData.Size) : "N/A",
    // Cluster volume fields: docker prints N/A for local volumes.
    Group: "N/A",
    Availability: "N/A",
    Status: "N/A",
  };
}

export const command: CommandDef = {
  name: "volume ls",
  usage: "volume ls [OPTIONS]",
  summary: "List volumes",
  maxArgs: 0,
  flags: [
    { name: "filter", short: "f", kind: "list", help: 'Provide filter values (e.g. "dangling=true")' },
    { name: "format", kind: "string", help: "Format output using a custom template" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display volume names" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier volume ls");
    }
    const r = await (await cli.client()).volumes.list(filters);
    const vols = [...(r.Volumes ?? [])].sort((a, b) => (a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0));
    for (const w of r.Warnings ?? []) cli.io.err(`${w}\n`);
    if (bool(p, "quiet") && !str(p, "format")) {
      cli.io.out(vols.map((v) => `${v.Name}\n`).join(""));
      return;
    }
    cli.io.out(
      formatRows(vols.map(volumeRow), {
        format: str(p, "format") || undefined,
        defaultFormat: "table {{.Driver}}\t{{.Name}}",
        headers: HEADERS,
      }),
    );
  },
};
