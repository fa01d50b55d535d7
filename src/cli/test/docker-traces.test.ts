// pier's commands against docker 28's own traffic (testdata/docker-commands.json, recorded
// by testdata/record-docker.ts against the same stub daemon): the same requests (method,
// path, query, JSON body), the same stdout and the same exit code, command by command.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeContext } from "../testdata/cases.ts";
import { StubDaemon } from "../testing/stub-daemon.ts";
import { pier } from "../testing/run-pier.ts";

interface CommandCase {
  args: string[];
  code: number;
  stdout: string;
  stderr: string;
  requests: string[];
}

const CASES = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "testdata", "docker-commands.json"), "utf8"),
) as CommandCase[];

/**
 * Where pier differs on purpose (by the joined arguments): what is left out of the
 * comparison and why.
 */
const KNOWN: Record<
  string,
  { skip: ("requests" | "stdout" | "code")[]; why: string; stdout?: (mine: string, theirs: string) => void }
> = {
  "ps -a --format json": {
    skip: ["stdout"],
    why: "CreatedAt is the stub's clock; docker lists Networks in Go map order (random)",
    stdout: (mine, theirs) => {
      const rows = (s: string) =>
        s
          .trim()
          .split("\n")
          .map((l) => {
            const o = JSON.parse(l) as Record<string, string>;
            delete o.CreatedAt;
            o.Networks = (o.Networks ?? "").split(",").sort().join(",");
            return o;
          });
      assert.deepEqual(rows(mine), rows(theirs));
    },
  },
  "stop --time 5 web": { skip: ["stdout"], why: "docker prints a deprecation notice for --time" },
  "cp $CTX/tree web:/srv": { skip: ["requests"], why: "the tar body holds file times" },
  "cp $CTX/env.list web:/tmp/": { skip: ["requests"], why: "the tar body holds file times" },
};

/** The comparable part of a request line: bodies that are tars are cut off. */
const norm = (line: string) => line.replace(/(PUT \S+\/archive\S*) .*/s, "$1 <tar>");

describe("pier sends what docker sends", () => {
  let stub: StubDaemon;
  let ctx: string;
  before(async () => {
    stub = await StubDaemon.start();
    ctx = realpathSync(mkdtempSync(join(tmpdir(), "pier-ctx-")));
    writeContext(ctx);
  });
  after(async () => {
    await stub.close();
    rmSync(ctx, { recursive: true, force: true });
  });
  const sub = (s: string) => s.split("$CTX").join(ctx);
  const unsub = (s: string) => s.split(ctx).join("$CTX");

  for (const c of CASES) {
    const key = c.args.join(" ");
    test(`pier ${key}`, async () => {
      stub.requests.length = 0;
      stub.log.length = 0;
      rmSync(join(ctx, "out.txt"), { force: true });
      const r = await pier(stub.socketPath, c.args.map(sub), {
        stdin: "in\n",
        env: { PIER_TEST_VAR: "from-env" },
        cwd: ctx,
      });
      await new Promise((res) => setTimeout(res, 20));
      const skip = KNOWN[key]?.skip ?? [];
      if (!skip.includes("code")) assert.equal(r.code, c.code, `exit code; stderr: ${r.stderr}`);
      if (!skip.includes("stdout")) assert.equal(unsub(r.stdout), c.stdout);
      KNOWN[key]?.stdout?.(unsub(r.stdout), c.stdout);
      if (!skip.includes("requests")) {
        // pier's own extension endpoints are extra by design.
        const mine = stub
          .lines()
          .filter((l) => !l.includes(" /v1.43/pier/"))
          .map(unsub)
          .map(norm);
        const theirs = c.requests.map(norm);
        // Requests docker sends at once (stop a b) may arrive in any order: compare as sets too.
        assert.deepEqual([...mine].sort(), [...theirs].sort());
      }
      if (c.code !== 0 && c.stderr) {
        // The first line of an error says the same thing (pier's usage hint may follow).
        assert.equal(unsub(r.stderr.split("\n")[0] ?? ""), c.stderr.split("\n")[0]!.replace(/^docker: /, ""));
      }
    });
  }
});
