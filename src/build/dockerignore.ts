/**
 * .dockerignore: which files of the build context a build may not see, with
 * Docker's rules (moby/patternmatcher and its ignore-file reader):
 *
 * - One pattern a line; lines starting with `#` are comments (only in the
 *   first column); blank lines are skipped; surrounding whitespace is trimmed.
 * - Patterns are cleaned like paths (`a//b/./c/` is `a/b/c`), and a leading
 *   `/` is dropped: every pattern is relative to the context root.
 * - `*` and `?` never cross `/`; `[...]` classes; `\` escapes; `**` matches any
 *   number of directories (`**\/*.go`, `docs/**`, `a/**\/b`).
 * - A pattern that matches a directory excludes everything below it.
 * - `!pattern` is an exception that brings matches back; the LAST pattern
 *   that matches a path (or one of its parent directories) decides.
 *   An exception under an excluded directory still works: the walker goes
 *   into such a directory when some exception could match below it.
 *
 * Usage:
 *   const ig = IgnoreMatcher.fromFile("node_modules\n*.log\n!keep.log\n");
 *   ig.excludes("node_modules/x/index.js")  // true
 *   ig.excludes("keep.log")                 // false
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PierError } from "../common/errors.ts";
import { checkGlob, cleanPath, globMatch } from "./glob.ts";

/** The patterns of an ignore file, as Docker reads them (exceptions keep their `!`). */
export function parseDockerignore(text: string | Buffer): string[] {
  return readLines(text).map((l) => l.pattern);
}

function readLines(text: string | Buffer): { pattern: string; line: number }[] {
  let s = typeof text === "string" ? text : text.toString("utf8");
  if (s.startsWith("\ufeff")) s = s.slice(1);
  const out: { pattern: string; line: number }[] = [];
  s.split("\n").forEach((raw, i) => {
    const lineText = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (lineText.startsWith("#")) return;
    let p = lineText.trim();
    if (p === "") return;
    const invert = p.startsWith("!");
    if (invert) p = p.slice(1).trim();
    if (p.length > 0) {
      p = cleanPath(p);
      if (p.length > 1 && p.startsWith("/")) p = p.slice(1);
    }
    out.push({ pattern: invert ? "!" + p : p, line: i + 1 });
  });
  return out;
}

type Kind = "exact" | "prefix" | "suffix" | "regexp";

class Pattern {
  readonly kind: Kind;
  private readonly re: RegExp | undefined;
  readonly dirs: string[];

  constructor(
    readonly text: string,
    readonly exclusion: boolean,
  ) {
    this.dirs = text.split("/");
    const compiled = compile(text);
    this.kind = compiled.kind;
    this.re = compiled.re;
  }

  matches(path: string): boolean {
    switch (this.kind) {
      case "exact":
        return path === this.text;
      case "prefix":
        return path.startsWith(this.text.slice(0, -2));
      case "suffix": {
        const suffix = this.text.slice(2);
        if (path.endsWith(suffix)) return true;
        // "**/foo" also matches "foo" itself.
        return suffix.startsWith("/") && path === suffix.slice(1);
      }
      case "regexp":
        return (this.re as RegExp).test(path);
    }
  }
}

const escapeRe = (ch: string) => ch.replace(/[\\^$.*+?()[\]{}|/]/g, "\\$&");
const escapeClass = (ch: string) => ch.replace(/[\\\][^-]/g, "\\$&");

/** A cleaned pattern as a regular expression, or one of the cheap exact/prefix/suffix tests. */
function compile(pattern: string): { kind: Kind; re?: RegExp } {
  const chars = Array.from(pattern);
  let re = "^";
  let kind: Kind = "exact";
  for (let i = 0; i < chars.length; i++) {
    const ch = chars[i] as string;
    if (ch === "*") {
      if (chars[i + 1] === "*") {
        const atStart = i === 0;
        i++;
        if (chars[i + 1] === "/") i++; // "**/" is "**"
        if (i + 1 >= chars.length) {
          // "**" at the end: everything below (as .gitignore).
          if (kind === "exact") kind = "prefix";
          else {
            re += ".*";
            kind = "regexp";
          }
        } else {
          re += "(.*/)?";
          kind = "regexp";
        }
        if (atStart) kind = "suffix";
      } else {
        re += "[^/]*";
        kind = "regexp";
      }
    } else if (ch === "?") {
      re += "[^/]";
      kind = "regexp";
    } else if (ch === "\\") {
      if (i + 1 < chars.length) {
        i++;
        re += escapeRe(chars[i] as string);
        kind = "regexp";
      } else {
        re += "\\\\";
      }
    } else if (ch === "[") {
      const cls = bracket(chars, i);
      re += cls.re;
      i = cls.end;
      kind = "regexp";
    } else {
      re += escapeRe(ch);
    }
  }
  if (kind !== "regexp") return { kind };
  return { kind, re: new RegExp(re + "$", "u") };
}

/** A `[...]` class at `start` as a regular-expression class (Go glob syntax: `^` negates, `\` escapes). */
function bracket(chars: string[], start: number): { re: string; end: number } {
  let i = start + 1;
  let out = "[";
  if (chars[i] === "^") {
    out += "^";
    i++;
  }
  let n = 0;
  for (; i < chars.length; i++) {
    let ch = chars[i] as string;
    if (ch === "]" && n > 0) return { re: out + "]", end: i };
    let escaped = false;
    if (ch === "\\" && i + 1 < chars.length) {
      ch = chars[++i] as string;
      escaped = true;
    }
    out += !escaped && ch === "-" && n > 0 && chars[i + 1] !== "]" ? "-" : escapeClass(ch);
    n++;
  }
  return { re: out + "]", end: chars.length - 1 };
}

export class IgnoreMatcher {
  private constructor(private readonly patterns: Pattern[]) {}

  /** No pattern at all: nothing is excluded. */
  static readonly none = new IgnoreMatcher([]);

  /** From patterns as parseDockerignore returns them. */
  static create(patterns: readonly string[], file = ".dockerignore"): IgnoreMatcher {
    return IgnoreMatcher.build(
      patterns.map((p, i) => ({ pattern: p, line: i + 1 })),
      file,
    );
  }

  /** From the text of an ignore file; errors name the file and line. */
  static fromFile(text: string | Buffer, file = ".dockerignore"): IgnoreMatcher {
    return IgnoreMatcher.build(readLines(text), file);
  }

  private static build(lines: { pattern: string; line: number }[], file: string): IgnoreMatcher {
    const out: Pattern[] = [];
    for (const { pattern, line } of lines) {
      let p = pattern.trim();
      if (p === "") continue;
      p = cleanPath(p);
      let exclusion = false;
      if (p.startsWith("!")) {
        if (p.length === 1) {
          throw new PierError("InvalidArgument", `${file}:${line}: illegal exclusion pattern: "!"`, {
            hint: "write the path to bring back after the !",
          });
        }
        exclusion = true;
        p = p.slice(1);
      }
      try {
        checkGlob(p);
      } catch (err) {
        throw new PierError("InvalidArgument", `${file}:${line}: ${(err as Error).message}`, {
          hint: "escape a literal [ with \\[",
        });
      }
      out.push(new Pattern(p, exclusion));
    }
    return new IgnoreMatcher(out);
  }

  /** Whether any pattern is an exception (`!...`). */
  get hasExceptions(): boolean {
    return this.patterns.some((p) => p.exclusion);
  }

  /** The patterns, exceptions with their `!`. */
  get list(): string[] {
    return this.patterns.map((p) => (p.exclusion ? "!" : "") + p.text);
  }

  /**
   * Whether the context path `path` (relative, `/`-separated) is excluded: the
   * last pattern matching it or one of its parent directories decides.
   */
  excludes(path: string): boolean {
    const file = cleanPath(path);
    if (file === "." || this.patterns.length === 0) return false;
    const slash = file.lastIndexOf("/");
    const parents = slash < 0 ? [] : file.slice(0, slash).split("/");
    let matched = false;
    for (const p of this.patterns) {
      // Only a pattern that could change the answer is tried.
      if (p.exclusion !== matched) continue;
      let m = p.matches(file);
      for (let i = 0; !m && i < parents.length; i++) m = p.matches(parents.slice(0, i + 1).join("/"));
      if (m) matched = !p.exclusion;
    }
    return matched;
  }

  /**
   * Whether an exception could bring back something under the directory `dir`
   * (so an excluded directory must still be walked). Conservative: true when unsure.
   */
  mayIncludeUnder(dir: string): boolean {
    const parts = cleanPath(dir).split("/");
    return this.patterns.some((p) => {
      if (!p.exclusion) return false;
      for (let i = 0; i < parts.length; i++) {
        const pc = p.dirs[i];
        if (pc === undefined) return true; // the exception matches an ancestor of dir
        if (pc.includes("**")) return true;
        try {
          if (!globMatch(pc, parts[i] as string)) return false;
        } catch {
          return true;
        }
      }
      return true;
    });
  }
}

/**
 * The ignore rules of a build: `<Dockerfile>.dockerignore` next to the
 * Dockerfile when it exists (BuildKit's rule), else `.dockerignore` at the
 * context root, else none.
 */
export async function loadDockerignore(contextDir: string, dockerfile?: string): Promise<IgnoreMatcher> {
  const candidates = dockerfile !== undefined ? [`${dockerfile}.dockerignore`] : [];
  candidates.push(join(contextDir, ".dockerignore"));
  for (const path of candidates) {
    let text: Buffer;
    try {
      text = await readFile(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") continue;
      throw new PierError("Internal", `read ${path}: ${(err as Error).message}`, { cause: err });
    }
    return IgnoreMatcher.fromFile(text, path);
  }
  return IgnoreMatcher.none;
}
