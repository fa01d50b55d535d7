/** `pier volume create [NAME]`: prints the volume's name (generated when not given). */
import type { VolumeCreateRequest } from "../../api/client/index.ts";
import { list, str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { StatusError } from "../errors.ts";
import { kvMap } from "../opts/env.ts";

export const command: CommandDef = {
  name: "volume create",
  usage: "volume create [OPTIONS] [VOLUME]",
  summary: "Create a volume",
  maxArgs: 1,
  flags: [
    { name: "driver", short: "d", kind: "string", help: 'Specify volume driver name (default "local")' },
    { name: "label", kind: "list", help: "Set metadata for a volume" },
    { name: "name", kind: "string", help: "Specify volume name" },
    { name: "opt", short: "o", kind: "list", help: "Set driver specific options" },
  ],
  async run(cli, p) {
    const flagName = str(p, "name");
    const argName = p.positionals[0];
    if (flagName && argName && flagName !== argName) {
      throw new StatusError(
        1,
        `conflicting options: cannot specify a volume-name through both --name and as a positional arg`,
      );
    }
    const name = argName ?? flagName;
    const opts = kvMap(list(p, "opt"));
    const labels = kvMap(list(p, "label"));
    const body: VolumeCreateRequest = {
      Driver: str(p, "driver") ?? "local",
      ...(Object.keys(opts).length > 0 ? { DriverOpts: opts } : {}),
      ...(Object.keys(labels).length > 0 ? { Labels: labels } : {}),
      ...(name ? { Name: name } : {}),
    };
    const v = await (await cli.client()).volumes.create(body);
    cli.io.out(`${v.Name}\n`);
  },
};
