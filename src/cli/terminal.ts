/**
 * The local terminal, behind a small interface so attach/exec/run can be tested without
 * one: its size (rows, cols), raw mode for stdin, resize notifications (SIGWINCH), and the
 * signals `--sig-proxy` forwards to the container.
 */

export interface Terminal {
  /** `[rows, cols]` of the terminal on stdout, or undefined when stdout is not one. */
  size(): [number, number] | undefined;
  /** Puts stdin in raw mode (no echo, no line editing, no ^C signal); returns the restore. */
  makeRaw(): () => void;
  /** Calls `cb` when the terminal is resized; returns the unsubscribe. */
  onResize(cb: () => void): () => void;
}

/** Subscribes to process signals; returns the unsubscribe. */
export type SignalSource = (signals: NodeJS.Signals[], cb: (signal: NodeJS.Signals) => void) => () => void;

export const processTerminal: Terminal = {
  size() {
    const out = process.stdout;
    if (!out.isTTY || !out.rows || !out.columns) return undefined;
    return [out.rows, out.columns];
  },
  makeRaw() {
    const stdin = process.stdin;
    if (!stdin.isTTY) return () => {};
    const was = stdin.isRaw;
    stdin.setRawMode(true);
    return () => {
      try {
        stdin.setRawMode(was);
      } catch {
        // stdin already gone
      }
    };
  },
  onResize(cb) {
    process.on("SIGWINCH", cb);
    return () => process.off("SIGWINCH", cb);
  },
};

export const processSignals: SignalSource = (signals, cb) => {
  const handlers = signals.map((s) => {
    const h = () => cb(s);
    process.on(s, h);
    return [s, h] as const;
  });
  return () => {
    for (const [s, h] of handlers) process.off(s, h);
  };
};

/** What `--sig-proxy` forwards (docker forwards every signal it can catch). */
export const PROXIED_SIGNALS: NodeJS.Signals[] = [
  "SIGINT",
  "SIGTERM",
  "SIGHUP",
  "SIGQUIT",
  "SIGUSR1",
  "SIGUSR2",
  "SIGWINCH",
];
