/**
 * Records what the real docker CLI (28.x) sends, as the oracle for pier's CLI tests:
 * runs `docker <args>` against src/cli/testing/stub-daemon.ts for every case below and
 * writes
 *
 *   docker-create.json     `docker create ARGS` → the query and the exact JSON body, or
 *                          the exit code and message of a rejected flag
 *   docker-commands.json   `docker ARGS` → the requests, stdout and exit code
 *
 * Run it when docker changes: `node --import tsx src/cli/testdata/record-docker.ts`.
 * Paths inside the temporary context directory are written as $CTX; `-e` lookups see
 * PIER_TEST_VAR=from-env. Nothing leaves the machine (the daemon is the stub).
 */
import { spawn } from "node:child_process";
import { mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { StubDaemon } from "../testing/stub-daemon.ts";
import { COMMAND_CASES, CREATE_CASES, ERROR_CASES, writeContext } from "./cases.ts";

function docker(
  socket: string,
  args: string[],
  cwd: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn("docker", args, {
      cwd,
      env: {
        PATH: process.env.PATH,
        HOME: cwd,
        DOCKER_HOST: `unix://${socket}`,
        DOCKER_CONFIG: cwd,
        PIER_TEST_VAR: "from-env",
        TZ: "UTC",
      },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end("in\n");
    const timer = setTimeout(() => child.kill("SIGKILL"), 8000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

async function main(): Promise<void> {
  const ctx = realpathSync(mkdtempSync(join(tmpdir(), "pier-oracle-")));
  writeContext(ctx);
  const sub = (s: string) => s.split("$CTX").join(ctx);
  const unsub = (s: string) => s.split(ctx).join("$CTX");
  try {
    const creates: unknown[] = [];
    for (const args of [...CREATE_CASES, ...ERROR_CASES]) {
      const stub = await StubDaemon.start();
      const r = await docker(stub.socketPath, ["create", ...args.map(sub)], ctx);
      const req = stub.requests.find((q) => q.path === "/containers/create");
      await stub.close();
      creates.push(
        req
          ? { args, query: req.query.toString(), body: JSON.parse(unsub(req.body)) }
          : { args, code: r.code, error: unsub(r.stderr.trim().split("\n")[0] ?? "") },
      );
    }
    writeFileSync(join(import.meta.dirname, "docker-create.json"), JSON.stringify(creates, null, 1) + "\n");

    const commands: unknown[] = [];
    for (const args of COMMAND_CASES) {
      const stub = await StubDaemon.start();
      const r = await docker(stub.socketPath, args.map(sub), ctx);
      // Let a request still in flight (a detached run's wait) be recorded.
      await new Promise((res) => setTimeout(res, 200));
      commands.push({
        args,
        code: r.code,
        stdout: unsub(r.stdout),
        stderr: unsub(r.stderr),
        requests: stub.lines().map(unsub),
      });
      await stub.close();
    }
    writeFileSync(
      join(import.meta.dirname, "docker-commands.json"),
      JSON.stringify(commands, null, 1) + "\n",
    );
    console.log(`recorded ${creates.length} create cases and ${commands.length} commands`);
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

await main();
