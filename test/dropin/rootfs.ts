/**
 * Test images built from the host's static busybox: a rootfs directory, a single-layer tar of it, and
 * an OCI image-layout archive for `ctr images import`. Node built-ins plus the `tar` command only.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { chmod, copyFile, mkdir, readFile, rename, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ok, runHost } from "./sandbox.ts";

export const BUSYBOX = "/bin/busybox";

/**
 * dir/bin/busybox plus one symlink per applet (what `busybox --install -s` does), minimal
 * /etc/passwd and /etc/group, and empty mount points.
 */
export async function buildBusyboxRootfs(dir: string, busybox = BUSYBOX): Promise<void> {
  for (const d of ["bin", "etc", "proc", "sys", "dev", "root", "var", "run", "tmp"])
    await mkdir(join(dir, d), { recursive: true });
  await chmod(join(dir, "tmp"), 0o1777);
  await copyFile(busybox, join(dir, "bin/busybox"));
  await chmod(join(dir, "bin/busybox"), 0o755);
  const list = ok(await runHost(busybox, ["--list"]))
    .stdout.split("\n")
    .filter(Boolean);
  for (const applet of list) {
    if (applet === "busybox" || applet.includes("/")) continue;
    await symlink("/bin/busybox", join(dir, "bin", applet));
  }
  await writeFile(
    join(dir, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
  );
  await writeFile(join(dir, "etc/group"), "root:x:0:\nnogroup:x:65534:\n");
}

/** Reproducible tar of `rootfs` (root-owned, sorted, mtime 0). */
export async function tarRootfs(rootfs: string, out: string): Promise<void> {
  ok(
    await runHost("tar", [
      "-C",
      rootfs,
      "--sort=name",
      "--mtime=@0",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      "-cf",
      out,
      ".",
    ]),
  );
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest("hex");
}

/**
 * OCI image layout (one uncompressed layer) tarred into `out`. The index carries both
 * `io.containerd.image.name` (ctr import uses it as the image name) and the OCI ref name.
 */
export async function buildOciArchive(rootfs: string, workDir: string, out: string, name: string) {
  const layout = join(workDir, "oci");
  const blobs = join(layout, "blobs/sha256");
  await mkdir(blobs, { recursive: true });
  const tmpLayer = join(workDir, "layer.tar");
  await tarRootfs(rootfs, tmpLayer);
  const layerDigest = await sha256File(tmpLayer);
  const layerSize = (await stat(tmpLayer)).size;
  await rename(tmpLayer, join(blobs, layerDigest));

  const putJson = async (v: unknown) => {
    const buf = Buffer.from(JSON.stringify(v));
    const d = createHash("sha256").update(buf).digest("hex");
    await writeFile(join(blobs, d), buf);
    return { digest: `sha256:${d}`, size: buf.length };
  };
  const config = await putJson({
    architecture: process.arch === "arm64" ? "arm64" : "amd64",
    os: "linux",
    config: { Env: ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], Cmd: ["/bin/sh"] },
    rootfs: { type: "layers", diff_ids: [`sha256:${layerDigest}`] },
    history: [{ created_by: "pier test/dropin busybox" }],
  });
  const manifest = await putJson({
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", ...config },
    layers: [
      {
        mediaType: "application/vnd.oci.image.layer.v1.tar",
        digest: `sha256:${layerDigest}`,
        size: layerSize,
      },
    ],
  });
  const tag = name.slice(name.lastIndexOf(":") + 1);
  await writeFile(
    join(layout, "index.json"),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        {
          mediaType: "application/vnd.oci.image.manifest.v1+json",
          ...manifest,
          annotations: { "io.containerd.image.name": name, "org.opencontainers.image.ref.name": tag },
        },
      ],
    }),
  );
  await writeFile(join(layout, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  ok(await runHost("tar", ["-C", layout, "-cf", out, "oci-layout", "index.json", "blobs"]));
  return { manifestDigest: manifest.digest, layerDigest: `sha256:${layerDigest}` };
}

/** Read a small text file, or "" if missing. */
export async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch {
    return "";
  }
}
