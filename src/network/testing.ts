/**
 * Test support for the network layer's kernel tests: unique names per run, a
 * free 10.x/16 to carve subnets from, commands in namespaces, and a teardown
 * that removes everything the run made (namespaces, links with the run's
 * prefix, rules naming it, processes by pid, the state directory), also after
 * a failure. Shared CNI/pier chains and nftables tables are removed only if
 * they did not exist when the run began and are empty at its end.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TOOL_PATH } from "./exec.ts";
import { overlaps, parseCidr } from "./ipv4.ts";
import { parseSave } from "./iptables.ts";

const env = { ...process.env, PATH: TOOL_PATH };

/** Runs a command; throws with its stderr on failure. */
export function sh(cmd: string, ...args: string[]): string {
  return execFileSync(cmd, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Runs a command without blocking the event loop (needed when the command talks to a
 * server in this process, such as the DNS server); rejects with its output on failure.
 */
export function shAsync(cmd: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, encoding: "utf8", timeout: 10_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(" ")}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Runs a command; resolves with its status and output, whatever the status. */
export function shStatus(cmd: string, ...args: string[]): { code: number; out: string } {
  const r = spawnSync(cmd, args, { env, encoding: "utf8" });
  return { code: r.status ?? 1, out: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

const SHARED_CHAINS = ["CNI-HOSTPORT-DNAT", "CNI-HOSTPORT-SETMARK", "CNI-HOSTPORT-MASQ", "PIER-FORWARD"];

export class NetTestRun {
  readonly rand = randomBytes(3).toString("hex");
  /** Bridge prefix: "pt" + 6 hex (8 characters, the maximum). */
  readonly prefix = `pt${this.rand}`;
  readonly stateDir = mkdtempSync(join(tmpdir(), `pier-net-${this.rand}-`));
  /** A 10.x.0.0/16 that overlaps no route of the host. */
  readonly block: string;
  private readonly netns: string[] = [];
  private readonly procs: ChildProcess[] = [];
  private readonly chainsBefore: Set<string>;
  private readonly nftTablesBefore: Set<string>;

  constructor() {
    this.block = pickFreeBlock();
    this.chainsBefore = new Set(allChains());
    this.nftTablesBefore = new Set(nftTables());
  }

  /** "10.x.<third>.0/24" inside the run's block. */
  subnet(third: number): string {
    return this.block.replace(/\.0\.0\/16$/, `.${third}.0/24`);
  }

  addr(third: number, last: number): string {
    return this.block.replace(/\.0\.0\/16$/, `.${third}.${last}`);
  }

  /** Creates a namespace with a unique name; returns [name, path]. */
  netnsAdd(tag: string): [string, string] {
    const name = `pier-t-${this.rand}-${tag}`;
    sh("ip", "netns", "add", name);
    this.netns.push(name);
    return [name, `/run/netns/${name}`];
  }

  netnsDel(name: string): void {
    shStatus("ip", "netns", "delete", name);
  }

  /** Starts a long-running command inside a namespace (killed by pid at teardown). */
  spawnIn(ns: string, ...args: string[]): ChildProcess {
    const p = spawn("ip", ["netns", "exec", ns, ...args], { env, stdio: "ignore" });
    this.procs.push(p);
    return p;
  }

  /** Everything the run made, gone. Never throws. */
  teardown(): void {
    for (const p of this.procs) {
      if (p.pid !== undefined && p.exitCode === null) {
        try {
          process.kill(p.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
    }
    for (const ns of this.netns) shStatus("ip", "netns", "delete", ns);
    for (const link of runLinks(this.prefix)) shStatus("ip", "link", "del", "dev", link);
    removeRunRules(this.prefix, this.block);
    removeSharedIfUnused(this.chainsBefore);
    removeNftTablesIfEmpty(this.nftTablesBefore);
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}

/** The run's links: its bridges and veths named with the prefix, and veths enslaved to them. */
export function runLinks(prefix: string): string[] {
  const links = JSON.parse(sh("ip", "-j", "link", "show")) as { ifname: string; master?: string }[];
  const mine = links.filter((l) => l.ifname.startsWith(prefix)).map((l) => l.ifname);
  const enslaved = links
    .filter((l) => l.master?.startsWith(prefix) && !mine.includes(l.ifname))
    .map((l) => l.ifname);
  return [...enslaved, ...mine];
}

function allChains(): string[] {
  const rs = parseSave(sh("iptables-save"));
  return [...rs.chains].flatMap(([t, cs]) => cs.map((c) => `${t} ${c}`));
}

/** Rules whose text names the run (its prefix in a comment or interface, or its block's addresses). */
export function runRules(prefix: string, block: string): string[] {
  const net = block.replace(/\.0\.0\/16$/, ".");
  return sh("iptables-save")
    .split("\n")
    .filter(
      (l) => l.startsWith("-A ") && (l.includes(prefix) || l.includes(` ${net}`) || l.includes(`:${net}`)),
    );
}

function removeRunRules(prefix: string, block: string): void {
  const rs = parseSave(sh("iptables-save"));
  const lines = new Set(runRules(prefix, block));
  const doomed = rs.rules.filter((r) => lines.has(r.line));
  const chains = new Set(
    doomed.flatMap((r) =>
      r.target?.startsWith("CNI-") && !SHARED_CHAINS.includes(r.target) ? [r.target] : [],
    ),
  );
  let input = "";
  for (const table of rs.chains.keys()) {
    const ls = doomed.filter((r) => r.table === table).map((r) => r.line.replace(/^-A /, "-D "));
    for (const c of chains) if (rs.chains.get(table)?.includes(c)) ls.push(`-F ${c}`, `-X ${c}`);
    if (ls.length > 0) input += `*${table}\n${ls.join("\n")}\nCOMMIT\n`;
  }
  if (input !== "") spawnSync("iptables-restore", ["-w", "5", "--noflush"], { input, env });
}

/** Shared chains this run brought into being, deleted with their jumps only if empty (atomic; fails otherwise). */
function removeSharedIfUnused(before: Set<string>): void {
  const rs = parseSave(sh("iptables-save"));
  for (const [table, chains] of rs.chains) {
    const ours = SHARED_CHAINS.filter((c) => chains.includes(c) && !before.has(`${table} ${c}`));
    if (ours.length === 0) continue;
    // CNI-HOSTPORT-SETMARK/MASQ hold one fixed rule each; they go only if DNAT is empty.
    const dnatBusy = rs.rules.some((r) => r.table === table && r.chain === "CNI-HOSTPORT-DNAT");
    const lines: string[] = [];
    for (const c of ours) {
      if (c.startsWith("CNI-HOSTPORT-") && dnatBusy) continue;
      for (const r of rs.rules)
        if (r.table === table && r.target === c) lines.push(r.line.replace(/^-A /, "-D "));
      if (c === "CNI-HOSTPORT-SETMARK" || c === "CNI-HOSTPORT-MASQ") lines.push(`-F ${c}`);
      lines.push(`-X ${c}`);
    }
    if (lines.length > 0)
      spawnSync("iptables-restore", ["-w", "5", "--noflush"], {
        input: `*${table}\n${lines.join("\n")}\nCOMMIT\n`,
        env,
      });
  }
}

function nftTables(): string[] {
  const r = shStatus("nft", "list", "tables");
  return r.out
    .split("\n")
    .filter((l) => l.startsWith("table "))
    .map((l) => l.slice("table ".length).trim());
}

/**
 * nftables tables this run's iptables calls created (iptables-nft makes "ip nat",
 * "ip filter", "ip6 nat"…), deleted if they hold no rule and only base chains. Their base
 * chains are deleted first in the same transaction, which the kernel refuses if one is
 * not empty, so a rule added meanwhile makes the whole deletion fail instead of vanishing.
 */
function removeNftTablesIfEmpty(before: Set<string>): void {
  for (const t of nftTables()) {
    if (before.has(t)) continue;
    const r = shStatus("nft", "-j", "list", "table", ...t.split(" "));
    if (r.code !== 0) continue;
    const items = (JSON.parse(r.out) as { nftables: Record<string, { name?: string; hook?: string }>[] })
      .nftables;
    if (items.some((i) => "rule" in i || "set" in i || "map" in i)) continue;
    const chains = items.flatMap((i) => (i.chain ? [i.chain] : []));
    if (chains.some((c) => c.hook === undefined)) continue;
    const script = [...chains.map((c) => `delete chain ${t} ${c.name}`), `delete table ${t}`].join("\n");
    spawnSync("nft", ["-f", "-"], { input: script + "\n", env });
  }
}

function pickFreeBlock(): string {
  const routes = (JSON.parse(sh("ip", "-j", "-4", "route", "show", "table", "all")) as { dst: string }[])
    .map((r) => r.dst)
    .filter((d) => d !== "default" && /^\d/.test(d))
    .map((d) => parseCidr(d.includes("/") ? d : `${d}/32`, "route", false));
  const addrs = JSON.parse(sh("ip", "-j", "-4", "addr", "show")) as {
    addr_info: { local: string; prefixlen: number }[];
  }[];
  const used = [
    ...routes,
    ...addrs.flatMap((a) => a.addr_info.map((i) => parseCidr(`${i.local}/${i.prefixlen}`, "address", false))),
  ];
  for (let attempt = 0; attempt < 200; attempt++) {
    const second = 64 + (randomBytes(1)[0]! % 180);
    const block = parseCidr(`10.${second}.0.0/16`);
    if (!used.some((u) => overlaps(u, block))) return `10.${second}.0.0/16`;
  }
  throw new Error("no free 10.x.0.0/16 for the test");
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
