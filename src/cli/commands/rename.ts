/** `pier rename OLD NEW`. */
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";

export const command: CommandDef = {
  name: "rename",
  usage: "rename CONTAINER NEW_NAME",
  summary: "Rename a container",
  minArgs: 2,
  maxArgs: 2,
  flags: [],
  async run(cli, p) {
    const [old, name] = p.positionals as [string, string];
    if (old.trim() === "" || name.trim() === "")
      throw new StatusError(1, "Error: neither old nor new names may be empty");
    try {
      await (await cli.client()).containers.rename(old, name.trim());
    } catch (e) {
      throw new StatusError(1, `${errorText(e)}\nError: failed to rename container named ${old}`);
    }
  },
};
