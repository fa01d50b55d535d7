/** Word processing: quotes, escapes and every substitution operator. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { isKind } from "../../common/errors.ts";
import { processWord, processWords, type LexOptions } from "./lexer.ts";

const ENV = new Map([
  ["A", "a"],
  ["EMPTY", ""],
  ["SPACED", "one  two"],
  ["PATHV", "/usr/local/bin/tool.tar.gz"],
  ["U", "ünï"],
]);
const look = (k: string) => ENV.get(k);
const w = (s: string, opts?: LexOptions) => processWord(s, look, opts).value;
const ws = (s: string, opts?: LexOptions) => processWords(s, look, opts);
const fails = (s: string, re: RegExp) =>
  assert.throws(
    () => w(s),
    (e: unknown) => isKind(e, "InvalidArgument") && re.test((e as Error).message),
  );

test("plain references, braces, unset variables, lone dollars", () => {
  assert.equal(w("$A"), "a");
  assert.equal(w("${A}"), "a");
  assert.equal(w("x${A}y$A.z"), "xay" + "a.z");
  assert.equal(w("$NOPE|${NOPE}"), "|");
  assert.equal(w("cost: 5$"), "cost: 5$");
  assert.equal(w("$ a"), "$ a");
  assert.equal(w("$1$@"), "", "positional and special parameters are unset");
  assert.equal(w("$Aé"), "", "names are Unicode letters: $Aé is one (unset) name");
  assert.equal(w("${U}"), "ünï");
});

test("quotes: single quotes are literal, double quotes expand, both are removed", () => {
  assert.equal(w(`'$A'`), "$A");
  assert.equal(w(`"$A"`), "a");
  assert.equal(w(`"it's"`), "it's");
  assert.equal(w(`'say "hi"'`), 'say "hi"');
  assert.equal(w(`a"b c"d`), "ab cd");
  assert.equal(w(`"\\"q\\" \\$A \\\\ \\n"`), `"q" $A \\ \\n`, 'in "..." only " $ and \\ are escaped');
  assert.equal(w(`'\\'`), "\\", "no escapes in single quotes");
  assert.equal(w(`'a'"$A"`, { rawQuotes: true }), `'a'"a"`);
  fails(`"open`, /matching double-quote/);
  fails(`'open`, /matching single-quote/);
});

test("escapes outside quotes, escape at the end, backtick escape", () => {
  assert.equal(w("\\$A"), "$A");
  assert.equal(w("a\\ b"), "a b");
  assert.equal(w("C:\\\\dir"), "C:\\dir");
  assert.equal(w("end\\"), "end");
  assert.equal(w("\\$A", { rawEscapes: true }), "\\$A");
  assert.equal(w("`$A and \\$A", { escape: "`" }), "$A and \\a", "with escape=` the backslash is literal");
  assert.equal(w("C:\\Windows", { escape: "`" }), "C:\\Windows");
});

test("${VAR:-word} and ${VAR-word}: unset vs empty", () => {
  assert.equal(w("${A:-d}"), "a");
  assert.equal(w("${NOPE:-d}"), "d");
  assert.equal(w("${EMPTY:-d}"), "d");
  assert.equal(w("${NOPE-d}"), "d");
  assert.equal(w("${EMPTY-d}"), "", "without the colon an empty variable counts as set");
  assert.equal(w("${NOPE:-}"), "");
  assert.equal(w("${NOPE:-two words}"), "two words");
});

test("${VAR:+word} and ${VAR+word}", () => {
  assert.equal(w("${A:+alt}"), "alt");
  assert.equal(w("${NOPE:+alt}"), "");
  assert.equal(w("${EMPTY:+alt}"), "");
  assert.equal(w("${EMPTY+alt}"), "alt");
  assert.equal(w("${NOPE+alt}"), "");
});

test("${VAR?msg} and ${VAR:?msg}", () => {
  assert.equal(w("${A?x}"), "a");
  assert.equal(w("${EMPTY?x}"), "");
  fails("${NOPE?}", /NOPE: is not allowed to be unset/);
  fails("${NOPE?please set NOPE}", /NOPE: please set NOPE/);
  fails("${EMPTY:?}", /EMPTY: is not allowed to be empty/);
});

test("nested, quoted and escaped words inside substitutions", () => {
  assert.equal(w("${NOPE:-${A}}"), "a");
  assert.equal(w("${NOPE:-${ALSO:-deep}}"), "deep");
  assert.equal(w("${NOPE:-'${A}'}"), "${A}", "single quotes inside the word keep it literal");
  assert.equal(w('${NOPE:-"$A b"}'), "a b");
  assert.equal(w("${NOPE:-a\\}b}"), "a}b", "an escaped } does not end the word");
  assert.equal(w("\\${A:-x}"), "${A:-x}", "an escaped $ makes the whole reference literal");
  assert.equal(w("pre${A:+[${A}]}post"), "pre[a]post");
});

test("prefix and suffix removal, shortest and longest", () => {
  assert.equal(w("${PATHV#*/}"), "usr/local/bin/tool.tar.gz");
  assert.equal(w("${PATHV##*/}"), "tool.tar.gz");
  assert.equal(w("${PATHV%.*}"), "/usr/local/bin/tool.tar");
  assert.equal(w("${PATHV%%.*}"), "/usr/local/bin/tool");
  assert.equal(w("${PATHV#/usr}"), "/local/bin/tool.tar.gz");
  assert.equal(w("${PATHV%nomatch}"), "/usr/local/bin/tool.tar.gz");
  assert.equal(w("${PATHV%?z}"), "/usr/local/bin/tool.tar.");
  assert.equal(w("${NOPE#x}"), "");
  fails("${A:#x}", /unsupported modifier \(:#\)/);
});

test("pattern replacement, first and all; escapes in patterns", () => {
  assert.equal(w("${PATHV/\\//:}"), ":usr/local/bin/tool.tar.gz");
  assert.equal(w("${PATHV//\\//:}"), ":usr:local:bin:tool.tar.gz");
  assert.equal(w("${PATHV/t*l/X}"), "/usr/local/bin/X.tar.gz", "* is greedy in replacements");
  assert.equal(w("${SPACED// /_}"), "one__two");
  assert.equal(w("${PATHV/.tar/}"), "/usr/local/bin/tool.gz", ". is literal");
  fails("${PATHV/x", /missing '\/'/);
});

test("syntax errors name the word", () => {
  fails("${A", /failed to process "\$\{A": syntax error: missing '}'/);
  fails("${", /missing '}'/);
  fails("${}", /bad substitution/);
  fails("${:-x}", /bad substitution/);
  fails("${A:x}", /unsupported modifier \(:x\)/);
  fails("${A!}", /unsupported modifier \(!\)/);
  fails("${A:-x", /missing '}'/);
});

test("word splitting: unquoted expansions split, quoted text does not, empty quotes vanish", () => {
  assert.deepEqual(ws("a b  c"), ["a", "b", "c"]);
  assert.deepEqual(ws("$SPACED x"), ["one", "two", "x"]);
  assert.deepEqual(ws('"$SPACED" x'), ["one  two", "x"]);
  assert.deepEqual(ws("a'b c'd e"), ["ab cd", "e"]);
  assert.deepEqual(ws("a\\ b"), ["a b"]);
  assert.deepEqual(ws("  "), []);
  assert.deepEqual(ws('x "" y'), ["x", "y"]);
  assert.deepEqual(ws("cat << EOF"), ["cat", "<< EOF"], "`<<` keeps the following blanks in its word");
});

test("unset variables can be kept as written (here-document detection)", () => {
  const keep = { skipUnsetEnv: true };
  assert.equal(w("$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b}", keep), "$NOPE ${NOPE} ${NOPE:-x} ${NOPE/a/b}");
  assert.equal(w("$A", keep), "a");
});

test("the expansion reports which variables it used and which were unset", () => {
  const r = processWord("$A ${NOPE:-x} ${EMPTY}", look);
  assert.deepEqual([...r.matched].sort(), ["A", "EMPTY"]);
  assert.deepEqual([...r.unmatched], ["NOPE"]);
});

test("skipProcessQuotes: quotes are ordinary characters (here-document bodies)", () => {
  assert.equal(w(`echo "$A" '$A' \\$A`, { skipProcessQuotes: true }), `echo "a" 'a' $A`);
});
