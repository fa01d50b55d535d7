/**
 * A Go text/template subset for `--format`, enough for what people script against docker:
 *
 *   {{.ID}}  {{ .State.Pid }}  {{json .}}  {{.Name | upper}}  {{join .RepoTags ", "}}
 *   {{if .Running}}up{{else}}down{{end}}  {{range .Mounts}}{{.Source}} {{end}}
 *   {{index .Labels "a"}}  {{printf "%s:%d" .Name .Port}}  {{- trim markers -}}
 *
 * Functions: docker's (json, upper, lower, title, join, split, pad, truncate, println)
 * and Go's builtins (len, index, print, printf, eq, ne, lt, le, gt, ge, not, and, or).
 * Values print as Go's %v does: `<no value>` for a missing key, `[a b]` for lists,
 * `map[k:v]` for objects. Parse errors are TemplateErrors.
 */

export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TemplateError";
  }
}

type Node =
  | { t: "text"; s: string }
  | { t: "action"; p: Pipeline }
  | { t: "if"; p: Pipeline; then: Node[]; else: Node[] }
  | { t: "range"; p: Pipeline; body: Node[]; else: Node[] }
  | { t: "with"; p: Pipeline; body: Node[]; else: Node[] };

type Operand =
  | { t: "field"; path: string[]; root: boolean }
  | { t: "lit"; v: unknown }
  | { t: "fn"; name: string }
  | { t: "sub"; p: Pipeline };

type Command = Operand[];
type Pipeline = Command[];

const NO_VALUE = Symbol("no value");

// ---- lexing: text and actions -------------------------------------------------------------

function splitActions(src: string): ({ text: string } | { action: string })[] {
  const out: ({ text: string } | { action: string })[] = [];
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf("{{", i);
    if (open < 0) {
      out.push({ text: src.slice(i) });
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src.startsWith("- ", start) || src.startsWith("-\t", start) || src.startsWith("-\n", start)) {
      text = text.replace(/\s+$/, "");
      start += 1;
    }
    if (text) out.push({ text });
    const close = findClose(src, start);
    if (close < 0) throw new TemplateError(`template: unclosed action`);
    let inner = src.slice(start, close);
    let next = close + 2;
    if (/\s-$/.test(inner)) {
      inner = inner.slice(0, -1);
      const m = /^\s*/.exec(src.slice(next));
      next += m ? m[0].length : 0;
    }
    out.push({ action: inner.trim() });
    i = next;
  }
  return out;
}

function findClose(src: string, from: number): number {
  let q: string | undefined;
  for (let i = from; i < src.length; i++) {
    const c = src[i]!;
    if (q) {
      if (c === "\\" && q === '"') i++;
      else if (c === q) q = undefined;
    } else if (c === '"' || c === "`") q = c;
    else if (c === "}" && src[i + 1] === "}") return i;
  }
  return -1;
}

const TOKEN =
  /\s*(?:("(?:\\.|[^"\\])*")|(`[^`]*`)|(\()|(\))|(\|)|((?:\.[A-Za-z_]\w*)+|\.)|(\$\w*(?:\.[A-Za-z_]\w*)*)|(-?\d+(?:\.\d+)?)|([A-Za-z_]\w*))/y;

function tokenize(s: string): string[] {
  const out: string[] = [];
  TOKEN.lastIndex = 0;
  let pos = 0;
  while (pos < s.length) {
    if (/^\s*$/.test(s.slice(pos))) break;
    TOKEN.lastIndex = pos;
    const m = TOKEN.exec(s);
    if (!m) throw new TemplateError(`template: unexpected "${s.slice(pos).trim()[0] ?? ""}" in command`);
    out.push(m[0].trim());
    pos = TOKEN.lastIndex;
  }
  return out;
}

function parsePipeline(tokens: string[], pos = { i: 0 }, inParen = false): Pipeline {
  const cmds: Pipeline = [];
  let cur: Command = [];
  while (pos.i < tokens.length) {
    const tok = tokens[pos.i++]!;
    if (tok === "|") {
      if (cur.length === 0) throw new TemplateError("template: missing command before |");
      cmds.push(cur);
      cur = [];
    } else if (tok === ")") {
      if (!inParen) throw new TemplateError("template: unexpected )");
      break;
    } else if (tok === "(") {
      cur.push({ t: "sub", p: parsePipeline(tokens, pos, true) });
    } else if (tok.startsWith('"')) {
      cur.push({ t: "lit", v: JSON.parse(tok) as string });
    } else if (tok.startsWith("`")) {
      cur.push({ t: "lit", v: tok.slice(1, -1) });
    } else if (tok === ".") {
      cur.push({ t: "field", path: [], root: false });
    } else if (tok.startsWith(".")) {
      cur.push({ t: "field", path: tok.slice(1).split("."), root: false });
    } else if (tok.startsWith("$")) {
      const parts = tok.split(".");
      if (parts[0] !== "$") throw new TemplateError(`template: undefined variable "${parts[0] ?? ""}"`);
      cur.push({ t: "field", path: parts.slice(1), root: true });
    } else if (/^-?\d/.test(tok)) {
      cur.push({ t: "lit", v: Number(tok) });
    } else if (tok === "true" || tok === "false") {
      cur.push({ t: "lit", v: tok === "true" });
    } else if (tok === "nil") {
      cur.push({ t: "lit", v: null });
    } else {
      if (!(tok in FUNCS)) throw new TemplateError(`template: function "${tok}" not defined`);
      cur.push({ t: "fn", name: tok });
    }
  }
  if (cur.length > 0) cmds.push(cur);
  if (cmds.length === 0) throw new TemplateError("template: missing value for command");
  return cmds;
}

function parse(src: string): Node[] {
  const parts = splitActions(src);
  let i = 0;
  const block = (stopAt: string[], single = false): { nodes: Node[]; stop: string } => {
    const nodes: Node[] = [];
    while (i < parts.length) {
      const p = parts[i++]!;
      if ("text" in p) {
        nodes.push({ t: "text", s: p.text });
        continue;
      }
      const a = p.action;
      if (a.startsWith("/*")) continue;
      const kw = /^(\w+)\b\s*(.*)$/s.exec(a);
      const word = kw?.[1];
      if (word === "end" || word === "else") {
        if (!stopAt.includes(word)) throw new TemplateError(`template: unexpected {{${word}}}`);
        if (word === "else" && kw?.[2]) {
          // {{else if X}} is {{else}}{{if X}}…{{end}} sharing the outer end
          const sub = kw[2];
          const m = /^if\s+(.*)$/s.exec(sub);
          if (!m) throw new TemplateError(`template: unexpected {{else ${sub}}}`);
          i--;
          parts[i] = { action: `if ${m[1] ?? ""}` };
          return { nodes, stop: "elseif" };
        }
        return { nodes, stop: word };
      }
      if (word === "if" || word === "range" || word === "with") {
        const pipe = parsePipeline(tokenize(kw?.[2] ?? ""));
        const body = block(["end", "else"]);
        let elseNodes: Node[] = [];
        if (body.stop === "else") elseNodes = block(["end"]).nodes;
        // {{else if B}}: the rewritten `if B` is parsed as the one node of the else branch,
        // and it consumes the shared {{end}}.
        else if (body.stop === "elseif") elseNodes = block([], true).nodes;
        if (word === "if") nodes.push({ t: "if", p: pipe, then: body.nodes, else: elseNodes });
        else nodes.push({ t: word, p: pipe, body: body.nodes, else: elseNodes });
        if (single) return { nodes, stop: "" };
        continue;
      }
      nodes.push({ t: "action", p: parsePipeline(tokenize(a)) });
    }
    if (stopAt.length > 0) throw new TemplateError("template: unexpected EOF");
    return { nodes, stop: "" };
  };
  return block([]).nodes;
}

// ---- evaluation ----------------------------------------------------------------------------

function field(v: unknown, path: string[]): unknown {
  let cur: unknown = v;
  for (const k of path) {
    if (cur === null || cur === undefined || cur === NO_VALUE) return NO_VALUE;
    if (typeof cur !== "object")
      throw new TemplateError(`template: can't evaluate field ${k} in type ${typeof cur}`);
    const o = cur as Record<string, unknown>;
    cur = Object.prototype.hasOwnProperty.call(o, k) ? o[k] : NO_VALUE;
    if (cur === undefined) cur = NO_VALUE;
  }
  return cur;
}

export function truthy(v: unknown): boolean {
  if (v === NO_VALUE || v === null || v === undefined || v === false || v === 0 || v === "") return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === "object") return Object.keys(v).length > 0;
  return true;
}

/** Go's %v. */
export function show(v: unknown): string {
  if (v === NO_VALUE || v === undefined) return "<no value>";
  if (v === null) return "<nil>";
  if (typeof v === "string") return v;
  if (typeof v === "number") {
    if (Number.isInteger(v)) return String(v);
    return String(v);
  }
  if (typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return `[${v.map(show).join(" ")}]`;
  if (typeof v === "object") {
    const o = v as Record<string, unknown>;
    return `map[${Object.keys(o)
      .sort()
      .map((k) => `${k}:${show(o[k])}`)
      .join(" ")}]`;
  }
  return String(v);
}

/** Go's json.Marshal (HTML characters escaped, as encoding/json does). */
export function goJson(v: unknown): string {
  const s = JSON.stringify(v === NO_VALUE ? null : v) ?? "null";
  return s.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

const str = (v: unknown): string => (typeof v === "string" ? v : show(v));
const num = (v: unknown): number => (typeof v === "number" ? v : Number(v));
const cmp = (a: unknown, b: unknown): number =>
  typeof a === "string" && typeof b === "string" ? (a < b ? -1 : a > b ? 1 : 0) : num(a) - num(b);

function sprintf(format: string, args: unknown[]): string {
  let i = 0;
  return format.replace(
    /%([-+ 0#]*)(\d*)(?:\.(\d+))?([vsdqftx%])/g,
    (_m, _fl: string, w: string, prec: string, verb: string) => {
      if (verb === "%") return "%";
      const a = args[i++];
      let s: string;
      switch (verb) {
        case "d":
          s = String(Math.trunc(num(a)));
          break;
        case "f":
          s = num(a).toFixed(prec ? Number(prec) : 6);
          break;
        case "q":
          s = JSON.stringify(str(a));
          break;
        case "x":
          s = typeof a === "number" ? a.toString(16) : Buffer.from(str(a)).toString("hex");
          break;
        case "t":
          s = String(Boolean(a));
          break;
        default:
          s = str(a);
      }
      const width = w ? Number(w) : 0;
      return _fl.includes("-") ? s.padEnd(width) : s.padStart(width);
    },
  );
}

type Fn = (...args: unknown[]) => unknown;

const FUNCS: Record<string, Fn> = {
  json: (v) => goJson(v),
  upper: (v) => str(v).toUpperCase(),
  lower: (v) => str(v).toLowerCase(),
  title: (v) => str(v).replace(/\b\w/g, (c) => c.toUpperCase()),
  join: (arr, sep) => (Array.isArray(arr) ? arr.map(str).join(str(sep)) : str(arr)),
  split: (s, sep) => str(s).split(str(sep)),
  pad: (s, l, r) => " ".repeat(num(l)) + str(s) + " ".repeat(num(r)),
  truncate: (s, n) => [...str(s)].slice(0, num(n)).join(""),
  println: (...a) => a.map(str).join(" ") + "\n",
  print: (...a) => a.map(str).join(""),
  printf: (f, ...a) => sprintf(str(f), a),
  len: (v) => {
    if (typeof v === "string" || Array.isArray(v)) return v.length;
    if (v && typeof v === "object") return Object.keys(v).length;
    throw new TemplateError(`template: len of ${show(v)}`);
  },
  index: (v, ...keys) => {
    let cur = v;
    for (const k of keys) {
      if (cur === null || typeof cur !== "object") return NO_VALUE;
      const o = cur as Record<string, unknown>;
      cur = Array.isArray(cur) ? (cur as unknown[])[num(k)] : o[str(k)];
      if (cur === undefined) return NO_VALUE;
    }
    return cur;
  },
  eq: (a, ...b) =>
    b.some((x) => x === a || (x !== null && a !== null && show(x) === show(a) && typeof x === typeof a)),
  ne: (a, b) => a !== b,
  lt: (a, b) => cmp(a, b) < 0,
  le: (a, b) => cmp(a, b) <= 0,
  gt: (a, b) => cmp(a, b) > 0,
  ge: (a, b) => cmp(a, b) >= 0,
  not: (a) => !truthy(a),
  and: (...a) => a.find((x) => !truthy(x)) ?? a[a.length - 1],
  or: (...a) => a.find((x) => truthy(x)) ?? a[a.length - 1],
};

function evalOperand(o: Operand, dot: unknown, root: unknown): unknown {
  switch (o.t) {
    case "field":
      return field(o.root ? root : dot, o.path);
    case "lit":
      return o.v;
    case "sub":
      return evalPipeline(o.p, dot, root);
    case "fn":
      return FUNCS[o.name]!();
  }
}

function evalPipeline(p: Pipeline, dot: unknown, root: unknown): unknown {
  let prev: unknown = NO_VALUE;
  p.forEach((cmd, idx) => {
    const [head, ...rest] = cmd;
    if (!head) return;
    const args = rest.map((o) => evalOperand(o, dot, root));
    if (idx > 0) args.push(prev);
    if (head.t === "fn") {
      prev = FUNCS[head.name]!(...args);
    } else {
      if (args.length > 0) throw new TemplateError(`template: can't give argument to non-function`);
      prev = evalOperand(head, dot, root);
    }
  });
  return prev;
}

function exec(nodes: Node[], dot: unknown, root: unknown, out: string[]): void {
  for (const n of nodes) {
    switch (n.t) {
      case "text":
        out.push(n.s);
        break;
      case "action":
        out.push(show(evalPipeline(n.p, dot, root)));
        break;
      case "if":
        exec(truthy(evalPipeline(n.p, dot, root)) ? n.then : n.else, dot, root, out);
        break;
      case "with": {
        const v = evalPipeline(n.p, dot, root);
        if (truthy(v)) exec(n.body, v, root, out);
        else exec(n.else, dot, root, out);
        break;
      }
      case "range": {
        const v = evalPipeline(n.p, dot, root);
        const items = Array.isArray(v)
          ? v
          : v && typeof v === "object"
            ? Object.keys(v)
                .sort()
                .map((k) => (v as Record<string, unknown>)[k])
            : [];
        if (items.length === 0) exec(n.else, dot, root, out);
        for (const it of items) exec(n.body, it, root, out);
        break;
      }
    }
  }
}

export interface Template {
  execute(data: unknown): string;
}

export function compile(src: string): Template {
  const nodes = parse(src);
  return {
    execute: (data) => {
      const out: string[] = [];
      exec(nodes, data, data, out);
      return out.join("");
    },
  };
}

/** Renders `src` with `data` (compile once with `compile` for many rows). */
export function render(src: string, data: unknown): string {
  return compile(src).execute(data);
}
