/**
 * Base images without a network. busybox: the same package gives the same
 * digest in any store, and the image runs. debian: debootstrap needs the
 * network and minutes, so it runs only with PIER_TEST_DEBOOTSTRAP=1.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { after, before, test } from "node:test";
import { isKind } from "../../common/errors.ts";
import { ensureFsops, kernelSkipReason } from "../../snapshot/testing.ts";
import { ImageService } from "../service/service.ts";
import { scratch, type Scratch } from "../service/testing.ts";
import { bootstrapBusybox } from "./busybox.ts";
import { bootstrapDebian, hasDebootstrap } from "./debian.ts";

const skip = kernelSkipReason() || (!existsSync("/bin/busybox") && "needs busybox-static");
const opts = skip ? { skip } : {};
let s: Scratch;

before(async () => {
  if (skip) return;
  ensureFsops();
  s = await scratch("bootstrap");
});

after(async () => {
  await s?.cleanup();
});

test("busybox: reproducible digest, runs, has users", opts, async () => {
  const a = await bootstrapBusybox(s.service);
  const other = await ImageService.open(`${s.dir}/other`);
  try {
    const b = await bootstrapBusybox(other, "localhost/bb:1");
    assert.equal(b.id, a.id);
    assert.equal(b.manifest, a.manifest);
  } finally {
    await other.close();
  }
  await assert.rejects(bootstrapBusybox(s.service, "x:1", { binary: "/bin/ls" }), (e: unknown) =>
    isKind(e, "FailedPrecondition"),
  );
  const info = await s.service.inspect("busybox");
  assert.deepEqual(info.Config.Cmd, ["sh"]);
  assert.equal(info.RootFS.Layers.length, 1);
  const m = await s.mount(await s.service.prepareRootfs("busybox:latest", "bb"), "bb");
  const out = execFileSync("chroot", [
    m,
    "/bin/sh",
    "-c",
    "ls / >/dev/null && whoami && stat -c %a /tmp && readlink /usr/bin/wc",
  ]);
  assert.equal(out.toString(), "root\n1777\n/bin/busybox\n");
  await s.unmount(m);
  await s.service.removeRootfs("bb");
});

test(
  "debian: refused by name without debootstrap",
  { ...opts, skip: skip || (hasDebootstrap() && "debootstrap is installed") },
  async () => {
    await assert.rejects(bootstrapDebian(s.service, "debian:bookworm"), (e: unknown) =>
      isKind(e, "FailedPrecondition"),
    );
    await assert.rejects(bootstrapDebian(s.service, "debian"), (e: unknown) => isKind(e, "InvalidArgument"));
  },
);

test(
  "debian:bookworm via debootstrap",
  {
    ...opts,
    skip:
      skip ||
      (process.env.PIER_TEST_DEBOOTSTRAP !== "1" &&
        "set PIER_TEST_DEBOOTSTRAP=1 (slow, needs the network)") ||
      (!hasDebootstrap() && "needs debootstrap"),
    timeout: 900_000,
  },
  async () => {
    const r = await bootstrapDebian(s.service, "debian:bookworm");
    const info = await s.service.inspect(r.id);
    assert.equal(info.RootFS.Layers.length, 1);
    const m = await s.mount(await s.service.prepareRootfs("debian:bookworm", "deb"), "deb");
    assert.match(execFileSync("chroot", [m, "cat", "/etc/debian_version"]).toString(), /^12\./);
    await s.unmount(m);
    await s.service.removeRootfs("deb");
  },
);
