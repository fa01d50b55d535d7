/**
 * `pier system prune`: what docker's does — stopped containers, unused networks, (with
 * --volumes) anonymous volumes, dangling images (-a: unused ones), the build cache — then
 * pier's leak removal (`POST /pier/system/prune`: mounts, cgroups, snapshots, directories
 * nothing owns; see `pier system check`).
 */
import { DaemonError, parseFilterFlags, type DeleteItem } from "../../api/client/index.ts";
import { bool, list, UsageError } from "../args.ts";
import type { CommandDef } from "../context.ts";
import { fullIo } from "../context.ts";
import { confirm } from "../prompt.ts";
import { humanSize } from "../units.ts";

/** An endpoint pierd (or an older daemon) does not have is skipped, not an error. */
async function optional<T>(f: () => Promise<T>): Promise<T | undefined> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof DaemonError && [404, 405, 501].includes(e.status)) return undefined;
    throw e;
  }
}

export const command: CommandDef = {
  name: "system prune",
  usage: "system prune [OPTIONS]",
  summary: "Remove unused data",
  maxArgs: 0,
  flags: [
    { name: "all", short: "a", kind: "bool", help: "Remove all unused images not just dangling ones" },
    { name: "filter", kind: "list", help: 'Provide filter values (e.g. "label=<key>=<value>")' },
    { name: "force", short: "f", kind: "bool", help: "Do not prompt for confirmation" },
    { name: "volumes", kind: "bool", help: "Prune anonymous volumes" },
  ],
  async run(cli, p) {
    let filters;
    try {
      filters = parseFilterFlags(list(p, "filter"));
    } catch (e) {
      throw new UsageError((e as Error).message, "pier system prune");
    }
    const all = bool(p, "all");
    const volumes = bool(p, "volumes");
    const warning = [
      "WARNING! This will remove:",
      "  - all stopped containers",
      "  - all networks not used by at least one container",
      ...(volumes ? ["  - all anonymous volumes not used by at least one container"] : []),
      all ? "  - all images without at least one container associated to them" : "  - all dangling images",
      "  - unused build cache",
      "  - state pier leaked (see 'pier system check')",
      "",
    ].join("\n");
    if (!bool(p, "force") && !(await confirm(fullIo(cli.io), warning))) return;
    const client = await cli.client();
    let out = "";
    let reclaimed = 0;
    const c = await client.containers.prune(filters);
    reclaimed += c.SpaceReclaimed ?? 0;
    if (c.ContainersDeleted?.length) out += `Deleted Containers:\n${c.ContainersDeleted.join("\n")}\n\n`;
    const n = await client.networks.prune(filters);
    if (n.NetworksDeleted?.length) out += `Deleted Networks:\n${n.NetworksDeleted.join("\n")}\n\n`;
    if (volumes) {
      const v = await client.volumes.prune(filters);
      reclaimed += v.SpaceReclaimed ?? 0;
      if (v.VolumesDeleted?.length) out += `Deleted Volumes:\n${v.VolumesDeleted.join("\n")}\n\n`;
    }
    const images = await client.json<{ ImagesDeleted: DeleteItem[] | null; SpaceReclaimed: number }>(
      "POST",
      "/images/prune",
      {
        query: {
          filters: JSON.stringify({ ...boolMap(filters), dangling: { [all ? "false" : "true"]: true } }),
        },
      },
    );
    reclaimed += images.SpaceReclaimed ?? 0;
    if (images.ImagesDeleted?.length) {
      out += "Deleted Images:\n";
      for (const d of images.ImagesDeleted)
        out += "Untagged" in d ? `untagged: ${d.Untagged}\n` : `deleted: ${d.Deleted}\n`;
      out += "\n";
    }
    const cache = await optional(() => client.system.pruneBuildCache({ all, filters }));
    reclaimed += cache?.SpaceReclaimed ?? 0;
    if (cache?.CachesDeleted?.length)
      out += `Deleted build cache objects:\n${cache.CachesDeleted.join("\n")}\n\n`;
    const leaks = await optional(() => client.system.pruneLeaks());
    reclaimed += leaks?.SpaceReclaimed ?? 0;
    if (leaks?.Removed?.length) {
      out += "Removed leaks:\n";
      for (const l of leaks.Removed) out += `${l.Kind}\t${l.Path ?? l.Id ?? ""}\t${l.Detail}\n`;
      out += "\n";
    }
    cli.io.out(`${out}Total reclaimed space: ${humanSize(reclaimed)}\n`);
  },
};

function boolMap(f: Record<string, string[]>): Record<string, Record<string, boolean>> {
  const o: Record<string, Record<string, boolean>> = {};
  for (const [k, vs] of Object.entries(f)) o[k] = Object.fromEntries(vs.map((v) => [v, true]));
  return o;
}
