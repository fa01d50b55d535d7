/**
 * `--chown` and `--chmod` of COPY and ADD.
 *
 * --chown=user[:group]: numbers are taken as they are; names are looked up
 * in the /etc/passwd and /etc/group of the filesystem being built (never the
 * host's). A user without a group gets the user's primary group when named in
 * /etc/passwd, else the same number as the uid (BuildKit's rules).
 * --chmod=<octal>, at most 07777.
 *
 * Usage:
 *   await resolveChown("app:staff", "/var/lib/pier/snap/12/fs")  // { uid: 1000, gid: 50 }
 *   parseChmod("0755")                                           // 0o755
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { PierError } from "../../common/errors.ts";
import { DirTree } from "../context.ts";
import { resolveInTree } from "./resolve.ts";

export interface Owner {
  uid: number;
  gid: number;
}

const MAX_ID = 0xfffffffe;
const isNumber = (s: string) => /^\d+$/.test(s);

function id(s: string, what: string): number {
  const n = Number(s);
  if (n > MAX_ID)
    throw new PierError("InvalidArgument", `${what} ${s} is out of range`, {
      hint: `ids go up to ${MAX_ID}`,
    });
  return n;
}

/** A passwd or group file's entries: name → [id, primary gid (passwd only)]. */
function parseIdFile(text: string): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const f = line.split(":");
    const name = f[0];
    if (!name || out.has(name)) continue;
    const nums = [f[2], f[3]].filter((x): x is string => x !== undefined && isNumber(x)).map(Number);
    if (nums.length > 0) out.set(name, nums);
  }
  return out;
}

async function readIdFile(rootfs: string | undefined, file: string): Promise<Map<string, number[]>> {
  if (rootfs === undefined) return new Map();
  const r = await resolveInTree(new DirTree(rootfs), file, true);
  if (!r.found || !r.stat.isFile()) return new Map();
  return parseIdFile(await readFile(join(rootfs, r.path), "utf8"));
}

/** The uid and gid `--chown=spec` names, looking names up in `rootfs` (the image being built). */
export async function resolveChown(spec: string, rootfs?: string): Promise<Owner> {
  const colon = spec.indexOf(":");
  const user = colon < 0 ? spec : spec.slice(0, colon);
  const group = colon < 0 ? undefined : spec.slice(colon + 1);
  if (user === "" || group === "") {
    throw new PierError("InvalidArgument", `invalid --chown value ${JSON.stringify(spec)}`, {
      hint: "write it as --chown=user, --chown=user:group or --chown=1000:1000",
    });
  }
  let uid: number;
  let gid: number;
  if (isNumber(user)) {
    uid = id(user, "uid");
    gid = uid;
  } else {
    const entry = (await readIdFile(rootfs, "/etc/passwd")).get(user);
    if (!entry || entry[0] === undefined) {
      throw new PierError(
        "InvalidArgument",
        `unable to find user ${user}: no matching entries in passwd file`,
        {
          hint: "use a numeric uid, or create the user earlier in the Dockerfile (e.g. RUN useradd)",
        },
      );
    }
    uid = entry[0];
    gid = entry[1] ?? uid;
  }
  if (group !== undefined) {
    if (isNumber(group)) {
      gid = id(group, "gid");
    } else {
      const entry = (await readIdFile(rootfs, "/etc/group")).get(group);
      if (!entry || entry[0] === undefined) {
        throw new PierError(
          "InvalidArgument",
          `unable to find group ${group}: no matching entries in group file`,
          {
            hint: "use a numeric gid, or create the group earlier in the Dockerfile (e.g. RUN groupadd)",
          },
        );
      }
      gid = entry[0];
    }
  }
  return { uid, gid };
}

/** The permission bits `--chmod=spec` sets. */
export function parseChmod(spec: string): number {
  if (/^[0-7]+$/.test(spec)) {
    const mode = Number.parseInt(spec, 8);
    if (mode <= 0o7777) return mode;
  }
  if (/^\d+$/.test(spec) || spec === "") {
    throw new PierError(
      "InvalidArgument",
      `invalid chmod parameter: '${spec}'. it should be octal string and between 0 and 07777`,
      { hint: "e.g. --chmod=644 or --chmod=0755" },
    );
  }
  throw new PierError("NotImplemented", `symbolic --chmod values are not implemented: ${spec}`, {
    hint: "use an octal mode such as --chmod=755",
  });
}
