/**
 * Attach, logs and exec: the container's stdio as streams for the API. Output is read
 * from the json-file log the monitor writes (so nothing is lost when the client attaches
 * before start, and pierd needs no pipe to the container); stdin goes into the monitor's
 * stdin fifo, and "close stdin"/"resize" into its control fifo.
 */
import { randomBytes } from "node:crypto";
import { constants as C, existsSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import { Socket } from "node:net";
import { join } from "node:path";
import type { ExecCreateRequest, ExecInspect } from "../../api/container-types.ts";
import { PierError } from "../../common/errors.ts";
import { readExit, readLogs, startMonitor, type LogEntry } from "../monitor/index.ts";
import { writeCtl, type Engine } from "./engine.ts";
import { followLog, logSize } from "./follow.ts";
import type { ContainerRecord } from "./record.ts";
import { capabilities, mergeEnv, resolveUser } from "./spec.ts";

export interface OutputChunk {
  stream: 1 | 2;
  data: Buffer;
}

export interface IoSession {
  tty: boolean;
  output: AsyncIterable<OutputChunk>;
  /** Present when stdin is attached. */
  stdin?: { write(chunk: Buffer): void; end(): void };
  /** Stops following (the client went away). */
  close(): void;
}

const toChunk = (e: LogEntry): OutputChunk => ({
  stream: e.stream === "stderr" ? 2 : 1,
  data: Buffer.from(e.log, "utf8"),
});

/** Writes into a fifo the monitor reads; opened once there is a reader, chunks queued till then. */
class FifoWriter {
  private sock: Socket | undefined;
  private queue: Buffer[] = [];
  private ended = false;

  constructor(
    private readonly path: string,
    private readonly onEnd: () => void,
  ) {}

  /** Tries to open (the monitor must hold the fifo); returns whether it is open. */
  tryOpen(): boolean {
    if (this.sock) return true;
    let fd: number;
    try {
      fd = openSync(this.path, C.O_WRONLY | C.O_NONBLOCK);
    } catch {
      return false;
    }
    this.sock = new Socket({ fd, readable: false, writable: true });
    this.sock.on("error", () => undefined);
    for (const q of this.queue) this.sock.write(q);
    this.queue = [];
    if (this.ended) this.finish();
    return true;
  }

  write(chunk: Buffer): void {
    if (this.sock) this.sock.write(chunk);
    else this.queue.push(chunk);
  }

  end(): void {
    this.ended = true;
    if (this.sock) this.finish();
  }

  private finish(): void {
    const s = this.sock!;
    s.end(() => {
      s.destroy();
      this.onEnd();
    });
  }
}

export function attach(
  engine: Engine,
  rec: ContainerRecord,
  o: { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean },
): Promise<IoSession> {
  return attachAsync(engine, rec, o);
}

async function attachAsync(
  engine: Engine,
  rec: ContainerRecord,
  o: { stdin: boolean; stdout: boolean; stderr: boolean; logs: boolean; stream: boolean },
): Promise<IoSession> {
  const f = engine.files(rec.id);
  const tty = rec.config.Tty === true;
  const ac = new AbortController();
  const status = rec.state.status;
  let finished =
    !o.stream ||
    !(status === "running" || status === "paused" || status === "created" || status === "restarting");
  const onDie = () => {
    finished = true;
  };
  engine.events.once(`die:${rec.id}`, onDie);
  const from = o.logs ? 0 : await logSize(f.log);
  const want = (c: OutputChunk) => (c.stream === 1 ? o.stdout : o.stderr) || tty;
  async function* output(): AsyncGenerator<OutputChunk> {
    try {
      if (!o.stream) {
        for (const e of readLogs(f.log)) {
          const c = toChunk(e);
          if (want(c)) yield c;
        }
        return;
      }
      for await (const e of followLog(f.log, { from, done: () => finished, signal: ac.signal, pollMs: 50 })) {
        const c = toChunk(e);
        if (want(c)) yield c;
      }
    } finally {
      engine.events.off(`die:${rec.id}`, onDie);
    }
  }
  let stdin: IoSession["stdin"];
  if (o.stdin && rec.config.OpenStdin) {
    const w = new FifoWriter(f.stdin, () => {
      if (rec.config.StdinOnce) engine.closeStdin(rec.id);
    });
    if (!w.tryOpen()) {
      const onStart = () => w.tryOpen();
      engine.events.once(`start:${rec.id}`, onStart);
      ac.signal.addEventListener("abort", () => engine.events.off(`start:${rec.id}`, onStart));
    }
    stdin = w;
  }
  return {
    tty,
    output: output(),
    ...(stdin ? { stdin } : {}),
    close: () => ac.abort(),
  };
}

/** `GET /containers/{id}/logs`. */
export async function* logs(
  engine: Engine,
  rec: ContainerRecord,
  o: {
    follow: boolean;
    stdout: boolean;
    stderr: boolean;
    since?: number;
    until?: number;
    timestamps: boolean;
    tail?: number;
  },
  signal?: AbortSignal,
): AsyncGenerator<OutputChunk> {
  const f = engine.files(rec.id);
  const keep = (e: LogEntry) => {
    if (e.stream === "stdout" ? !o.stdout : !o.stderr) return false;
    if (o.until !== undefined && Date.parse(e.time) / 1000 > o.until) return false;
    return true;
  };
  const size = await logSize(f.log);
  const past = readLogs(f.log, {
    ...(o.tail !== undefined ? { tail: o.tail } : {}),
    ...(o.since !== undefined ? { since: o.since } : {}),
  });
  for (const e of past) if (keep(e)) yield toChunk(o.timestamps ? { ...e, log: `${e.time} ${e.log}` } : e);
  if (!o.follow) return;
  const running = () => {
    const st = rec.state.status;
    return st === "running" || st === "paused" || st === "restarting";
  };
  if (!running()) return;
  let finished = false;
  const onDie = () => (finished = true);
  engine.events.once(`die:${rec.id}`, onDie);
  try {
    // Follow from where the past ended; join partial records into lines as docker does.
    for await (const e of followLog(f.log, {
      from: size,
      done: () => finished,
      ...(signal ? { signal } : {}),
      pollMs: 100,
    })) {
      if (keep(e)) yield toChunk(o.timestamps ? { ...e, log: `${e.time} ${e.log}` } : e);
    }
  } finally {
    engine.events.off(`die:${rec.id}`, onDie);
  }
}

// ---- exec --------------------------------------------------------------------------------

interface ExecRecord {
  id: string;
  containerId: string;
  req: ExecCreateRequest;
  running: boolean;
  exitCode: number | null;
  pid: number;
  dir: string;
  started: boolean;
}

export class Execs {
  private readonly execs = new Map<string, ExecRecord>();

  constructor(private readonly engine: Engine) {}

  async create(ref: string, req: ExecCreateRequest): Promise<string> {
    const rec = await this.engine.get(ref);
    if (rec.state.status === "paused")
      throw new PierError("Conflict", `Container ${rec.id} is paused, unpause the container before exec`);
    if (rec.state.status !== "running") throw new PierError("Conflict", `Container ${rec.id} is not running`);
    if (!Array.isArray(req.Cmd) || req.Cmd.length === 0)
      throw new PierError("InvalidArgument", "No exec command specified");
    const id = randomBytes(32).toString("hex");
    const dir = join(this.engine.files(rec.id).dir, "exec", id);
    this.execs.set(id, {
      id,
      containerId: rec.id,
      req,
      running: false,
      exitCode: null,
      pid: 0,
      dir,
      started: false,
    });
    return id;
  }

  get(id: string): ExecRecord {
    const e = this.execs.get(id);
    if (!e) throw new PierError("NotFound", `No such exec instance: ${id}`);
    return e;
  }

  inspect(id: string): ExecInspect {
    const e = this.get(id);
    this.refresh(e);
    return {
      CanRemove: false,
      DetachKeys: e.req.DetachKeys ?? "",
      ID: e.id,
      Running: e.running,
      ExitCode: e.exitCode,
      ProcessConfig: {
        privileged: e.req.Privileged === true,
        user: e.req.User ?? "",
        tty: e.req.Tty === true,
        entrypoint: e.req.Cmd[0]!,
        arguments: e.req.Cmd.slice(1),
      },
      OpenStdin: e.req.AttachStdin === true,
      OpenStderr: e.req.AttachStderr === true,
      OpenStdout: e.req.AttachStdout === true,
      ContainerID: e.containerId,
      Pid: e.pid,
    };
  }

  /** Picks up the exit code once the exec's monitor wrote it; removes its files then. */
  private refresh(e: ExecRecord): void {
    if (!e.running) return;
    const exit = readExit(join(e.dir, "exit"));
    if (!exit) return;
    e.running = false;
    e.exitCode = exit.exitCode < 0 ? 126 : exit.exitCode;
  }

  /** Starts the process; the session streams its output until it exits. */
  async start(
    id: string,
    o: { detach: boolean; tty?: boolean; consoleSize?: [number, number] | null },
  ): Promise<IoSession | undefined> {
    const e = this.get(id);
    if (e.started) throw new PierError("Conflict", `exec ${id} has already been started`);
    e.started = true;
    const rec = await this.engine.get(e.containerId);
    if (rec.state.status !== "running") throw new PierError("Conflict", `Container ${rec.id} is not running`);
    const f = this.engine.files(rec.id);
    const tty = o.tty ?? e.req.Tty === true;
    mkdirSync(e.dir, { recursive: true });
    const user = resolveUser(f.merged, e.req.User || rec.config.User);
    const caps = capabilities(
      rec.hostConfig.CapAdd ?? [],
      rec.hostConfig.CapDrop ?? [],
      rec.hostConfig.Privileged === true || e.req.Privileged === true,
    );
    const proc = {
      terminal: tty,
      user: {
        uid: user.uid,
        gid: user.gid,
        ...(user.additionalGids.length ? { additionalGids: user.additionalGids } : {}),
      },
      args: e.req.Cmd,
      env: mergeEnv(rec.config.Env ?? [], e.req.Env ?? [], [
        `HOSTNAME=${rec.config.Hostname || rec.id.slice(0, 12)}`,
        ...(tty ? ["TERM=xterm"] : []),
        `HOME=${user.home}`,
      ]),
      cwd: e.req.WorkingDir || rec.config.WorkingDir || "/",
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: (rec.hostConfig.SecurityOpt ?? []).some((s) =>
        /^no-new-privileges(?:[:=]true)?$/.test(s),
      ),
    };
    writeFileSync(join(e.dir, "process.json"), JSON.stringify(proc));
    const attachIn = e.req.AttachStdin === true && !o.detach;
    const consoleSocket = join(this.engine.runDir, `x${id.slice(0, 16)}.sock`);
    const log = join(e.dir, "log.json");
    try {
      const started = await startMonitor({
        runtime: this.engine.runtimeBin,
        root: join(this.engine.opts.root, "runtime"),
        bundle: f.bundle,
        id: rec.id,
        logPath: log,
        exitPath: join(e.dir, "exit"),
        pidFile: join(e.dir, "pid"),
        monitorPidFile: join(e.dir, "monitor.pid"),
        ctlFifo: join(e.dir, "ctl"),
        exec: { processFile: join(e.dir, "process.json") },
        ...(attachIn ? { stdinFifo: join(e.dir, "stdin") } : {}),
        ...(tty ? { consoleSocket } : {}),
        ...(this.engine.opts.monitorBin ? { monitorBin: this.engine.opts.monitorBin } : {}),
      });
      e.pid = started.containerPid;
      e.running = true;
    } catch (err) {
      e.running = false;
      const msg = err instanceof Error ? err.message : String(err);
      const out = readLogs(log)
        .map((x) => x.log)
        .join("")
        .trim();
      e.exitCode = /not found|no such file/i.test(out + msg) ? 127 : 126;
      await rm(e.dir, { recursive: true, force: true });
      throw new PierError(
        e.exitCode === 127 ? "NotFound" : "Internal",
        `OCI runtime exec failed: ${out || msg}`,
      );
    }
    if (o.consoleSize && tty) this.resize(id, o.consoleSize[0], o.consoleSize[1]);
    if (o.detach) return undefined;
    const ac = new AbortController();
    const refresh = () => this.refresh(e);
    async function* output(): AsyncGenerator<OutputChunk> {
      for await (const x of followLog(log, {
        done: () => existsSync(join(e.dir, "exit")),
        signal: ac.signal,
        pollMs: 30,
      })) {
        const c = toChunk(x);
        if (c.stream === 1 ? e.req.AttachStdout !== false : e.req.AttachStderr !== false) yield c;
        else if (tty) yield c;
      }
      refresh();
    }
    let stdin: IoSession["stdin"];
    if (attachIn) {
      const w = new FifoWriter(join(e.dir, "stdin"), () => writeCtl(join(e.dir, "ctl"), "c\n"));
      w.tryOpen();
      stdin = w;
    }
    return { tty, output: output(), ...(stdin ? { stdin } : {}), close: () => ac.abort() };
  }

  resize(id: string, rows: number, cols: number): void {
    const e = this.get(id);
    if (!e.running) return;
    writeCtl(join(e.dir, "ctl"), `r ${rows} ${cols}\n`);
  }

  /** Forgets one finished exec and removes its files. */
  forgetExec(id: string): void {
    const e = this.execs.get(id);
    if (!e || e.running) return;
    this.execs.delete(id);
    void rm(e.dir, { recursive: true, force: true });
  }

  /** Forgets the execs of a container that stopped (their files went with the run). */
  forget(containerId: string): void {
    for (const [id, e] of this.execs) if (e.containerId === containerId) this.execs.delete(id);
  }

  idsOf(containerId: string): string[] {
    return [...this.execs.values()].filter((e) => e.containerId === containerId).map((e) => e.id);
  }
}
