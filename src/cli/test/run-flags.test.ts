// `pier create` against docker 28's own requests (testdata/docker-create.json, recorded by
// testdata/record-docker.ts): for every case the create body must be byte-identical and
// the query the same; for every flag docker refuses, pier refuses it with docker's message
// and exit code 125.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { writeContext } from "../testdata/cases.ts";
import { StubDaemon } from "../testing/stub-daemon.ts";
import { pier } from "../testing/run-pier.ts";

interface CreateCase {
  args: string[];
  query?: string;
  body?: unknown;
  code?: number;
  error?: string;
}

const CASES = JSON.parse(
  readFileSync(join(import.meta.dirname, "..", "testdata", "docker-create.json"), "utf8"),
) as CreateCase[];

/** Where pier differs from docker on purpose, by the case's arguments. */
const KNOWN: Record<string, string> = {
  // docker exits 1 for a missing argument; pier keeps 125 for every usage error.
  "[]": "exit code",
  // docker 28 sends --mac-address per endpoint (API 1.44+) and refuses it against 1.43;
  // pier sends it as Config.MacAddress, which 1.43 defines.
  '["--hostname","h","--domainname","d.example","--mac-address","92:d0:c6:0a:29:33","busybox"]': "1.43 field",
};

describe("pier create sends what docker create sends", () => {
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
    const key = JSON.stringify(c.args);
    test(`create ${c.args.join(" ")}`, async () => {
      stub.requests.length = 0;
      const r = await pier(stub.socketPath, ["create", ...c.args.map(sub)], {
        env: { PIER_TEST_VAR: "from-env" },
        cwd: ctx,
      });
      rmSync(join(ctx, "cid-unused"), { force: true });
      if (KNOWN[key]) return;
      const req = stub.requests.find((q) => q.path === "/containers/create");
      if (c.body !== undefined) {
        assert.equal(r.code, 0, r.stderr);
        assert.ok(req, "no create request");
        // docker builds Binds from a Go map: its order is random, so only the set must match.
        const mine = JSON.parse(unsub(req.body)) as { HostConfig: { Binds: string[] | null } };
        const theirs = c.body as { HostConfig: { Binds: string[] | null } };
        const sorted = (b: string[] | null) => JSON.stringify(b && [...b].sort());
        if (sorted(mine.HostConfig.Binds) === sorted(theirs.HostConfig.Binds)) {
          mine.HostConfig.Binds = theirs.HostConfig.Binds;
        }
        assert.equal(JSON.stringify(mine), JSON.stringify(c.body));
        assert.equal(req.query.toString(), c.query);
        return;
      }
      assert.equal(req, undefined, "pier sent a create docker would not");
      const theirs = (c.error ?? "").replace(/^docker: /, "");
      assert.equal(unsub(r.stderr.split("\n")[0] ?? ""), theirs);
      assert.equal(r.code, c.code === 1 && theirs.includes("requires API version") ? 1 : 125);
    });
  }
});
