/** Runs pier's CLI in-process against a socket, with captured output and fake stdio (tests). */
import { PassThrough } from "node:stream";
import { main } from "../main.ts";
import type { Terminal } from "../terminal.ts";

export interface PierRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface PierIoOptions {
  stdin?: string | PassThrough;
  stdinIsTTY?: boolean;
  stdoutIsTTY?: boolean;
  terminal?: Terminal;
  signals?: (sigs: NodeJS.Signals[], cb: (s: NodeJS.Signals) => void) => () => void;
  env?: Record<string, string>;
  cwd?: string;
}

export async function pier(socketPath: string, args: string[], o: PierIoOptions = {}): Promise<PierRun> {
  let stdout = "";
  let stderr = "";
  let stdin: PassThrough;
  if (o.stdin instanceof PassThrough) stdin = o.stdin;
  else {
    stdin = new PassThrough();
    stdin.end(o.stdin ?? "");
  }
  const code = await main(["-H", `unix://${socketPath}`, ...args], {
    io: {
      out: (s) => (stdout += typeof s === "string" ? s : Buffer.from(s).toString("utf8")),
      err: (s) => (stderr += typeof s === "string" ? s : Buffer.from(s).toString("utf8")),
      stdoutIsTTY: o.stdoutIsTTY ?? false,
      stderrIsTTY: false,
      stdin,
      stdinIsTTY: o.stdinIsTTY ?? false,
      terminal: o.terminal ?? { size: () => undefined, makeRaw: () => () => {}, onResize: () => () => {} },
      signals: o.signals ?? (() => () => {}),
      env: o.env ?? {},
      ...(o.cwd ? { cwd: o.cwd } : {}),
    },
    autostart: null,
  });
  return { code, stdout, stderr };
}
