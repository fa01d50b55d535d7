/**
 * Detach keys (`ctrl-p,ctrl-q` by default): docker's term.ToBytes format, and the escape
 * proxy the docker CLI puts on a TTY's stdin. Bytes that start the sequence are held back;
 * if the sequence breaks they are sent after all, if it completes the session detaches
 * and they are never sent.
 */
import { ValueError } from "./opts/values.ts";

export const DEFAULT_DETACH_KEYS = "ctrl-p,ctrl-q";

/** `ctrl-p,ctrl-q` → [16, 17]; a key is one character or ctrl-(a-z @ [ \ ] ^ _). */
export function detachKeyBytes(spec: string): Buffer {
  const out: number[] = [];
  for (const raw of spec.split(",")) {
    const key = raw.trim();
    if (key.length > 1 && key.toLowerCase().startsWith("ctrl-")) {
      const c = key.slice(5).toLowerCase();
      if (c.length !== 1) throw new ValueError(`Unknown character: '${key}'`);
      const code = c.charCodeAt(0);
      if (c >= "a" && c <= "z") out.push(code - 96);
      else if ("@[\\]^_".includes(c)) out.push(code - 64);
      else throw new ValueError(`Unknown character: '${key}'`);
    } else if (key.length === 1) {
      out.push(key.charCodeAt(0));
    } else {
      throw new ValueError(`Unknown character: '${key}'`);
    }
  }
  return Buffer.from(out);
}

/** Watches stdin bytes for the detach sequence. */
export class EscapeProxy {
  private pos = 0;

  constructor(private readonly keys: Buffer) {}

  /** The bytes to pass on, and whether the sequence completed (the rest is dropped). */
  push(chunk: Buffer): { pass: Buffer; detach: boolean } {
    if (this.keys.length === 0) return { pass: chunk, detach: false };
    const pass: number[] = [];
    for (const byte of chunk) {
      if (byte === this.keys[this.pos]) {
        this.pos++;
        if (this.pos === this.keys.length) return { pass: Buffer.from(pass), detach: true };
        continue;
      }
      if (this.pos > 0) {
        pass.push(...this.keys.subarray(0, this.pos));
        this.pos = 0;
        if (byte === this.keys[0]) {
          this.pos = 1;
          continue;
        }
      }
      pass.push(byte);
    }
    return { pass: Buffer.from(pass), detach: false };
  }
}
