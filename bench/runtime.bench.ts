// Runtime benchmarks (make bench): medians and ratios against runc and crun, measured in one run.
//
// 1. CLI: `pier-runtime run` of a `true` container, against `node -e 0` + `runc run`
//    on the same bundle. Target: ratio <= 1.0 (Node's start-up is the only overhead accepted).
// 2. Library: the same lifecycle driven from inside a Node process (what the engine does),
//    against `crun run`. Target: <= 1.5x crun.
//
// crun refuses this machine's hybrid cgroup layout, so it runs in a private mount namespace
// where /sys/fs/cgroup/unified/cgroup.controllers reads empty (a bind of an empty file).
import { spawnSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Scratch, RUNTIME } from "../test/helpers/bundle.ts";
import { Runtime, run } from "../src/runtime/index.ts";

const N = Number(process.env.BENCH_N ?? 40);
const s = new Scratch("bench");

function median(xs: number[]): number {
  const a = [...xs].sort((x, y) => x - y);
  return a[Math.floor(a.length / 2)] as number;
}

function time(fn: () => void): number {
  const t = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

function must(r: ReturnType<typeof spawnSync>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (${r.status}): ${r.stderr?.toString()}`);
}

const fmt = (x: number) => `${x.toFixed(1)} ms`;
const nodeEnv = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "NODE_EXTRA_CA_CERTS"));

async function main(): Promise<void> {
  const bundle = s.bundle(["true"]);
  const runcRoot = join(s.dir, "runc-root");
  const crunRoot = join(s.dir, "crun-root");
  const empty = join(s.dir, "empty");
  writeFileSync(empty, "");
  let i = 0;
  const next = () => `pb-${process.pid}-${++i}`;

  // warm caches
  for (let k = 0; k < 3; k++) {
    must(spawnSync(RUNTIME, ["--root", s.root, "run", "--bundle", bundle, next()]), "pier-runtime run");
    must(spawnSync("runc", ["--root", runcRoot, "run", "--bundle", bundle, next()]), "runc run");
  }

  const pier: number[] = [];
  const node: number[] = [];
  const runc: number[] = [];
  for (let k = 0; k < N; k++) {
    pier.push(
      time(() =>
        must(spawnSync(RUNTIME, ["--root", s.root, "run", "--bundle", bundle, next()]), "pier-runtime"),
      ),
    );
    // The same environment pier-runtime runs with (its interpreter line drops
    // NODE_EXTRA_CA_CERTS, which makes node read a CA bundle at start-up).
    node.push(time(() => must(spawnSync(process.execPath, ["-e", "0"], { env: nodeEnv }), "node -e 0")));
    runc.push(
      time(() => must(spawnSync("runc", ["--root", runcRoot, "run", "--bundle", bundle, next()]), "runc")),
    );
  }
  const mp = median(pier);
  const mn = median(node);
  const mr = median(runc);
  console.log(`\n== pier-runtime run (CLI) vs node -e 0 + runc run — true container, ${N} runs each`);
  console.log(`pier-runtime run   median ${fmt(mp)}`);
  console.log(`node -e 0          median ${fmt(mn)}`);
  console.log(`runc run           median ${fmt(mr)}`);
  console.log(`pier-runtime's own work (pier - node): ${fmt(mp - mn)}  vs runc ${fmt(mr)}`);
  console.log(`ratio pier / (node + runc) = ${(mp / (mn + mr)).toFixed(2)}  (target <= 1.00)`);

  // Library lifecycle in-process vs crun.
  const rt = new Runtime({ root: s.root });
  const quiet = { stdio: ["ignore", "ignore", "inherit"] as ("ignore" | "inherit")[] };
  for (let k = 0; k < 3; k++) await run(rt, next(), { bundle, ...quiet });
  const lib: number[] = [];
  for (let k = 0; k < N; k++) {
    const t = process.hrtime.bigint();
    const code = await run(rt, next(), { bundle, forwardSignals: false, ...quiet });
    lib.push(Number(process.hrtime.bigint() - t) / 1e6);
    if (code !== 0) throw new Error(`library run exited ${code}`);
  }
  let mc = NaN;
  if (existsSync("/usr/bin/crun")) {
    const script = `
      mount --bind ${empty} /sys/fs/cgroup/unified/cgroup.controllers || exit 1
      exec ${process.execPath} -e '
        const { spawnSync } = require("child_process");
        const xs = [];
        for (let k = 0; k < ${N + 3}; k++) {
          const t = process.hrtime.bigint();
          const r = spawnSync("crun", ["--root", "${crunRoot}", "run", "--bundle", "${bundle}", "pc-${process.pid}-" + k]);
          if (r.status !== 0) { console.error(String(r.stderr)); process.exit(1); }
          if (k >= 3) xs.push(Number(process.hrtime.bigint() - t) / 1e6);
        }
        console.log(JSON.stringify(xs));
      '`;
    const r = spawnSync("unshare", ["-m", "--propagation", "private", "sh", "-c", script], {
      encoding: "utf8",
    });
    if (r.status === 0) mc = median(JSON.parse(r.stdout) as number[]);
    else console.log(`crun could not run: ${r.stderr}`);
  }
  const ml = median(lib);
  console.log(`\n== library lifecycle in-process vs crun run — true container, ${N} runs each`);
  console.log(`pier (library)     median ${fmt(ml)}`);
  console.log(`crun run           median ${fmt(mc)}`);
  console.log(`ratio pier / crun = ${(ml / mc).toFixed(2)}  (target <= 1.50)`);
}

main()
  .catch((e) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(() => s.cleanup());
