/**
 * HEALTHCHECK: runs a container's check command (an exec) every Interval, keeps the last
 * five results, and sets State.Health to starting, healthy or unhealthy as docker does
 * (Retries consecutive failures make it unhealthy; failures during StartPeriod do not count).
 */
import type { Health, HealthConfig } from "../../api/container-types.ts";
import type { Engine } from "./engine.ts";
import type { ContainerRecord } from "./record.ts";
import type { Execs } from "./streams.ts";

const NS = 1e6; // nanoseconds per millisecond
const DEFAULTS = { interval: 30_000, timeout: 30_000, retries: 3, startPeriod: 0 };

function probeArgv(test: string[]): string[] | undefined {
  if (test.length === 0 || test[0] === "NONE") return undefined;
  if (test[0] === "CMD") return test.slice(1);
  if (test[0] === "CMD-SHELL") return ["/bin/sh", "-c", test.slice(1).join(" ")];
  return test;
}

export class HealthChecks {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(
    private readonly engine: Engine,
    private readonly execs: Execs,
  ) {
    engine.events.on("event", (e: { id: string; action: string }) => {
      if (e.action === "start") void this.schedule(e.id, true);
      if (e.action === "die" || e.action === "destroy") this.cancel(e.id);
    });
  }

  /** Picks up running containers (after a daemon restart). */
  async resume(): Promise<void> {
    for (const r of await this.engine.list())
      if (r.state.status === "running") void this.schedule(r.id, false);
  }

  close(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

  private cancel(id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
  }

  private async schedule(id: string, fresh: boolean): Promise<void> {
    const rec = await this.engine.get(id).catch(() => undefined);
    const hc = rec?.config.Healthcheck;
    if (!rec || !hc?.Test || !probeArgv(hc.Test)) return;
    if (fresh) await this.engine.setHealth(id, () => ({ Status: "starting", FailingStreak: 0, Log: [] }));
    const c = settings(hc);
    const startedAt = Date.parse(rec.state.startedAt);
    const next =
      Date.now() - startedAt < c.startPeriod && hc.StartInterval ? hc.StartInterval / NS : c.interval;
    this.cancel(id);
    const t = setTimeout(() => void this.probe(id).finally(() => void this.schedule(id, false)), next);
    t.unref();
    this.timers.set(id, t);
  }

  private async probe(id: string): Promise<void> {
    const rec = await this.engine.get(id).catch(() => undefined);
    if (!rec || rec.state.status !== "running") return;
    const hc = rec.config.Healthcheck!;
    const c = settings(hc);
    const start = new Date();
    let code = -1;
    let out = "";
    try {
      const execId = await this.execs.create(id, {
        Cmd: probeArgv(hc.Test!)!,
        AttachStdout: true,
        AttachStderr: true,
      });
      const session = await this.execs.start(execId, { detach: false });
      const timer = setTimeout(() => session?.close(), c.timeout);
      for await (const chunk of session!.output) if (out.length < 4096) out += chunk.data.toString("utf8");
      clearTimeout(timer);
      code = this.execs.inspect(execId).ExitCode ?? -1;
      this.execs.forgetExec(execId);
    } catch (err) {
      out = err instanceof Error ? err.message : String(err);
    }
    const entry = {
      Start: start.toISOString(),
      End: new Date().toISOString(),
      ExitCode: code,
      Output: out.slice(0, 4096),
    };
    const inStart = Date.now() - Date.parse(rec.state.startedAt) < c.startPeriod;
    await this.engine.setHealth(id, (h) => {
      const log = [...(h?.Log ?? []), entry].slice(-5);
      if (code === 0) return { Status: "healthy", FailingStreak: 0, Log: log };
      const streak = inStart ? (h?.FailingStreak ?? 0) : (h?.FailingStreak ?? 0) + 1;
      const status: Health["Status"] = streak >= c.retries ? "unhealthy" : (h?.Status ?? "starting");
      return { Status: status, FailingStreak: streak, Log: log };
    });
  }
}

function settings(hc: HealthConfig) {
  return {
    interval: hc.Interval ? hc.Interval / NS : DEFAULTS.interval,
    timeout: hc.Timeout ? hc.Timeout / NS : DEFAULTS.timeout,
    retries: hc.Retries || DEFAULTS.retries,
    startPeriod: hc.StartPeriod ? hc.StartPeriod / NS : DEFAULTS.startPeriod,
  };
}

export function healthSuffix(rec: ContainerRecord): string {
  const h = rec.state.health;
  if (!h || rec.state.status !== "running") return "";
  return h.Status === "starting" ? " (health: starting)" : ` (${h.Status})`;
}
