/** `pier info`: the daemon's facts, or --format over /info's object. */
import { str } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { formatInspect } from "../table.ts";
import { humanSize } from "../units.ts";

export const command: CommandDef = {
  name: "info",
  usage: "info [OPTIONS]",
  summary: "Display system-wide information",
  maxArgs: 0,
  flags: [{ name: "format", short: "f", kind: "string", help: "Format output using a custom template" }],
  async run(cli, p) {
    const info = await (await cli.client()).info();
    const format = str(p, "format");
    if (format !== undefined) {
      cli.io.out(formatInspect([info], format === "json" ? "{{json .}}" : format));
      return;
    }
    const lines = [
      "Server:",
      ` Containers: ${info.Containers}`,
      `  Running: ${info.ContainersRunning}`,
      `  Paused: ${info.ContainersPaused}`,
      `  Stopped: ${info.ContainersStopped}`,
      ` Images: ${info.Images}`,
      ` Server Version: ${info.ServerVersion}`,
      ` Storage Driver: ${info.Driver}`,
      ` Logging Driver: ${info.LoggingDriver}`,
      ` Cgroup Driver: ${info.CgroupDriver}`,
      ` Cgroup Version: ${info.CgroupVersion}`,
      ` Swarm: ${info.Swarm.LocalNodeState}`,
      ` Default Runtime: ${info.DefaultRuntime}`,
      ` Kernel Version: ${info.KernelVersion}`,
      ` Operating System: ${info.OperatingSystem}`,
      ` OSType: ${info.OSType}`,
      ` Architecture: ${info.Architecture}`,
      ` CPUs: ${info.NCPU}`,
      ` Total Memory: ${humanSize(info.MemTotal)}`,
      ` Name: ${info.Name}`,
      ` Root Dir: ${info.DockerRootDir}`,
      ` Live Restore Enabled: ${info.LiveRestoreEnabled}`,
    ];
    cli.io.out(lines.join("\n") + "\n");
  },
};
