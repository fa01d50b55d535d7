// The three output styles, from a fake sink: docker's classic text with times, BuildKit's
// plain blocks with prefixed RUN output, and nothing with -q.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Reporter, type OutputStyle } from "./output.ts";

const ID = `sha256:${"ab".repeat(32)}`;

function run(style: OutputStyle): string {
  let out = "";
  const r = new Reporter(style, { write: (s) => (out += s) });
  r.line("[Warning] something");
  r.step({ index: 1, total: 3, stage: "stage-0", text: "FROM busybox" }).done(ID);
  r.step({ index: 2, total: 3, stage: "stage-0", text: "ENV A=1" }).cached(ID);
  const s = r.step({ index: 3, total: 3, stage: "stage-0", text: "RUN make" });
  s.running("c0ffee".repeat(10));
  s.output({ stream: 1, data: Buffer.from("line one\nline ") });
  s.output({ stream: 2, data: Buffer.from("two\nno newline") });
  s.removed("c0ffee".repeat(10));
  s.done(ID);
  r.finished(ID, ["docker.io/library/x:latest"]);
  return out;
}

test("classic: Step n/m, Running in, output as is, Removing, ---> id (time)", () => {
  const out = run("classic");
  assert.match(out, /^\[Warning\] something\nStep 1\/3 : FROM busybox\n ---> abababababab \(\d\.\d\ds\)\n/);
  assert.match(out, /Step 2\/3 : ENV A=1\n ---> Using cache\n ---> abababababab \(\d\.\d\ds\)\n/);
  assert.match(
    out,
    /Step 3\/3 : RUN make\n ---> Running in c0ffeec0ffee\nline one\nline two\nno newline\nRemoving intermediate container c0ffeec0ffee\n ---> abababababab/,
  );
});

test("plain: numbered blocks, output lines prefixed with the block and seconds, DONE and CACHED", () => {
  const out = run("plain");
  assert.match(out, /\n#1 \[stage-0 1\/3\] FROM busybox\n#1 DONE \d+\.\ds\n/);
  assert.match(out, /\n#2 \[stage-0 2\/3\] ENV A=1\n#2 CACHED\n/);
  assert.match(out, /#3 \d+\.\d{3} line one\n#3 \d+\.\d{3} line two\n#3 \d+\.\d{3} no newline\n#3 DONE/);
  assert.match(
    out,
    /#4 writing image sha256:(ab){32} done\n#4 naming to docker\.io\/library\/x:latest done\n/,
  );
});

test("quiet: nothing", () => {
  assert.equal(run("quiet"), "");
});
