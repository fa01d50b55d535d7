// Image benchmarks (make bench): medians and ratios against the peer, measured in one run.
//
// 1. Pull of a multi-layer image from Debian's docker-registry on 127.0.0.1 into an empty
//    store, against `skopeo copy docker://… dir:…` of the same image. Target: at least as fast.
// 2. Unpack of the same image (each layer into its snapshot, the rootfs prepared), against
//    `umoci unpack` of the same image from an OCI layout. Target: at least as fast.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ContentStore } from "../src/image/content/index.ts";
import { ImageService } from "../src/image/service/index.ts";
import { RegistryClient } from "../src/registry/index.ts";
import { makeImage } from "../src/registry/testutil.ts";

const N = Number(process.env.BENCH_N_IMAGE ?? 7);
const LAYERS = 5;
const FILES = 40;
const FILE_SIZE = 128 * 1024;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;
const fmt = (x: number) => `${x.toFixed(1)} ms`;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      s.close(() => (typeof a === "object" && a ? resolve(a.port) : reject(new Error("no port"))));
    });
  });
}

/** POST /images/create on the engine socket and drain the progress stream, as a client does. */
function apiPull(sock: string, ref: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath: sock, method: "POST", path: `/v1.43/images/create?fromImage=${encodeURIComponent(ref)}` },
      (res) => {
        let body = "";
        res.on("data", (c: Buffer) => (body += c.toString()));
        res.on("end", () =>
          res.statusCode === 200 && !body.includes('"error"')
            ? resolve()
            : reject(new Error(`pull ${ref}: ${res.statusCode} ${body}`)),
        );
      },
    );
    req.on("error", reject);
    req.end();
  });
}

function must(r: ReturnType<typeof spawnSync>, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed: ${r.stderr?.toString()}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "pier-bench-image-"));
  const port = await freePort();
  const config = join(dir, "registry.yml");
  writeFileSync(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "registry")}\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const registry = spawn("/usr/bin/docker-registry", ["serve", config], { stdio: "ignore" });
  try {
    const client = new RegistryClient({ timeoutMs: 30_000 });
    for (let i = 0; ; i++) {
      try {
        await client.ping(`127.0.0.1:${port}`);
        break;
      } catch {
        if (i > 200) throw new Error("docker-registry did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    // A five-layer image of incompressible files (about 25 MB).
    const src = await ContentStore.open(join(dir, "src"));
    const layers: Record<string, Buffer>[] = [];
    for (let l = 0; l < LAYERS; l++) {
      const files: Record<string, Buffer> = {};
      for (let f = 0; f < FILES; f++) files[`layer${l}/dir${f % 4}/file${f}`] = randomBytes(FILE_SIZE);
      layers.push(files);
    }
    const img = await makeImage(src, { layers });
    const ref = `127.0.0.1:${port}/bench/image:1`;
    await client.push(ref, { content: src, digest: img.manifest.digest });

    const pier: number[] = [];
    const skopeo: number[] = [];
    for (let i = 0; i < N; i++) {
      const root = join(dir, `pull-${i}`);
      const content = await ContentStore.open(root);
      let t = process.hrtime.bigint();
      await client.pull(ref, { content });
      pier.push(ms(t));
      rmSync(root, { recursive: true, force: true });
      const out = join(dir, `skopeo-${i}`);
      t = process.hrtime.bigint();
      must(
        spawnSync("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `dir:${out}`]),
        "skopeo",
      );
      skopeo.push(ms(t));
      rmSync(out, { recursive: true, force: true });
    }
    // The same pull as a user types it: `pier pull` through a running, warmed-up pierd;
    // each run pulls a different image of the same shape, so nothing is already there.
    const cli: number[] = [];
    const api: number[] = [];
    const bin = join(import.meta.dirname, "../bin");
    const refs: string[] = [];
    for (let i = 0; i <= 2 * N; i++) {
      const other: Record<string, Buffer>[] = layers.map((files) =>
        Object.fromEntries(Object.keys(files).map((k) => [k, randomBytes(FILE_SIZE)])),
      );
      const im = await makeImage(src, { layers: other });
      const r = `127.0.0.1:${port}/bench/cli${i}:1`;
      await client.push(r, { content: src, digest: im.manifest.digest });
      refs.push(r);
    }
    const sock = join(dir, "pierd.sock");
    const daemon = spawn(join(bin, "pierd"), ["-H", `unix://${sock}`, "--root", join(dir, "pierd")], {
      stdio: "ignore",
    });
    try {
      for (let k = 0; ; k++) {
        if (spawnSync(join(bin, "pier"), ["-H", `unix://${sock}`, "version"]).status === 0) break;
        if (k > 100) throw new Error("pierd did not start");
        await new Promise((r) => setTimeout(r, 50));
      }
      for (const [i, r] of refs.entries()) {
        const t = process.hrtime.bigint();
        if (i > N) {
          await apiPull(sock, r);
          api.push(ms(t));
          continue;
        }
        must(spawnSync(join(bin, "pier"), ["-H", `unix://${sock}`, "pull", "-q", r]), "pier pull");
        if (i > 0) cli.push(ms(t)); // the first one warms pierd up
      }
    } finally {
      daemon.kill("SIGTERM");
      await new Promise((r) => daemon.once("exit", r));
    }
    const mp = median(pier);
    const mc = median(cli);
    const ma = median(api);
    const msk = median(skopeo);
    console.log(
      `\n== pull of a ${LAYERS}-layer image (~${((LAYERS * FILES * FILE_SIZE) / 1e6).toFixed(0)} MB) from docker-registry on 127.0.0.1, ${N} runs each`,
    );
    console.log(`pier pull (CLI→pierd) median ${fmt(mc)}`);
    console.log(`pierd pull (API call) median ${fmt(ma)}`);
    console.log(`pier pull (library)   median ${fmt(mp)}`);
    console.log(`skopeo copy dir:      median ${fmt(msk)}`);
    console.log(`ratio pier pull (CLI) / skopeo = ${(mc / msk).toFixed(2)}  (target <= 1.00)`);
    console.log(`ratio pierd (API) / skopeo = ${(ma / msk).toFixed(2)}`);
    console.log(`ratio pier (library) / skopeo = ${(mp / msk).toFixed(2)}`);
    const start: number[] = [];
    for (let i = 0; i < N; i++) {
      const t = process.hrtime.bigint();
      must(spawnSync(join(bin, "pier"), ["--version"]), "pier --version");
      start.push(ms(t));
    }
    console.log(`pier --version (the CLI's start-up, included above) median ${fmt(median(start))}`);

    // Unpack: pier's snapshots vs umoci from an OCI layout of the same image.
    const layout = join(dir, "layout");
    must(
      spawnSync("skopeo", ["copy", "-q", "--src-tls-verify=false", `docker://${ref}`, `oci:${layout}:1`]),
      "skopeo oci",
    );
    const unpackPier: number[] = [];
    const unpackUmoci: number[] = [];
    for (let i = 0; i < N; i++) {
      const root = join(dir, `svc-${i}`);
      const svc = await ImageService.open(root);
      await client.pull(ref, { content: svc.content, meta: svc.meta, name: ref });
      let t = process.hrtime.bigint();
      await svc.prepareRootfs(ref, `bench-${i}`);
      unpackPier.push(ms(t));
      await svc.removeRootfs(`bench-${i}`);
      rmSync(root, { recursive: true, force: true });
      const bundle = join(dir, `umoci-${i}`);
      t = process.hrtime.bigint();
      must(spawnSync("umoci", ["unpack", "--image", `${layout}:1`, bundle]), "umoci unpack");
      unpackUmoci.push(ms(t));
      rmSync(bundle, { recursive: true, force: true });
    }
    const up = median(unpackPier);
    const uu = median(unpackUmoci);
    console.log(`\n== unpack of the same image, ${N} runs each`);
    console.log(`pier prepareRootfs    median ${fmt(up)}`);
    console.log(`umoci unpack          median ${fmt(uu)}`);
    console.log(`ratio pier / umoci = ${(up / uu).toFixed(2)}  (target <= 1.00)`);
  } finally {
    registry.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
