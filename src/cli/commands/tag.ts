/** `pier tag SOURCE TARGET`. */
import { parseReference } from "../../api/client/index.ts";
import type { CommandDef } from "../context.ts";

/** `localhost:5000/bb:1` → ["localhost:5000/bb", "1"]; no tag → "latest". */
export function splitRepoTag(ref: string): [string, string] {
  parseReference(ref);
  const at = ref.indexOf("@");
  const name = at >= 0 ? ref.slice(0, at) : ref;
  const i = name.lastIndexOf(":");
  if (i > name.lastIndexOf("/")) return [name.slice(0, i), name.slice(i + 1)];
  return [name, "latest"];
}

export const command: CommandDef = {
  name: "tag",
  usage: "tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]",
  summary: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE",
  minArgs: 2,
  maxArgs: 2,
  flags: [],
  async run(cli, p) {
    const [repo, tag] = splitRepoTag(p.positionals[1]!);
    await (await cli.client()).tagImage(p.positionals[0]!, repo, tag);
  },
};
