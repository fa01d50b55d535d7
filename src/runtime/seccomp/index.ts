/**
 * Seccomp for pier's OCI runtime: compile a `linux.seccomp` profile to a
 * classic BPF filter (no libseccomp), and pier's default profile.
 *
 *     const filter = compileSeccomp(spec.linux?.seccomp ?? defaultSeccompProfile());
 *     // install in the container's init, after PR_SET_NO_NEW_PRIVS (or with CAP_SYS_ADMIN):
 *     // seccomp(SECCOMP_SET_MODE_FILTER, seccompFilterFlags(profile), &{ len: filter.length / 8, filter })
 */
export { compileSeccomp, hostSeccompArch, type CompileOptions } from "./compile.ts";
export {
  defaultSeccompProfile,
  DEFAULT_ALLOWED_SYSCALLS,
  ALLOWED_PERSONALITIES,
  CLONE_NAMESPACE_FLAGS,
} from "./default-profile.ts";
export { seccompFilterFlags } from "./flags.ts";
export { disassemble, runFilter, type SeccompData } from "./bpf.ts";
