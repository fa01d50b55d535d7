/**
 * A CNI runtime, as the CNI spec (1.0) describes one: plugins are executables
 * in CNI_PATH, called with CNI_COMMAND (ADD, DEL, CHECK, VERSION),
 * CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS and CNI_PATH in their
 * environment, the network configuration as JSON on stdin and the result (or a
 * CNI error object) as JSON on stdout.
 *
 * A network configuration list runs its plugins in order for ADD (each gets the
 * previous one's result as `prevResult`) and in reverse for DEL (each gets the
 * cached ADD result). `runtimeConfig` carries only the capabilities a plugin
 * declares (here: `portMappings` for portmap).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { PierError, type ErrorKind } from "../common/errors.ts";
import { runRaw, TOOL_PATH } from "./exec.ts";

export const CNI_VERSION = "1.0.0";

export interface PluginConf {
  type: string;
  capabilities?: Record<string, boolean>;
  [key: string]: unknown;
}

export interface NetConfList {
  cniVersion: string;
  name: string;
  plugins: PluginConf[];
}

/** The parts of a CNI 1.0 result pier reads. */
export interface CniResult {
  cniVersion?: string;
  interfaces?: { name: string; mac?: string; sandbox?: string }[];
  ips?: { address: string; gateway?: string; interface?: number }[];
  routes?: { dst: string; gw?: string }[];
  dns?: unknown;
}

export interface RuntimeConf {
  containerId: string;
  /** The network namespace path; "" on DEL when it is gone (plugins then clean up what they can). */
  netns: string;
  ifName: string;
  /** CNI_ARGS as key/value pairs ("IgnoreUnknown=1" is added). */
  args?: [string, string][];
  /** Capability arguments, e.g. { portMappings: [...] }; passed to the plugins that declare them. */
  capabilityArgs?: Record<string, unknown>;
}

/** CNI's well-known error codes (spec, "Error codes"), mapped to pier's kinds. */
const CODE_KINDS: Record<number, ErrorKind> = {
  1: "FailedPrecondition", // incompatible CNI version
  2: "InvalidArgument", // unsupported field
  3: "NotFound", // container unknown or does not exist
  4: "InvalidArgument", // invalid necessary environment variables
  5: "Internal", // I/O failure
  6: "InvalidArgument", // failed to decode content
  7: "InvalidArgument", // invalid network config
  11: "Unavailable", // try again later
};

export class CniRunner {
  constructor(readonly binDir: string) {}

  /** Runs one plugin command; resolves with its parsed stdout (ADD) or undefined. */
  async invoke(
    command: "ADD" | "DEL" | "CHECK" | "VERSION",
    conf: object,
    rt: RuntimeConf,
  ): Promise<unknown> {
    const type = (conf as { type?: unknown }).type;
    if (typeof type !== "string" || !/^[A-Za-z0-9_.-]+$/.test(type)) {
      throw new PierError("InvalidArgument", `CNI configuration without a valid plugin type`);
    }
    const bin = join(this.binDir, type);
    if (!existsSync(bin)) {
      throw new PierError("Unavailable", `CNI plugin ${type} not found in ${this.binDir}`, {
        hint: "install Debian's containernetworking-plugins, or point cniBinDir at the plugins",
      });
    }
    const args = [["IgnoreUnknown", "1"], ...(rt.args ?? [])].map(([k, v]) => `${k}=${v}`).join(";");
    const env: NodeJS.ProcessEnv = {
      PATH: TOOL_PATH,
      CNI_COMMAND: command,
      CNI_CONTAINERID: rt.containerId,
      CNI_NETNS: rt.netns,
      CNI_IFNAME: rt.ifName,
      CNI_ARGS: args,
      CNI_PATH: this.binDir,
    };
    const r = await runRaw(bin, [], { input: JSON.stringify(conf), env, timeoutMs: 60_000 });
    if (r.code !== 0) throw pluginError(type, command, r.stdout, r.stderr, r.code);
    const out = r.stdout.trim();
    if (command !== "ADD" && command !== "VERSION") return undefined;
    try {
      return JSON.parse(out) as unknown;
    } catch (err) {
      throw new PierError(
        "Internal",
        `CNI plugin ${type} ${command}: unreadable result ${JSON.stringify(out.slice(0, 200))}`,
        {
          cause: err,
        },
      );
    }
  }

  /** ADD through every plugin of the list; the last plugin's result is the list's result. */
  async add(list: NetConfList, rt: RuntimeConf): Promise<CniResult> {
    let prev: unknown;
    for (const plugin of list.plugins) {
      prev = await this.invoke("ADD", pluginConf(list, plugin, rt, prev), rt);
    }
    return (prev ?? {}) as CniResult;
  }

  /**
   * DEL through every plugin, last to first. Unlike ADD it does not stop at the
   * first failure: each plugin gets its chance to clean up, then the first error is thrown.
   */
  async del(list: NetConfList, rt: RuntimeConf, prevResult: unknown): Promise<void> {
    let first: unknown;
    for (const plugin of [...list.plugins].reverse()) {
      try {
        await this.invoke("DEL", pluginConf(list, plugin, rt, prevResult), rt);
      } catch (err) {
        first ??= err;
      }
    }
    if (first !== undefined) throw first;
  }

  /** CHECK through every plugin in order, each given the cached ADD result. */
  async check(list: NetConfList, rt: RuntimeConf, prevResult: unknown): Promise<void> {
    for (const plugin of list.plugins) {
      await this.invoke("CHECK", pluginConf(list, plugin, rt, prevResult), rt);
    }
  }
}

/** The configuration one plugin of a list receives (spec: "Deriving execution configuration"). */
export function pluginConf(
  list: NetConfList,
  plugin: PluginConf,
  rt: RuntimeConf,
  prevResult: unknown,
): object {
  const conf: Record<string, unknown> = { ...plugin, cniVersion: list.cniVersion, name: list.name };
  const runtimeConfig: Record<string, unknown> = {};
  for (const [cap, on] of Object.entries(plugin.capabilities ?? {})) {
    const v = rt.capabilityArgs?.[cap];
    if (on && v !== undefined) runtimeConfig[cap] = v;
  }
  if (Object.keys(runtimeConfig).length > 0) conf.runtimeConfig = runtimeConfig;
  if (prevResult !== undefined) conf.prevResult = prevResult;
  return conf;
}

function pluginError(
  type: string,
  command: string,
  stdout: string,
  stderr: string,
  status: number,
): PierError {
  let code: number | undefined;
  let msg = "";
  try {
    const e = JSON.parse(stdout) as { code?: unknown; msg?: unknown; details?: unknown };
    if (typeof e.code === "number") code = e.code;
    msg = typeof e.msg === "string" ? e.msg : "";
    if (typeof e.details === "string" && e.details !== "" && e.details !== msg) msg += `: ${e.details}`;
  } catch {
    // Not a CNI error object: fall back to what the plugin printed.
  }
  if (msg === "")
    msg = (stderr.trim() || stdout.trim() || `exit status ${status}`).split("\n").slice(-2).join("; ");
  let kind: ErrorKind = code === undefined ? "Internal" : (CODE_KINDS[code] ?? "Internal");
  let hint: string | undefined;
  if (/no IP addresses available|range is full/i.test(msg)) {
    kind = "ResourceExhausted";
    hint = "the network's subnet is full; remove containers from it or use a network with a larger subnet";
  } else if (/requested IP address .* is not available/i.test(msg)) {
    kind = "Conflict";
    hint = "another container has this address; choose another --ip, or let pier pick one";
  }
  const verb = command === "ADD" ? "set up" : command === "DEL" ? "tear down" : "check";
  return new PierError(
    kind,
    `CNI ${type} plugin could not ${verb} the network: ${msg}`,
    hint ? { hint } : {},
  );
}
