/**
 * One logical line → a raw node: the keyword, its flags and its arguments cut
 * the way each instruction's grammar says (Docker's "dispatch table"), before
 * any meaning is given to them (instructions.ts does that).
 *
 *   ADD, COPY, VOLUME         JSON array, else whitespace-separated words
 *   RUN, CMD, ENTRYPOINT,     JSON array (exec form), else the whole text
 *   SHELL                       (shell form)
 *   ENV, LABEL                `k=v k2="v 2"` pairs, or legacy `k the value`
 *   ARG                       `name` or `name=value` words
 *   EXPOSE, FROM              whitespace-separated words
 *   HEALTHCHECK               a type word, then like CMD
 *   MAINTAINER, STOPSIGNAL,   the whole text as one argument
 *   USER, WORKDIR
 *   ONBUILD                   another instruction
 *
 * Usage:
 *   nodeFromLine('ENV A=1 B="two words"', "\\").args  // ["A", "1", "=", "B", '"two words"', "="]
 */
import { invalid } from "./errors.ts";
import type { Heredoc } from "./heredoc.ts";
import { isSpace } from "./lexer.ts";
import { parseJsonArray, parseWords, splitCommand, splitWhitespace } from "./words.ts";

export interface Node {
  /** The keyword as written. */
  keyword: string;
  /** The logical line. */
  original: string;
  flags: string[];
  /** The arguments; for ENV/LABEL triples of key, value, separator ("=" or "" for the legacy form). */
  args: string[];
  /** The arguments were a JSON array. */
  json: boolean;
  /** ONBUILD's instruction. */
  sub?: Node;
  heredocs: Heredoc[];
}

export function nodeFromLine(line: string, escape: string): Node {
  const { cmd, flags, rest } = splitCommand(line, escape);
  const node: Node = { keyword: cmd, original: line, flags, args: [], json: false, heredocs: [] };
  switch (cmd.toLowerCase()) {
    case "add":
    case "copy":
    case "volume": {
      const json = parseJsonArray(rest);
      if (json) return { ...node, args: json, json: true };
      return { ...node, args: splitWhitespace(rest) };
    }
    case "run":
    case "cmd":
    case "entrypoint":
    case "shell":
      return { ...node, ...maybeJson(rest) };
    case "env":
    case "label":
      return { ...node, args: nameValues(rest, cmd.toUpperCase(), escape) };
    case "arg":
      return { ...node, args: parseWords(rest, escape) };
    case "expose":
    case "from":
      return { ...node, args: splitWhitespace(rest) };
    case "healthcheck": {
      const chars = Array.from(rest);
      let sep = 0;
      while (sep < chars.length && !isSpace(chars[sep] as string)) sep++;
      if (sep === 0) return node;
      let next = sep;
      while (next < chars.length && isSpace(chars[next] as string)) next++;
      const cmdPart = maybeJson(chars.slice(next).join(""));
      return { ...node, args: [chars.slice(0, sep).join(""), ...cmdPart.args], json: cmdPart.json };
    }
    case "maintainer":
    case "stopsignal":
    case "user":
    case "workdir":
      return { ...node, args: rest === "" ? [] : [rest] };
    case "onbuild":
      if (rest === "") return node;
      return { ...node, sub: nodeFromLine(rest, escape) };
    default:
      return node;
  }
}

function maybeJson(rest: string): { args: string[]; json: boolean } {
  if (rest === "") return { args: [], json: false };
  const json = parseJsonArray(rest);
  if (json) return { args: json, json: true };
  return { args: [rest], json: false };
}

/** ENV/LABEL: `k=v ...` (quotes allowed, kept for the lexer) or the legacy `k value with spaces`. */
function nameValues(rest: string, keyword: string, escape: string): string[] {
  const words = parseWords(rest, escape);
  if (words.length === 0) return [];
  if (!(words[0] as string).includes("=")) {
    const m = /[\t\v\f\r ]+/.exec(rest);
    if (!m) throw invalid(`${keyword} must have two arguments`, `write it as ${keyword} key=value`);
    return [rest.slice(0, m.index), rest.slice(m.index + m[0].length), ""];
  }
  const out: string[] = [];
  for (const w of words) {
    const eq = w.indexOf("=");
    if (eq < 0) {
      throw invalid(
        `Syntax error - can't find = in ${JSON.stringify(w)}. Must be of the form: name=value`,
        'quote values that hold spaces: key="a value"',
      );
    }
    out.push(w.slice(0, eq), w.slice(eq + 1), "=");
  }
  return out;
}

/** RUN, COPY and ADD (also as ONBUILD triggers) may carry here-documents, but not in JSON form. */
export function canContainHeredoc(node: Node): boolean {
  const n = node.keyword.toLowerCase() === "onbuild" && node.sub ? node.sub : node;
  const k = n.keyword.toLowerCase();
  return (k === "run" || k === "copy" || k === "add") && !n.json;
}
