/**
 * The three files of the init layer that differ per container: /etc/hosts,
 * /etc/hostname and /etc/resolv.conf. They live in the container's directory and are
 * bind-mounted over the init layer's placeholders, so edits inside stay out of commits.
 */
import { readFileSync } from "node:fs";
import { PierError } from "../../common/errors.ts";

export function hostsFile(o: {
  hostname: string;
  ip?: string;
  extraHosts?: string[];
  gateway?: string;
}): string {
  const lines = [
    "127.0.0.1\tlocalhost",
    "::1\tlocalhost ip6-localhost ip6-loopback",
    "fe00::0\tip6-localnet",
    "ff00::0\tip6-mcastprefix",
    "ff02::1\tip6-allnodes",
    "ff02::2\tip6-allrouters",
  ];
  for (const e of o.extraHosts ?? []) {
    const i = e.indexOf(":");
    if (i <= 0)
      throw new PierError(
        "InvalidArgument",
        `invalid argument "${e}" for "--add-host" flag: bad format for add-host: "${e}"`,
      );
    const name = e.slice(0, i);
    let ip = e.slice(i + 1);
    if (ip === "host-gateway") {
      if (!o.gateway) throw new PierError("InvalidArgument", `--add-host ${e}: this network has no gateway`);
      ip = o.gateway;
    }
    lines.push(`${ip}\t${name}`);
  }
  if (o.ip) lines.push(`${o.ip}\t${o.hostname}`);
  return lines.join("\n") + "\n";
}

/** The host's resolv.conf, without loopback resolvers (unreachable from another netns). */
export function hostResolvConf(path = "/etc/resolv.conf", keepLoopback = false): string {
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return "";
  }
  const out = text
    .split("\n")
    .filter((l) => keepLoopback || !/^\s*nameserver\s+(127\.|::1\b)/.test(l))
    .join("\n");
  return out.endsWith("\n") ? out : out + "\n";
}

export function resolvConf(o: {
  base: string;
  dns?: string[];
  search?: string[];
  options?: string[];
}): string {
  if (!o.dns?.length && !o.search?.length && !o.options?.length) return o.base;
  const keep = o.base.split("\n").filter((l) => {
    if (o.dns?.length && /^\s*nameserver\s/.test(l)) return false;
    if (o.search?.length && /^\s*(search|domain)\s/.test(l)) return false;
    if (o.options?.length && /^\s*options\s/.test(l)) return false;
    return l.trim() !== "";
  });
  for (const d of o.dns ?? []) keep.push(`nameserver ${d}`);
  if (o.search?.length) keep.push(`search ${o.search.join(" ")}`);
  if (o.options?.length) keep.push(`options ${o.options.join(" ")}`);
  return keep.join("\n") + "\n";
}
