// Bundles each binary into one file (fast start-up: one file to read, no module resolution
// at run time), behind a tiny loader that uses a V8 code cache made at build time, so the
// bundle is neither parsed nor compiled again on each start.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, rmSync, writeFileSync } from "node:fs";

const binaries = {
  "pier-runtime": "src/cmd/pier-runtime.ts",
  pier: "src/cmd/pier.ts",
  pierd: "src/cmd/pierd.ts",
};
mkdirSync("bin", { recursive: true });
// The bundles are CommonJS (fastest to load); say so for the extensionless files in bin/.
writeFileSync("bin/package.json", '{ "type": "commonjs" }\n');

// On cgroup v1 the first move of a process into a cgroup after a quiet spell waits for an
// RCU grace period (5-20 ms here), and while it waits every fork and exit on the machine
// waits too. A command that is about to start a container re-writes its own pid into the
// cgroup it is already in (a no-op move) on the thread pool at once, so that wait overlaps
// loading the bundle and reading the config, and the real move of the container right
// after finds the lock warm. Only an optimisation: any failure is ignored.
const PRIME = `if (/^(run|create|exec)$/.test(process.argv.find((a, i) => i > 1 && !a.startsWith("-") && !/^--?(root|log|log-format)$/.test(process.argv[i - 1])) || "")) {
  try {
    const l = readFileSync("/proc/self/cgroup", "utf8").split("\\n").find((x) => /^\\d+:pids:/.test(x)) || "";
    const p = l.slice(l.indexOf(":/") + 1);
    if (l) require("fs").writeFile("/sys/fs/cgroup/pids" + (p === "/" ? "" : p) + "/cgroup.procs", String(process.pid), () => {});
  } catch {}
}`;

// The node that builds is the node that runs: naming it saves /usr/bin/env and a PATH search.
const loader = (name) => `#!${process.execPath}
"use strict";
// ${name}: loads ${name}.js with the V8 code cache made by \`make build\` (scripts/build.mjs).
const { readFileSync, writeFileSync } = require("fs");
const { Script } = require("vm");
${name === "pier-runtime" ? PRIME : ""}
const file = __dirname + "/${name}.js";
let cachedData;
try {
  cachedData = readFileSync(file + ".cache");
} catch {}
const wrapped = "(function (exports, require, module, __filename, __dirname) {" + readFileSync(file, "utf8") + "\\n})";
const script = new Script(wrapped, { filename: file, cachedData });
if (process.env.PIER_WRITE_CODE_CACHE) process.on("exit", () => writeFileSync(file + ".cache", script.createCachedData()));
const mod = { exports: {} };
script.runInThisContext()(mod.exports, require, mod, file, __dirname);
`;

for (const [name, entry] of Object.entries(binaries)) {
  const outfile = `bin/${name}.js`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: true,
    keepNames: false,
    sourcemap: false,
    legalComments: "none",
    banner: { js: "const __importMetaUrl = require('url').pathToFileURL(__filename).href;" },
    define: {
      "import.meta.url": "__importMetaUrl",
      "import.meta.dirname": "__dirname",
      "import.meta.filename": "__filename",
    },
    logLevel: "warning",
  });
  writeFileSync(`bin/${name}`, loader(name));
  chmodSync(`bin/${name}`, 0o755);
  // Make the code cache: run the warm-up path once (it plans a container but touches nothing).
  rmSync(`${outfile}.cache`, { force: true });
  execFileSync(process.execPath, [`bin/${name}`, "__warmup"], {
    env: { ...process.env, PIER_WRITE_CODE_CACHE: "1" },
    stdio: "inherit",
  });
}
