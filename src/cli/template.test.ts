import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseArgs, UsageError } from "./args.ts";
import { formatInspect, formatRows, tabwrite } from "./table.ts";
import { TemplateError, render } from "./template.ts";
import { humanDuration, humanSize } from "./units.ts";

const data = {
  ID: "3f2a",
  Name: "web",
  State: { Pid: 42, Running: true, Status: "running" },
  RepoTags: ["busybox:latest", "bb:1"],
  Labels: { "a.b": "x" },
  Empty: [],
  N: 3,
};

describe("Go templates", () => {
  const cases: [string, string][] = [
    ["{{.ID}}", "3f2a"],
    ["{{ .State.Pid }}", "42"],
    ["{{json .State}}", '{"Pid":42,"Running":true,"Status":"running"}'],
    ["{{json .RepoTags}}", '["busybox:latest","bb:1"]'],
    ['{{upper .Name}} {{lower "ABC"}}', "WEB abc"],
    ["{{.Name | upper}}", "WEB"],
    ['{{join .RepoTags ", "}}', "busybox:latest, bb:1"],
    ["{{.State}}", "map[Pid:42 Running:true Status:running]"],
    ["{{.RepoTags}}", "[busybox:latest bb:1]"],
    ["{{.Missing}}", "<no value>"],
    ["{{if .State.Running}}up{{else}}down{{end}}", "up"],
    ["{{if .Empty}}some{{else}}none{{end}}", "none"],
    ["{{if eq .N 1}}one{{else if eq .N 3}}three{{else}}many{{end}}", "three"],
    ["{{range .RepoTags}}<{{.}}>{{end}}", "<busybox:latest><bb:1>"],
    ["{{range .Empty}}x{{else}}empty{{end}}", "empty"],
    ["{{with .State}}{{.Status}}{{end}}", "running"],
    ['{{index .Labels "a.b"}}', "x"],
    ['{{printf "%s=%d" .Name .N}}', "web=3"],
    ["{{len .RepoTags}}", "2"],
    ['{{split "a,b" ","}}', "[a b]"],
    ["{{title .Name}}", "Web"],
    ["{{lower (upper .Name)}}", "web"],
    ["a {{- .Name -}} b", "awebb"],
    ["{{$.ID}}", "3f2a"],
    ['{{json "<&>"}}', '"\\u003c\\u0026\\u003e"'],
  ];
  for (const [tpl, want] of cases) test(tpl, () => assert.equal(render(tpl, data), want));

  test("errors", () => {
    assert.throws(() => render("{{.ID", data), TemplateError);
    assert.throws(() => render("{{nofunc .ID}}", data), TemplateError);
    assert.throws(() => render("{{if .ID}}x", data), TemplateError);
    assert.throws(() => render("{{end}}", data), TemplateError);
  });
});

describe("tables", () => {
  test("tabwrite pads columns like docker's tabwriter (minwidth 10, padding 3)", () => {
    const out = tabwrite("REPOSITORY\tTAG\tIMAGE ID\nbusybox\tlatest\tabc");
    assert.equal(out, "REPOSITORY   TAG       IMAGE ID\nbusybox      latest    abc");
  });

  test("formatRows: table header from headers, \\t escapes, json", () => {
    const rows = [
      { Repository: "busybox", Tag: "latest" },
      { Repository: "localhost:5000/bb", Tag: "1" },
    ];
    const spec = {
      defaultFormat: "table {{.Repository}}\t{{.Tag}}",
      headers: { Repository: "REPOSITORY", Tag: "TAG" },
    };
    assert.equal(
      formatRows(rows, { ...spec, format: undefined }),
      "REPOSITORY          TAG\nbusybox             latest\nlocalhost:5000/bb   1\n",
    );
    assert.equal(
      formatRows(rows, { ...spec, format: "{{.Repository}}:{{.Tag}}" }),
      "busybox:latest\nlocalhost:5000/bb:1\n",
    );
    assert.equal(
      formatRows(rows, { ...spec, format: "table {{.Tag}}\\t{{.Repository}}" }).split("\n")[0],
      "TAG       REPOSITORY",
    );
    assert.equal(
      formatRows(rows.slice(0, 1), { ...spec, format: "json" }),
      '{"Repository":"busybox","Tag":"latest"}\n',
    );
    assert.equal(formatRows([], { ...spec, format: undefined }), "REPOSITORY   TAG\n");
  });

  test("formatInspect: 4-space JSON array, or a template per object", () => {
    assert.equal(formatInspect([{ a: 1 }], undefined), '[\n    {\n        "a": 1\n    }\n]\n');
    assert.equal(formatInspect([{ a: 1 }, { a: 2 }], "{{.a}}"), "1\n2\n");
  });
});

describe("docker-style flags", () => {
  const specs = [
    { name: "interactive", short: "i", kind: "bool" as const, help: "" },
    { name: "tty", short: "t", kind: "bool" as const, help: "" },
    { name: "env", short: "e", kind: "list" as const, help: "" },
    { name: "name", kind: "string" as const, help: "" },
  ];

  test("combined shorts, --flag=value, repeated lists, -eVALUE", () => {
    const p = parseArgs(
      ["-it", "--name=web", "-e", "A=1", "-eB=2", "--env", "C=3", "img", "sh"],
      specs,
      "pier run",
    );
    assert.equal(p.flags.get("interactive")?.[0], "true");
    assert.equal(p.flags.get("tty")?.[0], "true");
    assert.deepEqual(p.flags.get("env"), ["A=1", "B=2", "C=3"]);
    assert.equal(p.flags.get("name")?.[0], "web");
    assert.deepEqual(p.positionals, ["img", "sh"]);
  });

  test("non-interspersed commands stop at the first positional; -- ends flags", () => {
    const p = parseArgs(["-i", "img", "ls", "-la"], specs, "pier run", false);
    assert.deepEqual(p.positionals, ["img", "ls", "-la"]);
    assert.deepEqual(parseArgs(["--", "-i"], specs, "x").positionals, ["-i"]);
  });

  test("unknown flags and missing values are usage errors", () => {
    assert.throws(() => parseArgs(["--nope"], specs, "pier images"), UsageError);
    assert.throws(() => parseArgs(["-x"], specs, "pier images"), /unknown shorthand flag: 'x' in -x/);
    assert.throws(() => parseArgs(["--name"], specs, "pier images"), /flag needs an argument/);
  });
});

describe("units", () => {
  test("humanSize is decimal with 3 significant digits", () => {
    assert.equal(humanSize(4_261_550), "4.26MB");
    assert.equal(humanSize(999), "999B");
    assert.equal(humanSize(77_900_000), "77.9MB");
    assert.equal(humanSize(1_000), "1kB");
  });
  test("humanDuration", () => {
    assert.equal(humanDuration(500), "Less than a second");
    assert.equal(humanDuration(30_000), "30 seconds");
    assert.equal(humanDuration(90_000), "About a minute");
    assert.equal(humanDuration(3 * 3_600_000), "3 hours");
    assert.equal(humanDuration(3 * 86_400_000), "3 days");
    assert.equal(humanDuration(800 * 86_400_000), "2 years");
  });
});
