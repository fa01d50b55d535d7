// The small pieces behind the commands: docker's port display (cases from docker's own
// formatter tests), stats arithmetic, size/duration parsers, --since timestamps, the
// filters parameter, the tar the CLI packs and extracts, and where `cp` puts things.
import assert from "node:assert/strict";
import {
  mkdtempSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { filtersParam, type ContainerStats, type Port } from "../../api/client/index.ts";
import { planCopy, splitCpArg } from "../commands/cp.ts";
import { dfRows } from "../commands/system-df.ts";
import { displayablePorts, parsePortSpec } from "../opts/ports.ts";
import { nanoCpus, parseDuration, ramInBytes } from "../opts/values.ts";
import { statsRow } from "../stats-format.ts";
import { extractTar, header, packPath } from "../tar.ts";
import { getTimestamp } from "../timestamps.ts";
import { STUB_STATS, stubDf } from "../testing/stub-daemon.ts";

describe("ports", () => {
  const cases: [Port[], string][] = [
    [[{ PrivatePort: 9988, Type: "tcp" }], "9988/tcp"],
    [[{ PrivatePort: 9988, Type: "udp" }], "9988/udp"],
    [[{ IP: "0.0.0.0", PrivatePort: 9988, Type: "tcp" }], "0.0.0.0:0->9988/tcp"],
    [[{ IP: "::", PrivatePort: 9988, Type: "tcp" }], "[::]:0->9988/tcp"],
    [[{ PrivatePort: 9988, PublicPort: 8899, Type: "tcp" }], "9988/tcp"],
    [[{ IP: "4.3.2.1", PrivatePort: 9988, PublicPort: 8899, Type: "tcp" }], "4.3.2.1:8899->9988/tcp"],
    [[{ IP: "4.3.2.1", PrivatePort: 9988, PublicPort: 9988, Type: "tcp" }], "4.3.2.1:9988->9988/tcp"],
    [
      [
        { PrivatePort: 9988, Type: "udp" },
        { PrivatePort: 9988, Type: "udp" },
      ],
      "9988/udp, 9988/udp",
    ],
    [
      [
        { IP: "1.2.3.4", PublicPort: 9998, PrivatePort: 9998, Type: "udp" },
        { IP: "1.2.3.4", PublicPort: 9999, PrivatePort: 9999, Type: "udp" },
      ],
      "1.2.3.4:9998-9999->9998-9999/udp",
    ],
    [
      [
        { IP: "1.2.3.4", PublicPort: 8887, PrivatePort: 9998, Type: "udp" },
        { IP: "1.2.3.4", PublicPort: 8888, PrivatePort: 9999, Type: "udp" },
      ],
      "1.2.3.4:8887->9998/udp, 1.2.3.4:8888->9999/udp",
    ],
    [
      [
        { PrivatePort: 9998, Type: "udp" },
        { PrivatePort: 9999, Type: "udp" },
      ],
      "9998-9999/udp",
    ],
    [
      [
        { IP: "1.2.3.4", PrivatePort: 6677, PublicPort: 7766, Type: "tcp" },
        { PrivatePort: 9988, PublicPort: 8899, Type: "udp" },
      ],
      "9988/udp, 1.2.3.4:7766->6677/tcp",
    ],
    [
      [
        { IP: "1.2.3.4", PrivatePort: 9988, PublicPort: 8899, Type: "udp" },
        { IP: "1.2.3.4", PrivatePort: 9988, PublicPort: 8899, Type: "tcp" },
        { IP: "4.3.2.1", PrivatePort: 2233, PublicPort: 3322, Type: "tcp" },
      ],
      "4.3.2.1:3322->2233/tcp, 1.2.3.4:8899->9988/tcp, 1.2.3.4:8899->9988/udp",
    ],
  ];
  for (const [ports, want] of cases) {
    test(want, () => assert.equal(displayablePorts(ports), want));
  }

  test("-p host ranges over one container port stay one binding", () => {
    assert.deepEqual(parsePortSpec("9000-9010:100"), [
      { port: "100/tcp", binding: { HostIp: "", HostPort: "9000-9010" } },
    ]);
  });
});

describe("values", () => {
  test("sizes, durations, CPUs as docker parses them", () => {
    assert.equal(ramInBytes("512m"), 536870912);
    assert.equal(ramInBytes("1.5g"), 1610612736);
    assert.equal(ramInBytes("10MiB"), 10485760);
    assert.equal(ramInBytes("64"), 64);
    assert.throws(() => ramInBytes("12x"), /invalid suffix: 'x'/);
    assert.equal(parseDuration("1h2m3.5s"), 3723.5e9);
    assert.equal(parseDuration("300ms"), 3e8);
    assert.equal(parseDuration("-1s"), -1e9);
    assert.throws(() => parseDuration("10"), /missing unit/);
    assert.equal(nanoCpus("1.5"), 1.5e9);
    assert.equal(nanoCpus("0.001"), 1e6);
    assert.throws(() => nanoCpus("x"), /rational/);
  });

  test("--since and --until", () => {
    const now = Date.parse("2024-06-01T12:00:00Z");
    assert.equal(getTimestamp("10m", now), String(now / 1000 - 600));
    assert.equal(getTimestamp("2024-01-01T10:00:00.5Z"), "1704103200.500000000");
    assert.equal(getTimestamp("1700000000.5"), "1700000000.5");
    assert.throws(() => getTimestamp("xyz"), /failed to parse value as time or duration/);
  });

  test("filters go as docker's map of sets, keys sorted", () => {
    assert.equal(filtersParam({}), undefined);
    assert.equal(
      filtersParam({ status: ["exited", "created"], label: ["a=b"] }),
      '{"label":{"a=b":true},"status":{"created":true,"exited":true}}',
    );
  });
});

describe("stats and df", () => {
  test("a stats row, computed as docker's CLI computes it", () => {
    const row = statsRow(STUB_STATS as unknown as ContainerStats, "web", true);
    assert.deepEqual(row, {
      Container: "web",
      Name: "web",
      ID: "aaaaaaaaaaaa",
      CPUPerc: "20.00%",
      MemUsage: "878.9KiB / 1.907MiB",
      MemPerc: "45.00%",
      NetIO: "2kB / 2.5MB",
      BlockIO: "4.1kB / 1MB",
      PIDs: "1",
    });
  });

  test("df's ACTIVE and RECLAIMABLE", () => {
    const rows = dfRows(stubDf() as Parameters<typeof dfRows>[0]);
    assert.deepEqual(
      rows.map((r) => [r.Type, r.TotalCount, r.Active, r.Size, r.Reclaimable]),
      [
        ["Images", "2", "1", "9MB", "4.6MB (51%)"],
        ["Containers", "3", "2", "12.3kB", "0B (0%)"],
        ["Local Volumes", "2", "1", "2MB", "500B (0%)"],
        ["Build Cache", "0", "0", "0B", "0B"],
      ],
    );
  });
});

describe("tar and cp", () => {
  test("a tree packs and extracts with modes, links and long names", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-tar-"));
    try {
      const src = join(dir, "src");
      const long = "d".repeat(120);
      mkdirSync(join(src, long), { recursive: true });
      writeFileSync(join(src, long, "f.sh"), "#!/bin/sh\n", { mode: 0o755 });
      writeFileSync(join(src, "big"), Buffer.alloc(70_000, 7));
      symlinkSync("big", join(src, "link"));
      const out = join(dir, "out");
      mkdirSync(out);
      await extractTar(packPath(src, "copy"), out);
      assert.equal(readFileSync(join(out, "copy", long, "f.sh"), "utf8"), "#!/bin/sh\n");
      assert.equal(statSync(join(out, "copy", long, "f.sh")).mode & 0o777, 0o755);
      assert.equal(readFileSync(join(out, "copy", "big")).length, 70_000);
      assert.equal(readlinkSync(join(out, "copy", "link")), "big");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("entries that would leave the destination are refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "pier-tar-"));
    try {
      const evil = (name: string) =>
        (async function* () {
          yield header({ name, type: "file", mode: 0o644, uid: 0, gid: 0, size: 1, mtime: 0, linkname: "" });
          yield Buffer.concat([Buffer.from("x"), Buffer.alloc(511), Buffer.alloc(1024)]);
        })();
      await assert.rejects(extractTar(evil("../escape"), dir), /leaves the destination/);
      await assert.rejects(extractTar(evil("/etc/x"), dir), /leaves the destination/);
      symlinkSync("/tmp", join(dir, "l"));
      await assert.rejects(extractTar(evil("l/x"), dir), /is a symlink/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("where cp puts things", () => {
    assert.deepEqual(splitCpArg("web:/etc/hosts"), ["web", "/etc/hosts"]);
    assert.deepEqual(splitCpArg("./a:b"), [undefined, "./a:b"]);
    const into = planCopy({ path: "/etc/hosts", isDir: false }, { path: "/tmp", exists: true, isDir: true });
    assert.equal(into.dir, "/tmp");
    assert.equal(into.rename("hosts"), "hosts");
    const as = planCopy(
      { path: "/var/log", isDir: true },
      { path: "/tmp/logs", exists: false, isDir: false },
    );
    assert.equal(as.dir, "/tmp");
    assert.equal(as.rename("log/syslog"), "logs/syslog");
    const contents = planCopy(
      { path: "/var/log/.", isDir: true },
      { path: "/tmp/x", exists: true, isDir: true },
    );
    assert.equal(contents.rename("log/syslog"), "syslog");
    assert.throws(
      () => planCopy({ path: "/d", isDir: true }, { path: "/f", exists: true, isDir: false }),
      /directory to a file/,
    );
    assert.throws(
      () => planCopy({ path: "/f", isDir: false }, { path: "/no/", exists: false, isDir: false }),
      /does not exist/,
    );
  });
});
