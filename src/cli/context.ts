/** What every command gets: output, the parsed global flags, and a connected API client. */
import { writeSync } from "node:fs";
import type { Readable } from "node:stream";
import { ApiClient, ConnectError } from "../api/client/index.ts";
import { notImplemented } from "../common/errors.ts";
import type { FlagSpec, Parsed } from "./args.ts";
import { processSignals, processTerminal, type SignalSource, type Terminal } from "./terminal.ts";

/**
 * The process's side of the CLI. Only out/err/stdoutIsTTY are needed by most commands;
 * attach, exec and run also use stdin, the terminal and signals (process defaults when
 * left out, so tests give fakes).
 */
export interface Io {
  out(s: string | Uint8Array): void;
  err(s: string | Uint8Array): void;
  stdoutIsTTY: boolean;
  stderrIsTTY?: boolean;
  stdin?: Readable;
  stdinIsTTY?: boolean;
  terminal?: Terminal;
  signals?: SignalSource;
  /** Our environment, for `-e NAME` (default process.env). */
  env?: Record<string, string | undefined>;
  cwd?: string;
}

/** Io with the process defaults filled in. */
export interface FullIo extends Io {
  stdin: Readable;
  stdinIsTTY: boolean;
  terminal: Terminal;
  signals: SignalSource;
  env: Record<string, string | undefined>;
  cwd: string;
}

export function fullIo(io: Io): FullIo {
  return {
    ...io,
    out: io.out,
    err: io.err,
    stdin: io.stdin ?? process.stdin,
    stdinIsTTY: io.stdinIsTTY ?? (io.stdin ? false : process.stdin.isTTY === true),
    terminal: io.terminal ?? processTerminal,
    signals: io.signals ?? processSignals,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
}

function writeAll(fd: number, s: string | Uint8Array): void {
  const buf = typeof s === "string" ? Buffer.from(s) : s;
  let off = 0;
  while (off < buf.length) {
    try {
      off += writeSync(fd, buf, off);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EAGAIN") throw e;
    }
  }
}

export const processIo: Io = {
  out: (s) => writeAll(1, s),
  err: (s) => writeAll(2, s),
  stdoutIsTTY: process.stdout.isTTY === true,
  stderrIsTTY: process.stderr.isTTY === true,
};

/** `unix:///run/pier/pier.sock` or a path → the socket path. */
export function socketPathOf(host: string): string {
  if (host.startsWith("unix://")) return host.slice("unix://".length);
  if (host.startsWith("/")) return host;
  throw notImplemented(`host ${host}: only unix:// sockets are supported`);
}

export class Cli {
  private connected: ApiClient | undefined;

  constructor(
    readonly io: Io,
    readonly socketPath: string,
    readonly debug: boolean,
    /** Starts pierd when nothing answers (tests and `pier` itself); undefined to never start one. */
    private readonly autostart: ((socketPath: string) => Promise<number | undefined>) | undefined,
  ) {}

  /** A client whose version is negotiated; starts pierd first when none answers. */
  async client(): Promise<ApiClient> {
    if (this.connected) return this.connected;
    let c = new ApiClient({ socketPath: this.socketPath });
    try {
      await c.apiVersion();
    } catch (e) {
      if (!(e instanceof ConnectError) || !this.autostart) throw e;
      c.close();
      const pid = await this.autostart(this.socketPath);
      if (pid !== undefined) this.io.err(`pier: started pierd (pid ${pid})\n`);
      c = new ApiClient({ socketPath: this.socketPath });
      await c.apiVersion();
    }
    this.connected = c;
    return c;
  }

  close(): void {
    this.connected?.close();
  }
}

export interface CommandDef {
  /** "images" or "image inspect". */
  name: string;
  /** Flags stop at the first positional (run, exec: the rest is the command). */
  interspersed?: boolean;
  usage: string;
  summary: string;
  flags: FlagSpec[];
  minArgs?: number;
  maxArgs?: number;
  run(cli: Cli, p: Parsed): Promise<number | void>;
}
