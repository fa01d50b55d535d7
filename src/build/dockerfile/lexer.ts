/**
 * Dockerfile word processing: quote removal, escapes and variable
 * substitution, with the rules Docker applies to the arguments of ADD, COPY,
 * ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG
 * defaults (RUN, CMD and ENTRYPOINT are left to the shell).
 *
 * - `'...'` is literal; `"..."` allows `$` and escapes only `"`, `$` and the
 *   escape character; outside quotes the escape character (`\`, or `` ` ``
 *   under `# escape=`) makes the next character literal.
 * - `$NAME`, `${NAME}`; `${NAME:-word}` / `${NAME-word}` (default when unset,
 *   or also when empty with `:`), `${NAME:+word}` / `${NAME+word}` (alternative),
 *   `${NAME:?msg}` / `${NAME?msg}` (error), `${NAME#pat}`, `${NAME##pat}`,
 *   `${NAME%pat}`, `${NAME%%pat}` (prefix/suffix removal, shortest/longest),
 *   `${NAME/pat/repl}`, `${NAME//pat/repl}` (replacement). Words nest:
 *   `${A:-${B:-c}}`. An unset variable expands to nothing; `$` before a
 *   character that cannot start a name stays `$`.
 * - processWords splits the result into words after expansion (unquoted
 *   expansions are split on whitespace, quoted text is kept together).
 *
 * Usage:
 *   const env = new Map([["V", "1.2"]]);
 *   processWord('"app-${V:-dev}"/bin', (k) => env.get(k)).value  // "app-1.2/bin"
 */
import { invalid } from "./errors.ts";

/** Looks a variable up; undefined when it is not set (an empty string is set). */
export type Lookup = (name: string) => string | undefined;

export interface LexOptions {
  /** The escape character: `\` (default) or `` ` ``. */
  escape?: string;
  /** Keep quote characters in the output (still honouring their meaning). */
  rawQuotes?: boolean;
  /** Keep escape characters in the output. */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters (used for here-document bodies). */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written. */
  skipUnsetEnv?: boolean;
}

export interface Processed {
  /** The processed text (whitespace between words kept). */
  value: string;
  /** The processed text split into words. */
  words: string[];
  /** Variables referenced that were set. */
  matched: Set<string>;
  /** Variables referenced that were not set. */
  unmatched: Set<string>;
}

/** Processes `word` as one word (whitespace kept); throws InvalidArgument on bad syntax. */
export function processWord(word: string, lookup: Lookup, opts: LexOptions = {}): Processed {
  return new ShellWord(word, lookup, opts).run();
}

/** Processes `text` and returns its words. */
export function processWords(text: string, lookup: Lookup, opts: LexOptions = {}): string[] {
  return processWord(text, lookup, opts).words;
}

const SPACE = /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]$/u;
export const isSpace = (ch: string): boolean => SPACE.test(ch);
const isLetter = (ch: string): boolean => /^\p{L}$/u.test(ch);
const isDigit = (ch: string): boolean => /^\p{Nd}$/u.test(ch);
const SPECIAL_PARAMS = "@*#?-$!0";

class Words {
  private buf = "";
  private readonly words: string[] = [];
  private inWord = false;

  addChar(ch: string): void {
    if (isSpace(ch)) {
      if (this.inWord && this.buf.length > 0) {
        this.words.push(this.buf);
        this.buf = "";
        this.inWord = false;
      }
    } else {
      this.addRawChar(ch);
    }
  }
  addRawChar(ch: string): void {
    this.buf += ch;
    this.inWord = true;
  }
  addString(s: string): void {
    for (const ch of s) this.addChar(ch);
  }
  addRawString(s: string): void {
    this.buf += s;
    this.inWord = true;
  }
  get(): string[] {
    if (this.buf.length > 0) {
      this.words.push(this.buf);
      this.buf = "";
      this.inWord = false;
    }
    return this.words;
  }
}

class ShellWord {
  private readonly chars: string[];
  private pos = 0;
  private readonly escape: string;
  private rawEscapes: boolean;
  private readonly matched = new Set<string>();
  private readonly unmatched = new Set<string>();

  constructor(
    private readonly source: string,
    private readonly lookup: Lookup,
    private readonly opts: LexOptions,
  ) {
    this.chars = Array.from(source);
    this.escape = opts.escape ?? "\\";
    this.rawEscapes = opts.rawEscapes ?? false;
  }

  run(): Processed {
    try {
      const { value, words } = this.stopOn(null, this.rawEscapes);
      return { value, words, matched: this.matched, unmatched: this.unmatched };
    } catch (err) {
      const msg = err instanceof Error ? err.message : String(err);
      throw invalid(`failed to process ${JSON.stringify(this.source)}: ${msg}`);
    }
  }

  private peek(): string | null {
    return this.chars[this.pos] ?? null;
  }
  private next(): string | null {
    const ch = this.chars[this.pos] ?? null;
    if (ch !== null) this.pos++;
    return ch;
  }

  /** Processes until `stop` (consumed) or the end; the stop character must be found if given. */
  private stopOn(stop: string | null, rawEscapes: boolean): { value: string; words: string[] } {
    const saved = this.rawEscapes;
    this.rawEscapes = rawEscapes;
    try {
      let result = "";
      const words = new Words();
      for (;;) {
        const ch = this.peek();
        if (ch === null) break;
        if (stop !== null && ch === stop) {
          this.next();
          return { value: result, words: words.get() };
        }
        if (ch === "$") {
          const v = this.dollar();
          result += v;
          words.addString(v);
        } else if (ch === "<") {
          const v = this.possibleHeredoc();
          result += v;
          words.addRawString(v);
        } else if ((ch === "'" || ch === '"') && !this.opts.skipProcessQuotes) {
          const v = ch === "'" ? this.singleQuote() : this.doubleQuote();
          result += v;
          words.addRawString(v);
        } else {
          let c = this.next() as string;
          if (c === this.escape) {
            if (this.rawEscapes) {
              words.addRawChar(c);
              result += c;
            }
            const n = this.next();
            if (n === null) break;
            c = n;
            words.addRawChar(c);
          } else {
            words.addChar(c);
          }
          result += c;
        }
      }
      if (stop !== null) throw new Error(`unexpected end of statement while looking for matching ${stop}`);
      return { value: result, words: words.get() };
    } finally {
      this.rawEscapes = saved;
    }
  }

  private singleQuote(): string {
    const raw = this.opts.rawQuotes === true;
    let result = raw ? "'" : "";
    this.next();
    for (;;) {
      const ch = this.next();
      if (ch === null) throw new Error("unexpected end of statement while looking for matching single-quote");
      if (ch === "'") return raw ? result + ch : result;
      result += ch;
    }
  }

  private doubleQuote(): string {
    const raw = this.opts.rawQuotes === true;
    let result = raw ? '"' : "";
    this.next();
    for (;;) {
      const p = this.peek();
      if (p === null) throw new Error("unexpected end of statement while looking for matching double-quote");
      if (p === '"') {
        this.next();
        return raw ? result + p : result;
      }
      if (p === "$") {
        result += this.dollar();
        continue;
      }
      let ch = this.next() as string;
      if (ch === this.escape) {
        if (this.rawEscapes) result += ch;
        const n = this.peek();
        if (n === null) continue; // an escape at the very end is dropped
        if (n === '"' || n === "$" || n === this.escape) ch = this.next() as string;
      }
      result += ch;
    }
  }

  private possibleHeredoc(): string {
    this.next();
    if (this.peek() !== "<") return "<";
    this.next();
    let space = "";
    for (let p = this.peek(); p === " " || p === "\t" || p === "\r"; p = this.peek()) {
      space += p;
      this.next();
    }
    return "<<" + space;
  }

  private get(name: string): string | undefined {
    const v = this.lookup(name);
    if (v === undefined) this.unmatched.add(name);
    else this.matched.add(name);
    return v;
  }

  private name(): string {
    let name = "";
    for (let ch = this.peek(); ch !== null; ch = this.peek()) {
      if (name === "" && isDigit(ch)) {
        while (this.peek() !== null && isDigit(this.peek() as string)) name += this.next();
        return name;
      }
      if (name === "" && SPECIAL_PARAMS.includes(ch)) {
        this.next();
        return ch;
      }
      if (!isLetter(ch) && !isDigit(ch) && ch !== "_") break;
      name += this.next();
    }
    return name;
  }

  private dollar(): string {
    this.next();
    if (this.peek() !== "{") {
      const name = this.name();
      if (name === "") return "$";
      const v = this.get(name);
      if (v === undefined && this.opts.skipUnsetEnv) return "$" + name;
      return v ?? "";
    }
    this.next();
    const first = this.peek();
    if (first === null) throw new Error("syntax error: missing '}'");
    if (first === "{" || first === "}" || first === ":") throw new Error("syntax error: bad substitution");
    const name = this.name();
    let ch = this.next();
    if (ch === null) throw new Error("syntax error: missing '}'");
    let op = ch;
    let nullIsUnset = false;

    switch (ch) {
      case "}": {
        const v = this.get(name);
        if (v === undefined && this.opts.skipUnsetEnv) return "${" + name + "}";
        return v ?? "";
      }
      case ":":
      case "+":
      case "-":
      case "?":
      case "#":
      case "%": {
        if (ch === ":") {
          nullIsUnset = true;
          ch = this.next();
          if (ch === null) throw new Error("syntax error: missing '}'");
          op += ch;
        }
        const rawEscapes = ch === "#" || ch === "%";
        if (nullIsUnset && rawEscapes) throw new Error(`unsupported modifier (${op}) in substitution`);
        const word = this.wordUntilBrace(rawEscapes);
        const v = this.get(name);
        if (this.opts.skipUnsetEnv && v === undefined) return "${" + name + op + word + "}";
        const unsetOrNull = v === undefined || (nullIsUnset && v === "");
        switch (ch) {
          case "-":
            return unsetOrNull ? word : (v ?? "");
          case "+":
            return unsetOrNull ? "" : word;
          case "?":
            if (v === undefined) throw new Error(`${name}: ${word || "is not allowed to be unset"}`);
            if (nullIsUnset && v === "") throw new Error(`${name}: ${word || "is not allowed to be empty"}`);
            return v;
          case "#":
          case "%": {
            let pat = word;
            let greedy = false;
            if (pat.startsWith(ch)) {
              greedy = true;
              pat = pat.slice(1);
            }
            return ch === "%" ? trimSuffix(pat, v ?? "", greedy) : trimPrefix(pat, v ?? "", greedy);
          }
          default:
            throw new Error(`unsupported modifier (${op}) in substitution`);
        }
      }
      case "/": {
        const all = this.peek() === "/";
        if (all) this.next();
        let pattern: string;
        try {
          pattern = this.stopOn("/", true).value;
        } catch (err) {
          if (this.peek() === null) throw new Error("syntax error: missing '/' in ${}");
          throw err;
        }
        const replacement = this.wordUntilBrace(true);
        const v = this.get(name);
        if (this.opts.skipUnsetEnv && v === undefined)
          return "${" + name + "/" + pattern + "/" + replacement + "}";
        const value = v ?? "";
        const re = shellPatternToRegex(pattern, true, false, all);
        if (all) return value.replace(re, () => replacement);
        const m = re.exec(value);
        if (!m) return value;
        return value.slice(0, m.index) + replacement + value.slice(m.index + m[0].length);
      }
      default:
        throw new Error(`unsupported modifier (${op}) in substitution`);
    }
  }

  private wordUntilBrace(rawEscapes: boolean): string {
    try {
      return this.stopOn("}", rawEscapes).value;
    } catch (err) {
      if (this.peek() === null) throw new Error("syntax error: missing '}'");
      throw err;
    }
  }
}

/**
 * A shell pattern (`*`, `?`, `\` escapes; no bracket expressions) as a
 * regular expression: `*` is shortest-match unless `greedy`.
 */
export function shellPatternToRegex(
  pattern: string,
  greedy: boolean,
  anchored: boolean,
  global = false,
): RegExp {
  const chars = Array.from(pattern);
  let out = anchored ? "^" : "";
  for (let i = 0; i < chars.length; i++) {
    const tok = chars[i] as string;
    switch (tok) {
      case "*":
        out += greedy ? ".*" : ".*?";
        break;
      case "?":
        out += ".";
        break;
      case "\\": {
        const n = chars[i + 1];
        // `}` and `/` are escaped only to get them past ${...}; the escape is not part of the pattern.
        if (n === "}" || n === "/") break;
        if (n !== "*" && n !== "?" && n !== "\\") {
          throw new Error(`invalid pattern (${pattern}) in substitution: invalid escape '\\${n ?? ""}'`);
        }
        out += "\\" + n;
        i++;
        break;
      }
      case "[":
      case "]":
      case "{":
      case "}":
      case ".":
      case "+":
      case "(":
      case ")":
      case "|":
      case "^":
      case "$":
        out += "\\" + tok;
        break;
      default:
        out += tok;
    }
  }
  return new RegExp(out, global ? "gu" : "u");
}

function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = shellPatternToRegex(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/** Reverses a pattern, keeping each escape in front of the character it escapes (`a\*c` → `c\*a`). */
function reversePattern(pattern: string): string {
  const p = Array.from(pattern);
  const out: string[] = new Array<string>(p.length);
  const last = p.length - 1;
  for (let i = 0; i <= last;) {
    const tok = p[i] as string;
    const o = last - i;
    if (tok === "\\" && i !== last) {
      out[o - 1] = tok;
      out[o] = p[i + 1] as string;
      i += 2;
    } else {
      out[o] = tok;
      i++;
    }
  }
  return out.join("");
}

const reverse = (s: string): string => Array.from(s).reverse().join("");

// A regular expression cannot find the shortest match anchored at the end, so
// both the pattern and the value are reversed and the prefix rule applied.
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}
