import { appendFileSync, writeSync } from "node:fs";
import type { CgroupManager } from "../cgroups/index.ts";
import { detectCgroups } from "../cgroups/index.ts";
import { DEFAULT_ROOT, StateStore } from "./state.ts";

export interface RuntimeOptions {
  /** State directory (runc's --root). */
  root?: string;
  /** Treat cgroupsPath as systemd's "slice:prefix:name" (runc's --systemd-cgroup). */
  systemdCgroup?: boolean;
  /** Log file (runc's --log) and its format. */
  log?: string;
  logFormat?: "text" | "json";
  debug?: boolean;
  /** Where warnings go when there is no log file; default stderr. */
  onWarn?: (msg: string) => void;
  cgroups?: CgroupManager;
}

/** What every runtime operation needs: the state store, the cgroup driver, logging. */
export class Runtime {
  readonly store: StateStore;
  readonly systemdCgroup: boolean;
  private cg: CgroupManager | undefined;

  constructor(private readonly opts: RuntimeOptions = {}) {
    this.store = new StateStore(opts.root ?? DEFAULT_ROOT);
    this.systemdCgroup = opts.systemdCgroup ?? false;
    this.cg = opts.cgroups;
  }

  get cgroups(): CgroupManager {
    return (this.cg ??= detectCgroups());
  }

  log(level: "debug" | "info" | "warning" | "error", msg: string): void {
    if (level === "debug" && !this.opts.debug) return;
    if (this.opts.log) {
      const line =
        this.opts.logFormat === "json"
          ? JSON.stringify({ level, msg, time: new Date().toISOString() })
          : `time="${new Date().toISOString()}" level=${level} msg=${JSON.stringify(msg)}`;
      try {
        appendFileSync(this.opts.log, line + "\n");
      } catch {
        // logging must never make an operation fail
      }
    }
    if (level === "warning" && !this.opts.log) (this.opts.onWarn ?? defaultWarn)(msg);
  }

  warn = (msg: string): void => this.log("warning", msg);
}

function defaultWarn(msg: string): void {
  try {
    // Never touch process.stderr: it would make the shared stdio non-blocking for the container.
    writeSync(2, `pier-runtime: warning: ${msg}\n`);
  } catch {
    // ignore
  }
}
