import type { Seccomp } from "../../oci/runtime-spec.ts";
import { invalid, notImplemented } from "../../common/errors.ts";

// SECCOMP_FILTER_FLAG_* (<linux/seccomp.h>), the `flags` of seccomp(SECCOMP_SET_MODE_FILTER, ...).
export const SECCOMP_FILTER_FLAG_TSYNC = 1;
export const SECCOMP_FILTER_FLAG_LOG = 2;
export const SECCOMP_FILTER_FLAG_SPEC_ALLOW = 4;

const FLAGS: Record<string, number> = {
  SECCOMP_FILTER_FLAG_TSYNC,
  SECCOMP_FILTER_FLAG_LOG,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW,
};

/**
 * The `flags` argument for seccomp(2) from the profile's `flags`. A non-zero
 * result needs the seccomp(2) system call: prctl(PR_SET_SECCOMP) takes no flags.
 */
export function seccompFilterFlags(cfg: Pick<Seccomp, "flags">): number {
  if (cfg.flags === undefined || cfg.flags === null) return 0;
  if (!Array.isArray(cfg.flags)) throw invalid("seccomp flags: must be a list");
  let bits = 0;
  cfg.flags.forEach((name: unknown, i) => {
    const bit = typeof name === "string" ? FLAGS[name] : undefined;
    if (bit !== undefined) bits |= bit;
    else if (
      name === "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV" ||
      name === "SECCOMP_FILTER_FLAG_NEW_LISTENER"
    ) {
      throw notImplemented(`seccomp flags[${i}]: ${name} (user notification) is not supported`);
    } else throw invalid(`seccomp flags[${i}]: unknown flag ${JSON.stringify(name)}`);
  });
  return bits;
}
