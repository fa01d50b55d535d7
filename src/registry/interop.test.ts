/**
 * pier's registry code against the real tools: Debian's docker-registry (the
 * distribution v2 server) and skopeo. Everything listens on 127.0.0.1 only;
 * every process started here is ended by its PID.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { ContentStore } from "../image/content/store.ts";
import { RegistryClient } from "./client/index.ts";
import { serve } from "./server/index.ts";
import { makeImage, makeIndex, raw, withTempDir } from "./testutil.ts";

const DOCKER_REGISTRY = "/usr/bin/docker-registry";
const SKOPEO = "/usr/bin/skopeo";

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const kill = (sig: NodeJS.Signals) => {
    try {
      if (child.pid !== undefined) process.kill(child.pid, sig);
    } catch {
      // already gone
    }
  };
  kill("SIGTERM");
  const t = setTimeout(() => kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(t);
}

function run(cmd: string, args: string[], timeoutMs = 30_000): Promise<{ code: number; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const t = setTimeout(() => child.pid !== undefined && process.kill(child.pid, "SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, out });
    });
  });
}

test(
  "push to Debian's docker-registry and pull back the same digests",
  { skip: existsSync(DOCKER_REGISTRY) ? false : `${DOCKER_REGISTRY} not installed` },
  () =>
    withTempDir("pier-dockerreg-", async (dir) => {
      const port = await freePort();
      const config = join(dir, "config.yml");
      writeFileSync(
        config,
        [
          "version: 0.1",
          "log:",
          "  level: error",
          "  accesslog:",
          "    disabled: true",
          "storage:",
          "  filesystem:",
          `    rootdirectory: ${join(dir, "data")}`,
          "  delete:",
          "    enabled: true",
          "http:",
          `  addr: 127.0.0.1:${port}`,
          "",
        ].join("\n"),
      );
      const child = spawn(DOCKER_REGISTRY, ["serve", config], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
      const client = new RegistryClient({ timeoutMs: 10_000 });
      try {
        const deadline = Date.now() + 10_000;
        for (;;) {
          const ok = await raw(`http://127.0.0.1:${port}/v2/`, "GET").then(
            (r) => r.status === 200,
            () => false,
          );
          if (ok) break;
          if (Date.now() > deadline || child.exitCode !== null)
            throw new Error(`docker-registry did not start: ${stderr}`);
          await new Promise((r) => setTimeout(r, 50));
        }
        const content = await ContentStore.open(join(dir, "content"));
        const big = Buffer.alloc(200_000);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7919) % 251;
        const img = await makeImage(content, {
          layers: [
            { "etc/os-release": "ID=pier\n", "bin/hello": "#!/bin/sh\necho hi\n" },
            { "data/big": big },
          ],
        });
        const reg = `127.0.0.1:${port}`;
        const pushed = await client.push(`${reg}/pier/test:1.0`, { content, digest: img.manifest.digest });
        assert.equal(pushed.digest, img.manifest.digest);
        // Chunked, into another repository, and a mount from the first.
        await client.push(`${reg}/pier/chunked:1.0`, {
          content,
          digest: img.manifest.digest,
          chunkSize: 32 * 1024,
        });
        const mounted = await client.push(`${reg}/pier/mounted:1.0`, {
          content,
          digest: img.manifest.digest,
          mountFrom: ["pier/test"],
        });
        assert.deepEqual(
          mounted.blobs.map((b) => b.action),
          ["mounted", "mounted", "mounted"],
        );
        for (const repo of ["pier/test", "pier/chunked"]) {
          const fresh = await ContentStore.open(join(dir, `pulled-${repo.replace("/", "-")}`));
          const got = await client.pull(`${reg}/${repo}:1.0`, { content: fresh });
          assert.equal(got.digest, img.manifest.digest);
          assert.equal(got.config.digest, img.config.digest);
          assert.deepEqual(
            got.layers.map((l) => l.digest),
            img.layers.map((l) => l.digest),
          );
          for (const d of [img.config, ...img.layers]) assert.equal(await fresh.has(d.digest), true);
        }
        assert.deepEqual(await client.allTags(`${reg}/pier/test`), ["1.0"]);
        // An index of two platforms: pushed whole, pulled back as linux/amd64.
        const arm = await makeImage(content, { arch: "arm64", label: "arm" });
        const index = await makeIndex(content, [
          { image: arm, arch: "arm64" },
          { image: img, arch: "amd64" },
        ]);
        await client.push(`${reg}/pier/multi:1`, { content, digest: index.digest });
        const fresh = await ContentStore.open(join(dir, "pulled-multi"));
        const multi = await client.pull(`${reg}/pier/multi:1`, { content: fresh });
        assert.equal(multi.digest, index.digest);
        assert.equal(multi.manifest.digest, img.manifest.digest);
        assert.equal(await fresh.has(arm.manifest.digest), false);
      } finally {
        client.close();
        await stop(child);
      }
    }),
);

test(
  "skopeo copies from pier's registry to an OCI layout and back",
  { skip: existsSync(SKOPEO) ? false : `${SKOPEO} not installed` },
  () =>
    withTempDir("pier-skopeo-", async (dir) => {
      const server = await serve({ root: join(dir, "registry") });
      const client = new RegistryClient();
      try {
        const content = await ContentStore.open(join(dir, "content"));
        const img = await makeImage(content);
        await client.push(`${server.address}/x:tag`, { content, digest: img.manifest.digest });
        const policy = join(dir, "policy.json");
        writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
        const common = ["--policy", policy, "--registries-conf", join(dir, "registries.conf")];
        writeFileSync(join(dir, "registries.conf"), "");
        const layout = join(dir, "layout");
        const out = await run(SKOPEO, [
          ...common,
          "copy",
          "--src-tls-verify=false",
          `docker://${server.address}/x:tag`,
          `oci:${layout}:tag`,
        ]);
        assert.equal(out.code, 0, out.out);
        const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
          manifests: { digest: string }[];
        };
        assert.equal(index.manifests[0]?.digest, img.manifest.digest);
        const back = await run(SKOPEO, [
          ...common,
          "copy",
          "--dest-tls-verify=false",
          `oci:${layout}:tag`,
          `docker://${server.address}/y:tag`,
        ]);
        assert.equal(back.code, 0, back.out);
        const fresh = await ContentStore.open(join(dir, "fresh"));
        const got = await client.pull(`${server.address}/y:tag`, { content: fresh });
        assert.equal(got.digest, img.manifest.digest);
        assert.deepEqual(
          got.layers.map((l) => l.digest),
          img.layers.map((l) => l.digest),
        );
      } finally {
        client.close();
        await server.close();
      }
    }),
);

test(
  "skopeo logs in to pier's registry with bearer tokens and with basic auth",
  { skip: existsSync(SKOPEO) ? false : `${SKOPEO} not installed` },
  () =>
    withTempDir("pier-skopeo-auth-", async (dir) => {
      const policy = join(dir, "policy.json");
      writeFileSync(policy, JSON.stringify({ default: [{ type: "insecureAcceptAnything" }] }));
      writeFileSync(join(dir, "registries.conf"), "");
      const common = ["--policy", policy, "--registries-conf", join(dir, "registries.conf")];
      const content = await ContentStore.open(join(dir, "content"));
      const img = await makeImage(content);
      for (const type of ["token", "basic"] as const) {
        const server = await serve({ root: join(dir, type), auth: { type, users: { alice: "s3cret" } } });
        const client = new RegistryClient({
          auths: { [server.address]: { username: "alice", password: "s3cret" } },
        });
        try {
          await client.push(`${server.address}/x:1`, { content, digest: img.manifest.digest });
          const copy = await run(SKOPEO, [
            ...common,
            "copy",
            "--src-tls-verify=false",
            "--dest-tls-verify=false",
            "--src-creds",
            "alice:s3cret",
            "--dest-creds",
            "alice:s3cret",
            `docker://${server.address}/x:1`,
            `docker://${server.address}/y:1`,
          ]);
          assert.equal(copy.code, 0, copy.out);
          const tags = await run(SKOPEO, [
            ...common,
            "list-tags",
            "--tls-verify=false",
            "--creds",
            "alice:s3cret",
            `docker://${server.address}/y`,
          ]);
          assert.equal(tags.code, 0, tags.out);
          assert.deepEqual((JSON.parse(tags.out) as { Tags: string[] }).Tags, ["1"]);
          const anon = await run(SKOPEO, [
            ...common,
            "inspect",
            "--raw",
            "--tls-verify=false",
            `docker://${server.address}/x:1`,
          ]);
          assert.notEqual(anon.code, 0, `${type}: anonymous inspect must fail`);
          const got = await client.pull(`${server.address}/y:1`, { content });
          assert.equal(got.digest, img.manifest.digest);
        } finally {
          client.close();
          await server.close();
        }
      }
    }),
);
