/**
 * How an instruction's line is cut into pieces before any variable is
 * expanded, following Docker's parser:
 *
 * - splitCommand: the instruction keyword, its leading `--flags` (quotes and
 *   escapes honoured inside a flag, `--` ends them) and the rest.
 * - parseWords: words separated by whitespace where quotes keep whitespace
 *   inside a word; quotes and escapes are KEPT in the words (the lexer
 *   removes them later). Used by ENV, LABEL and ARG.
 * - splitWhitespace: plain whitespace split, quotes mean nothing (ADD, COPY,
 *   VOLUME, EXPOSE and FROM in their non-JSON form).
 * - parseJsonArray: the exec form. A line starting with `[` that is not valid
 *   JSON is NOT an error: Docker falls back to the shell form. Valid JSON
 *   holding something other than strings is an error.
 *
 * Usage:
 *   splitCommand("COPY --from=build /out /app", "\\")
 *     // { cmd: "COPY", flags: ["--from=build"], rest: "/out /app" }
 */
import { invalid } from "./errors.ts";
import { isSpace } from "./lexer.ts";

const WHITESPACE = /[\t\v\f\r ]+/;

export function splitWhitespace(s: string): string[] {
  if (s === "") return [];
  return s.split(WHITESPACE);
}

export interface SplitCommand {
  cmd: string;
  flags: string[];
  rest: string;
}

export function splitCommand(line: string, escape: string): SplitCommand {
  const trimmed = line.trim();
  const m = /[\t\v\f\r ]+/.exec(trimmed);
  if (!m) return { cmd: trimmed, flags: [], rest: "" };
  const cmd = trimmed.slice(0, m.index);
  const { rest, flags } = extractFlags(trimmed.slice(m.index + m[0].length), escape);
  return { cmd, flags, rest: rest.trim() };
}

/** Leading `--flag[=value]` words of `line`, and what follows them. */
export function extractFlags(line: string, escape: string): { rest: string; flags: string[] } {
  const flags: string[] = [];
  const chars = Array.from(line);
  let i = 0;
  for (;;) {
    while (i < chars.length && isSpace(chars[i] as string)) i++;
    if (i >= chars.length) return { rest: "", flags };
    if (chars[i] !== "-" || chars[i + 1] !== "-") return { rest: chars.slice(i).join(""), flags };
    let word = "";
    let quote: string | null = null;
    let blankOK = false;
    for (; i < chars.length; i++) {
      const ch = chars[i] as string;
      if (quote !== null) {
        if (ch === quote) {
          quote = null;
          continue;
        }
      } else {
        if (isSpace(ch)) break;
        if (ch === "'" || ch === '"') {
          quote = ch;
          blankOK = true;
          continue;
        }
      }
      if (ch === escape) {
        if (i + 1 >= chars.length) {
          quote = null;
          continue; // an escape at the very end is dropped
        }
        i++;
        word += chars[i];
        continue;
      }
      word += ch;
    }
    if (word === "--") return { rest: chars.slice(i).join(""), flags };
    if (blankOK || word.length > 0) flags.push(word);
  }
}

/** Whitespace-separated words; quotes group, and quotes and escapes stay in the words. */
export function parseWords(rest: string, escape: string): string[] {
  const words: string[] = [];
  const chars = Array.from(rest);
  let word = "";
  let inWord = false;
  let quote: string | null = null;
  let blankOK = false;
  const flush = () => {
    if (blankOK || word.length > 0) words.push(word);
    word = "";
    blankOK = false;
    inWord = false;
  };
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i] as string;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === null) {
      if (isSpace(ch)) {
        flush();
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOK = true;
      } else if (ch === escape) {
        if (i + 1 >= chars.length) continue; // an escape at the very end is dropped
        // Outside quotes the escape and the escaped character are both kept, even a quote.
        word += ch;
        i++;
        ch = chars[i] as string;
      }
      word += ch;
      continue;
    }
    if (ch === quote) {
      quote = null;
    } else if (ch === escape && quote !== "'") {
      if (i + 1 >= chars.length) {
        quote = null;
        continue;
      }
      word += ch;
      i++;
      ch = chars[i] as string;
    }
    word += ch;
  }
  if (inWord) flush();
  return words;
}

/**
 * The exec form: the strings of a JSON array, or undefined when `rest` is not
 * a JSON array (the caller then uses the shell form).
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const s = rest.trimStart();
  if (!s.startsWith("[")) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return undefined;
  }
  if (!Array.isArray(parsed)) return undefined;
  for (const v of parsed) {
    if (typeof v !== "string") {
      throw invalid(
        "when using JSON array syntax, arrays must be comprised of strings only",
        'quote every element, e.g. ["sleep", "10"]',
      );
    }
  }
  return parsed as string[];
}
