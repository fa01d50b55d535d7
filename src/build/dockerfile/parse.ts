/**
 * parseDockerfile: the text of a Dockerfile → its syntax tree (ast.ts).
 *
 * Lines, as Docker reads them:
 * - Parser directives (`# syntax=…`, `# escape=…`, `# check=…`, names
 *   case-insensitive, spaces allowed around `=`) are recognised only at the
 *   very top: the first line that is not one — an instruction, a blank line,
 *   an ordinary comment or an unknown directive — ends them, and later
 *   directive-looking lines are plain comments. Each may appear once.
 * - `#` starts a comment only at the start of a line (after whitespace); a
 *   `#` elsewhere is an argument.
 * - A line whose last non-blank character is the escape character (`\`, or
 *   `` ` `` under `# escape=`) continues on the next; comment lines and blank
 *   lines inside a continuation are skipped (blank ones with a warning).
 *   Continuation lines keep their leading whitespace.
 * - After a RUN/COPY/ADD line naming here-documents, their bodies follow, in
 *   order, each up to its terminator line.
 * - A UTF-8 byte-order mark is ignored; CRLF line endings are accepted.
 *
 * Structure: ARGs before the first FROM are global (usable in FROM lines);
 * anything else before FROM is an error; stage names must be unique.
 *
 * Usage:
 *   const df = parseDockerfile(readFileSync("Dockerfile", "utf8"), { file: "Dockerfile" });
 *   df.stages.map((s) => s.name)  // e.g. ["build", undefined]
 */
import type { ArgInstruction, Directive, Dockerfile, Instruction, Stage, Warning } from "./ast.ts";
import { atLocation, invalid, syntaxError, type Location } from "./errors.ts";
import { heredocsFromLine } from "./heredoc.ts";
import { toInstruction } from "./instructions.ts";
import { canContainHeredoc, nodeFromLine, type Node } from "./node.ts";

export interface ParseOptions {
  /** The file name used in messages (default "Dockerfile"). */
  file?: string;
}

const DIRECTIVES = new Set(["syntax", "escape", "check"]);
const DIRECTIVE = /^([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$/;

/** Tracks parser directives: only at the top, each once; `escape` changes the escape character. */
class Directives {
  escape = "\\";
  continuation = continuationRegex("\\");
  readonly found: Directive[] = [];
  private done = false;
  private line = 0;

  /** Looks at a (left-trimmed) line; returns true when it was a directive. */
  consider(line: string): boolean {
    this.line++;
    if (this.done) return false;
    if (!line.startsWith("#")) {
      this.done = true;
      return false;
    }
    const m = DIRECTIVE.exec(line.slice(1).trimStart());
    const name = m?.[1]?.toLowerCase();
    if (!m || name === undefined || !DIRECTIVES.has(name)) {
      this.done = true;
      return false;
    }
    if (this.found.some((d) => d.name === name)) {
      throw invalid(`only one ${name} parser directive can be used`, "remove the repeated directive");
    }
    const value = m[2] as string;
    if (name === "escape") {
      if (value !== "`" && value !== "\\") {
        throw invalid(
          `invalid escape token '${value}' does not match \` or \\`,
          "use # escape=\\ or # escape=`",
        );
      }
      this.escape = value;
      this.continuation = continuationRegex(value);
    }
    this.found.push({ name, value, line: this.line });
    return true;
  }
}

function continuationRegex(escape: string): RegExp {
  const e = escape === "\\" ? "\\\\" : escape;
  // The escape character as the last non-blank character, unless it is itself escaped.
  return new RegExp(`([^${e}])${e}[ \\t]*$|^${e}[ \\t]*$`);
}

const trimNewline = (s: string): string => s.replace(/[\r\n]+$/, "");
const trimLeft = (s: string): string => s.replace(/^\s+/u, "");
const isComment = (s: string): boolean => trimLeft(s).startsWith("#");

/** The physical lines, each with its line ending. */
function physicalLines(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const nl = text.indexOf("\n", start);
    if (nl < 0) {
      if (start < text.length) out.push(text.slice(start));
      return out;
    }
    out.push(text.slice(start, nl + 1));
    start = nl + 1;
  }
}

/** The line-level parse: raw nodes (no meaning given yet), directives and warnings. */
export interface ParsedLines {
  nodes: { node: Node; loc: Location }[];
  escape: string;
  directives: Directive[];
  warnings: Warning[];
}

export function parseDockerfile(source: string | Buffer, opts: ParseOptions = {}): Dockerfile {
  const file = opts.file ?? "Dockerfile";
  const { nodes, escape, directives, warnings } = parseLines(source, opts);
  const at = (startLine: number, endLine = startLine): Location => ({ file, startLine, endLine });
  if (nodes.length === 0) {
    throw syntaxError(at(0), "file with no instructions", "a Dockerfile needs at least a FROM line");
  }
  const out: Dockerfile = { file, escape, directives, globalArgs: [], stages: [], warnings };
  const syntax = directives.find((x) => x.name === "syntax");
  if (syntax) {
    out.syntax = syntax.value;
    if (!/^(docker\.io\/)?docker\/dockerfile(-upstream)?(:|@|$)/.test(syntax.value)) {
      warnings.push({
        loc: at(syntax.line),
        message: `# syntax=${syntax.value} is not used: pier parses Dockerfiles with its built-in frontend`,
      });
    }
  }
  return assemble(out, nodes);
}

/** Physical lines → logical instructions (raw nodes) with their locations. */
export function parseLines(source: string | Buffer, opts: ParseOptions = {}): ParsedLines {
  const file = opts.file ?? "Dockerfile";
  let text = typeof source === "string" ? source : source.toString("utf8");
  if (text.startsWith("\ufeff")) text = text.slice(1);
  const lines = physicalLines(text);
  const d = new Directives();
  const warnings: Warning[] = [];
  const nodes: { node: Node; loc: Location }[] = [];
  const at = (startLine: number, endLine = startLine): Location => ({ file, startLine, endLine });

  // processLine: strip the line ending (and leading blanks on a first line), let the
  // directive parser look at it, and drop it if it is a comment.
  const processLine = (raw: string, lineNo: number, first: boolean): string => {
    let token = trimNewline(raw);
    if (first) token = trimLeft(token);
    try {
      d.consider(token);
    } catch (err) {
      throw atLocation(err, at(lineNo));
    }
    return isComment(token) ? "" : token;
  };
  const trimContinuation = (line: string): { line: string; eol: boolean } =>
    d.continuation.test(line)
      ? { line: line.replace(d.continuation, "$1"), eol: false }
      : { line, eol: true };

  let i = 0;
  let lineNo = 0;
  while (i < lines.length) {
    const first = processLine(lines[i++] as string, lineNo + 1, true);
    lineNo++;
    const startLine = lineNo;
    let { line, eol } = trimContinuation(first);
    if (eol && line === "") continue;
    let buf = line;
    let emptyContinuation = false;
    while (!eol && i < lines.length) {
      const raw = lines[i++] as string;
      const p = processLine(raw, lineNo + 1, false);
      lineNo++;
      if (isComment(raw)) continue;
      if (trimLeft(trimNewline(p)) === "") {
        emptyContinuation = true;
        continue;
      }
      ({ line, eol } = trimContinuation(p));
      buf += line;
    }
    if (emptyContinuation) {
      warnings.push({
        loc: at(startLine, lineNo),
        message: `empty continuation line found in: ${buf.trim()} (empty continuation lines will become errors in a future release)`,
      });
    }

    let node: Node;
    try {
      node = nodeFromLine(buf, d.escape);
    } catch (err) {
      throw atLocation(err, at(startLine, lineNo));
    }
    if (canContainHeredoc(node) && buf.includes("<<")) {
      let heredocs;
      try {
        heredocs = heredocsFromLine(buf);
      } catch (err) {
        throw atLocation(err, at(startLine, lineNo));
      }
      for (const h of heredocs) {
        let content = "";
        let terminated = false;
        while (i < lines.length) {
          const raw = lines[i++] as string;
          lineNo++;
          let candidate = trimNewline(raw);
          if (h.chomp) candidate = candidate.replace(/^\t+/, "");
          if (candidate === h.name) {
            terminated = true;
            break;
          }
          content += raw;
        }
        if (!terminated) {
          throw syntaxError(
            at(startLine, lineNo),
            `unterminated heredoc ${h.name}`,
            `end the here-document with a line holding only ${h.name}`,
          );
        }
        node.heredocs.push({ ...h, content });
      }
    }
    nodes.push({ node, loc: at(startLine, lineNo) });
  }

  return { nodes, escape: d.escape, directives: d.found, warnings };
}

function assemble(out: Dockerfile, nodes: ParsedLines["nodes"]): Dockerfile {
  const warnings = out.warnings;
  const at = (line: number): Location => ({ file: out.file, startLine: line, endLine: line });
  const names = new Map<string, Stage>();
  for (const { node, loc } of nodes) {
    const ins = toInstruction(node, loc);
    warn(ins, warnings);
    if (ins.kind === "FROM") {
      const stage: Stage = { index: out.stages.length, from: ins, instructions: [] };
      if (ins.name !== undefined) {
        const prev = names.get(ins.name);
        if (prev) {
          throw syntaxError(
            loc,
            `duplicate stage name ${JSON.stringify(ins.name)}`,
            `it is already used by the stage on line ${prev.from.loc.startLine}; give each stage its own name`,
          );
        }
        stage.name = ins.name;
        names.set(ins.name, stage);
      }
      out.stages.push(stage);
      continue;
    }
    const current = out.stages[out.stages.length - 1];
    if (!current) {
      if (ins.kind === "ARG") {
        out.globalArgs.push(ins as ArgInstruction);
        continue;
      }
      throw syntaxError(
        loc,
        "no build stage in current context",
        `a Dockerfile must start with FROM (only ARG may come before it), found ${ins.keyword}`,
      );
    }
    current.instructions.push(ins);
  }
  if (out.stages.length === 0) {
    throw syntaxError(
      at(nodes[nodes.length - 1]?.loc.endLine ?? 0),
      "no build stage in Dockerfile",
      "add a FROM line",
    );
  }
  return out;
}

function warn(ins: Instruction, warnings: Warning[]): void {
  const w = (message: string) => warnings.push({ loc: ins.loc, message });
  switch (ins.kind) {
    case "MAINTAINER":
      w("MAINTAINER is deprecated; use LABEL org.opencontainers.image.authors=... instead");
      break;
    case "ENV":
    case "LABEL":
      if (ins.legacy)
        w(
          `legacy key/value format with whitespace separator should not be used; write ${ins.kind} key=value`,
        );
      break;
    case "FROM":
      if (ins.name === "scratch" || ins.name === "context") {
        w(`stage name ${JSON.stringify(ins.name)} is reserved and should not be used`);
      }
      break;
  }
}
