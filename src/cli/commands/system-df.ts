/**
 * `pier system df`: space used by images, containers, local volumes and the build cache,
 * with docker's ACTIVE and RECLAIMABLE arithmetic; -v lists each object; --format.
 */
import type { SystemDf } from "../../api/client/index.ts";
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";
import { ellipsis, humanSize, shortId, since } from "../units.ts";
import { imageRows } from "./images.ts";
import { containerRow } from "./ps.ts";

const pct = (part: number, total: number) =>
  total > 0 ? `${humanSize(part)} (${Math.floor((part * 100) / total)}%)` : humanSize(part);

export interface DfRow {
  Type: string;
  TotalCount: string;
  Active: string;
  Size: string;
  Reclaimable: string;
}

/** The summary rows, as docker computes them. */
export function dfRows(df: SystemDf): DfRow[] {
  const images = df.Images ?? [];
  let usedImages = 0;
  for (const i of images) {
    if (i.Containers !== 0 && i.Size !== -1 && i.SharedSize !== -1) usedImages += i.Size - i.SharedSize;
  }
  const containers = df.Containers ?? [];
  const activeC = containers.filter((c) => c.State === "running" || c.State === "paused");
  const cSize = containers.reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const cReclaim = containers.filter((c) => !activeC.includes(c)).reduce((n, c) => n + (c.SizeRw ?? 0), 0);
  const vols = df.Volumes ?? [];
  const vSize = vols.reduce((n, v) => n + (v.UsageData && v.UsageData.Size > 0 ? v.UsageData.Size : 0), 0);
  const vReclaim = vols
    .filter((v) => (v.UsageData?.RefCount ?? 0) === 0)
    .reduce((n, v) => n + (v.UsageData && v.UsageData.Size > 0 ? v.UsageData.Size : 0), 0);
  const cache = df.BuildCache ?? [];
  const bSize = cache.reduce((n, b) => n + b.Size, 0);
  const bReclaim = cache.filter((b) => !b.InUse && !b.Shared).reduce((n, b) => n + b.Size, 0);
  return [
    {
      Type: "Images",
      TotalCount: String(images.length),
      Active: String(images.filter((i) => i.Containers > 0).length),
      Size: humanSize(df.LayersSize ?? 0),
      Reclaimable: pct((df.LayersSize ?? 0) - usedImages, df.LayersSize ?? 0),
    },
    {
      Type: "Containers",
      TotalCount: String(containers.length),
      Active: String(activeC.length),
      Size: humanSize(cSize),
      Reclaimable: pct(cReclaim, cSize),
    },
    {
      Type: "Local Volumes",
      TotalCount: String(vols.length),
      Active: String(vols.filter((v) => (v.UsageData?.RefCount ?? 0) > 0).length),
      Size: humanSize(vSize),
      Reclaimable: pct(vReclaim, vSize),
    },
    {
      Type: "Build Cache",
      TotalCount: String(cache.length),
      Active: String(cache.filter((b) => b.InUse).length),
      Size: humanSize(bSize),
      Reclaimable: humanSize(bReclaim),
    },
  ];
}

const HEADERS = {
  Type: "TYPE",
  TotalCount: "TOTAL",
  Active: "ACTIVE",
  Size: "SIZE",
  Reclaimable: "RECLAIMABLE",
};

function verbose(df: SystemDf): string {
  const images = imageRows(df.Images ?? [], { noTrunc: false, digests: false });
  let out = "Images space usage:\n\n";
  out += formatRows(images, {
    format: undefined,
    defaultFormat:
      "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}",
    headers: {
      Repository: "REPOSITORY",
      Tag: "TAG",
      ID: "IMAGE ID",
      CreatedSince: "CREATED",
      Size: "SIZE",
      SharedSize: "SHARED SIZE",
      UniqueSize: "UNIQUE SIZE",
      Containers: "CONTAINERS",
    },
  });
  out += "\nContainers space usage:\n\n";
  out += formatRows(
    (df.Containers ?? []).map((c) => ({
      ...containerRow(c, { trunc: true }),
      Size: humanSize(c.SizeRw ?? 0),
    })),
    {
      format: undefined,
      defaultFormat:
        "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.LocalVolumes}}\t{{.Size}}\t{{.RunningFor}}\t{{.Status}}\t{{.Names}}",
      headers: {
        ID: "CONTAINER ID",
        Image: "IMAGE",
        Command: "COMMAND",
        LocalVolumes: "LOCAL VOLUMES",
        Size: "SIZE",
        RunningFor: "CREATED",
        Status: "STATUS",
        Names: "NAMES",
      },
    },
  );
  out += "\nLocal Volumes space usage:\n\n";
  out += formatRows(
    (df.Volumes ?? []).map((v) => ({
      Name: v.Name,
      Links: String(v.UsageData?.RefCount ?? 0),
      Size: v.UsageData && v.UsageData.Size >= 0 ? humanSize(v.UsageData.Size) : "N/A",
    })),
    {
      format: undefined,
      defaultFormat: "table {{.Name}}\t{{.Links}}\t{{.Size}}",
      headers: { Name: "VOLUME NAME", Links: "LINKS", Size: "SIZE" },
    },
  );
  const cache = df.BuildCache ?? [];
  out += `\nBuild cache usage: ${humanSize(cache.reduce((n, b) => n + b.Size, 0))}\n\n`;
  out += formatRows(
    cache.map((b) => ({
      ID: shortId(b.ID),
      CacheType: b.Type,
      Size: humanSize(b.Size),
      CreatedSince: since(Date.parse(b.CreatedAt) / 1000),
      LastUsedSince: b.LastUsedAt ? since(Date.parse(b.LastUsedAt) / 1000) : "",
      UsageCount: String(b.UsageCount),
      Shared: String(b.Shared),
      Description: ellipsis(b.Description, 40),
    })),
    {
      format: undefined,
      defaultFormat:
        "table {{.ID}}\t{{.CacheType}}\t{{.Size}}\t{{.CreatedSince}}\t{{.LastUsedSince}}\t{{.UsageCount}}\t{{.Shared}}",
      headers: {
        ID: "CACHE ID",
        CacheType: "CACHE TYPE",
        Size: "SIZE",
        CreatedSince: "CREATED",
        LastUsedSince: "LAST USED",
        UsageCount: "USAGE",
        Shared: "SHARED",
      },
    },
  );
  return out;
}

export const command: CommandDef = {
  name: "system df",
  usage: "system df [OPTIONS]",
  summary: "Show docker disk usage",
  maxArgs: 0,
  flags: [
    { name: "format", kind: "string", help: "Format output using a custom template" },
    { name: "verbose", short: "v", kind: "bool", help: "Show detailed information on space usage" },
  ],
  async run(cli, p) {
    const df = await (await cli.client()).system.df();
    const format = str(p, "format");
    if (bool(p, "verbose") && !format) {
      cli.io.out(verbose(df));
      return;
    }
    cli.io.out(
      formatRows(dfRows(df), {
        format: format || undefined,
        defaultFormat: "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}",
        headers: HEADERS,
      }),
    );
  },
};
