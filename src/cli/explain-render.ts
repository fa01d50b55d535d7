/**
 * `pier explain`'s picture of a container, in the terms of how containers work: a
 * container is one process on the host (host PID n, PID 1 inside), shown a limited view
 * of the machine by namespaces (each with its inode, its own or shared), held to limits
 * by its cgroup, and given a root filesystem that is a stack of layers (read-only image
 * layers, the init layer with /etc/hosts & co, the writable copy-on-write layer on top),
 * plus volumes bind-mounted into its mount namespace and ports published on the host.
 *
 * Pure: `renderExplain(e, { color })` returns the text; colour only when asked (the
 * command asks when stdout is a terminal).
 */
import type { ContainerExplain, ExplainLayer } from "../api/client/index.ts";
import { bytesSize, ellipsis, humanSize, shortId } from "./units.ts";

export interface RenderOptions {
  color: boolean;
  /** Total width to draw in (the terminal's columns, at most 100). */
  width?: number;
}

type Paint = (s: string) => string;

function palette(on: boolean) {
  const c =
    (code: string): Paint =>
    (s) =>
      on ? `\x1b[${code}m${s}\x1b[0m` : s;
  return {
    bold: c("1"),
    dim: c("2"),
    green: c("32"),
    yellow: c("33"),
    blue: c("34"),
    magenta: c("35"),
    cyan: c("36"),
    red: c("31"),
  };
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;
const visible = (s: string) => [...s.replace(ANSI, "")].length;
const pad = (s: string, n: number) => s + " ".repeat(Math.max(0, n - visible(s)));

/** What each namespace hides or gives, for the line beside it. */
const NS_MEANING: Record<string, string> = {
  pid: "process tree",
  mnt: "mount table (the rootfs below)",
  net: "network stack",
  uts: "hostname",
  ipc: "SysV IPC and message queues",
  user: "user and group ids",
  cgroup: "view of /sys/fs/cgroup",
  time: "boot and monotonic clocks",
};

const NS_ORDER = ["pid", "mnt", "net", "uts", "ipc", "user", "cgroup", "time"];

function bar(used: number, limit: number, width: number, p: ReturnType<typeof palette>): string {
  const ratio = limit > 0 ? Math.min(1, Math.max(0, used / limit)) : 0;
  const full = Math.round(ratio * width);
  const paint = ratio >= 0.9 ? p.red : ratio >= 0.7 ? p.yellow : p.green;
  return paint("█".repeat(full)) + p.dim("░".repeat(width - full));
}

const pct = (used: number, limit: number) => `${((used / limit) * 100).toFixed(1)}%`;

function cpuText(l: ContainerExplain["Cgroup"]["Limits"]): string | undefined {
  if (l.Cpus !== undefined && l.Cpus > 0) {
    const q = l.CpuQuota && l.CpuPeriod ? ` (${l.CpuQuota}µs of every ${l.CpuPeriod}µs)` : "";
    return `${Number(l.Cpus.toFixed(3))} CPU${l.Cpus === 1 ? "" : "s"}${q}`;
  }
  if (l.CpuQuota && l.CpuQuota > 0 && l.CpuPeriod) {
    const cpus = l.CpuQuota / l.CpuPeriod;
    return `${Number(cpus.toFixed(3))} CPU${cpus === 1 ? "" : "s"} (${l.CpuQuota}µs of every ${l.CpuPeriod}µs)`;
  }
  return undefined;
}

function layerLabel(l: ExplainLayer): string {
  if (l.Kind === "container") return "writable layer";
  if (l.Kind === "init") return "init layer";
  return "image layer";
}

function layerNote(l: ExplainLayer): string {
  if (l.Kind === "container") return "copy-on-write: every change lands here; `pier commit` keeps it";
  if (l.Kind === "init") return "/etc/hosts, /etc/resolv.conf, /etc/hostname: never committed";
  return l.CreatedBy ? l.CreatedBy.replace(/^\/bin\/sh -c (#\(nop\) )?/, "").trim() : "";
}

export function renderExplain(e: ContainerExplain, opts: RenderOptions): string {
  const p = palette(opts.color);
  const width = Math.max(60, Math.min(opts.width ?? 80, 100));
  const lines: string[] = [];
  const out = (s = "") => lines.push(s);
  const heading = (title: string, note: string) => out(`${p.bold(title)}  ${p.dim(note)}`);

  // ---- who ------------------------------------------------------------------------------
  out(`${p.bold(e.Name || shortId(e.Id))} ${p.dim(`(${shortId(e.Id)})`)}  from image ${p.cyan(e.Image)}`);
  out(p.dim("one process: namespaces choose what it sees, its cgroup what it may use"));
  out();

  // ---- the process ------------------------------------------------------------------------
  heading("PROCESS", "the container is this process");
  const cmd = e.Process.Command.map((a) => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(" ");
  if (e.Process.HostPid > 0) {
    out(
      `  host PID ${p.bold(String(e.Process.HostPid))}  ${p.dim("═══▶")}  PID ${p.bold("1")} inside the container`,
    );
  } else {
    out(`  ${p.yellow("not running")}  ${p.dim("(no host PID; it is PID 1 inside when it runs)")}`);
  }
  if (cmd) out(`  ${ellipsis(cmd, width - 2)}`);
  out();

  // ---- namespaces ---------------------------------------------------------------------------
  heading(
    "NAMESPACES",
    e.Process.HostPid > 0 ? `what it can see: /proc/${e.Process.HostPid}/ns/*` : "what it can see",
  );
  const nss = [...e.Namespaces].sort(
    (a, b) => ((NS_ORDER.indexOf(a.Type) + 99) % 99) - ((NS_ORDER.indexOf(b.Type) + 99) % 99),
  );
  for (const ns of nss) {
    const shared =
      ns.Shared === "private"
        ? p.green("private")
        : ns.Shared === "host"
          ? p.yellow("host")
          : p.cyan(ns.Shared);
    const meaning = NS_MEANING[ns.Type] ?? "";
    const how =
      ns.Shared === "private"
        ? `its own ${meaning}`
        : ns.Shared === "host"
          ? `the host's ${meaning.replace(/ \(.*\)$/, "")}`
          : `${ns.Shared.replace(/^container:/, "")}'s ${meaning.replace(/ \(.*\)$/, "")}`;
    out(
      `  ${pad(ns.Type, 7)} ${pad(ns.Inode ? String(ns.Inode) : "-", 11)} ${pad(shared, 14)} ${p.dim(ellipsis(how, width - 38))}`,
    );
  }
  if (nss.length === 0) out(`  ${p.dim("(none known: the container is not running)")}`);
  out();

  // ---- cgroup ---------------------------------------------------------------------------------
  const cg = e.Cgroup;
  heading("CGROUP", "what it may use");
  out(`  ${p.dim(ellipsis(cg.Path, width - 2))}`);
  const L = cg.Limits;
  const U = cg.Usage;
  const rows: [string, string][] = [];
  if (L.Memory && L.Memory > 0) {
    const used = U.Memory ?? 0;
    rows.push([
      "memory",
      `${pad(`${bytesSize(used)} of ${bytesSize(L.Memory)}`, 22)} ${bar(used, L.Memory, 20, p)} ${pct(used, L.Memory)}`,
    ]);
  } else {
    rows.push([
      "memory",
      `${U.Memory !== undefined ? `${bytesSize(U.Memory)} used, ` : ""}${p.dim("no limit")}`,
    ]);
  }
  if (L.MemorySwap !== undefined && L.MemorySwap !== 0) {
    rows.push(["swap", L.MemorySwap < 0 ? "unlimited" : `memory + swap ≤ ${bytesSize(L.MemorySwap)}`]);
  }
  const cpu = cpuText(L);
  const cpuUsed = U.CpuSeconds !== undefined ? `  used ${U.CpuSeconds.toFixed(2)}s of CPU time` : "";
  rows.push(["cpu", `${cpu ?? p.dim("no limit")}${p.dim(cpuUsed)}`]);
  if (L.CpuShares) rows.push(["shares", `${L.CpuShares} ${p.dim("(relative weight; 1024 is the default)")}`]);
  if (L.CpusetCpus) rows.push(["cpuset", `CPUs ${L.CpusetCpus}`]);
  if (L.PidsMax && L.PidsMax > 0) {
    const used = U.Pids ?? 0;
    rows.push([
      "pids",
      `${pad(`${used} of ${L.PidsMax}`, 22)} ${bar(used, L.PidsMax, 20, p)} ${pct(used, L.PidsMax)}`,
    ]);
  } else {
    rows.push(["pids", `${U.Pids !== undefined ? `${U.Pids} running, ` : ""}${p.dim("no limit")}`]);
  }
  for (const [k, v] of rows) out(`  ${pad(k, 8)} ${v}`);
  out();

  // ---- the rootfs: a stack of layers -------------------------------------------------------------
  heading("ROOTFS", "one overlay mount: the layers, top to bottom");
  const inner = width - 4;
  const top = [...e.Layers].reverse();
  const border = (l: string, m: string, r: string) => `  ${l}${m.repeat(inner)}${r}`;
  out(p.dim(border("┌", "─", "┐")));
  top.forEach((layer, i) => {
    const rw = layer.Kind === "container";
    const mode = rw ? p.magenta("read-write") : p.dim("read-only ");
    const label = rw
      ? p.bold(p.magenta(layerLabel(layer)))
      : layer.Kind === "init"
        ? p.blue(layerLabel(layer))
        : layerLabel(layer);
    const id = layer.Id ? p.dim(shortId(layer.Id)) : "";
    const head = `${pad(label, 15)} ${mode}  ${pad(humanSize(layer.Size), 8)} ${id}`;
    out(`  ${p.dim("│")} ${pad(head, inner - 2)} ${p.dim("│")}`);
    const note = layerNote(layer);
    if (note) out(`  ${p.dim("│")}   ${pad(ellipsis(note, inner - 4), inner - 4)} ${p.dim("│")}`);
    out(`  ${p.dim("│")}   ${pad(p.dim(ellipsis(layer.Path, inner - 4)), inner - 4)} ${p.dim("│")}`);
    out(p.dim(i === top.length - 1 ? border("└", "─", "┘") : border("├", "─", "┤")));
  });
  if (top.length === 0) {
    out(`  ${p.dim("│")} ${pad(p.dim("(no layers known)"), inner - 2)} ${p.dim("│")}`);
    out(p.dim(border("└", "─", "┘")));
  }
  const ro = e.Layers.filter((l) => l.Kind === "image");
  const roSize = ro.reduce((n, l) => n + l.Size, 0);
  out(`  ${p.dim("merged by overlayfs into the container's /  (upper: writable, lower: the rest)")}`);
  out(
    `  ${p.dim(`${ro.length} image layer${ro.length === 1 ? "" : "s"} (${humanSize(roSize)}), shared by every container of the image`)}`,
  );
  out();

  // ---- volumes -------------------------------------------------------------------------------------
  heading("VOLUMES", "host directories bind-mounted into its mount namespace");
  if (e.Mounts.length === 0) out(`  ${p.dim("none")}`);
  for (const m of e.Mounts) {
    const src = m.Name ? `${p.cyan(m.Name)} ${p.dim(m.Source)}` : m.Source;
    const flags = `${m.Type}, ${m.RW ? "rw" : p.yellow("ro")}`;
    out(`  ${src}  ${p.dim("──▶")}  ${p.bold(m.Destination)}  ${p.dim(`(${flags})`)}`);
  }
  out();

  // ---- ports and network ---------------------------------------------------------------------------
  heading("NETWORK", `mode ${e.Network.Mode}`);
  const net: string[] = [];
  if (e.Network.IPAddress) net.push(`address ${e.Network.IPAddress}`);
  if (e.Network.Gateway) net.push(`gateway ${e.Network.Gateway}`);
  if (e.Network.Networks.length > 0) net.push(`networks ${e.Network.Networks.join(", ")}`);
  if (net.length > 0) out(`  ${net.join("   ")}`);
  if (e.Ports.length === 0) out(`  ${p.dim("no published ports")}`);
  for (const port of e.Ports) {
    const host = port.HostIp.includes(":") ? `[${port.HostIp}]` : port.HostIp || "0.0.0.0";
    out(`  ${host}:${p.bold(port.HostPort)}  ${p.dim("──▶")}  ${port.ContainerPort}/${port.Protocol}`);
  }
  out();

  // ---- /proc ---------------------------------------------------------------------------------------
  heading("/proc", "does /proc know the cgroup's limits?");
  out(
    e.Lxcfs
      ? `  ${p.green("yes")}  lxcfs serves /proc/meminfo, cpuinfo, stat, uptime from the cgroup`
      : `  ${p.yellow("no")}   /proc shows the host's memory and CPUs (started with --no-lxcfs)`,
  );
  // Nothing wider than asked for (long paths and commands were cut above; this is the guard).
  return lines.map((l) => (visible(l) > width ? ellipsis(l.replace(ANSI, ""), width) : l)).join("\n") + "\n";
}
