/**
 * Here-documents (BuildKit's Dockerfile syntax) on RUN, COPY and ADD:
 *
 *   RUN <<EOF            the body up to a line `EOF` is the script
 *   COPY <<-"EOF" /f     `-` strips leading tabs (body and terminator);
 *                        a quoted name (any quote in it) turns off expansion
 *   RUN 3<<A cat /dev/fd/3 && cat <<B   several on one line, read in order
 *
 * Detection follows BuildKit: the line is split into shell words (quotes and
 * escapes kept), and each word of the form `[n]<<[-]NAME` is a here-document.
 *
 * Usage:
 *   heredocsFromLine('RUN cat <<"EOF"')  // [{ name: "EOF", expand: false, chomp: false, fd: 0, content: "" }]
 */
import { processWords } from "./lexer.ts";

export interface Heredoc {
  /** The terminator, quotes removed. */
  name: string;
  /** File descriptor written before `<<` (0 when none). */
  fd: number;
  /** Whether variables in the body are expanded (the name was not quoted). */
  expand: boolean;
  /** `<<-`: leading tabs are stripped from the body and the terminator. */
  chomp: boolean;
  /** The body as written, each line with its line ending (tabs not stripped yet). */
  content: string;
}

const HEREDOC = /^(\d*)<<(-?)\s*([^<]*)$/;
const unset = () => undefined;

/** The here-document a word introduces, or undefined when it is not one. */
export function parseHeredoc(word: string): Heredoc | undefined {
  const m = HEREDOC.exec(word);
  if (!m) return undefined;
  const rest = m[3] ?? "";
  if (rest === "") return undefined;
  const words = processWords(rest, unset, { skipUnsetEnv: true });
  if (words.length !== 1) return undefined;
  const raw = processWords(rest, unset, { skipUnsetEnv: true, rawQuotes: true });
  if (raw.length !== 1) return undefined;
  const name = words[0] as string;
  const quotes = (s: string) => (s.match(/['"]/g) ?? []).length;
  return {
    name,
    fd: m[1] ? Number.parseInt(m[1], 10) : 0,
    expand: quotes(name) === quotes(raw[0] as string),
    chomp: m[2] === "-",
    content: "",
  };
}

/** Every here-document introduced on an instruction's (joined) line, in order. */
export function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = processWords(line, unset, { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
  } catch {
    return [];
  }
  const out: Heredoc[] = [];
  for (const w of words) {
    const h = parseHeredoc(w);
    if (h) out.push(h);
  }
  return out;
}

/** The body with leading tabs removed from every line (for `<<-`). */
export function chompHeredoc(content: string): string {
  return content.replace(/^\t+/gm, "");
}

/** The body as it is used: tabs stripped for `<<-`. */
export function heredocBody(h: Heredoc): string {
  return h.chomp ? chompHeredoc(h.content) : h.content;
}
