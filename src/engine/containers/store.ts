/**
 * Container records on disk and the name index.
 *
 *   <root>/containers/<id>/container.json   the record (temp file + rename)
 *   <root>/containers/<id>/...              its files: logs, hosts, resolv.conf, monitor files
 *   <root>/names/<name>                     a symlink to the id: creating it (symlink(2) is
 *                                           atomic and fails on EEXIST) is what claims a name
 *
 * Lookups take an id, a unique id prefix, or a name (with or without the leading "/").
 */
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, readlink, rename, rm, symlink, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { PierError } from "../../common/errors.ts";
import type { ContainerRecord } from "./record.ts";

const NAME_RE = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export class ContainerStore {
  readonly dir: string;
  readonly namesDir: string;

  private constructor(root: string) {
    this.dir = join(root, "containers");
    this.namesDir = join(root, "names");
  }

  static async open(root: string): Promise<ContainerStore> {
    const s = new ContainerStore(root);
    await mkdir(s.dir, { recursive: true });
    await mkdir(s.namesDir, { recursive: true });
    return s;
  }

  static newId(): string {
    return randomBytes(32).toString("hex");
  }

  pathOf(id: string, ...rest: string[]): string {
    return join(this.dir, id, ...rest);
  }

  /** Claims `name` for `id`; Conflict when it is taken. */
  async claimName(name: string, id: string): Promise<void> {
    if (!NAME_RE.test(name)) {
      throw new PierError(
        "InvalidArgument",
        `Invalid container name (${name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed`,
      );
    }
    try {
      await symlink(id, join(this.namesDir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const owner = await readlink(join(this.namesDir, name)).catch(() => "");
      // A name left by a container that is gone (a crash between steps) is free again.
      if (owner && !existsSync(this.pathOf(owner, "container.json")) && !existsSync(this.pathOf(owner))) {
        await unlink(join(this.namesDir, name)).catch(() => undefined);
        return this.claimName(name, id);
      }
      throw new PierError(
        "Conflict",
        `Conflict. The container name "/${name}" is already in use by container "${owner}". You have to remove (or rename) that container to be able to reuse that name.`,
      );
    }
  }

  async releaseName(name: string, id: string): Promise<void> {
    const p = join(this.namesDir, name);
    if ((await readlink(p).catch(() => "")) === id) await unlink(p).catch(() => undefined);
  }

  async save(rec: ContainerRecord): Promise<void> {
    const dir = this.pathOf(rec.id);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.container.json.${process.pid}.${randomBytes(4).toString("hex")}`);
    await writeFile(tmp, JSON.stringify(rec, null, 1));
    await rename(tmp, join(dir, "container.json"));
  }

  async load(id: string): Promise<ContainerRecord | undefined> {
    try {
      return JSON.parse(await readFile(this.pathOf(id, "container.json"), "utf8")) as ContainerRecord;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw err;
    }
  }

  async ids(): Promise<string[]> {
    const out: string[] = [];
    for (const e of await readdir(this.dir, { withFileTypes: true }))
      if (e.isDirectory() && /^[0-9a-f]{64}$/.test(e.name)) out.push(e.name);
    return out;
  }

  async list(): Promise<ContainerRecord[]> {
    const recs = await Promise.all((await this.ids()).map((id) => this.load(id)));
    return recs.filter((r): r is ContainerRecord => r !== undefined);
  }

  /** id, unique id prefix, or name → id; NotFound otherwise. */
  async resolve(ref: string): Promise<string> {
    const name = ref.startsWith("/") ? ref.slice(1) : ref;
    if (/^[0-9a-f]{64}$/.test(ref) && existsSync(this.pathOf(ref, "container.json"))) return ref;
    if (NAME_RE.test(name)) {
      const id = await readlink(join(this.namesDir, name)).catch(() => undefined);
      if (id && existsSync(this.pathOf(id, "container.json"))) return id;
    }
    if (/^[0-9a-f]+$/.test(ref)) {
      const hits = (await this.ids()).filter((id) => id.startsWith(ref));
      if (hits.length === 1) return hits[0]!;
      if (hits.length > 1) {
        throw new PierError("InvalidArgument", `multiple IDs found with provided prefix: ${ref}`);
      }
    }
    throw new PierError("NotFound", `No such container: ${ref}`);
  }

  async remove(rec: ContainerRecord): Promise<void> {
    await this.releaseName(rec.name, rec.id);
    await rm(this.pathOf(rec.id), { recursive: true, force: true });
  }
}
