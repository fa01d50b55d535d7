/**
 * pier's own filter rules, in one chain PIER-FORWARD jumped to from the top of
 * FORWARD. Per bridge network B (rules tagged with the comment `pier:<cniName>`):
 *
 *   -i B -o B            ACCEPT   containers on one network talk to each other
 *   -i B -o <prefix>+    DROP     …but not to other pier networks (docker's isolation)
 *   -o B ctstate RELATED,ESTABLISHED ACCEPT
 *   -o B ctstate DNAT    ACCEPT   published ports
 *   -i B                 ACCEPT   out to the world (masqueraded by the bridge plugin)
 *
 * and for an internal network only the first rule, then DROP for anything else
 * in or out of B. The ACCEPTs matter on hosts whose FORWARD policy is DROP (a
 * host with docker installed, for one).
 */
import { iptables, removeRulesAndChains, restore, save, type Ruleset } from "./iptables.ts";

export const FORWARD_CHAIN = "PIER-FORWARD";

export function commentFor(cniName: string): string {
  return `pier:${cniName}`;
}

/** The rules of one network as iptables-restore lines. */
export function networkRuleLines(o: {
  bridge: string;
  cniName: string;
  internal: boolean;
  bridgePrefix: string;
}): string[] {
  const c = `-m comment --comment "${commentFor(o.cniName)}"`;
  const B = o.bridge;
  const A = `-A ${FORWARD_CHAIN}`;
  if (o.internal) {
    return [`${A} -i ${B} -o ${B} ${c} -j ACCEPT`, `${A} -i ${B} ${c} -j DROP`, `${A} -o ${B} ${c} -j DROP`];
  }
  return [
    `${A} -i ${B} -o ${B} ${c} -j ACCEPT`,
    `${A} -i ${B} -o ${o.bridgePrefix}+ ${c} -j DROP`,
    `${A} -o ${B} -m conntrack --ctstate RELATED,ESTABLISHED ${c} -j ACCEPT`,
    `${A} -o ${B} -m conntrack --ctstate DNAT ${c} -j ACCEPT`,
    `${A} -i ${B} ${c} -j ACCEPT`,
  ];
}

async function ensureChain(): Promise<void> {
  const made = await iptables(["-t", "filter", "-N", FORWARD_CHAIN]);
  if (made.code !== 0 && !/exists/i.test(made.stderr)) {
    throw new Error(`iptables -N ${FORWARD_CHAIN}: ${made.stderr.trim()}`);
  }
  const jump = await iptables(["-t", "filter", "-C", "FORWARD", "-j", FORWARD_CHAIN]);
  if (jump.code !== 0) {
    const ins = await iptables(["-t", "filter", "-I", "FORWARD", "1", "-j", FORWARD_CHAIN]);
    if (ins.code !== 0) throw new Error(`iptables -I FORWARD 1 -j ${FORWARD_CHAIN}: ${ins.stderr.trim()}`);
  }
}

function hasRules(rs: Ruleset, cniName: string): boolean {
  const c = commentFor(cniName);
  return rs.rules.some((r) => r.table === "filter" && r.chain === FORWARD_CHAIN && r.comment === c);
}

/** Installs the network's rules unless they are there (all are added in one transaction). */
export async function ensureNetworkRules(o: {
  bridge: string;
  cniName: string;
  internal: boolean;
  bridgePrefix: string;
}): Promise<void> {
  let lastErr: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      await ensureChain();
      if (hasRules(await save(), o.cniName)) return;
      await restore(new Map([["filter", networkRuleLines(o)]]));
      return;
    } catch (err) {
      // The chain may have been removed by another process between ensure and restore.
      lastErr = err;
    }
  }
  throw lastErr;
}

/** Removes the network's rules, then the chain and its jump if no network uses them any more. */
export async function removeNetworkRules(cniName: string): Promise<void> {
  const c = commentFor(cniName);
  await removeRulesAndChains((rs) => ({
    rules: rs.rules.filter((r) => r.table === "filter" && r.chain === FORWARD_CHAIN && r.comment === c),
    chains: [],
  }));
  await removeChainIfEmpty();
}

/** Deletes PIER-FORWARD and its jump in one transaction, only when it has no rules. */
export async function removeChainIfEmpty(): Promise<void> {
  const rs = await save();
  if (!rs.chains.get("filter")?.includes(FORWARD_CHAIN)) return;
  if (rs.rules.some((r) => r.table === "filter" && r.chain === FORWARD_CHAIN)) return;
  try {
    await removeRulesAndChains((now) =>
      now.rules.some((r) => r.table === "filter" && r.chain === FORWARD_CHAIN) ||
      !now.chains.get("filter")?.includes(FORWARD_CHAIN)
        ? { rules: [], chains: [] }
        : { rules: [], chains: [{ table: "filter", chain: FORWARD_CHAIN, flush: false }] },
    );
  } catch {
    // Another network was created meanwhile: the chain stays, which is right.
  }
}
