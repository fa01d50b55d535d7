/** `pier version`: client and server versions, docker's layout, or --format over {Client, Server}. */
import { API_VERSION, type VersionResponse } from "../../api/client/index.ts";
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatInspect } from "../table.ts";

export const CLIENT_VERSION = "0.1.0";

export const command: CommandDef = {
  name: "version",
  usage: "version [OPTIONS]",
  summary: "Show the pier version information",
  maxArgs: 0,
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a custom template" }],
  async run(cli, p) {
    const client = {
      Version: CLIENT_VERSION,
      ApiVersion: API_VERSION,
      DefaultAPIVersion: API_VERSION,
      GoVersion: `node${process.versions.node}`,
      Os: "linux",
      Arch: process.arch === "x64" ? "amd64" : process.arch,
      Context: "default",
    };
    let server: VersionResponse | undefined;
    let failure: unknown;
    try {
      server = await (await cli.client()).systemVersion();
    } catch (e) {
      failure = e;
    }
    const format = str(p, "format");
    if (format !== undefined) {
      cli.io.out(
        formatInspect(
          [{ Client: client, Server: server ?? null }],
          format === "json" ? "{{json .}}" : format,
        ),
      );
    } else {
      let s =
        `Client:\n Version:           ${client.Version}\n API version:       ${client.ApiVersion}\n` +
        ` Node version:      ${client.GoVersion.slice(4)}\n OS/Arch:           ${client.Os}/${client.Arch}\n`;
      if (server) {
        s +=
          `\nServer: pier\n Engine:\n  Version:          ${server.Version}\n` +
          `  API version:      ${server.ApiVersion} (minimum version ${server.MinAPIVersion})\n` +
          `  Node version:     ${server.GoVersion.replace(/^node/, "")}\n` +
          `  OS/Arch:          ${server.Os}/${server.Arch}\n` +
          `  Kernel version:   ${server.KernelVersion}\n`;
      }
      cli.io.out(s);
    }
    if (failure !== undefined) throw failure;
  },
};
