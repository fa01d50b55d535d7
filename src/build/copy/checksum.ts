/**
 * The content checksum of a COPY/ADD plan, for the build cache: it changes
 * when what lands in the image changes — a file's bytes, a destination path,
 * a mode, an owner, a symlink target, a hard-link pairing, a device number,
 * an inline file, an archive's bytes — and not otherwise: modification times,
 * where the context lives on this machine, and inode numbers are left out,
 * so equal content gives equal checksums on every machine (and after `touch`).
 *
 * The digest is sha256 over one JSON line per entry, in plan order (which is
 * deterministic), each holding the entry's type, destination, mode, uid, gid
 * and its payload (the sha256 of a file's or archive's bytes, a link target…).
 *
 * Usage:
 *   const plan = await planCopy({ ... });
 *   const sum = await copyChecksum(plan);   // "sha256:…"
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { wrap } from "../../common/errors.ts";
import type { CopyPlan } from "./plan.ts";

async function fileDigest(path: string): Promise<string> {
  const h = createHash("sha256");
  try {
    for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }) as AsyncIterable<Buffer>)
      h.update(chunk);
  } catch (err) {
    throw wrap(err, `read ${path}`);
  }
  return h.digest("hex");
}

export async function copyChecksum(plan: CopyPlan): Promise<string> {
  const h = createHash("sha256");
  h.update(`pier-copy-v1\n${JSON.stringify([plan.dest, plan.destIsDir])}\n`);
  for (const e of plan.entries) {
    let payload: unknown = null;
    switch (e.type) {
      case "file":
        payload = [e.size, await fileDigest(e.source as string)];
        break;
      case "archive":
        payload = [e.compression, e.chown, await fileDigest(e.source as string)];
        break;
      case "inline":
        payload = createHash("sha256")
          .update(e.content ?? "")
          .digest("hex");
        break;
      case "symlink":
        payload = e.linkTarget;
        break;
      case "hardlink":
        payload = e.linkTo;
        break;
      case "char":
      case "block":
        payload = e.rdev;
        break;
      case "dir":
        payload = e.implied === true;
        break;
      case "fifo":
        break;
    }
    h.update(JSON.stringify([e.type, e.dest, e.mode, e.uid, e.gid, payload]) + "\n");
  }
  return `sha256:${h.digest("hex")}`;
}
