// Engine benchmarks (make bench), against podman measured in the same run:
//
// 1. `run --rm busybox true`, with the default bridge network and with --network none:
//    pier's CLI (or the docker CLI when pier has no `run` yet) against pierd, and
//    `podman run --rm` (runc, the ulimits this machine needs) of the same image.
// 2. Memory of an idle container's monitor: RSS of pier-monitor against podman's conmon,
//    five `sleep` containers each.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PierdRun, PIER } from "../test/helpers/pierd.ts";

const N = Number(process.env.BENCH_N_ENGINE ?? 11);
const IDLE = 5;
const PODMAN = ["--runtime", "runc", "--ulimit", "nofile=20000:20000", "--ulimit", "nproc=32768:32768"];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const fmt = (x: number) => `${x.toFixed(1)} ms`;

function timed(cmd: string, args: string[], env?: NodeJS.ProcessEnv): number {
  const t = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env: env ?? process.env, encoding: "utf8" });
  const ms = Number(process.hrtime.bigint() - t) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${r.stderr}`);
  return ms;
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  const d = await PierdRun.start();
  try {
    const hasPierRun = spawnSync(PIER, ["run", "--help"], { encoding: "utf8" }).status === 0;
    const pierRun = (extra: string[]) =>
      hasPierRun
        ? timed(PIER, ["-H", `unix://${d.sock}`, "run", "--rm", ...extra, "busybox", "true"], d.env)
        : timed("docker", ["run", "--rm", ...extra, "busybox", "true"], d.env);
    // podman gets the very same image, through a docker-archive pier saved.
    const tar = join(d.dir, "busybox.tar");
    if (d.docker("save", "-o", tar, "busybox").status !== 0) throw new Error("save busybox");
    if (spawnSync("podman", ["load", "-q", "-i", tar]).status !== 0) throw new Error("podman load");
    const rows: [string, number, number][] = [];
    for (const [label, extra] of [
      ["default bridge", [] as string[]],
      ["--network none", ["--network", "none"]],
    ] as const) {
      const p: number[] = [];
      const q: number[] = [];
      pierRun([...extra]); // warm
      timed("podman", ["run", "--rm", ...PODMAN, ...extra, "busybox", "true"]);
      for (let i = 0; i < N; i++) {
        p.push(pierRun([...extra]));
        q.push(timed("podman", ["run", "--rm", ...PODMAN, ...extra, "busybox", "true"]));
      }
      rows.push([label, median(p), median(q)]);
    }
    console.log(
      `\n== run --rm busybox true, ${N} runs each (${hasPierRun ? "pier CLI" : "docker CLI"} → pierd vs podman)`,
    );
    for (const [label, p, q] of rows) {
      console.log(
        `${label.padEnd(15)} pier ${fmt(p)}   podman ${fmt(q)}   ratio ${(p / q).toFixed(2)}  (target <= 1.00)`,
      );
    }

    // Idle monitors.
    const pierIds: string[] = [];
    const podIds: string[] = [];
    for (let i = 0; i < IDLE; i++) {
      const r = d.docker("run", "-d", "--network", "none", "busybox", "sleep", "600");
      pierIds.push(r.stdout.trim());
      const q = spawnSync(
        "podman",
        ["run", "-d", ...PODMAN, "--network", "none", "busybox", "sleep", "600"],
        { encoding: "utf8" },
      );
      podIds.push(q.stdout.trim());
    }
    await new Promise((r) => setTimeout(r, 500));
    const mon = pierIds.map((id) =>
      rssKb(Number(readFileSync(join(d.root, "containers", id, "monitor.pid"), "utf8"))),
    );
    const con = podIds.map((id) =>
      rssKb(
        Number(
          spawnSync("podman", ["inspect", "-f", "{{.State.ConmonPid}}", id], {
            encoding: "utf8",
          }).stdout.trim(),
        ),
      ),
    );
    spawnSync("podman", ["rm", "-f", "-t", "0", ...podIds], { stdio: "ignore" });
    d.docker("rm", "-f", ...pierIds);
    const mm = median(mon);
    const mc = median(con);
    console.log(`\n== memory of an idle container's monitor (VmRSS, median of ${IDLE})`);
    console.log(
      `pier-monitor ${mm} kB   conmon ${mc} kB   ratio ${(mm / mc).toFixed(2)}  (target: small, <= 1.00)`,
    );
  } finally {
    await d.teardown();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
