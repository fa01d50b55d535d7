/**
 * iptables as pier uses it: read everything with `iptables-save`, change it
 * with `iptables-restore --noflush` (one atomic transaction per call, rules
 * given exactly as iptables-save printed them, so no re-quoting), and find
 * the rules the CNI plugins made for an endpoint by their comments.
 *
 * The plugins call whatever `iptables` is on PATH (here iptables-nft); so does
 * pier, so both always see the same tables.
 *
 * Comments the plugins write (containernetworking-plugins 1.1):
 *   bridge ipMasq   `name: "<net>" id: "<container>"` on a POSTROUTING jump and on
 *                   every rule of its chain CNI-<sha512(net+id)[:24]>
 *   portmap         `dnat name: "<net>" id: "<container>"` on the CNI-HOSTPORT-DNAT jump
 *                   to its chain CNI-DN-<sha512(net+id)[:21]> (whose rules have no comment)
 */
import { createHash } from "node:crypto";
import { PierError } from "../common/errors.ts";
import { run, runRaw } from "./exec.ts";

export interface Rule {
  table: string;
  chain: string;
  /** The rule as iptables-save prints it: "-A CHAIN …". */
  line: string;
  comment?: string;
  /** The -j/-g target. */
  target?: string;
}

export interface Ruleset {
  /** table → its chains (built-in and user-defined), in save order. */
  chains: Map<string, string[]>;
  rules: Rule[];
}

export function parseSave(text: string): Ruleset {
  const chains = new Map<string, string[]>();
  const rules: Rule[] = [];
  let table = "";
  for (const raw of text.split("\n")) {
    const line = raw.trimEnd();
    if (line.startsWith("*")) {
      table = line.slice(1);
      if (!chains.has(table)) chains.set(table, []);
    } else if (line.startsWith(":")) {
      chains.get(table)?.push(line.slice(1).split(" ")[0] ?? "");
    } else if (line.startsWith("-A ")) {
      const chain = line.split(" ")[1] ?? "";
      const r: Rule = { table, chain, line };
      const comment = commentOf(line);
      if (comment !== undefined) r.comment = comment;
      const target = /\s-[jg] (\S+)/.exec(line)?.[1];
      if (target !== undefined) r.target = target;
      rules.push(r);
    }
  }
  return { chains, rules };
}

/** The text of a rule's `--comment`, with iptables-save's quoting undone. */
export function commentOf(line: string): string | undefined {
  const m = /--comment (?:"((?:[^"\\]|\\.)*)"|(\S+))/.exec(line);
  if (!m) return undefined;
  return m[1] !== undefined ? m[1].replace(/\\(.)/g, "$1") : m[2];
}

/** The (network, container) a CNI plugin's comment names. */
export function cniOwnerOf(comment: string | undefined): { net: string; containerId: string } | undefined {
  const m = comment && /^(?:dnat |snat )?name: "([^"]*)" id: "([^"]*)"$/.exec(comment);
  return m ? { net: m[1]!, containerId: m[2]! } : undefined;
}

function hashOf(net: string, containerId: string): string {
  return createHash("sha512")
    .update(net + containerId)
    .digest("hex");
}

/** The per-endpoint chains the bridge (masquerade) and portmap (DNAT) plugins create. */
export function cniChainsOf(net: string, containerId: string): { masq: string; dnat: string } {
  const h = hashOf(net, containerId);
  return { masq: `CNI-${h}`.slice(0, 28), dnat: `CNI-DN-${h}`.slice(0, 28) };
}

export async function save(): Promise<Ruleset> {
  return parseSave(await run("iptables-save", []));
}

/** One atomic change: `lines` per table ("-D …", "-A …", "-F X", "-X X"). */
export async function restore(ops: Map<string, string[]>): Promise<void> {
  let input = "";
  for (const [table, lines] of ops) {
    if (lines.length === 0) continue;
    input += `*${table}\n${lines.join("\n")}\nCOMMIT\n`;
  }
  if (input === "") return;
  const r = await runRaw("iptables-restore", ["-w", "5", "--noflush"], { input });
  if (r.code !== 0) {
    throw new PierError("Internal", `iptables-restore: ${r.stderr.trim().split("\n").slice(-2).join("; ")}`);
  }
}

/** Runs iptables with the xtables lock; resolves with the exit status (for -C, -N). */
export async function iptables(args: string[]): Promise<{ code: number; stderr: string }> {
  const r = await runRaw("iptables", ["-w", "5", ...args]);
  return { code: r.code, stderr: r.stderr };
}

export interface ChainRef {
  table: string;
  chain: string;
  /** Flush before deleting (default true); false deletes only an empty chain. */
  flush?: boolean;
}

/**
 * Removes `rules`, then flushes and deletes `chains`, in one transaction per
 * attempt. Someone else may change the tables between our save and restore, so
 * a failed attempt is retried from a fresh save with what is still there.
 */
export async function removeRulesAndChains(
  pick: (rs: Ruleset) => { rules: Rule[]; chains: ChainRef[] },
): Promise<number> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const rs = await save();
    const { rules, chains } = pick(rs);
    if (rules.length === 0 && chains.length === 0) return 0;
    const ops = new Map<string, string[]>();
    const add = (t: string, l: string): void => {
      const list = ops.get(t) ?? [];
      list.push(l);
      ops.set(t, list);
    };
    for (const r of rules) add(r.table, r.line.replace(/^-A /, "-D "));
    for (const c of chains) {
      // Rules still jumping to a chain we delete would make -X fail: remove them too.
      for (const r of rs.rules) {
        if (r.table === c.table && r.target === c.chain && !rules.includes(r))
          add(r.table, r.line.replace(/^-A /, "-D "));
      }
      // Without flush, -X fails (and with it the transaction) if someone added a rule since our save.
      if (c.flush !== false) add(c.table, `-F ${c.chain}`);
      add(c.table, `-X ${c.chain}`);
    }
    try {
      await restore(ops);
      return rules.length + chains.length;
    } catch (err) {
      lastErr = err;
    }
  }
  throw lastErr;
}

/** True when `chain` exists in `table`. */
export function hasChain(rs: Ruleset, table: string, chain: string): boolean {
  return rs.chains.get(table)?.includes(chain) ?? false;
}
