/**
 * Test support shared by the snapshot and image tests: the pier-fsops helper
 * (bin/pier-fsops when it is built and current, else compiled from
 * native/fsops.c into a temporary directory removed at exit) and the reason
 * to skip real-kernel tests on a machine that cannot run them.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const REPO = resolve(import.meta.dirname, "../..");
const SOURCE = join(REPO, "native/fsops.c");

let built: string | undefined;

/** Makes sure a current pier-fsops exists and PIER_FSOPS points at it. */
export function ensureFsops(): string {
  if (built) return built;
  const bin = join(REPO, "bin/pier-fsops");
  if (existsSync(bin) && statSync(bin).mtimeMs >= statSync(SOURCE).mtimeMs) {
    built = bin;
  } else {
    const dir = mkdtempSync(join(tmpdir(), "pier-fsops-build-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const out = join(dir, "pier-fsops");
    const cflags = ["-O2", "-Wall", "-Wextra", "-Werror", "-D_FORTIFY_SOURCE=2", "-fstack-protector-strong"];
    const r = spawnSync("gcc", [...cflags, "-o", out, SOURCE], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`building pier-fsops failed: ${r.stderr || r.error?.message}`);
    built = out;
  }
  process.env.PIER_FSOPS = built;
  return built;
}

/** Why real-kernel tests cannot run here, or false when they can. */
export function kernelSkipReason(): string | false {
  if (process.getuid?.() !== 0) return "needs root";
  if (!readFileSync("/proc/filesystems", "utf8").includes("\toverlay\n")) return "needs overlayfs";
  if (spawnSync("gcc", ["--version"]).status !== 0 && !existsSync(join(REPO, "bin/pier-fsops"))) {
    return "needs gcc or bin/pier-fsops";
  }
  return false;
}
