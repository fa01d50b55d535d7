/**
 * `pier inspect`: each name is looked up as docker does — a container, then an image, a
 * network, a volume — unless --type says which. Objects found are printed together (JSON
 * array, or --format per object); names found nowhere give "Error: No such object".
 */
import { DaemonError, type ApiClient } from "../../api/client/index.ts";
import { bool, str, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError, errorText } from "../errors.ts";
import { formatInspect } from "../table.ts";

type Kind = "container" | "image" | "network" | "volume";

const LOOKUPS: Record<Kind, (c: ApiClient, name: string, size: boolean) => Promise<unknown>> = {
  container: (c, n, size) => c.containers.inspect(n, { size }),
  image: (c, n) => c.inspectImage(n),
  network: (c, n) => c.networks.inspect(n),
  volume: (c, n) => c.volumes.inspect(n),
};

export const command: CommandDef = {
  name: "inspect",
  usage: "inspect [OPTIONS] NAME|ID [NAME|ID...]",
  summary: "Return low-level information on Docker objects",
  minArgs: 1,
  flags: [
    { name: "format", short: "f", kind: "string", help: "Format output using a custom template" },
    { name: "size", short: "s", kind: "bool", help: "Display total file sizes if the type is container" },
    { name: "type", kind: "string", help: "Return JSON for specified type" },
  ],
  async run(cli, p) {
    const type = str(p, "type");
    if (type !== undefined && !(type in LOOKUPS)) {
      throw new UsageError(`"${type}" is not a valid value for --type`, "pier inspect");
    }
    const kinds: Kind[] = type ? [type as Kind] : ["container", "image", "network", "volume"];
    const client = await cli.client();
    const size = bool(p, "size");
    const found: unknown[] = [];
    const errors: string[] = [];
    for (const name of p.positionals) {
      let obj: unknown;
      let lastError: unknown;
      for (const k of kinds) {
        try {
          obj = await LOOKUPS[k](client, name, size);
          break;
        } catch (e) {
          if (!(e instanceof DaemonError && e.status === 404)) throw e;
          lastError = e;
        }
      }
      if (obj !== undefined) found.push(obj);
      else errors.push(type ? errorText(lastError) : `Error: No such object: ${name}`);
    }
    const format = str(p, "format");
    if (found.length > 0 || format === undefined) cli.io.out(formatInspect(found, format));
    else if (format !== undefined && errors.length > 0) cli.io.out("\n");
    if (errors.length > 0) throw new StatusError(1, errors.join("\n"));
  },
};
