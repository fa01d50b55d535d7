/** Parsing Dockerfiles: lines, directives, continuations, forms, here-documents, flags, errors. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { PierError } from "../../common/errors.ts";
import type { Dockerfile, Instruction } from "./ast.ts";
import { parseDockerfile } from "./parse.ts";
import { runCommand } from "./run.ts";

const parse = (text: string) => parseDockerfile(text);
/** The instructions of the first stage. */
const body = (text: string): Instruction[] => parse(text).stages[0]?.instructions ?? [];
const only = (text: string): Instruction => {
  const b = body(text);
  assert.equal(b.length, 1, `one instruction expected, got ${b.map((i) => i.kind).join(",")}`);
  return b[0] as Instruction;
};
function errorOf(text: string, file?: string): PierError {
  try {
    parseDockerfile(text, file === undefined ? {} : { file });
  } catch (err) {
    assert.ok(err instanceof PierError, `expected a PierError, got ${String(err)}`);
    assert.equal(err.kind, "InvalidArgument");
    return err;
  }
  assert.fail("expected an error");
}

test("the seeds' Flask example: every instruction, line numbers, curly-quoted CMD falls back to the shell form", () => {
  const text = [
    "# Dockerfile",
    "# 使用官方提供的 Python 开发镜像作为基础镜像",
    "FROM python:2.7-slim",
    "# 将工作目录切换为 /app",
    "WORKDIR /app",
    "ADD . /app",
    "RUN pip install --trusted-host pypi.python.org -r requirements.txt",
    "EXPOSE 80",
    "ENV NAME World",
    "CMD [“python”, “app.py”]",
    "",
  ].join("\n");
  const df = parse(text);
  assert.equal(df.stages.length, 1);
  assert.equal(df.stages[0]?.from.image, "python:2.7-slim");
  assert.equal(df.stages[0]?.from.loc.startLine, 3);
  const ins = df.stages[0]?.instructions ?? [];
  assert.deepEqual(
    ins.map((i) => [i.kind, i.loc.startLine]),
    [
      ["WORKDIR", 5],
      ["ADD", 6],
      ["RUN", 7],
      ["EXPOSE", 8],
      ["ENV", 9],
      ["CMD", 10],
    ],
  );
  const [workdir, add, run, expose, env, cmd] = ins;
  assert.equal(workdir?.kind === "WORKDIR" && workdir.path, "/app");
  assert.ok(add?.kind === "ADD");
  assert.deepEqual([add.sources, add.dest], [["."], "/app"]);
  assert.ok(run?.kind === "RUN");
  assert.deepEqual(run.command, {
    form: "shell",
    text: "pip install --trusted-host pypi.python.org -r requirements.txt",
  });
  assert.deepEqual(expose?.kind === "EXPOSE" && expose.ports, ["80"]);
  assert.ok(env?.kind === "ENV");
  assert.deepEqual(env.pairs, [{ key: "NAME", value: "World" }]);
  assert.equal(env.legacy, true);
  assert.ok(cmd?.kind === "CMD");
  assert.deepEqual(cmd.command, { form: "shell", text: "[“python”, “app.py”]" });
  assert.ok(df.warnings.some((w) => w.loc.startLine === 9 && /legacy key\/value/.test(w.message)));
});

test("parser directives: only at the top, any case, spaces around =, each once", () => {
  const df = parse("# syntax = docker/dockerfile:1.7\n#ESCAPE=`\nFROM x\nRUN a `\n  b\n");
  assert.equal(df.syntax, "docker/dockerfile:1.7");
  assert.equal(df.escape, "`");
  assert.deepEqual(
    df.directives.map((d) => [d.name, d.value, d.line]),
    [
      ["syntax", "docker/dockerfile:1.7", 1],
      ["escape", "`", 2],
    ],
  );
  const run = df.stages[0]?.instructions[0];
  assert.ok(run?.kind === "RUN");
  assert.deepEqual(run.command, { form: "shell", text: "a   b" });

  for (const variant of ["#escape=`", "# escape =`", "#\tescape= `", "# escape = ` ", "  # escape=`"]) {
    assert.equal(parse(`${variant}\nFROM x\n`).escape, "`", JSON.stringify(variant));
  }
});

test("parser directives stop at the first comment, blank line, instruction or unknown directive", () => {
  assert.equal(parse("# About my dockerfile\n# escape=`\nFROM x\n").escape, "\\");
  assert.equal(parse("\n# escape=`\nFROM x\n").escape, "\\");
  assert.equal(parse("FROM x\n# escape=`\nRUN a\n").escape, "\\");
  assert.equal(parse("# unknowndirective=value\n# escape=`\nFROM x\n").escape, "\\");
  assert.equal(parse("# escape=\nFROM x\n").escape, "\\", "no value: an ordinary comment");
  const e = errorOf("# escape=`\n# Escape=\\\nFROM x\n");
  assert.equal(e.message, "Dockerfile:2: only one escape parser directive can be used");
  assert.match(
    errorOf("# escape=x\nFROM x\n").message,
    /^Dockerfile:1: invalid escape token 'x' does not match ` or \\/,
  );
});

test("the backtick escape: \\ is an ordinary character (Windows paths), ` continues lines", () => {
  const df = parse(
    "# escape=`\nFROM microsoft/nanoserver\nCOPY testfile.txt c:\\\nRUN dir c:\\ `\n  /s\nWORKDIR c:\\app\n",
  );
  const [copy, run, workdir] = df.stages[0]?.instructions ?? [];
  assert.ok(copy?.kind === "COPY");
  assert.equal(copy.dest, "c:\\");
  assert.ok(run?.kind === "RUN");
  assert.deepEqual(run.command, { form: "shell", text: "dir c:\\   /s" });
  assert.deepEqual([run.loc.startLine, run.loc.endLine], [4, 5]);
  assert.equal(workdir?.kind === "WORKDIR" && workdir.path, "c:\\app");
});

test("continuations: trailing blanks after \\, leading blanks kept, comment and blank lines skipped", () => {
  const text = [
    "FROM x",
    "RUN apt-get update && \\  ",
    "    # a comment inside the command",
    "  # an indented comment",
    "    apt-get install -y \\",
    "",
    "      curl",
    "RUN echo done",
  ].join("\n");
  const df = parse(text);
  const [run1, run2] = df.stages[0]?.instructions ?? [];
  assert.ok(run1?.kind === "RUN" && run2?.kind === "RUN");
  assert.deepEqual(run1.command, {
    form: "shell",
    text: "apt-get update &&     apt-get install -y       curl",
  });
  assert.deepEqual([run1.loc.startLine, run1.loc.endLine], [2, 7]);
  assert.equal(run2.loc.startLine, 8);
  assert.ok(
    df.warnings.some((w) => /empty continuation line/.test(w.message)),
    "a blank line inside is warned about",
  );
});

test("an escaped escape does not continue; continuation at end of file; a lone \\ line", () => {
  const [a, b] = body("FROM x\nRUN echo \\\\\nRUN echo next\n");
  assert.ok(a?.kind === "RUN" && b?.kind === "RUN");
  assert.deepEqual(a.command, { form: "shell", text: "echo \\\\" });
  const last = only("FROM x\nRUN echo \\");
  assert.ok(last.kind === "RUN");
  assert.deepEqual(last.command, { form: "shell", text: "echo" });
  const lone = only("FROM x\n\\\nRUN a\n");
  assert.ok(lone.kind === "RUN");
  assert.deepEqual([lone.loc.startLine, lone.loc.endLine], [2, 3]);
});

test("# is a comment only at the start of a line", () => {
  const run = only("FROM x\n   # indented comment\nRUN echo hi # not a comment\n");
  assert.ok(run.kind === "RUN");
  assert.deepEqual(run.command, { form: "shell", text: "echo hi # not a comment" });
  assert.equal(run.loc.startLine, 3);
});

test("byte-order mark, CRLF line endings, lower/mixed-case keywords, AS in any case", () => {
  const df = parse('\ufeff# escape=`\r\nfrom alpine As Builder\r\nrun echo `\r\n  hi\r\nCmd ["sh"]\r\n');
  assert.equal(df.escape, "`");
  assert.equal(df.stages[0]?.name, "builder");
  const [run, cmd] = df.stages[0]?.instructions ?? [];
  assert.ok(run?.kind === "RUN");
  assert.equal(run.keyword, "run");
  assert.deepEqual(run.command, { form: "shell", text: "echo   hi" });
  assert.ok(cmd?.kind === "CMD");
  assert.deepEqual(cmd.command, { form: "exec", argv: ["sh"] });
});

test("JSON exec form vs shell form", () => {
  const cmd = (rest: string) => {
    const i = only(`FROM x\nCMD ${rest}\n`);
    assert.ok(i.kind === "CMD");
    return i.command;
  };
  assert.deepEqual(cmd('["echo", "a b"]'), { form: "exec", argv: ["echo", "a b"] });
  assert.deepEqual(cmd('  ["a","\\u00e9\\n"]  '), { form: "exec", argv: ["a", "é\n"] });
  assert.deepEqual(cmd("[]"), { form: "exec", argv: [] });
  assert.deepEqual(
    cmd("[echo, hi]"),
    { form: "shell", text: "[echo, hi]" },
    "invalid JSON is the shell form",
  );
  assert.deepEqual(cmd("['echo', 'hi']"), { form: "shell", text: "['echo', 'hi']" });
  assert.deepEqual(cmd('["echo", "hi",]'), { form: "shell", text: '["echo", "hi",]' });
  assert.deepEqual(cmd('["echo"] extra'), { form: "shell", text: '["echo"] extra' });
  assert.deepEqual(cmd("echo [x]"), { form: "shell", text: "echo [x]" });
  const e = errorOf('FROM x\nCMD ["sleep", 10]\n');
  assert.match(
    e.message,
    /^Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only$/,
  );

  const copy = only('FROM x\nCOPY ["a b.txt", "c d/", "/dest dir/"]\n');
  assert.ok(copy.kind === "COPY");
  assert.deepEqual([copy.sources, copy.dest, copy.json], [["a b.txt", "c d/"], "/dest dir/", true]);
  const copy2 = only('FROM x\nCOPY "a b" /x\n');
  assert.ok(copy2.kind === "COPY");
  assert.deepEqual(copy2.sources, ['"a', 'b"'], "shell-form COPY splits on whitespace, quotes or not");
  const vol = only('FROM x\nVOLUME ["/data", "/logs"]\n');
  assert.deepEqual(vol.kind === "VOLUME" && vol.paths, ["/data", "/logs"]);
  const vol2 = only("FROM x\nVOLUME /data /logs\n");
  assert.deepEqual(vol2.kind === "VOLUME" && vol2.paths, ["/data", "/logs"]);
  const shell = only('FROM x\nSHELL ["powershell", "-command"]\n');
  assert.deepEqual(shell.kind === "SHELL" && shell.shell, ["powershell", "-command"]);
  assert.match(
    errorOf("FROM x\nSHELL /bin/bash -c\n").message,
    /^Dockerfile:2: SHELL requires the arguments to be in JSON form/,
  );
});

test("here-documents: script, <<- tab stripping, quoted names, several on one line, line numbers", () => {
  const text = [
    "FROM x",
    "RUN <<EOF",
    "apt-get update",
    "apt-get install -y curl",
    "EOF",
    "RUN <<-EOT",
    "\techo tabbed",
    "\t\tEOT",
    "RUN cat <<'A' > /a && cat <<\"B\" >/b",
    "$HOME a",
    "A",
    "$HOME b",
    "B",
    "RUN echo after",
  ].join("\n");
  const [r1, r2, r3, r4] = body(text);
  assert.ok(r1?.kind === "RUN" && r2?.kind === "RUN" && r3?.kind === "RUN" && r4?.kind === "RUN");
  assert.deepEqual([r1.loc.startLine, r1.loc.endLine], [2, 5]);
  assert.deepEqual(r1.heredocs, [
    { name: "EOF", fd: 0, expand: true, chomp: false, content: "apt-get update\napt-get install -y curl\n" },
  ]);
  assert.deepEqual(runCommand(r1).argv, ["/bin/sh", "-c", "apt-get update\napt-get install -y curl\n"]);

  assert.deepEqual([r2.loc.startLine, r2.loc.endLine], [6, 8]);
  assert.equal(r2.heredocs[0]?.chomp, true);
  assert.equal(r2.heredocs[0]?.content, "\techo tabbed\n", "the body is kept as written");
  assert.deepEqual(runCommand(r2).argv, ["/bin/sh", "-c", "echo tabbed\n"], "tabs are stripped when used");

  assert.deepEqual(
    r3.heredocs.map((h) => [h.name, h.expand, h.content]),
    [
      ["A", false, "$HOME a\n"],
      ["B", false, "$HOME b\n"],
    ],
  );
  assert.deepEqual(runCommand(r3).argv, [
    "/bin/sh",
    "-c",
    "cat <<'A' > /a && cat <<\"B\" >/b\n$HOME a\nA\n$HOME b\nB",
  ]);
  assert.deepEqual([r3.loc.startLine, r3.loc.endLine], [9, 13]);
  assert.equal(r4.loc.startLine, 14);
});

test("here-documents: shebang scripts, file descriptors, spaces after <<, COPY inline files", () => {
  const [py, fd, sp, copy] = body(
    [
      "FROM x",
      "RUN <<EOF",
      "#!/usr/bin/env python3",
      "print('hi')",
      "EOF",
      "RUN 3<<EOF cat /dev/fd/3",
      "three",
      "EOF",
      "RUN cat << EOF",
      "spaced",
      "EOF",
      'COPY --chmod=755 <<one <<-"two" /usr/local/bin/',
      "echo $A",
      "one",
      "\techo $B",
      "\ttwo",
      "",
    ].join("\n"),
  );
  assert.ok(py?.kind === "RUN");
  assert.deepEqual(runCommand(py), {
    argv: ["/dev/pipes/EOF"],
    files: [{ path: "/dev/pipes/EOF", content: "#!/usr/bin/env python3\nprint('hi')\n", mode: 0o755 }],
  });
  assert.ok(fd?.kind === "RUN");
  assert.equal(fd.heredocs[0]?.fd, 3);
  assert.deepEqual(runCommand(fd).argv, ["/bin/sh", "-c", "3<<EOF cat /dev/fd/3\nthree\nEOF"]);
  assert.ok(sp?.kind === "RUN");
  assert.equal(sp.heredocs[0]?.content, "spaced\n");
  assert.ok(copy?.kind === "COPY");
  assert.deepEqual(copy.sources, []);
  assert.deepEqual(copy.inline, [
    { name: "one", content: "echo $A\n", expand: true },
    { name: "two", content: "echo $B\n", expand: false },
  ]);
  assert.equal(copy.dest, "/usr/local/bin/");
  assert.equal(copy.chmod, "755");
});

test("here-documents: not in JSON form, not in other instructions, unterminated is an error", () => {
  const [run, cmd, next] = body('FROM x\nRUN ["cat", "<<EOF"]\nCMD cat <<EOF\nRUN echo\n');
  assert.ok(run?.kind === "RUN" && cmd?.kind === "CMD" && next?.kind === "RUN");
  assert.deepEqual(run.heredocs, []);
  assert.equal(next.loc.startLine, 4);
  const e = errorOf("FROM x\nRUN <<EOF\necho\n  EOF\n");
  assert.match(e.message, /^Dockerfile:2: unterminated heredoc EOF/);
  assert.match(
    errorOf("FROM x\nCOPY a <<EOF\nx\nEOF\n").message,
    /COPY cannot accept a heredoc as a destination/,
  );
});

test("flags: values, booleans, quoting, --, repetition, and errors that say what is accepted", () => {
  const copy = only('FROM x\nCOPY --from=build --chown="app:app" --chmod=0644 --link /out /app\n');
  assert.ok(copy.kind === "COPY");
  assert.deepEqual(
    [copy.from, copy.chown, copy.chmod, copy.link, copy.sources, copy.dest],
    ["build", "app:app", "0644", true, ["/out"], "/app"],
  );
  assert.deepEqual(copy.flags, ["--from=build", "--chown=app:app", "--chmod=0644", "--link"]);
  const nolink = only("FROM x\nCOPY --link=false a b\n");
  assert.equal(nolink.kind === "COPY" && nolink.link, false);
  const dashdash = only("FROM x\nCOPY -- --weird-name /x\n");
  assert.deepEqual(dashdash.kind === "COPY" && dashdash.sources, ["--weird-name"]);
  const run = only(
    "FROM x\nRUN --mount=type=cache,target=/root/.cache --mount=type=tmpfs,target=/tmp --network=none make\n",
  );
  assert.ok(run.kind === "RUN");
  assert.deepEqual(
    [run.mounts, run.network],
    [["type=cache,target=/root/.cache", "type=tmpfs,target=/tmp"], "none"],
  );
  const from = parse("FROM --platform=$BUILDPLATFORM golang AS build\n").stages[0];
  assert.deepEqual([from?.from.platform, from?.name], ["$BUILDPLATFORM", "build"]);

  const unknown = errorOf("FROM x\nCOPY --fro=build a b\n");
  assert.equal(unknown.message, "Dockerfile:2: unknown flag: --fro");
  assert.match(unknown.hint ?? "", /did you mean --from\?/);
  assert.match(errorOf("FROM x\nENV --x=1 a=b\n").hint ?? "", /ENV takes no flags/);
  assert.match(errorOf("FROM x\nCOPY --from=a --from=b a b\n").message, /duplicate flag specified: --from/);
  assert.match(errorOf("FROM x\nCOPY --from a b\n").message, /missing a value on flag: --from/);
  assert.match(
    errorOf("FROM x\nCOPY --link=maybe a b\n").message,
    /expecting boolean value for flag --link, not: maybe/,
  );
  assert.match(errorOf("FROM x\nRUN --network=bridge make\n").message, /invalid network mode "bridge"/);
  assert.match(
    errorOf("FROM x\nRUN --mount=type=bind,from=$X,target=/x make\n").message,
    /doesn't support variable expansion/,
  );
});

test("ENV, LABEL and ARG forms", () => {
  const [e1, e2, l1, a1] = body(
    [
      "FROM x",
      'ENV myName="John Doe" myDog=Rex\\ The\\ Dog \\',
      "    myCat=fluffy",
      "ENV PATH /usr/local/bin:$PATH extra words",
      'LABEL "com.example.vendor"="ACME Incorporated" version=1.0 description="multi\\',
      'line"',
      'ARG USER=someuser NOVAL EMPTY= QUOTED="a b"',
    ].join("\n"),
  );
  assert.ok(e1?.kind === "ENV");
  assert.deepEqual(e1.pairs, [
    { key: "myName", value: '"John Doe"' },
    { key: "myDog", value: "Rex\\ The\\ Dog" },
    { key: "myCat", value: "fluffy" },
  ]);
  assert.equal(e1.legacy, false);
  assert.ok(e2?.kind === "ENV");
  assert.deepEqual(e2.pairs, [{ key: "PATH", value: "/usr/local/bin:$PATH extra words" }]);
  assert.ok(l1?.kind === "LABEL");
  assert.deepEqual(l1.pairs, [
    { key: '"com.example.vendor"', value: '"ACME Incorporated"' },
    { key: "version", value: "1.0" },
    { key: "description", value: '"multiline"' },
  ]);
  assert.ok(a1?.kind === "ARG");
  assert.deepEqual(a1.args, [
    { name: "USER", default: "someuser" },
    { name: "NOVAL" },
    { name: "EMPTY", default: "" },
    { name: "QUOTED", default: '"a b"' },
  ]);
  assert.match(errorOf("FROM x\nENV a=1 b\n").message, /^Dockerfile:2: Syntax error - can't find = in "b"/);
  assert.match(errorOf("FROM x\nENV lonely\n").message, /ENV must have two arguments/);
  assert.match(errorOf("FROM x\nENV\n").message, /ENV requires at least one argument/);
  assert.match(errorOf("FROM x\nENV =x\n").message, /ENV names can not be blank/);
  assert.match(errorOf("FROM x\nARG =x\n").message, /ARG names can not be blank/);
  assert.match(errorOf("FROM x\nARG\n").message, /ARG requires at least one argument/);
});

test("HEALTHCHECK: NONE, shell and exec forms, options", () => {
  const [none, shell, exec] = body(
    [
      "FROM x",
      "HEALTHCHECK NONE",
      "HEALTHCHECK --interval=5m --timeout=3s --start-period=1m30s --start-interval=500ms --retries=3 \\",
      "  CMD curl -f http://localhost/ || exit 1",
      'healthcheck cmd ["/bin/check", "--fast"]',
    ].join("\n"),
  );
  assert.deepEqual(none?.kind === "HEALTHCHECK" && none.health, { type: "NONE" });
  assert.deepEqual(shell?.kind === "HEALTHCHECK" && shell.health, {
    type: "CMD",
    command: { form: "shell", text: "curl -f http://localhost/ || exit 1" },
    intervalNs: 300e9,
    timeoutNs: 3e9,
    startPeriodNs: 90e9,
    startIntervalNs: 500e6,
    retries: 3,
  });
  assert.deepEqual(exec?.kind === "HEALTHCHECK" && exec.health, {
    type: "CMD",
    command: { form: "exec", argv: ["/bin/check", "--fast"] },
    intervalNs: 0,
    timeoutNs: 0,
    startPeriodNs: 0,
    startIntervalNs: 0,
    retries: 0,
  });
  assert.match(errorOf("FROM x\nHEALTHCHECK NONE extra\n").message, /HEALTHCHECK NONE takes no arguments/);
  assert.match(errorOf("FROM x\nHEALTHCHECK CMD\n").message, /Missing command after HEALTHCHECK CMD/);
  assert.match(
    errorOf("FROM x\nHEALTHCHECK RUN true\n").message,
    /Unknown type "RUN" in HEALTHCHECK \(try CMD\)/,
  );
  assert.match(
    errorOf("FROM x\nHEALTHCHECK --interval=10 CMD true\n").message,
    /missing unit in duration "10"/,
  );
  assert.match(
    errorOf("FROM x\nHEALTHCHECK --interval=10us CMD true\n").message,
    /Interval "interval" cannot be less than 1ms/,
  );
  assert.match(
    errorOf("FROM x\nHEALTHCHECK --retries=-1 CMD true\n").message,
    /--retries cannot be negative \(-1\)/,
  );
  assert.match(errorOf("FROM x\nHEALTHCHECK --retry=1 CMD true\n").hint ?? "", /did you mean --retries/);
});

test("ONBUILD: the trigger is parsed and kept as text; chaining, FROM and MAINTAINER refused", () => {
  const [ob, hd] = body("FROM x\nONBUILD COPY --chown=app . /app/src\nonbuild RUN <<EOF\necho hi\nEOF\n");
  assert.ok(ob?.kind === "ONBUILD");
  assert.equal(ob.expression, "COPY --chown=app . /app/src");
  assert.ok(ob.trigger.kind === "COPY");
  assert.deepEqual([ob.trigger.chown, ob.trigger.sources, ob.trigger.dest], ["app", ["."], "/app/src"]);
  assert.ok(hd?.kind === "ONBUILD");
  assert.equal(hd.expression, "RUN <<EOF\necho hi\nEOF");
  assert.ok(hd.trigger.kind === "RUN");
  assert.equal(hd.trigger.heredocs[0]?.content, "echo hi\n");
  assert.match(
    errorOf("FROM x\nONBUILD ONBUILD RUN x\n").message,
    /Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed/,
  );
  assert.match(errorOf("FROM x\nONBUILD FROM y\n").message, /FROM isn't allowed as an ONBUILD trigger/);
  assert.match(
    errorOf("FROM x\nONBUILD MAINTAINER me\n").message,
    /MAINTAINER isn't allowed as an ONBUILD trigger/,
  );
  assert.match(errorOf("FROM x\nONBUILD RUNN x\n").message, /^Dockerfile:2: unknown instruction: RUNN/);
});

test("the rest: USER, WORKDIR, STOPSIGNAL, EXPOSE, MAINTAINER (deprecated), ENTRYPOINT", () => {
  const df = parse(
    "FROM x\nUSER app:app\nWORKDIR /a b\nSTOPSIGNAL SIGKILL\nEXPOSE 80/tcp 53/udp\nMAINTAINER Me <me@example.com>\nENTRYPOINT exec top -b\n",
  );
  const [user, wd, sig, expose, maint, ep] = df.stages[0]?.instructions ?? [];
  assert.equal(user?.kind === "USER" && user.user, "app:app");
  assert.equal(wd?.kind === "WORKDIR" && wd.path, "/a b", "WORKDIR takes the whole rest of the line");
  assert.equal(sig?.kind === "STOPSIGNAL" && sig.signal, "SIGKILL");
  assert.deepEqual(expose?.kind === "EXPOSE" && expose.ports, ["80/tcp", "53/udp"]);
  assert.equal(maint?.kind === "MAINTAINER" && maint.maintainer, "Me <me@example.com>");
  assert.deepEqual(ep?.kind === "ENTRYPOINT" && ep.command, { form: "shell", text: "exec top -b" });
  assert.ok(df.warnings.some((w) => w.loc.startLine === 6 && /MAINTAINER is deprecated/.test(w.message)));
  assert.match(errorOf("FROM x\nUSER\n").message, /USER requires exactly one argument/);
  assert.match(errorOf("FROM x\nEXPOSE\n").message, /EXPOSE requires at least one argument/);
  assert.match(errorOf("FROM x\nRUN\n").message, /RUN requires at least one argument/);
});

test("errors name the file and line and say what to do", () => {
  const e = errorOf(
    "FROM alpine\nRUN echo hi\n\n# comment\nRUN echo\nWORKDIR /x\nRUNN make\n",
    "app.Dockerfile",
  );
  assert.equal(e.message, "app.Dockerfile:7: unknown instruction: RUNN");
  assert.equal(e.hint, "did you mean RUN?");
  const far = errorOf("FROM x\nFOOBAR baz\n");
  assert.equal(far.message, "Dockerfile:2: unknown instruction: FOOBAR");
  assert.match(far.hint ?? "", /instructions are ADD, ARG/);
  const multi = errorOf("FROM x\nRUN a \\\n  b\nCOPY onlyone\n");
  assert.match(multi.message, /^Dockerfile:4: COPY requires at least two arguments/);
  assert.match(errorOf("").message, /^Dockerfile: file with no instructions/);
  assert.match(errorOf("# only a comment\n\n").message, /file with no instructions/);
  const noFrom = errorOf("ARG A=1\nRUN echo\nFROM x\n");
  assert.equal(noFrom.message, "Dockerfile:2: no build stage in current context");
  assert.match(noFrom.hint ?? "", /must start with FROM/);
  assert.match(errorOf("ARG A=1\n").message, /no build stage/);
  assert.match(errorOf("FROM a b\n").message, /^Dockerfile:1: FROM requires either one or three arguments/);
  assert.match(errorOf("FROM a AS 1st\n").message, /invalid name for build stage: "1st"/);
  assert.match(errorOf("FROM a to b\n").message, /FROM requires either one or three arguments/);
  const dup = errorOf("FROM a AS build\nRUN x\nFROM b AS BUILD\n");
  assert.equal(dup.message, 'Dockerfile:3: duplicate stage name "build"');
  assert.match(dup.hint ?? "", /line 1/);
});

test("global ARGs before FROM, stages with names and indices", () => {
  const df: Dockerfile = parse(
    "ARG GO=1.22\nARG BASE\nFROM golang:${GO} AS build\nARG GO\nRUN go build\nFROM scratch\nCOPY --from=build /out /\n",
  );
  assert.deepEqual(
    df.globalArgs.flatMap((a) => a.args),
    [{ name: "GO", default: "1.22" }, { name: "BASE" }],
  );
  assert.deepEqual(
    df.stages.map((s) => [s.index, s.name, s.from.image, s.instructions.length]),
    [
      [0, "build", "golang:${GO}", 2],
      [1, undefined, "scratch", 1],
    ],
  );
});

test("a realistic multi-stage Dockerfile", () => {
  const text = `# syntax=docker/dockerfile:1
ARG NODE_VERSION=20

FROM node:\${NODE_VERSION}-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json* ./
RUN --mount=type=cache,target=/root/.npm \\
    npm ci --omit=dev

FROM deps AS build
COPY . .
RUN npm run build \\
 && npm prune --omit=dev

FROM gcr.io/distroless/nodejs20-debian12
ENV NODE_ENV=production \\
    PORT=8080
WORKDIR /app
COPY --from=build --chown=nonroot:nonroot /app/dist ./dist
COPY --from=deps /app/node_modules ./node_modules
USER nonroot
EXPOSE 8080
HEALTHCHECK --interval=30s CMD ["/nodejs/bin/node", "dist/health.js"]
CMD ["dist/server.js"]
`;
  const df = parse(text);
  assert.equal(df.syntax, "docker/dockerfile:1");
  assert.deepEqual(
    df.stages.map((s) => [s.name, s.from.loc.startLine, s.instructions.map((i) => i.kind).join(" ")]),
    [
      ["deps", 4, "WORKDIR COPY RUN"],
      ["build", 10, "COPY RUN"],
      [undefined, 15, "ENV WORKDIR COPY COPY USER EXPOSE HEALTHCHECK CMD"],
    ],
  );
  const env = df.stages[2]?.instructions[0];
  assert.ok(env?.kind === "ENV");
  assert.deepEqual(env.pairs, [
    { key: "NODE_ENV", value: "production" },
    { key: "PORT", value: "8080" },
  ]);
  assert.deepEqual([env.loc.startLine, env.loc.endLine], [16, 17]);
});

test("here-documents with CRLF line endings, on ADD, and with a continuation before them", () => {
  const [run, add] = body(
    "FROM x\r\nRUN cat <<EOF \\\r\n  > /out\r\nline\r\nEOF\r\nADD <<-EOT /etc/x\r\n\tbody\r\n\tEOT\r\n",
  );
  assert.ok(run?.kind === "RUN" && add?.kind === "ADD");
  assert.equal(run.heredocs[0]?.content, "line\r\n");
  assert.deepEqual([run.loc.startLine, run.loc.endLine], [2, 5]);
  assert.deepEqual(add.inline, [{ name: "EOT", content: "body\r\n", expand: true }]);
  assert.deepEqual([add.loc.startLine, add.loc.endLine], [6, 8]);
});

test("a # syntax= naming another frontend is recorded with a warning", () => {
  assert.deepEqual(parse("# syntax=docker/dockerfile:1\nFROM x\n").warnings, []);
  const df = parse("# syntax=example.com/custom-frontend:v2\nFROM x\n");
  assert.equal(df.syntax, "example.com/custom-frontend:v2");
  assert.match(df.warnings[0]?.message ?? "", /built-in frontend/);
});
