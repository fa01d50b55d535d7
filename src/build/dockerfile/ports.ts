/**
 * EXPOSE port specifications → the image config's `port/proto` keys:
 * `80`, `80/udp`, `8000-8002/tcp` (a range gives one key per port); the
 * legacy `[ip:][hostPort:]containerPort` forms are accepted as Docker does,
 * only the container port counts. Protocols: tcp (default), udp, sctp.
 *
 * Usage:
 *   parsePorts(["80", "53/UDP", "8000-8001"])  // ["80/tcp", "53/udp", "8000/tcp", "8001/tcp"]
 */
import { invalid } from "./errors.ts";

export function parsePorts(specs: readonly string[]): string[] {
  return specs.flatMap(parsePort);
}

function parsePort(raw: string): string[] {
  const parts = raw.split(":");
  const container = parts[parts.length - 1] as string;
  const host = parts.length >= 2 ? (parts[parts.length - 2] as string) : "";
  const slash = container.indexOf("/");
  const port = slash < 0 ? container : container.slice(0, slash);
  const proto = slash < 0 ? "tcp" : container.slice(slash + 1).toLowerCase();
  if (port === "")
    throw invalid(
      `invalid port: ${JSON.stringify(raw)}: no port specified`,
      "write it as EXPOSE 80 or 80/udp",
    );
  if (proto !== "tcp" && proto !== "udp" && proto !== "sctp") {
    throw invalid(
      `invalid port: ${JSON.stringify(raw)}: invalid proto: ${proto}`,
      "protocols are tcp, udp and sctp",
    );
  }
  const [start, end] = range(port, "containerPort");
  if (host !== "") {
    const [hs, he] = range(host, "hostPort");
    if (end - start !== he - hs && end !== start) {
      throw invalid(`invalid ranges specified for container and host Ports: ${port} and ${host}`);
    }
  }
  const out: string[] = [];
  for (let p = start; p <= end; p++) out.push(`${p}/${proto}`);
  return out;
}

function range(s: string, what: string): [number, number] {
  const dash = s.indexOf("-");
  const a = dash < 0 ? s : s.slice(0, dash);
  const b = dash < 0 ? a : s.slice(dash + 1);
  const start = number(a, what);
  const end = number(b, what);
  if (end < start) throw invalid(`invalid port range: ${s}`);
  return [start, end];
}

function number(s: string, what: string): number {
  if (!/^\d+$/.test(s) || Number(s) > 65535) {
    throw invalid(`invalid ${what}: ${s}`, "ports are numbers from 0 to 65535, or ranges like 8000-8010");
  }
  return Number(s);
}
