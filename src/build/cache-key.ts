/**
 * Build cache keys.
 *
 * The rule: an instruction's result can be reused when it runs on the same
 * parent, does the same thing, sees the same build arguments and (for
 * COPY/ADD) copies the same content. So the key is the sha256 of:
 *
 *   parent       the ID of the image state it runs on — the parent image's
 *                config digest (which covers its layers and its config: ENV,
 *                WORKDIR, USER, SHELL…), or "scratch"
 *   instruction  its canonical text after variable expansion
 *                (dockerfile/normalize.ts: spelling, flag order and line
 *                breaks do not matter; RUN is its argv with SHELL applied)
 *   buildArgs    the ARGs it depends on, name=value, sorted by name (for RUN
 *                every ARG in scope, since the command reads them from its
 *                environment; undeclared proxy args never count)
 *   content      the COPY/ADD content checksum (copy/checksum.ts), else empty
 *
 * encoded unambiguously (one JSON array) with a version tag, so changing any
 * part changes the key and no two different inputs can collide by
 * concatenation. Modification times are never part of a key.
 *
 * Usage:
 *   const ev = scope.expand(ins);
 *   const key = cacheKey({ parent: parentConfigDigest, instruction: instructionText(ev),
 *                          buildArgs: ev.usedArgs, contentChecksum: await copyChecksum(plan) });
 */
import { createHash } from "node:crypto";

export interface CacheKeyInput {
  /** The parent image state's ID (its config digest), or "scratch". */
  parent: string;
  /** instructionText() of the evaluated instruction. */
  instruction: string;
  /** The build arguments the instruction depends on (Evaluated.usedArgs). */
  buildArgs?: Readonly<Record<string, string>>;
  /** copyChecksum() of a COPY/ADD plan. */
  contentChecksum?: string;
}

export const CACHE_KEY_VERSION = "pier-build-cache-v1";

export function cacheKey(input: CacheKeyInput): string {
  const args = Object.entries(input.buildArgs ?? {})
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`);
  const data = JSON.stringify([
    CACHE_KEY_VERSION,
    input.parent,
    input.instruction,
    args,
    input.contentChecksum ?? "",
  ]);
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}
