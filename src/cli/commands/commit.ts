/** `pier commit CONTAINER [REPOSITORY[:TAG]]`: the writable layer as a new image; prints its id. */
import { parseReference } from "../../api/client/index.ts";
import { boolOr, list, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError } from "../errors.ts";

export const command: CommandDef = {
  name: "commit",
  usage: "commit [OPTIONS] CONTAINER [REPOSITORY[:TAG]]",
  summary: "Create a new image from a container's changes",
  minArgs: 1,
  maxArgs: 2,
  flags: [
    {
      name: "author",
      short: "a",
      kind: "string",
      help: 'Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")',
    },
    { name: "change", short: "c", kind: "list", help: "Apply Dockerfile instruction to the created image" },
    { name: "message", short: "m", kind: "string", help: "Commit message" },
    { name: "pause", short: "p", kind: "bool", help: "Pause container during commit (default true)" },
  ],
  async run(cli, p) {
    const [container, ref] = p.positionals as [string, string | undefined];
    let repo = "";
    let tag = "";
    if (ref !== undefined && ref !== "") {
      const r = parseReference(ref);
      if (r.digest) throw new StatusError(1, "refusing to create a tag with a digest reference");
      repo = `${r.domain}/${r.path}`;
      tag = r.tag ?? "latest";
    }
    const res = await (
      await cli.client()
    ).containers.commit({
      container,
      repo,
      tag,
      author: str(p, "author") ?? "",
      comment: str(p, "message") ?? "",
      changes: list(p, "change"),
      pause: boolOr(p, "pause", true),
    });
    cli.io.out(`${res.Id}\n`);
  },
};
