/**
 * Drop-in acceptance: podman and containerd (Debian packages) run containers with the runtime under
 * test as their OCI runtime.
 *
 *   node --import tsx --test test/dropin/dropin.test.ts
 *   DROPIN_RUNTIME=/usr/bin/runc node --import tsx --test test/dropin/dropin.test.ts   # known-good
 *
 * DROPIN_RUNTIME  runtime binary (default: this repo's bin/pier-runtime); a missing runtime or host
 *                 tool fails the tests unless DROPIN_ALLOW_SKIP=1 (then they are skipped)
 * DROPIN_LOG_RUNTIME=1  wrap the runtime in a logger (runtime-log.ts), print every invocation as
 *                 diagnostics; DROPIN_LOG_RUNTIME=/some/dir also keeps the logs and the config.json /
 *                 process.json each engine passed, in /some/dir/<engine>-<test>/
 * DROPIN_DEBUG=1  podman --log-level debug, containerd debug log
 * DROPIN_PODMAN_STORAGE=vfs / DROPIN_SNAPSHOTTER=native  rootfs not on overlayfs (default: overlay)
 *
 * Every test gets its own sandbox (private mount/pid/net/uts/ipc namespaces, private engine store,
 * unique cgroup parent); see sandbox.ts. After the test body, while the engine is still up, the
 * sandbox must be back to its baseline: no container mounts, no conmon/shim/container processes, no
 * container cgroups. Then the sandbox is destroyed and the host is checked: no mounts or cgroups of
 * ours left, the temp dir gone, the sandbox's PID 1 gone, no new dirs in the host's engine paths.
 */
import { before, describe, test, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { CONTAINERD_IMAGE, ContainerdSession } from "./containerd.ts";
import { PODMAN_IMAGE, PodmanSession } from "./podman.ts";
import {
  cgroupDirs,
  cgroupTasks,
  formatResult as show,
  mountsUnder,
  SANDBOX_HOSTNAME,
  sweepStale,
  type Sandbox,
} from "./sandbox.ts";

const RUNTIME = process.env.DROPIN_RUNTIME ?? join(import.meta.dirname, "../../bin/pier-runtime");
const LOG_RUNTIME = !!process.env.DROPIN_LOG_RUNTIME;
const LOG_DIR = process.env.DROPIN_LOG_RUNTIME?.startsWith("/") ? process.env.DROPIN_LOG_RUNTIME : undefined;
const TEST_TIMEOUT = 60_000;

function which(bin: string): boolean {
  return (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin")
    .split(":")
    .concat(["/usr/sbin", "/usr/bin", "/sbin", "/bin"])
    .some((d) => existsSync(join(d, bin)));
}

function skipReason(bins: string[]): string | false {
  const why = missingReason(bins);
  if (why && !process.env.DROPIN_ALLOW_SKIP) throw new Error(`drop-in tests cannot run: ${why}`);
  return why;
}

function missingReason(bins: string[]): string | false {
  if (!existsSync(RUNTIME))
    return `runtime under test ${RUNTIME} does not exist (build it, or set DROPIN_RUNTIME)`;
  if (process.getuid?.() !== 0) return "needs root (namespaces, mounts, cgroups)";
  const missing = [...bins, "unshare", "nsenter", "catatonit", "script", "tar", "ip"].filter(
    (b) => !which(b),
  );
  return missing.length ? `missing host tools: ${missing.join(", ")}` : false;
}

/** Host paths the engines would write by default; none may appear because of us. */
const HOST_ENGINE_PATHS = [
  "/var/lib/containers",
  "/run/containers",
  "/run/libpod",
  "/run/runc",
  "/run/netns",
  "/var/lib/containerd",
  "/run/containerd",
  "/opt/containerd",
  "/etc/containers/networks",
  "/run/mount", // libmount's utab dir: the sandbox mounts with -n so that it is never created
];

interface Session {
  sandbox: Sandbox;
  logFile: string;
  teardown(): Promise<string[]>;
  runtimeLog(): string;
}

/** Script output as key=value lines (\r stripped for tty runs). */
function kv(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.replace(/\r/g, "").split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** Prints facts about the container; PID 1 is `sh -c PROBE`. */
const PROBE = [
  "echo hello-from-container",
  'echo "hostname=$(hostname)"',
  "echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"",
  'echo "mypid=$$"',
  'for n in pid mnt net uts ipc; do echo "ns_$n=$(readlink /proc/self/ns/$n)"; done',
  "echo \"ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\\n' ' ')\"",
  'echo "nofile=$(ulimit -n)"',
  'echo "rootfs=$(ls /bin/busybox /work 2>&1 | tr "\\n" " ")"',
  'echo "uid=$(id -u)"',
].join("; ");

/** Assert the PROBE facts that hold for any engine. */
function assertProbe(out: string, sandbox: Sandbox): Map<string, string> {
  assert.match(out, /hello-from-container/);
  const f = kv(out);
  assert.equal(f.get("pid1")?.trim(), `sh -c ${PROBE}`, "PID 1 in the container must be the command");
  assert.equal(f.get("mypid"), "1", "the command must be PID 1 of a new PID namespace");
  for (const n of ["pid", "mnt", "net", "uts", "ipc"] as const)
    assert.notEqual(f.get(`ns_${n}`), sandbox.ns(n), `container must have its own ${n} namespace`);
  assert.equal(f.get("ifaces")?.trim(), "lo", "network namespace must contain only lo");
  assert.match(f.get("rootfs") ?? "", /\/bin\/busybox/, "rootfs must be the image");
  assert.match(f.get("rootfs") ?? "", /\/work: No such file/, "host files must not be visible");
  assert.equal(f.get("uid"), "0");
  return f;
}

function keepRuntimeLog(t: TestContext, s: Session): void {
  for (const line of s.runtimeLog().split("\n"))
    if (/^(===|argv|cwd|fds|env|stdout|exit)/.test(line)) t.diagnostic(line);
  if (!LOG_DIR) return;
  const dest = join(
    LOG_DIR,
    `${basename(s.sandbox.dir).replace(/-[^-]+$/, "")}-${t.name.replace(/[^\w]+/g, "_")}`,
  );
  mkdirSync(dest, { recursive: true });
  for (const f of readdirSync(dirname(s.logFile)))
    if (f.startsWith(basename(s.logFile))) copyFileSync(join(dirname(s.logFile), f), join(dest, f));
  t.diagnostic(`runtime log kept in ${dest}`);
}

/**
 * Run `fn` with a fresh session and check, in order: sandbox back to baseline (on success only), then
 * teardown (always), then host clean (always). The test's own failure wins over cleanup findings.
 */
async function withSession<S extends Session>(
  t: TestContext,
  start: () => Promise<S>,
  fn: (s: S) => Promise<void>,
  settled: (s: S) => Promise<string[]>,
): Promise<void> {
  const hostBefore = new Set(HOST_ENGINE_PATHS.filter((p) => existsSync(p)));
  const s = await start();
  const { dir, initPid } = s.sandbox;
  const baseline = s.sandbox.mounts();
  const problems: string[] = [];
  let failure: unknown;
  try {
    await fn(s);
    problems.push(...(await settled(s)));
    const now = s.sandbox.mounts().filter((m) => !m.startsWith("/run/netns ")); // podman's shared bind
    const extra = now.filter((m) => !baseline.includes(m));
    if (extra.length) problems.push(`mounts left in the sandbox: ${extra.join(" | ")}`);
  } catch (e) {
    failure = e;
  } finally {
    if (LOG_RUNTIME) keepRuntimeLog(t, s);
    const writes = s.sandbox.hostWrites();
    if (writes.length) t.diagnostic(`host writes contained by the sandbox overlays: ${writes.join(", ")}`);
    problems.push(...(await s.teardown()));
  }
  if (existsSync(dir)) problems.push(`session dir ${dir} still exists`);
  if (mountsUnder(dir).length) problems.push(`host mounts under ${dir}`);
  if (existsSync(`/proc/${initPid}`) && readFileSync(`/proc/${initPid}/comm`, "utf8").trim() === "catatonit")
    problems.push(`sandbox PID 1 (${initPid}) still alive`);
  for (const p of HOST_ENGINE_PATHS)
    if (!hostBefore.has(p) && existsSync(p)) problems.push(`host path ${p} appeared`);
  if (failure) throw failure;
  assert.deepEqual(problems, [], "cleanup problems");
}

/** cgroup dirs as hierarchy-relative paths, deduplicated ("/pier-dropin-x/libpod-…" once, not per controller). */
function rel(dirs: string[]): string {
  return [...new Set(dirs.map((d) => d.replace(/^\/sys\/fs\/cgroup\/[^/]+/, "")))].join(", ");
}

/** Poll until `check` returns no problems (processes exit asynchronously). */
async function settle(check: () => string[], ms = 5_000): Promise<string[]> {
  const deadline = Date.now() + ms;
  for (;;) {
    const p = check();
    if (p.length === 0 || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 50));
  }
}

// Leftovers of a previous run whose node process was killed before its teardown.
before(async () => {
  if (process.getuid?.() !== 0) return;
  const swept = await sweepStale();
  if (swept.length) console.log(`swept stale sandboxes: ${swept.join(", ")}`);
});

// ───────────────────────────────────────────── podman ─────────────────────────────────────────────

describe("podman with the runtime under test", { skip: skipReason(["podman", "conmon"]) }, () => {
  const podman = (t: TestContext, fn: (s: PodmanSession) => Promise<void>) =>
    withSession(
      t,
      () =>
        PodmanSession.start({
          runtime: RUNTIME,
          logRuntime: LOG_RUNTIME,
          storageDriver: process.env.DROPIN_PODMAN_STORAGE === "vfs" ? "vfs" : "overlay",
        }),
      fn,
      async (s) => {
        const left = await s.containerIds();
        if (left.length) return [`containers left: ${left.join(", ")}`];
        return settle(() => {
          const p: string[] = [];
          const procs = s.sandbox.processes().filter((x) => x.comm !== "sh" || x.ppid !== s.sandbox.initPid);
          if (procs.length) p.push(`processes left: ${procs.map((x) => `${x.pid}:${x.comm}`).join(", ")}`);
          const ctrCgroups = cgroupDirs(s.cgroupParent).filter((d) => /\/libpod-[0-9a-f]{64}/.test(d));
          if (ctrCgroups.length) p.push(`container cgroups left: ${rel(ctrCgroups)}`);
          const tasks = cgroupTasks(s.cgroupParent);
          if (tasks.length) p.push(`tasks left in /${s.cgroupParent}: ${tasks.join(", ")}`);
          return p;
        });
      },
    );

  test(
    "run --rm: output, PID 1 is the command, own hostname and namespaces",
    { timeout: TEST_TIMEOUT },
    (t) =>
      podman(t, async (s) => {
        const cidfile = join(s.sandbox.dir, "cid");
        const r = await s.run(["sh", "-c", PROBE], { extra: ["--cidfile", cidfile] });
        assert.equal(r.code, 0, show(r));
        const f = assertProbe(r.stdout, s.sandbox);
        const id = readFileSync(cidfile, "utf8").trim();
        assert.equal(
          f.get("hostname"),
          id.slice(0, 12),
          "podman's default hostname is the short container id",
        );
        assert.equal(f.get("nofile"), "20000", "--ulimit nofile must be applied");

        const h = await s.run(["hostname"], { extra: ["--hostname", "pier-dropin-ctr"] });
        assert.equal(h.code, 0, show(h));
        assert.equal(h.stdout.trim(), "pier-dropin-ctr");
        const sandboxHost = await s.sandbox.run("hostname", []);
        assert.equal(sandboxHost.stdout.trim(), SANDBOX_HOSTNAME, "the engine's hostname must not change");
      }),
  );

  test("exit codes pass through; a missing executable is 127", { timeout: TEST_TIMEOUT }, (t) =>
    podman(t, async (s) => {
      const r = await s.run(["sh", "-c", "echo before-exit; exit 7"]);
      assert.equal(r.code, 7, show(r));
      assert.match(r.stdout, /before-exit/);
      const ok0 = await s.run(["true"]);
      assert.equal(ok0.code, 0, show(ok0));
      // podman maps the runtime's create error text: /executable file not found in|no such file or
      // directory/i → 127, /permission denied|operation not permitted/i → 126.
      const nf = await s.run(["/nonexistent-binary"]);
      assert.equal(nf.code, 127, `runtime error text must say "no such file or directory": ${show(nf)}`);
    }),
  );

  test("stdin is passed with -i", { timeout: TEST_TIMEOUT }, (t) =>
    podman(t, async (s) => {
      const r = await s.podman(
        ["run", "--rm", "-i", ...s.containerArgs(), PODMAN_IMAGE, "sh", "-c", "cat; echo done"],
        {
          input: "line-one\nline-two\n",
        },
      );
      assert.equal(r.code, 0, show(r));
      assert.equal(r.stdout, "line-one\nline-two\ndone\n");
    }),
  );

  test("run -d, exec, stop (SIGTERM reaches PID 1), rm", { timeout: TEST_TIMEOUT }, (t) =>
    podman(t, async (s) => {
      const script = "trap 'echo got-term; exit 143' TERM; echo started; sleep 1000 & wait";
      const d = await s.run(["sh", "-c", script], { detach: true, name: "d1" });
      assert.equal(d.code, 0, show(d));
      const id = d.stdout.trim();
      assert.match(id, /^[0-9a-f]{64}$/);
      const st = await s.podman(["inspect", "--format", "{{.State.Status}}", "d1"]);
      assert.equal(st.stdout.trim(), "running", show(st));
      assert.ok(
        cgroupDirs(s.cgroupParent).some((c) => c.endsWith(`/libpod-${id}`)),
        "container must be in <cgroup-parent>/libpod-<id>",
      );

      const e = await s.exec("d1", [
        "sh",
        "-c",
        "echo in-exec; echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"; exit 3",
      ]);
      assert.equal(e.code, 3, show(e));
      assert.match(e.stdout, /in-exec/);
      assert.equal(kv(e.stdout).get("pid1")?.trim(), `sh -c ${script}`, "exec must join the container");

      const et = await s.exec("d1", ["sh", "-c", "tty; exit 4"], { tty: true });
      assert.equal(et.code, 4, show(et));
      assert.match(et.stdout, /\/dev\/pts\/\d+/);

      const t0 = Date.now();
      const stop = await s.podman(["stop", "-t", "20", "d1"]);
      assert.equal(stop.code, 0, show(stop));
      assert.ok(Date.now() - t0 < 10_000, "stop must deliver SIGTERM (not wait for the SIGKILL timeout)");
      const w = await s.podman(["wait", "d1"]);
      assert.equal(w.stdout.trim(), "143", show(w));
      const logs = await s.podman(["logs", "d1"]);
      assert.match(logs.stdout, /started[\s\S]*got-term/, show(logs));

      const rm = await s.podman(["rm", "d1"]);
      assert.equal(rm.code, 0, show(rm));
      assert.deepEqual(await s.containerIds(), []);
    }),
  );

  test("-t: terminal through --console-socket", { timeout: TEST_TIMEOUT }, (t) =>
    podman(t, async (s) => {
      const r = await s.run(["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; exit 5"], {
        tty: true,
      });
      assert.equal(r.code, 5, show(r));
      assert.match(r.stdout, /\/dev\/pts\/\d+\r?\n/);
      assert.match(r.stdout, /stdio-is-tty\r\n/, "output must go through the pty (\\r\\n line endings)");
    }),
  );

  test(
    "default network: netavark bridge inside the sandbox's private netns",
    { timeout: TEST_TIMEOUT },
    (t) =>
      podman(t, async (s) => {
        const r = await s.run(
          [
            "sh",
            "-c",
            "ip -o -4 addr show eth0; ip route; ping -c1 -W2 $(ip route | awk '/default/ {print $3}')",
          ],
          { network: "podman" },
        );
        assert.equal(r.code, 0, show(r));
        assert.match(r.stdout, /inet 10\.88\.\d+\.\d+\/16/);
        assert.match(r.stdout, /1 packets received/);
        const links = await s.sandbox.run("ip", ["-o", "link"]);
        assert.doesNotMatch(links.stdout, /veth|podman0/, `network torn down after rm: ${links.stdout}`);
      }),
  );
});

// ─────────────────────────────────────────── containerd ───────────────────────────────────────────

describe(
  "containerd with the runtime under test",
  { skip: skipReason(["containerd", "ctr", "containerd-shim-runc-v2"]) },
  () => {
    const containerd = (t: TestContext, fn: (s: ContainerdSession) => Promise<void>) =>
      withSession(
        t,
        () =>
          ContainerdSession.start({
            runtime: RUNTIME,
            logRuntime: LOG_RUNTIME,
            snapshotter: process.env.DROPIN_SNAPSHOTTER === "native" ? "native" : "overlayfs",
          }),
        fn,
        async (s) => {
          const p: string[] = [];
          const tasks = await s.tasks();
          if (tasks.size) p.push(`tasks left: ${[...tasks.keys()].join(", ")}`);
          const cs = (await s.ctr(["containers", "ls", "-q"])).stdout.split("\n").filter(Boolean);
          if (cs.length) p.push(`containers left: ${cs.join(", ")}`);
          if (p.length) return p;
          return settle(() => {
            const q: string[] = [];
            const procs = s.sandbox
              .processes()
              .filter((x) => x.comm !== "containerd" && !(x.comm === "sh" && x.ppid === s.sandbox.initPid));
            if (procs.length) q.push(`processes left: ${procs.map((x) => `${x.pid}:${x.comm}`).join(", ")}`);
            const dirs = cgroupDirs(s.namespace).filter((d) => !d.endsWith(`/${s.namespace}`));
            if (dirs.length) q.push(`container cgroups left: ${rel(dirs)}`);
            return q;
          });
        },
      );

    test(
      "ctr run --rm: output, PID 1 is the command, own namespaces, exit code",
      { timeout: TEST_TIMEOUT },
      (t) =>
        containerd(t, async (s) => {
          const r = await s.run("c1", ["sh", "-c", PROBE]);
          assert.equal(r.code, 0, show(r));
          const f = assertProbe(r.stdout, s.sandbox);
          // ctr 1.6 cannot set a hostname: the new UTS namespace starts as a copy of the engine's
          assert.equal(f.get("hostname"), SANDBOX_HOSTNAME);

          const h = await s.run("c2", ["sh", "-c", "hostname pier-dropin-ctr && hostname"], {
            extra: ["--cap-add", "CAP_SYS_ADMIN"],
          });
          assert.equal(h.code, 0, show(h));
          assert.equal(h.stdout.trim(), "pier-dropin-ctr");
          const sandboxHost = await s.sandbox.run("hostname", []);
          assert.equal(sandboxHost.stdout.trim(), SANDBOX_HOSTNAME, "sethostname must stay in the container");

          const e = await s.run("c3", ["sh", "-c", "echo before-exit; exit 7"]);
          assert.equal(e.code, 7, show(e));
          assert.match(e.stdout, /before-exit/);

          const nf = await s.run("c4", ["/nonexistent-binary"]);
          assert.notEqual(nf.code, 0, show(nf));
          assert.match(nf.stderr, /OCI runtime create failed: .*nonexistent-binary/, show(nf));
        }),
    );

    test("stdin is passed through the FIFOs", { timeout: TEST_TIMEOUT }, (t) =>
      containerd(t, async (s) => {
        // ctr does not propagate EOF on stdin to the task (CloseIO), so read a known number of lines
        const r = await s.ctr(
          [
            "run",
            "--rm",
            "--runc-binary",
            s.runtimePath,
            CONTAINERD_IMAGE,
            "i1",
            "sh",
            "-c",
            'read a; read b; echo "$b|$a"',
          ],
          { input: "line-one\nline-two\n", timeoutMs: 20_000 },
        );
        assert.equal(r.code, 0, show(r));
        assert.equal(r.stdout, "line-two|line-one\n");
      }),
    );

    test("detached task, exec, kill (SIGTERM reaches PID 1), delete", { timeout: TEST_TIMEOUT }, (t) =>
      containerd(t, async (s) => {
        const script = "trap 'exit 143' TERM; sleep 1000 & wait";
        const d = await s.run("d1", ["sh", "-c", script], { detach: true });
        assert.equal(d.code, 0, show(d));
        const task = (await s.tasks()).get("d1");
        assert.equal(task?.status, "RUNNING");
        assert.ok(
          cgroupDirs(s.namespace).some((c) => c.endsWith(`/${s.namespace}/d1`)),
          "ctr's default cgroupsPath is /<namespace>/<id>",
        );

        const e = await s.exec("d1", "e1", [
          "sh",
          "-c",
          "echo in-exec; echo \"pid1=$(tr '\\0' ' ' < /proc/1/cmdline)\"; exit 4",
        ]);
        assert.equal(e.code, 4, show(e));
        assert.match(e.stdout, /in-exec/);
        assert.equal(kv(e.stdout).get("pid1")?.trim(), `sh -c ${script}`, "exec must join the container");

        const ps = await s.ctr(["task", "ps", "d1"]);
        assert.equal(ps.code, 0, show(ps));
        assert.ok(
          ps.stdout.trim().split("\n").length >= 3,
          `runtime ps must list init and sleep: ${ps.stdout}`,
        );

        const kill = await s.ctr(["task", "kill", "d1"]); // SIGTERM
        assert.equal(kill.code, 0, show(kill));
        assert.ok(await s.waitStopped("d1", 10_000), "task must stop on SIGTERM");
        const del = await s.ctr(["task", "delete", "d1"]);
        assert.equal(del.code, 0, show(del));
        assert.match(del.stderr, /exit code 143/, "exit status must be the trap's 143");
        const cdel = await s.ctr(["containers", "delete", "d1"]);
        assert.equal(cdel.code, 0, show(cdel));
      }),
    );

    test("-t: terminal through --console-socket", { timeout: TEST_TIMEOUT }, (t) =>
      containerd(t, async (s) => {
        const r = await s.run("t1", ["sh", "-c", "tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-tty; exit 6"], {
          tty: true,
        });
        assert.equal(r.code, 6, show(r));
        assert.match(r.stdout, /\/dev\/pts\/\d+\r/);
        assert.match(r.stdout, /stdio-is-tty\r/);
      }),
    );
  },
);
