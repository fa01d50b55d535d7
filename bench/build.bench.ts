// Build benchmark (make bench): the same five-instruction busybox Dockerfile and context
// built by pier (CLI → pierd) and by Debian's buildah (`buildah bud --layers`), cold
// (--no-cache) and fully cached, median of BENCH_N_BUILD runs (default 5), ratios printed.
// Targets: cold <= 1.0x, cached <= 0.5x.
//
// buildah gets the very same busybox (a docker-archive pier saved) in a private storage root
// under the bench's temporary directory, and never pulls (--pull=never): nothing leaves the
// machine. pier's CLI is a node process; this machine's environment sets NODE_EXTRA_CA_CERTS,
// which makes every node process load a CA bundle at start (tens of ms the pier CLI never
// needs, it only speaks to a unix socket), so pier is also timed without that variable.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PIER, PierdRun } from "../test/helpers/pierd.ts";

const N = Number(process.env.BENCH_N_BUILD ?? 5);
// runc (crun refuses this machine's hybrid cgroups) and the ulimits the engine bench gives podman.
const BUD = [
  "--layers",
  "--pull=never",
  "--runtime",
  "runc",
  "--ulimit",
  "nofile=20000:20000",
  "--ulimit",
  "nproc=32768:32768",
];

const DOCKERFILE = `FROM busybox
COPY app.sh /app/app.sh
RUN chmod +x /app/app.sh && echo built > /app/stamp
ENV NAME=World
CMD ["/app/app.sh"]
`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (x: number) => `${x.toFixed(0)} ms`.padStart(7);

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return ms;
}

async function main(): Promise<void> {
  const d = await PierdRun.start();
  const buildahRoot = join(d.dir, "buildah");
  const B = ["--root", join(buildahRoot, "root"), "--runroot", join(buildahRoot, "run")];
  const hostEnv: NodeJS.ProcessEnv = { ...process.env };
  delete hostEnv.DOCKER_HOST;
  try {
    const ctx = join(d.dir, "ctx");
    mkdirSync(ctx, { recursive: true });
    writeFileSync(join(ctx, "Dockerfile"), DOCKERFILE);
    writeFileSync(join(ctx, "app.sh"), '#!/bin/sh\necho "Hello $NAME"\n');

    const tar = join(d.dir, "busybox.tar");
    if (d.docker("save", "-o", tar, "busybox").status !== 0) throw new Error("save busybox");
    timed("buildah", [...B, "pull", "-q", `docker-archive:${tar}`], hostEnv);
    const bbId = spawnSync("buildah", [...B, "images", "-q"], { encoding: "utf8" })
      .stdout.trim()
      .split("\n")[0]!;
    timed("buildah", [...B, "tag", bbId, "docker.io/library/busybox:latest"], hostEnv);

    const noCa: NodeJS.ProcessEnv = { ...d.env };
    delete noCa.NODE_EXTRA_CA_CERTS;
    const pier = (extra: string[], env: NodeJS.ProcessEnv = d.env) =>
      timed(PIER, ["-H", `unix://${d.sock}`, "build", "-q", ...extra, "-t", "bench", ctx], env);
    const buildah = (extra: string[]) =>
      timed("buildah", [...B, "bud", ...BUD, "-q", ...extra, "-t", "bench", ctx], hostEnv);

    // Warm both (first unpack of busybox, caches of the programs themselves).
    pier([]);
    buildah([]);
    const rows: [string, number, number, number, number][] = [];
    for (const [label, extra, target] of [
      ["cold (--no-cache)", ["--no-cache"], 1.0],
      ["fully cached", [], 0.5],
    ] as const) {
      const p: number[] = [];
      const q: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < N; i++) {
        p.push(pier([...extra]));
        q.push(pier([...extra], noCa));
        b.push(buildah([...extra]));
      }
      rows.push([label, median(p), median(q), median(b), target]);
    }
    console.log(
      `\n== build: five-instruction busybox Dockerfile, median of ${N} (pier CLI → pierd vs buildah bud --layers)`,
    );
    for (const [label, p, q, b, target] of rows) {
      console.log(
        `${label.padEnd(18)} pier ${fmt(p)}   buildah ${fmt(b)}   ratio ${(p / b).toFixed(2)}` +
          `   (without NODE_EXTRA_CA_CERTS: pier ${fmt(q)}, ratio ${(q / b).toFixed(2)})   target <= ${target.toFixed(2)}`,
      );
    }
  } finally {
    spawnSync("buildah", [...B, "rm", "--all"], { stdio: "ignore" });
    spawnSync("buildah", [...B, "rmi", "--all", "--force"], { stdio: "ignore" });
    // containers/storage leaves its overlay mount of the storage root behind.
    spawnSync("umount", ["-R", "-l", join(buildahRoot, "root", "overlay")], { stdio: "ignore" });
    await d.teardown();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
