/**
 * Renders a JSON-lines progress stream (pull, push, load) the way docker's jsonmessage
 * does: on a terminal one line per layer id, redrawn in place with a progress bar; else
 * plain lines for status changes only. An error line throws (after what came before).
 */
import type { JsonMessage } from "../api/client/index.ts";
import { PierError } from "../common/errors.ts";
import { bytesSize } from "./units.ts";

export class StreamError extends PierError {
  constructor(message: string) {
    super("Internal", message);
  }
}

export function progressBar(current: number, total: number, width = 50): string {
  if (total <= 0) return current > 0 ? bytesSize(current) : "";
  const ratio = Math.min(1, Math.max(0, current / total));
  const bars = Math.floor(ratio * width);
  const bar = "[" + "=".repeat(bars) + (bars < width ? ">" + " ".repeat(width - bars - 1) : "") + "]";
  return `${bar} ${bytesSize(current).padStart(9)}/${bytesSize(total)}`;
}

function lineOf(m: JsonMessage, tty: boolean): string {
  const parts: string[] = [];
  if (m.id) parts.push(`${m.id}: `);
  parts.push(m.status ?? "");
  const d = m.progressDetail;
  if (tty && d && d.current !== undefined) parts.push(" " + progressBar(d.current, d.total ?? 0));
  else if (tty && m.progress) parts.push(" " + m.progress);
  return parts.join("");
}

export interface ProgressOut {
  write(s: string): void;
  isTTY: boolean;
  /** Terminal width: redrawn lines are cut to it so they never wrap. */
  columns?: number;
}

/** Consumes the stream; returns the aux objects seen (push's digest, build's id). */
export async function renderProgress(
  stream: AsyncIterable<JsonMessage>,
  out: ProgressOut,
): Promise<Record<string, unknown>[]> {
  const aux: Record<string, unknown>[] = [];
  const lineOfId = new Map<string, number>();
  let lines = 0;
  for await (const m of stream) {
    if (m.errorDetail || m.error) throw new StreamError(m.errorDetail?.message ?? m.error ?? "unknown error");
    if (m.aux) {
      aux.push(m.aux);
      continue;
    }
    if (m.stream !== undefined) {
      out.write(m.stream);
      continue;
    }
    if (!out.isTTY) {
      if (m.progressDetail && m.progressDetail.current !== undefined) continue;
      out.write(lineOf(m, false) + "\n");
      continue;
    }
    const full = lineOf(m, true);
    const text = out.columns && full.length > out.columns - 1 ? full.slice(0, out.columns - 1) : full;
    const at = m.id === undefined ? undefined : lineOfId.get(m.id);
    if (at === undefined) {
      out.write(text + "\n");
      if (m.id !== undefined) lineOfId.set(m.id, lines);
      lines++;
    } else {
      const up = lines - at;
      out.write(`\x1b[${up}A\x1b[2K\r${text}\x1b[${up}B\r`);
    }
  }
  return aux;
}
