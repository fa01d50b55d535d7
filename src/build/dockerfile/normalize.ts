/**
 * The canonical text of an evaluated instruction, for cache keys: the keyword
 * followed by a JSON object of what the instruction does once its variables
 * are expanded — never how it was spelled (case, spacing, line breaks,
 * quoting, flag order and the legacy `ENV k v` form all vanish). RUN is its
 * argv as executed (SHELL and here-document bodies included) plus its
 * --mount/--network/--security options.
 *
 * Usage:
 *   const ev = scope.expand(ins);
 *   instructionText(ev, { shell: ["/bin/sh", "-c"] })  // 'RUN {"argv":["/bin/sh","-c","make"]}'
 */
import type { Instruction } from "./ast.ts";
import { runCommand, DEFAULT_SHELL } from "./run.ts";
import type { Evaluated } from "./scope.ts";

export interface NormalizeOptions {
  /** The stage's SHELL when the instruction runs (default /bin/sh -c). */
  shell?: readonly string[];
}

export function instructionText(ev: Evaluated, opts: NormalizeOptions = {}): string {
  return `${ev.instruction.kind} ${JSON.stringify(payload(ev, opts.shell ?? DEFAULT_SHELL))}`;
}

function payload(ev: Evaluated, shell: readonly string[]): unknown {
  const ins: Instruction = ev.instruction;
  switch (ins.kind) {
    case "FROM":
      return { image: ins.image, platform: ins.platform };
    case "RUN": {
      const { argv, files } = runCommand(ins, shell);
      return {
        argv,
        files: files.length ? files : undefined,
        mounts: ev.mounts?.length ? ev.mounts.map(sortKeys) : undefined,
        network: ins.network,
        security: ins.security,
      };
    }
    case "CMD":
    case "ENTRYPOINT":
      return ins.command;
    case "COPY":
    case "ADD":
      return {
        sources: ins.sources,
        inline: ins.inline.length ? ins.inline.map((s) => ({ name: s.name, content: s.content })) : undefined,
        dest: ins.dest,
        from: ins.kind === "COPY" ? ins.from : undefined,
        chown: ins.chown,
        chmod: ins.chmod,
        link: ins.link || undefined,
        parents: ins.kind === "COPY" ? ins.parents || undefined : undefined,
        excludes: ins.excludes.length ? ins.excludes : undefined,
        checksum: ins.kind === "ADD" ? ins.checksum : undefined,
        unpack: ins.kind === "ADD" ? ins.unpack : undefined,
        keepGitDir: ins.kind === "ADD" ? ins.keepGitDir : undefined,
      };
    case "ENV":
    case "LABEL":
      return ins.pairs.map((p) => [p.key, p.value]);
    case "ARG":
      return ins.args.map((a) => (a.default === undefined ? [a.name] : [a.name, a.default]));
    case "WORKDIR":
      return ins.path;
    case "USER":
      return ins.user;
    case "EXPOSE":
      return ev.ports ?? ins.ports;
    case "VOLUME":
      return ins.paths;
    case "SHELL":
      return ins.shell;
    case "STOPSIGNAL":
      return ins.signal;
    case "HEALTHCHECK":
      return ins.health;
    case "ONBUILD":
      return ins.expression;
    case "MAINTAINER":
      return ins.maintainer;
  }
}

function sortKeys<T extends object>(o: T): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(o).sort()) out[k] = (o as Record<string, unknown>)[k];
  return out;
}
