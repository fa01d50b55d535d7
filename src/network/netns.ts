/**
 * Named network namespaces (`ip netns`, bind-mounted at /run/netns/NAME): a
 * namespace that exists before the container's process and outlives it, so
 * networking is set up before start and torn down after exit (podman's way).
 */
import { existsSync } from "node:fs";
import { invalid } from "../common/errors.ts";
import { run, runRaw } from "./exec.ts";

const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

export function netnsPath(name: string): string {
  return `/run/netns/${name}`;
}

/** Creates /run/netns/NAME and returns its path. */
export async function createNetns(name: string): Promise<string> {
  if (!NAME.test(name)) throw invalid(`invalid network namespace name ${JSON.stringify(name)}`);
  await run("ip", ["netns", "add", name]);
  return netnsPath(name);
}

/** Deletes /run/netns/NAME; one that is gone already is fine. */
export async function deleteNetns(name: string): Promise<void> {
  if (!NAME.test(name)) throw invalid(`invalid network namespace name ${JSON.stringify(name)}`);
  const r = await runRaw("ip", ["netns", "delete", name]);
  if (r.code !== 0 && existsSync(netnsPath(name)))
    throw new Error(`ip netns delete ${name}: ${r.stderr.trim()}`);
}
