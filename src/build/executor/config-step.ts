/**
 * What each instruction does to the image config, and the text its history
 * entry records (`created_by`, as `docker history` shows it, in BuildKit's
 * form: `ENV NAME=World`, `RUN /bin/sh -c make`, `CMD ["httpd","-f"]`).
 *
 * Docker's rules kept here: ENTRYPOINT clears a CMD inherited from the base
 * image (not one set in the same stage); EXPOSE and VOLUME add to what the
 * base has; LABEL merges; HEALTHCHECK replaces (zero durations left out, so
 * the defaults apply); ONBUILD appends a trigger; MAINTAINER sets `author`.
 *
 * Usage:
 *   const next = configAfter(state.config.config ?? {}, ev, { shell, cmdSet, envNow: scope.configEnv() });
 *   const created_by = historyText(ev, shell);
 */
import type { Instruction } from "../dockerfile/ast.ts";
import { commandArgv, healthcheckTest, runCommand } from "../dockerfile/run.ts";
import type { Evaluated } from "../dockerfile/scope.ts";
import type { ContainerConfig } from "../../image/service/oci.ts";

export interface ConfigContext {
  /** The SHELL in force. */
  shell: readonly string[];
  /** Whether this stage set CMD itself (then ENTRYPOINT keeps it). */
  cmdSet: boolean;
  /** The stage's config environment after the instruction (StageScope.configEnv()). */
  envNow: string[];
  /** The resolved working directory (WORKDIR). */
  workdir?: string;
}

/** The container config after `ev` (a copy; the input is not changed). */
export function configAfter(base: ContainerConfig, ev: Evaluated, ctx: ConfigContext): ContainerConfig {
  const c: ContainerConfig = structuredClone(base);
  const ins = ev.instruction;
  switch (ins.kind) {
    case "ENV":
      c.Env = ctx.envNow;
      break;
    case "LABEL":
      c.Labels = { ...(c.Labels ?? {}), ...Object.fromEntries(ins.pairs.map((p) => [p.key, p.value])) };
      break;
    case "WORKDIR":
      c.WorkingDir = ctx.workdir ?? ins.path;
      break;
    case "USER":
      c.User = ins.user;
      break;
    case "EXPOSE": {
      const ports = { ...(c.ExposedPorts ?? {}) };
      for (const p of ev.ports ?? ins.ports) ports[p] = {};
      c.ExposedPorts = ports;
      break;
    }
    case "VOLUME": {
      const vols = { ...(c.Volumes ?? {}) };
      for (const p of ins.paths) vols[p] = {};
      c.Volumes = vols;
      break;
    }
    case "CMD":
      c.Cmd = commandArgv(ins.command, ctx.shell);
      break;
    case "ENTRYPOINT":
      c.Entrypoint = commandArgv(ins.command, ctx.shell);
      if (!ctx.cmdSet) c.Cmd = null;
      break;
    case "SHELL":
      c.Shell = [...ins.shell];
      break;
    case "STOPSIGNAL":
      c.StopSignal = ins.signal;
      break;
    case "HEALTHCHECK": {
      const h = ins.health;
      const hc: Record<string, unknown> = { Test: healthcheckTest(h) };
      if (h.type === "CMD") {
        if (h.intervalNs) hc.Interval = h.intervalNs;
        if (h.timeoutNs) hc.Timeout = h.timeoutNs;
        if (h.startPeriodNs) hc.StartPeriod = h.startPeriodNs;
        if (h.startIntervalNs) hc.StartInterval = h.startIntervalNs;
        if (h.retries) hc.Retries = h.retries;
      }
      c.Healthcheck = hc;
      break;
    }
    case "ONBUILD":
      c.OnBuild = [...((c.OnBuild as string[] | null | undefined) ?? []), ins.expression];
      break;
    default:
      break;
  }
  return c;
}

const quote = (v: string) => (v === "" || /[\s"'\\$]/.test(v) ? JSON.stringify(v) : v);

/** The history entry's `created_by` for an evaluated instruction. */
export function historyText(ev: Evaluated, shell: readonly string[]): string {
  const ins: Instruction = ev.instruction;
  switch (ins.kind) {
    case "RUN":
      return `RUN ${runCommand(ins, shell).argv.join(" ")}`;
    case "CMD":
    case "ENTRYPOINT":
      return `${ins.kind} ${JSON.stringify(commandArgv(ins.command, shell))}`;
    case "COPY":
    case "ADD": {
      const flags: string[] = [];
      if (ins.kind === "COPY" && ins.from !== undefined) flags.push(`--from=${ins.from}`);
      if (ins.chown !== undefined) flags.push(`--chown=${ins.chown}`);
      if (ins.chmod !== undefined) flags.push(`--chmod=${ins.chmod}`);
      if (ins.link) flags.push("--link");
      for (const x of ins.excludes) flags.push(`--exclude=${x}`);
      const sources = [...ins.sources, ...ins.inline.map((s) => `<<${s.name}`)];
      return [ins.kind, ...flags, ...sources, ins.dest].join(" ");
    }
    case "ENV":
    case "LABEL":
      return `${ins.kind} ${ins.pairs.map((p) => `${p.key}=${quote(p.value)}`).join(" ")}`;
    case "ARG":
      return `ARG ${ins.args.map((a) => (a.default === undefined ? a.name : `${a.name}=${quote(a.default)}`)).join(" ")}`;
    case "WORKDIR":
      return `WORKDIR ${ins.path}`;
    case "USER":
      return `USER ${ins.user}`;
    case "EXPOSE":
      return `EXPOSE ${(ev.ports ?? ins.ports).join(" ")}`;
    case "VOLUME":
      return `VOLUME ${JSON.stringify(ins.paths)}`;
    case "SHELL":
      return `SHELL ${JSON.stringify(ins.shell)}`;
    case "STOPSIGNAL":
      return `STOPSIGNAL ${ins.signal}`;
    case "HEALTHCHECK":
      return `HEALTHCHECK ${JSON.stringify(healthcheckTest(ins.health))}`;
    case "ONBUILD":
      return `ONBUILD ${ins.expression}`;
    case "MAINTAINER":
      return `MAINTAINER ${ins.maintainer}`;
    case "FROM":
      return `FROM ${ins.image}`;
  }
}

/** The first line of the instruction as written, for "Step n/m : …". */
export function displayText(ins: Instruction): string {
  const first = ins.original.split("\n")[0] ?? "";
  return first.trim();
}
