/** `pier network ls`: NETWORK ID, NAME, DRIVER, SCOPE; -q, --no-trunc, --filter, --format. */
import { parseFilterFlags, type Network } from "../../api/client/index.ts";
import { bool, list, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";
import { shortId } from "../units.ts";

const HEADERS = {
  ID: "NETWORK ID",
  Name: "NAME",
  Driver: "DRIVER",
  Scope: "SCOPE",
  IPv6: "IPV6",
  Internal: "INTERNAL",
  Labels: "LABELS",
  CreatedAt: "CREATED AT",
};

export function networkRow(n: Network, trunc: boolean) {
  return {
    ID: trunc ? shortId(n.Id) : n.Id,
    Name: n.Name,
    Driver: n.Driver,
    Scope: n.Scope,
    IPv6: String(n.EnableIPv6),
    Internal: String(n.Internal),
    Labels: Object.entries(n.Labels ?? {})
      .map(([k, v]) => `${k}=${v}`)
      .sort()
      .join(","),
    CreatedAt: n.Created,
  };
}

export const command: CommandDef = {
  name: "network ls",
  usage: "network ls [OPTIONS]",
  summary: "List networks",
  maxArgs: 0,
  flags: [
    { name: "filter", short: "f", kind: "list", help: 'Provide filter values (e.g. "driver=bridge")' },
    { name: "format", kind: "string", help: "Format output using a custom template" },
    { name: "no-trunc", kind: "bool", help: "Do not truncate the output" },
    { name: "quiet", short: "q", kind: "bool", help: "Only display network IDs" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier network ls");
    }
    const nets = [...(await (await cli.client()).networks.list(filters))].sort((a, b) =>
      a.Name < b.Name ? -1 : a.Name > b.Name ? 1 : 0,
    );
    const trunc = !bool(p, "no-trunc");
    if (bool(p, "quiet") && !str(p, "format")) {
      cli.io.out(nets.map((n) => `${trunc ? shortId(n.Id) : n.Id}\n`).join(""));
      return;
    }
    cli.io.out(
      formatRows(
        nets.map((n) => networkRow(n, trunc)),
        {
          format: str(p, "format") || undefined,
          defaultFormat: "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
          headers: HEADERS,
        },
      ),
    );
  },
};
