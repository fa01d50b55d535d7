// Bundles each binary into one file (fast start-up: one file to read, no module resolution at run time).
import { build } from "esbuild";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";

const binaries = { "pier-runtime": "src/cmd/pier-runtime.ts" };
mkdirSync("bin", { recursive: true });
// The bundles are CommonJS (fastest to load); say so for the extensionless files in bin/.
writeFileSync("bin/package.json", '{ "type": "commonjs" }\n');
for (const [name, entry] of Object.entries(binaries)) {
  const outfile = `bin/${name}`;
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "cjs",
    minify: false,
    sourcemap: false,
    legalComments: "none",
    banner: {
      js: "#!/usr/bin/env node\nconst __importMetaUrl = require('url').pathToFileURL(__filename).href;",
    },
    define: { "import.meta.url": "__importMetaUrl" },
    logLevel: "warning",
  });
  chmodSync(outfile, 0o755);
}
