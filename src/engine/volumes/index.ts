/**
 * Local volumes, as docker's "local" driver keeps them:
 *
 *   <root>/volumes/<name>/_data        what containers see (bind-mounted in)
 *   <root>/volumes/<name>/volume.json  name, labels, options, created time, anonymous or not
 *
 * A volume is created by name (`pier volume create`, `-v name:/path`) or anonymously
 * (`-v /path`, an image VOLUME), named with 64 hex digits. Copy-up: the first time a new
 * volume is mounted over a path that has content in the image, that content is copied in
 * (`fill`), as docker does; a volume that was ever filled or written is left alone.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Volume } from "../../api/container-types.ts";
import { PierError } from "../../common/errors.ts";

const run = promisify(execFile);
const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

interface VolumeMeta {
  Name: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Options: Record<string, string>;
  Anonymous: boolean;
  /** Set once the volume was filled from an image (or found non-empty). */
  Filled: boolean;
}

export class VolumeStore {
  readonly dir: string;

  private constructor(root: string) {
    this.dir = join(root, "volumes");
  }

  static async open(root: string): Promise<VolumeStore> {
    const s = new VolumeStore(root);
    await mkdir(s.dir, { recursive: true });
    return s;
  }

  dataPath(name: string): string {
    return join(this.dir, name, "_data");
  }

  private toApi(m: VolumeMeta): Volume {
    return {
      Name: m.Name,
      Driver: "local",
      Mountpoint: this.dataPath(m.Name),
      CreatedAt: m.CreatedAt,
      Labels: m.Labels,
      Scope: "local",
      Options: Object.keys(m.Options).length ? m.Options : null,
    };
  }

  private async meta(name: string): Promise<VolumeMeta | undefined> {
    try {
      return JSON.parse(await readFile(join(this.dir, name, "volume.json"), "utf8")) as VolumeMeta;
    } catch {
      return undefined;
    }
  }

  private async writeMeta(m: VolumeMeta): Promise<void> {
    const tmp = join(this.dir, m.Name, `.volume.json.${process.pid}`);
    await writeFile(tmp, JSON.stringify(m));
    await rename(tmp, join(this.dir, m.Name, "volume.json"));
  }

  /** Creates a volume (or returns the existing one of that name, as docker does). */
  async create(
    o: { name?: string; labels?: Record<string, string>; options?: Record<string, string> } = {},
  ): Promise<Volume & { created: boolean }> {
    const anonymous = !o.name;
    const name = o.name || randomBytes(32).toString("hex");
    if (!NAME_RE.test(name)) {
      throw new PierError(
        "InvalidArgument",
        `create ${name}: "${name}" includes invalid characters for a local volume name, only "[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path`,
      );
    }
    for (const k of Object.keys(o.options ?? {})) {
      throw new PierError("InvalidArgument", `invalid option for the local driver: ${k}`, {
        hint: "pier's local volumes take no driver options",
      });
    }
    const have = await this.meta(name);
    if (have) return { ...this.toApi(have), created: false };
    await mkdir(this.dataPath(name), { recursive: true, mode: 0o755 });
    const m: VolumeMeta = {
      Name: name,
      CreatedAt: new Date().toISOString(),
      Labels: o.labels ?? {},
      Options: o.options ?? {},
      Anonymous: anonymous,
      Filled: false,
    };
    await this.writeMeta(m);
    return { ...this.toApi(m), created: true };
  }

  async inspect(name: string): Promise<Volume & { anonymous: boolean }> {
    const m = await this.meta(name);
    if (!m) throw new PierError("NotFound", `get ${name}: no such volume`);
    return { ...this.toApi(m), anonymous: m.Anonymous };
  }

  async list(): Promise<(Volume & { anonymous: boolean })[]> {
    const out: (Volume & { anonymous: boolean })[] = [];
    for (const e of await readdir(this.dir).catch(() => [] as string[])) {
      const m = await this.meta(e);
      if (m) out.push({ ...this.toApi(m), anonymous: m.Anonymous });
    }
    return out.sort((a, b) => a.Name.localeCompare(b.Name));
  }

  /** Removes a volume; `inUse` lists the containers using it (Conflict unless empty). */
  async remove(name: string, inUse: string[], opts: { force?: boolean } = {}): Promise<void> {
    const m = await this.meta(name);
    if (!m) {
      if (opts.force) return;
      throw new PierError("NotFound", `get ${name}: no such volume`);
    }
    if (inUse.length > 0) {
      throw new PierError("Conflict", `remove ${name}: volume is in use - [${inUse.join(", ")}]`);
    }
    const trash = join(this.dir, `.rm-${name}-${process.pid}`);
    await rename(join(this.dir, name), trash);
    await rm(trash, { recursive: true, force: true });
  }

  /**
   * Copy-up: fills a volume that was never filled from `source` (the image's content at
   * the mount point), keeping owners, modes and times. Does nothing when the volume has
   * content already or was filled before.
   */
  async fill(name: string, source: string): Promise<void> {
    const m = await this.meta(name);
    if (!m || m.Filled) return;
    const data = this.dataPath(name);
    const empty = (await readdir(data)).length === 0;
    if (empty && existsSync(source) && (await stat(source)).isDirectory()) {
      await run("cp", ["-a", "--", `${source}/.`, `${data}/`]);
      const st = await stat(source);
      await run("chown", [`${st.uid}:${st.gid}`, data]);
      await run("chmod", [(st.mode & 0o7777).toString(8), data]);
    }
    m.Filled = true;
    await this.writeMeta(m);
  }

  /** Bytes under a volume's data. */
  async size(name: string): Promise<number> {
    try {
      const { stdout } = await run("du", ["-sb", this.dataPath(name)]);
      return Number(stdout.split("\t")[0]) || 0;
    } catch {
      return 0;
    }
  }
}
