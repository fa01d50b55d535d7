import { invalid } from "../common/errors.ts";
import type { Spec } from "./runtime-spec.ts";

/**
 * Checks a parsed config.json against the OCI runtime spec's required fields
 * and types, and throws InvalidArgument naming the first thing wrong, e.g.
 * `config.json: process.cwd is required (an absolute path such as "/")`.
 */
export function validateSpec(raw: unknown, where = "config.json"): Spec {
  const fail = (field: string, what: string): never => {
    throw invalid(`${where}: ${field} ${what}`, "fix the bundle's config.json (see `pier-runtime spec`)");
  };
  if (!isObj(raw)) fail("the document", "must be a JSON object");
  const s = raw as Record<string, unknown>;
  if (typeof s.ociVersion !== "string" || s.ociVersion === "")
    fail("ociVersion", 'is required (a string such as "1.0.2")');
  else if (!/^1\.\d+\.\d+/.test(s.ociVersion))
    fail("ociVersion", `"${s.ociVersion}" is not a supported version (1.x.y)`);

  if (!isObj(s.root)) fail("root", "is required (an object with a path)");
  const root = s.root as Record<string, unknown>;
  if (typeof root.path !== "string" || root.path === "")
    fail("root.path", "is required (the rootfs directory)");
  optBool(root.readonly, "root.readonly", fail);

  if (s.process === undefined) fail("process", "is required to create a container");
  if (!isObj(s.process)) fail("process", "must be an object");
  const p = s.process as Record<string, unknown>;
  if (!Array.isArray(p.args) || p.args.length === 0)
    fail("process.args", 'is required (at least one entry, e.g. ["sh"])');
  (p.args as unknown[]).forEach(
    (a, i) => typeof a !== "string" && fail(`process.args[${i}]`, "must be a string"),
  );
  if (typeof p.cwd !== "string" || p.cwd === "")
    fail("process.cwd", 'is required (an absolute path such as "/")');
  else if (!p.cwd.startsWith("/")) fail("process.cwd", `must be an absolute path, not "${p.cwd}"`);
  if (!isObj(p.user)) fail("process.user", "is required (an object with uid and gid)");
  const u = p.user as Record<string, unknown>;
  uint(u.uid, "process.user.uid", fail, true);
  uint(u.gid, "process.user.gid", fail, true);
  if (u.umask !== undefined) uint(u.umask, "process.user.umask", fail, true);
  if (u.additionalGids !== undefined) {
    if (!Array.isArray(u.additionalGids)) fail("process.user.additionalGids", "must be an array of numbers");
    (u.additionalGids as unknown[]).forEach((g, i) =>
      uint(g, `process.user.additionalGids[${i}]`, fail, true),
    );
  }
  if (p.env !== undefined) {
    if (!Array.isArray(p.env)) fail("process.env", 'must be an array of "KEY=value" strings');
    (p.env as unknown[]).forEach(
      (e, i) =>
        (typeof e !== "string" || !e.includes("=")) && fail(`process.env[${i}]`, 'must be "KEY=value"'),
    );
  }
  optBool(p.terminal, "process.terminal", fail);
  optBool(p.noNewPrivileges, "process.noNewPrivileges", fail);
  if (p.capabilities !== undefined) {
    if (!isObj(p.capabilities)) fail("process.capabilities", "must be an object");
    for (const [k, v] of Object.entries(p.capabilities as object)) {
      if (!["bounding", "effective", "inheritable", "permitted", "ambient"].includes(k))
        fail(`process.capabilities.${k}`, "is not a capability set");
      if (!Array.isArray(v) || v.some((c) => typeof c !== "string"))
        fail(`process.capabilities.${k}`, "must be an array of capability names");
    }
  }
  if (p.rlimits !== undefined) {
    if (!Array.isArray(p.rlimits)) fail("process.rlimits", "must be an array");
    (p.rlimits as unknown[]).forEach((r, i) => {
      if (!isObj(r)) fail(`process.rlimits[${i}]`, "must be an object");
      const rl = r as Record<string, unknown>;
      if (typeof rl.type !== "string") fail(`process.rlimits[${i}].type`, "is required");
      uint(rl.soft, `process.rlimits[${i}].soft`, fail, true);
      uint(rl.hard, `process.rlimits[${i}].hard`, fail, true);
    });
  }
  if (p.oomScoreAdj !== undefined) {
    if (typeof p.oomScoreAdj !== "number" || p.oomScoreAdj < -1000 || p.oomScoreAdj > 1000)
      fail("process.oomScoreAdj", "must be a number from -1000 to 1000");
  }

  if (s.hostname !== undefined && typeof s.hostname !== "string") fail("hostname", "must be a string");
  if (s.mounts !== undefined) {
    if (!Array.isArray(s.mounts)) fail("mounts", "must be an array");
    (s.mounts as unknown[]).forEach((m, i) => {
      if (!isObj(m)) fail(`mounts[${i}]`, "must be an object");
      const mm = m as Record<string, unknown>;
      if (typeof mm.destination !== "string" || mm.destination === "")
        fail(`mounts[${i}].destination`, "is required");
      if (mm.type !== undefined && typeof mm.type !== "string") fail(`mounts[${i}].type`, "must be a string");
      if (mm.source !== undefined && typeof mm.source !== "string")
        fail(`mounts[${i}].source`, "must be a string");
      if (
        mm.options !== undefined &&
        (!Array.isArray(mm.options) || mm.options.some((o) => typeof o !== "string"))
      )
        fail(`mounts[${i}].options`, "must be an array of strings");
    });
  }
  if (s.hooks !== undefined) {
    if (!isObj(s.hooks)) fail("hooks", "must be an object");
    for (const [k, list] of Object.entries(s.hooks as object)) {
      if (
        !["prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop"].includes(
          k,
        )
      )
        fail(`hooks.${k}`, "is not a hook kind");
      if (!Array.isArray(list)) fail(`hooks.${k}`, "must be an array");
      (list as unknown[]).forEach((h, i) => {
        if (!isObj(h) || typeof (h as Record<string, unknown>).path !== "string")
          fail(`hooks.${k}[${i}].path`, "is required");
        const path = (h as Record<string, string>).path as string;
        if (!path.startsWith("/")) fail(`hooks.${k}[${i}].path`, `must be absolute, not "${path}"`);
        const t = (h as Record<string, unknown>).timeout;
        if (t !== undefined && (typeof t !== "number" || t <= 0))
          fail(`hooks.${k}[${i}].timeout`, "must be a positive number of seconds");
      });
    }
  }
  if (s.linux !== undefined) {
    if (!isObj(s.linux)) fail("linux", "must be an object");
    const l = s.linux as Record<string, unknown>;
    if (l.namespaces !== undefined) {
      if (!Array.isArray(l.namespaces)) fail("linux.namespaces", "must be an array");
      const seen = new Set<string>();
      (l.namespaces as unknown[]).forEach((n, i) => {
        if (!isObj(n)) fail(`linux.namespaces[${i}]`, "must be an object");
        const t = (n as Record<string, unknown>).type;
        if (typeof t !== "string") fail(`linux.namespaces[${i}].type`, "is required");
        if (!["pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time"].includes(t as string))
          fail(`linux.namespaces[${i}].type`, `"${String(t)}" is not a namespace type`);
        if (seen.has(t as string)) fail(`linux.namespaces[${i}]`, `duplicates the ${String(t)} namespace`);
        seen.add(t as string);
        const path = (n as Record<string, unknown>).path;
        if (path !== undefined && (typeof path !== "string" || !path.startsWith("/")))
          fail(`linux.namespaces[${i}].path`, "must be an absolute path");
      });
    }
    for (const k of ["uidMappings", "gidMappings"] as const) {
      const maps = l[k];
      if (maps === undefined) continue;
      if (!Array.isArray(maps)) fail(`linux.${k}`, "must be an array");
      (maps as unknown[]).forEach((m, i) => {
        if (!isObj(m)) fail(`linux.${k}[${i}]`, "must be an object");
        const mm = m as Record<string, unknown>;
        uint(mm.containerID, `linux.${k}[${i}].containerID`, fail, true);
        uint(mm.hostID, `linux.${k}[${i}].hostID`, fail, true);
        uint(mm.size, `linux.${k}[${i}].size`, fail, true);
        if (mm.size === 0) fail(`linux.${k}[${i}].size`, "must be at least 1");
      });
    }
    if (l.devices !== undefined) {
      if (!Array.isArray(l.devices)) fail("linux.devices", "must be an array");
      (l.devices as unknown[]).forEach((d, i) => {
        if (!isObj(d)) fail(`linux.devices[${i}]`, "must be an object");
        const dd = d as Record<string, unknown>;
        if (typeof dd.path !== "string" || !dd.path.startsWith("/dev/"))
          fail(`linux.devices[${i}].path`, 'is required and must be under "/dev/"');
        if (!["c", "b", "u", "p"].includes(dd.type as string))
          fail(`linux.devices[${i}].type`, 'must be one of "c", "b", "u", "p"');
        if (dd.type !== "p") {
          uint(dd.major, `linux.devices[${i}].major`, fail, true);
          uint(dd.minor, `linux.devices[${i}].minor`, fail, true);
        }
      });
    }
    if (l.cgroupsPath !== undefined && typeof l.cgroupsPath !== "string")
      fail("linux.cgroupsPath", "must be a string");
    if (l.sysctl !== undefined && !isObj(l.sysctl)) fail("linux.sysctl", "must be an object of strings");
    for (const k of ["maskedPaths", "readonlyPaths"] as const) {
      const v = l[k];
      if (
        v !== undefined &&
        (!Array.isArray(v) || v.some((x) => typeof x !== "string" || !x.startsWith("/")))
      )
        fail(`linux.${k}`, "must be an array of absolute paths");
    }
    if (l.rootfsPropagation !== undefined) {
      const ok = ["private", "rprivate", "slave", "rslave", "shared", "rshared", "unbindable", "runbindable"];
      if (!ok.includes(l.rootfsPropagation as string))
        fail("linux.rootfsPropagation", `must be one of ${ok.join(", ")}`);
    }
    if (l.resources !== undefined && !isObj(l.resources)) fail("linux.resources", "must be an object");
    if (l.seccomp !== undefined) {
      if (!isObj(l.seccomp)) fail("linux.seccomp", "must be an object");
      if (typeof (l.seccomp as Record<string, unknown>).defaultAction !== "string")
        fail("linux.seccomp.defaultAction", "is required");
    }
  }
  return s as unknown as Spec;
}

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function uint(v: unknown, field: string, fail: (f: string, w: string) => never, required: boolean): void {
  if (v === undefined) {
    if (required) fail(field, "is required (a non-negative integer)");
    return;
  }
  if (typeof v !== "number" || !Number.isInteger(v) || v < 0) fail(field, "must be a non-negative integer");
}

function optBool(v: unknown, field: string, fail: (f: string, w: string) => never): void {
  if (v !== undefined && typeof v !== "boolean") fail(field, "must be true or false");
}
