/**
 * Registry credentials as docker keeps them: `$DOCKER_CONFIG/config.json` (or
 * `~/.docker/config.json`), `{"auths": {"<registry>": {"auth": base64("user:pass")}}}`.
 * Read on every use, so a `pier login` takes effect without restarting pierd. Credential
 * helpers (`credsStore`, `credHelpers`) are not supported: their entries are ignored.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { AuthEntry } from "../../registry/client/index.ts";

export function dockerConfigPath(): string {
  return join(process.env.DOCKER_CONFIG ?? join(homedir(), ".docker"), "config.json");
}

/** The `auths` map of config.json; empty when there is no file or it is unreadable. */
export function loadAuths(file = dockerConfigPath()): Record<string, AuthEntry> {
  let raw: string;
  try {
    raw = readFileSync(file, "utf8");
  } catch {
    return {};
  }
  try {
    const o = JSON.parse(raw) as { auths?: Record<string, AuthEntry> };
    const out: Record<string, AuthEntry> = {};
    for (const [k, v] of Object.entries(o.auths ?? {})) {
      if (v && typeof v === "object" && (v.auth || (v.username !== undefined && v.password !== undefined)))
        out[k] = v;
    }
    return out;
  } catch {
    return {};
  }
}
