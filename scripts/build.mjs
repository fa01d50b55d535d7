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

// The node that builds is the node that runs, named by its path (no PATH search).
// The interpreter line. NODE_EXTRA_CA_CERTS makes Node read a CA bundle before any code
// runs (~40 ms here, more than Node's own start-up); pier and pier-runtime never speak TLS
// (unix sockets, the kernel), so they drop it. pierd (registries over TLS) instead trusts
// the system's CA store, as docker does, whatever that variable says.
const shebang = (name) =>
  name === "pierd"
    ? `#!${process.execPath} --use-openssl-ca`
    : `#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS ${process.execPath}`;
const loader = (name) => `${shebang(name)}
"use strict";
// ${name}: loads ${name}.js with the V8 code cache made by \`make build\` (scripts/build.mjs).
const { readFileSync, writeFileSync } = require("fs");
const { Script } = require("vm");
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

// PIER_BUILD_ONLY=pierd,pier builds only those (handy while another binary is being edited).
const only = process.env.PIER_BUILD_ONLY?.split(",");
for (const [name, entry] of Object.entries(binaries)) {
  if (only && !only.includes(name)) continue;
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
