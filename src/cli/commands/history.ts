/** `pier history`: IMAGE, CREATED, CREATED BY, SIZE, COMMENT. */
import { bool, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatRows } from "../table.ts";
import { ellipsis, humanSize, shortId, since } from "../units.ts";

export const command: CommandDef = {
  name: "history",
  usage: "history [OPTIONS] IMAGE",
  summary: "Show the history of an image",
  minArgs: 1,
  maxArgs: 1,
  flags: [
    { name: "format", kind: "string", help: "Format output using a custom template" },
    {
      name: "human",
      short: "H",
      kind: "bool",
      help: "Print sizes and dates in human readable format (default true)",
    },
    { name: "no-trunc", kind: "bool", help: "Don't truncate output" },
    { name: "quiet", short: "q", kind: "bool", help: "Only show image IDs" },
  ],
  async run(cli, p) {
    const items = await (await cli.client()).imageHistory(p.positionals[0]!);
    const noTrunc = bool(p, "no-trunc");
    const human = p.flags.get("human")?.[0] !== "false";
    if (bool(p, "quiet")) {
      cli.io.out(
        items.map((h) => (noTrunc ? h.Id : h.Id === "<missing>" ? h.Id : shortId(h.Id)) + "\n").join(""),
      );
      return;
    }
    const rows = items.map((h) => ({
      ID: h.Id === "<missing>" || noTrunc ? h.Id : shortId(h.Id),
      CreatedSince: human ? since(h.Created) : new Date(h.Created * 1000).toISOString(),
      CreatedAt: new Date(h.Created * 1000).toISOString().slice(0, 19) + "Z",
      CreatedBy: noTrunc ? h.CreatedBy : ellipsis(h.CreatedBy.replace(/\t/g, " "), 45),
      Size: human ? humanSize(h.Size) : String(h.Size),
      Comment: h.Comment,
    }));
    cli.io.out(
      formatRows(rows, {
        format: str(p, "format"),
        defaultFormat: "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}",
        headers: {
          ID: "IMAGE",
          CreatedSince: "CREATED",
          CreatedAt: "CREATED AT",
          CreatedBy: "CREATED BY",
          Size: "SIZE",
          Comment: "COMMENT",
          Tags: "TAGS",
        },
      }),
    );
  },
};
