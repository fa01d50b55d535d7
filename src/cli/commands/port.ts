/** `pier port CONTAINER [PRIVATE_PORT[/PROTO]]`: the published ports, from inspect's NetworkSettings.Ports. */
import type { CommandDef } from "../context.ts";
import { StatusError } from "../errors.ts";

const join = (ip: string, port: string) => (ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`);
const natural = (a: string, b: string) => a.localeCompare(b, "en", { numeric: true });

export const command: CommandDef = {
  name: "port",
  usage: "port CONTAINER [PRIVATE_PORT[/PROTO]]",
  summary: "List port mappings or a specific mapping for the container",
  minArgs: 1,
  maxArgs: 2,
  flags: [],
  async run(cli, p) {
    const [name, want] = p.positionals as [string, string | undefined];
    const c = await (await cli.client()).containers.inspect(name);
    const ports = c.NetworkSettings?.Ports ?? {};
    const out: string[] = [];
    if (want !== undefined) {
      const [port, proto = "tcp"] = want.split("/") as [string, string | undefined];
      if (!/^\d+$/.test(port) || Number(port) > 65535) {
        throw new StatusError(
          1,
          `Error: invalid port (${port}): strconv.ParseUint: parsing "${port}": invalid syntax`,
        );
      }
      const frontends = ports[`${port}/${proto}`];
      if (!frontends || frontends.length === 0) {
        throw new StatusError(1, `Error: No public port '${want}' published for ${name}`);
      }
      for (const f of frontends) out.push(join(f.HostIp, f.HostPort));
    } else {
      for (const [from, frontends] of Object.entries(ports)) {
        for (const f of frontends ?? []) out.push(`${from} -> ${join(f.HostIp, f.HostPort)}`);
      }
    }
    if (out.length > 0) cli.io.out(out.sort(natural).join("\n") + "\n");
  },
};
