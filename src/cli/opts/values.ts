/**
 * Value parsers for docker's flags, with the messages docker's parsers give (the CLI puts
 * them into `invalid argument "V" for "--flag" flag: MESSAGE`):
 *
 *   ramInBytes("512m") = 536870912      go-units RAMInBytes (binary suffixes)
 *   parseDuration("1m30s") = 90e9 ns    Go's time.ParseDuration
 *   nanoCpus("1.5") = 1500000000        docker's NanoCPUs (a decimal number of CPUs)
 *   parseInt64("12") = 12               strconv.ParseInt
 */

/** A value rejected by a parser: `message` is the part after "flag: ". */
export class ValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ValueError";
  }
}

const BINARY: Record<string, number> = { k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };
const DECIMAL: Record<string, number> = { k: 1e3, m: 1e6, g: 1e9, t: 1e12, p: 1e15 };

/** go-units parseSize, shared by RAMInBytes (binary) and FromHumanSize (decimal). */
function parseSize(s: string, units: Record<string, number>): number {
  let sep = -1;
  for (let i = s.length - 1; i >= 0; i--) {
    if ("0123456789. ".includes(s[i]!)) {
      sep = i;
      break;
    }
  }
  if (sep === -1) throw new ValueError(`invalid size: '${s}'`);
  let num: string;
  let sfx: string;
  if (s[sep] !== " ") {
    num = s.slice(0, sep + 1);
    sfx = s.slice(sep + 1);
  } else {
    num = s.slice(0, sep);
    sfx = s.slice(sep + 1);
  }
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(num)) {
    throw new ValueError(`strconv.ParseFloat: parsing "${num}": invalid syntax`);
  }
  let size = Number(num);
  if (size < 0) throw new ValueError(`invalid size: '${s}'`);
  if (sfx.length === 0) return Math.trunc(size);
  const bad = () => new ValueError(`invalid suffix: '${sfx}'`);
  if (sfx.length > 3) throw bad();
  sfx = sfx.toLowerCase();
  if (sfx[0] === "b") {
    if (sfx.length > 1) throw bad();
    return Math.trunc(size);
  }
  const mul = units[sfx[0]!];
  if (mul === undefined) throw bad();
  size *= mul;
  if ((sfx.length === 2 && sfx[1] !== "b") || (sfx.length === 3 && sfx.slice(1) !== "ib")) throw bad();
  return Math.trunc(size);
}

export const ramInBytes = (s: string): number => parseSize(s, BINARY);
export const fromHumanSize = (s: string): number => parseSize(s, DECIMAL);

/** `--memory-swap`: -1 for unlimited, else a size. */
export const memSwapBytes = (s: string): number => (s === "-1" ? -1 : ramInBytes(s));

const DURATION_UNITS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  µs: 1e3,
  μs: 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Go's time.ParseDuration, in nanoseconds. */
export function parseDuration(s: string): number {
  const bad = () => new ValueError(`time: invalid duration "${s}"`);
  let rest = s;
  let sign = 1;
  if (rest[0] === "-" || rest[0] === "+") {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw bad();
  let total = 0;
  while (rest !== "") {
    const m = /^(\d*)(?:\.(\d*))?/.exec(rest);
    if (!m || (m[1] === "" && (m[2] === undefined || m[2] === ""))) throw bad();
    rest = rest.slice(m[0].length);
    const u = /^[^\d.]+/.exec(rest);
    if (!u) throw new ValueError(`time: missing unit in duration "${s}"`);
    const mul = DURATION_UNITS[u[0]];
    if (mul === undefined) throw new ValueError(`time: unknown unit "${u[0]}" in duration "${s}"`);
    rest = rest.slice(u[0].length);
    total += Number(`${m[1] || "0"}.${m[2] ?? "0"}`) * mul;
  }
  return Math.round(sign * total);
}

/** `--cpus 1.5` → 1500000000; docker parses a rational number. */
export function nanoCpus(s: string): number {
  let v: number;
  const frac = /^([+-]?\d+)\/(\d+)$/.exec(s);
  if (frac) v = Number(frac[1]) / Number(frac[2]);
  else if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(s)) v = Number(s);
  else throw new ValueError(`failed to parse ${s} as a rational number`);
  const n = v * 1e9;
  if (Math.abs(n - Math.round(n)) > 1e-3) throw new ValueError("value is too precise");
  return Math.round(n);
}

/** strconv.ParseInt(s, 10, 64). */
export function parseInt64(s: string): number {
  if (!/^[+-]?\d+$/.test(s)) throw new ValueError(`strconv.ParseInt: parsing "${s}": invalid syntax`);
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new ValueError(`strconv.ParseInt: parsing "${s}": value out of range`);
  return n;
}

/** strconv.ParseUint(s, 10, bits). */
export function parseUint(s: string, bits = 64): number {
  if (!/^\d+$/.test(s)) throw new ValueError(`strconv.ParseUint: parsing "${s}": invalid syntax`);
  const n = Number(s);
  if (n >= 2 ** bits || !Number.isSafeInteger(n)) {
    throw new ValueError(`strconv.ParseUint: parsing "${s}": value out of range`);
  }
  return n;
}

/** strconv.ParseBool. */
export function parseBool(s: string): boolean {
  if (/^(1|t|T|TRUE|true|True)$/.test(s)) return true;
  if (/^(0|f|F|FALSE|false|False)$/.test(s)) return false;
  throw new ValueError(`strconv.ParseBool: parsing "${s}": invalid syntax`);
}

const ERRNO_TEXT: Record<string, string> = {
  ENOENT: "no such file or directory",
  EACCES: "permission denied",
  EISDIR: "is a directory",
  ENOTDIR: "not a directory",
};

/** Go's *PathError text: `open /x: no such file or directory`. */
export function goPathError(op: string, path: string, e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return `${op} ${path}: ${(err.code && ERRNO_TEXT[err.code]) ?? err.message}`;
}
