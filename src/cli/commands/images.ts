/** `pier images` / `pier image ls`: docker's columns, -q, -a, --digests, --no-trunc, --format. */
import type { ImageSummary } from "../../api/client/index.ts";
import { invalid } from "../../common/errors.ts";
import { bool, list, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";
import { goTime, humanSize, shortId, since } from "../units.ts";

export interface ImageRow {
  ID: string;
  Repository: string;
  Tag: string;
  Digest: string;
  CreatedSince: string;
  CreatedAt: string;
  Size: string;
  VirtualSize: string;
  SharedSize: string;
  UniqueSize: string;
  Containers: string;
}

const HEADERS: Record<string, string> = {
  ID: "IMAGE ID",
  Repository: "REPOSITORY",
  Tag: "TAG",
  Digest: "DIGEST",
  CreatedSince: "CREATED",
  CreatedAt: "CREATED AT",
  Size: "SIZE",
  VirtualSize: "VIRTUAL SIZE",
  SharedSize: "SHARED SIZE",
  UniqueSize: "UNIQUE SIZE",
  Containers: "CONTAINERS",
};

function splitTag(repoTag: string): [string, string] {
  const i = repoTag.lastIndexOf(":");
  return i > repoTag.lastIndexOf("/") ? [repoTag.slice(0, i), repoTag.slice(i + 1)] : [repoTag, "<none>"];
}

/** One row per (repository, tag) as docker lists them; untagged images get `<none>` rows. */
export function imageRows(
  images: ImageSummary[],
  opts: { noTrunc: boolean; digests: boolean; now?: number },
): ImageRow[] {
  const rows: ImageRow[] = [];
  for (const img of images) {
    const base = {
      ID: opts.noTrunc ? img.Id : shortId(img.Id),
      CreatedSince: since(img.Created, opts.now),
      CreatedAt: goTime(img.Created),
      Size: humanSize(img.Size),
      VirtualSize: humanSize(img.VirtualSize ?? img.Size, 4),
      SharedSize: img.SharedSize < 0 ? "N/A" : humanSize(img.SharedSize),
      UniqueSize: img.SharedSize < 0 ? "N/A" : humanSize(img.Size - img.SharedSize),
      Containers: img.Containers < 0 ? "N/A" : String(img.Containers),
    };
    const digests = new Map<string, string>();
    for (const rd of img.RepoDigests ?? []) {
      const at = rd.indexOf("@");
      if (at > 0 && rd !== "<none>@<none>") digests.set(rd.slice(0, at), rd.slice(at + 1));
    }
    const tags = (img.RepoTags ?? []).filter((t) => t !== "<none>:<none>");
    const seen = new Set<string>();
    for (const rt of tags) {
      const [repo, tag] = splitTag(rt);
      seen.add(repo);
      // Without --digests the digest is not shown for tagged rows (docker's imageFormatTaggedAndDigest).
      rows.push({
        ...base,
        Repository: repo,
        Tag: tag,
        Digest: (opts.digests && digests.get(repo)) || "<none>",
      });
    }
    for (const [repo, d] of digests) {
      if (!seen.has(repo))
        rows.push({ ...base, Repository: repo, Tag: "<none>", Digest: opts.digests ? d : "" });
    }
    if (tags.length === 0 && digests.size === 0) {
      rows.push({ ...base, Repository: "<none>", Tag: "<none>", Digest: "<none>" });
    }
  }
  return rows;
}

export const command: CommandDef = {
  name: "images",
  usage: "images [OPTIONS] [REPOSITORY[:TAG]]",
  summary: "List images",
  maxArgs: 1,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Show all images (default hides intermediate images)" },
    { name: "digests", kind: "bool", help: "Show digests" },
    { name: "filter", short: "f", kind: "list", help: "Filter output based on conditions provided" },
    { name: "format", kind: "string", help: "Format output using a custom template" },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", help: "Only show image IDs" },
  ],
  async run(cli, p) {
    const filters: Record<string, string[]> = {};
    for (const f of list(p, "filter")) {
      const eq = f.indexOf("=");
      if (eq <= 0) throw invalid(`bad format of filter (expected name=value)`);
      (filters[f.slice(0, eq)] ??= []).push(f.slice(eq + 1));
    }
    const want = p.positionals[0];
    if (want !== undefined) (filters.reference ??= []).push(want);
    const client = await cli.client();
    const images = await client.listImages({ all: bool(p, "all"), digests: bool(p, "digests"), filters });
    const rows = imageRows(images, { noTrunc: bool(p, "no-trunc"), digests: bool(p, "digests") });
    if (bool(p, "quiet")) {
      cli.io.out(rows.map((r) => r.ID + "\n").join(""));
      return;
    }
    const digests = bool(p, "digests");
    const def = `table {{.Repository}}\t{{.Tag}}\t${digests ? "{{.Digest}}\t" : ""}{{.ID}}\t{{.CreatedSince}}\t{{.Size}}`;
    cli.io.out(formatRows(rows, { format: str(p, "format"), defaultFormat: def, headers: HEADERS }));
  },
};
