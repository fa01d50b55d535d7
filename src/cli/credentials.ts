/**
 * Registry credentials where docker keeps them: `$DOCKER_CONFIG/config.json` or
 * `~/.docker/config.json`, `auths` → `{"auth": base64("user:pass")}`. Other keys of the
 * file are kept as they are. Written to a temp file (mode 0600) and renamed.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { invalid } from "../common/errors.ts";

const HUB_KEY = "https://index.docker.io/v1/";

export function configPath(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
}

/** The `auths` key docker uses for a registry (Docker Hub has its historical URL). */
export function authKey(registry: string): string {
  const host = registry.replace(/^https?:\/\//, "").replace(/\/.*$/, "");
  return ["docker.io", "index.docker.io", "registry-1.docker.io"].includes(host) ? HUB_KEY : host;
}

function readConfig(file: string): Record<string, unknown> {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  try {
    const o = JSON.parse(raw) as unknown;
    if (o && typeof o === "object" && !Array.isArray(o)) return o as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw invalid(`${file} is not a JSON object; fix or remove it`);
}

function writeConfig(file: string, cfg: Record<string, unknown>): void {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.pier-tmp-${process.pid}`;
  writeFileSync(tmp, JSON.stringify(cfg, null, "\t") + "\n", { mode: 0o600 });
  renameSync(tmp, file);
}

export function storeCredentials(
  registry: string,
  username: string,
  password: string,
  file = configPath(),
): void {
  const cfg = readConfig(file);
  const auths = (cfg.auths && typeof cfg.auths === "object" ? cfg.auths : {}) as Record<string, unknown>;
  auths[authKey(registry)] = { auth: Buffer.from(`${username}:${password}`).toString("base64") };
  cfg.auths = auths;
  writeConfig(file, cfg);
}

/** Removes the registry's entry; false when there was none. */
export function eraseCredentials(registry: string, file = configPath()): boolean {
  const cfg = readConfig(file);
  const auths = (cfg.auths && typeof cfg.auths === "object" ? cfg.auths : {}) as Record<string, unknown>;
  const key = authKey(registry);
  const keys = Object.keys(auths).filter((k) => authKey(k) === key);
  if (keys.length === 0) return false;
  for (const k of keys) delete auths[k];
  cfg.auths = auths;
  writeConfig(file, cfg);
  return true;
}

/** The X-Registry-Auth header value for a registry from config.json, as the docker CLI sends it. */
export function registryAuthHeader(registry: string, file = configPath()): string | undefined {
  let cfg: Record<string, unknown>;
  try {
    cfg = readConfig(file);
  } catch {
    return undefined;
  }
  const auths = (cfg.auths && typeof cfg.auths === "object" ? cfg.auths : {}) as Record<
    string,
    { auth?: string; username?: string; password?: string }
  >;
  const key = authKey(registry);
  const entry = Object.entries(auths).find(([k]) => authKey(k) === key)?.[1];
  if (!entry) return undefined;
  let username = entry.username;
  let password = entry.password;
  if (entry.auth) {
    const s = Buffer.from(entry.auth, "base64").toString("utf8");
    const c = s.indexOf(":");
    if (c < 0) return undefined;
    username = s.slice(0, c);
    password = s.slice(c + 1);
  }
  if (username === undefined || password === undefined) return undefined;
  return Buffer.from(JSON.stringify({ username, password, serveraddress: registry })).toString("base64url");
}
