// `pier explain`: the picture for a fixture (testdata/explain.json → testdata/explain.txt,
// the golden rendering at 80 columns without colour), its invariants (box aligned, layers
// top to bottom, nothing wider than asked), colour only when asked, and the command's
// --format json / template over the stub's `GET /containers/{id}/explain`.
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { ContainerExplain } from "../../api/client/index.ts";
import { renderExplain } from "../explain-render.ts";
import { StubDaemon } from "../testing/stub-daemon.ts";

const ESC = "\u001b";
const hasAnsi = (s: string) => s.includes(`${ESC}[`);
const stripAnsi = (s: string) =>
  s
    .split(ESC)
    .map((part, i) => (i === 0 ? part : part.replace(/^\[[0-9;]*m/, "")))
    .join("");
import { pier } from "../testing/run-pier.ts";

const DATA = join(import.meta.dirname, "..", "testdata");
const fixture = JSON.parse(readFileSync(join(DATA, "explain.json"), "utf8")) as ContainerExplain;

describe("explain", () => {
  test("the golden picture", () => {
    const text = renderExplain(fixture, { color: false, width: 80 });
    if (process.env.PIER_UPDATE_GOLDEN) writeFileSync(join(DATA, "explain.txt"), text);
    assert.equal(text, readFileSync(join(DATA, "explain.txt"), "utf8"));
  });

  test("no colour unless asked; no line wider than the width", () => {
    for (const width of [60, 80, 100]) {
      const plain = renderExplain(fixture, { color: false, width });
      assert.ok(!hasAnsi(plain));
      for (const line of plain.split("\n")) assert.ok([...line].length <= width, `${width}: ${line}`);
      const box = plain.split("\n").filter((l) => /^ {2}[┌│├└]/.test(l));
      assert.ok(box.length > 0);
      for (const line of box) assert.equal([...line].length, width - 2 + 2, line);
    }
    const colour = renderExplain(fixture, { color: true, width: 80 });
    assert.ok(colour.includes(`${ESC}[32mprivate${ESC}[0m`));
    assert.ok(colour.includes(`${ESC}[33mhost${ESC}[0m`));
    assert.equal(stripAnsi(colour), renderExplain(fixture, { color: false, width: 80 }));
  });

  test("the stack is drawn top down: writable, init, then the image layers newest first", () => {
    const text = renderExplain(fixture, { color: false, width: 80 });
    const order = ["writable layer", "init layer", "mkdir -p /www", "ADD file:"].map((s) => text.indexOf(s));
    assert.deepEqual(
      [...order].sort((a, b) => a - b),
      order,
    );
    assert.ok(order.every((i) => i > 0));
  });

  test("a stopped container, no limits, nothing mounted", () => {
    const bare: ContainerExplain = {
      ...fixture,
      Process: { HostPid: 0, Command: ["sh"] },
      Namespaces: [],
      Cgroup: { Path: "/sys/fs/cgroup/pier/x", Limits: {}, Usage: {} },
      Mounts: [],
      Ports: [],
      Lxcfs: false,
    };
    const text = renderExplain(bare, { color: false, width: 80 });
    assert.match(text, /not running/);
    assert.match(text, /memory +no limit/);
    assert.match(text, /no published ports/);
    assert.match(text, /no {3}\/proc shows the host's/);
  });

  describe("the command", () => {
    let stub: StubDaemon;
    before(async () => {
      stub = await StubDaemon.start();
      stub.route("GET", /^\/containers\/web\/explain$/, (_r, res) => {
        res.end(JSON.stringify(fixture));
      });
    });
    after(async () => {
      await stub.close();
    });

    test("pier explain web draws it; --format json and templates give data", async () => {
      const r = await pier(stub.socketPath, ["explain", "web"]);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.includes("host PID 41235"));
      assert.ok(!hasAnsi(r.stdout));
      const j = await pier(stub.socketPath, ["explain", "--format", "json", "web"]);
      assert.deepEqual(JSON.parse(j.stdout), fixture);
      const t = await pier(stub.socketPath, [
        "container",
        "explain",
        "-f",
        "{{.Process.HostPid}} {{len .Layers}}",
        "web",
      ]);
      assert.equal(t.stdout, "41235 4\n");
      const missing = await pier(stub.socketPath, ["explain", "nope"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, "Error response from daemon: nope\n");
    });
  });
});
