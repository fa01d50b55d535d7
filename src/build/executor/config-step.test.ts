// What each config-only instruction does to the image config and the history text it
// records, without images or containers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseDockerfile } from "../dockerfile/parse.ts";
import { planStages } from "../dockerfile/stages.ts";
import { StageScope, type Evaluated } from "../dockerfile/scope.ts";
import type { ContainerConfig } from "../../image/service/oci.ts";
import { configAfter, displayText, historyText } from "./config-step.ts";

/** Runs the instructions of a one-stage Dockerfile over `base`, as the executor does. */
function apply(text: string, base: ContainerConfig = {}): { config: ContainerConfig; history: string[] } {
  const df = parseDockerfile(`FROM busybox\n${text}`);
  const plan = planStages(df);
  const scope = StageScope.fromImage(plan.globals, base.Env ?? []);
  let config = base;
  let cmdSet = false;
  const history: string[] = [];
  for (const ins of df.stages[0]!.instructions) {
    const ev: Evaluated = scope.expand(ins);
    const shell = (config.Shell as string[] | undefined) ?? ["/bin/sh", "-c"];
    config = configAfter(config, ev, { shell, cmdSet, envNow: scope.configEnv() });
    if (ev.instruction.kind === "CMD") cmdSet = true;
    history.push(historyText(ev, shell));
  }
  return { config, history };
}

test("ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, STOPSIGNAL land in the config", () => {
  const { config, history } = apply(
    "ENV A=1 B=two\nENV A=3\nLABEL x=y\nEXPOSE 80 53/udp\nVOLUME /data\nUSER nobody\nWORKDIR /srv\nSTOPSIGNAL SIGINT\n",
    { Env: ["PATH=/bin"], ExposedPorts: { "22/tcp": {} } },
  );
  assert.deepEqual(config.Env, ["PATH=/bin", "A=3", "B=two"]);
  assert.deepEqual(config.Labels, { x: "y" });
  assert.deepEqual(Object.keys(config.ExposedPorts ?? {}), ["22/tcp", "80/tcp", "53/udp"]);
  assert.deepEqual(config.Volumes, { "/data": {} });
  assert.equal(config.User, "nobody");
  assert.equal(config.WorkingDir, "/srv");
  assert.equal(config.StopSignal, "SIGINT");
  assert.deepEqual(history, [
    "ENV A=1 B=two",
    "ENV A=3",
    "LABEL x=y",
    "EXPOSE 80/tcp 53/udp",
    'VOLUME ["/data"]',
    "USER nobody",
    "WORKDIR /srv",
    "STOPSIGNAL SIGINT",
  ]);
});

test("ENTRYPOINT clears an inherited CMD but keeps one set in the stage; shell forms use SHELL", () => {
  const inherited = apply('ENTRYPOINT ["/app"]\n', { Cmd: ["sh"] });
  assert.equal(inherited.config.Cmd, null);
  const own = apply('CMD ["--help"]\nENTRYPOINT ["/app"]\n', { Cmd: ["sh"] });
  assert.deepEqual(own.config.Cmd, ["--help"]);
  const shell = apply('SHELL ["/bin/bash", "-ec"]\nCMD echo hi\nRUN make all\n');
  assert.deepEqual(shell.config.Cmd, ["/bin/bash", "-ec", "echo hi"]);
  assert.deepEqual(shell.history, [
    'SHELL ["/bin/bash","-ec"]',
    'CMD ["/bin/bash","-ec","echo hi"]',
    "RUN /bin/bash -ec make all",
  ]);
});

test("HEALTHCHECK keeps only the durations given; ONBUILD appends triggers", () => {
  const { config } = apply(
    "HEALTHCHECK --interval=5s --retries=2 CMD wget -q localhost\nONBUILD RUN make\nONBUILD COPY . /src\n",
  );
  assert.deepEqual(config.Healthcheck, {
    Test: ["CMD-SHELL", "wget -q localhost"],
    Interval: 5e9,
    Retries: 2,
  });
  assert.deepEqual(config.OnBuild, ["RUN make", "COPY . /src"]);
  const none = apply("HEALTHCHECK NONE\n");
  assert.deepEqual(none.config.Healthcheck, { Test: ["NONE"] });
});

test("COPY history names its flags and sources; ARG records its value; display is the first line", () => {
  const { history } = apply(
    "ARG V=1\nCOPY --chown=1:2 --chmod=640 a b /dst/\nCOPY <<EOF /etc/x\nbody\nEOF\n",
  );
  assert.deepEqual(history, ["ARG V=1", "COPY --chown=1:2 --chmod=640 a b /dst/", "COPY <<EOF /etc/x"]);
  const df = parseDockerfile("FROM busybox\nRUN <<EOF\necho hi\nEOF\n");
  assert.equal(displayText(df.stages[0]!.instructions[0]!), "RUN <<EOF");
});
