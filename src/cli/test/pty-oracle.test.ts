// Opt-in (PIER_ORACLE=1; needs docker and util-linux `script`, ~15 s): `run -it` and
// `exec -it` under a real pseudo-terminal, docker 28 and pier against the same stub with
// the same keystrokes; the requests (bodies included: ConsoleSize, Tty) and what reaches
// the container's stdin must be the same.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, test } from "node:test";
import { StubDaemon } from "../testing/stub-daemon.ts";

const REPO = join(import.meta.dirname, "..", "..", "..");
const available =
  process.env.PIER_ORACLE === "1" &&
  spawnSync("docker", ["--version"]).status === 0 &&
  spawnSync("script", ["--version"]).status === 0;

async function trace(cmd: (sock: string) => string): Promise<{ requests: string[]; stdin: string[] }> {
  const stub = await StubDaemon.start();
  stub.waitDelayMs = 3500;
  stub.onHijack((_r, socket, log) => {
    let seen = "";
    socket.on("data", (d: Buffer) => {
      seen += d.toString("latin1");
      log(`stdin ${JSON.stringify(d.toString("latin1"))}`);
      socket.write(d);
      if (seen.includes("exit\r")) socket.end();
    });
    socket.on("error", () => {});
  });
  try {
    const feed = "(sleep 1.5; printf 'ls\\r'; sleep 0.5; printf 'exit\\r'; sleep 1)";
    const shell = `${feed} | script -qfec "stty rows 30 cols 100; ${cmd(stub.socketPath)}" /dev/null`;
    await new Promise<void>((resolve) => {
      const c = spawn("sh", ["-c", shell], {
        cwd: REPO,
        env: { ...process.env, DOCKER_HOST: `unix://${stub.socketPath}` },
        stdio: "ignore",
      });
      const t = setTimeout(() => c.kill("SIGKILL"), 20_000);
      c.on("close", () => {
        clearTimeout(t);
        resolve();
      });
    });
    return { requests: stub.lines(), stdin: stub.log.filter((l) => l.startsWith("stdin")) };
  } finally {
    await stub.close();
  }
}

const pierCmd = (sock: string, args: string) =>
  `${process.execPath} --import tsx ${join(REPO, "src/cmd/pier.ts")} -H unix://${sock} ${args}`;

describe("under a terminal, pier sends what docker sends", { skip: !available }, () => {
  for (const args of ["run -it busybox sh", "exec -it web sh"]) {
    test(args, async () => {
      const docker = await trace(() => `docker ${args}`);
      const pier = await trace((sock) => pierCmd(sock, args));
      assert.ok(docker.requests.length >= 4, docker.requests.join("\n"));
      assert.deepEqual(pier.requests, docker.requests);
      assert.deepEqual(pier.stdin, docker.stdin);
    });
  }
});
