// The CLI is a client of the API and nothing else: src/cli imports only src/api/client and
// src/common, and the client only the API's wire types and small pure helpers. Nothing on
// the CLI path imports an npm package (start-up time).
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const SRC = resolve(import.meta.dirname, "..");

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? files(join(dir, e.name))
      : e.name.endsWith(".ts") && !e.name.endsWith(".test.ts")
        ? [join(dir, e.name)]
        : [],
  );
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  return [
    ...text.matchAll(
      /(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g,
    ),
  ].map((m) => m[1] ?? m[2] ?? "");
}

function check(dir: string, allowed: string[]): string[] {
  const bad: string[] = [];
  for (const f of files(join(SRC, dir))) {
    for (const spec of imports(f)) {
      if (spec.startsWith("node:")) continue;
      if (!spec.startsWith(".")) {
        bad.push(`${relative(SRC, f)} imports package ${spec}`);
        continue;
      }
      const target = relative(SRC, resolve(dirname(f), spec));
      if (!allowed.some((a) => target === a || target.startsWith(a.endsWith("/") ? a : `${a}/`))) {
        bad.push(`${relative(SRC, f)} imports ${target}`);
      }
    }
  }
  return bad;
}

test("src/cli imports only src/cli, src/api/client and src/common", () => {
  assert.deepEqual(check("cli", ["cli/", "api/client/", "common/"]), []);
});

test("src/api/client imports only the API's wire types and pure helpers", () => {
  assert.deepEqual(
    check("api/client", [
      "api/client/",
      "api/types.ts",
      "api/container-types.ts",
      "api/version.ts",
      "api/reference.ts",
      "common/",
    ]),
    [],
  );
});
