/** `pier rm`: remove containers (-f kills a running one, -v removes its anonymous volumes). */
import { bool } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { forEachTarget } from "../multi.ts";

export const command: CommandDef = {
  name: "rm",
  usage: "rm [OPTIONS] CONTAINER [CONTAINER...]",
  summary: "Remove one or more containers",
  minArgs: 1,
  flags: [
    {
      name: "force",
      short: "f",
      kind: "bool",
      help: "Force the removal of a running container (uses SIGKILL)",
    },
    { name: "link", short: "l", kind: "bool", help: "Remove the specified link" },
    {
      name: "volumes",
      short: "v",
      kind: "bool",
      help: "Remove anonymous volumes associated with the container",
    },
  ],
  async run(cli, p) {
    const opts = { force: bool(p, "force"), volumes: bool(p, "volumes"), link: bool(p, "link") };
    await forEachTarget(cli, p.positionals, (c, n) => c.containers.remove(n, opts));
  },
};
