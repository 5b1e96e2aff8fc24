// Types from the server's OpenAPI document: `npm run generate` rewrites
// src/generated/openapi.ts; test/drift.test.ts fails when the committed file differs.
//
// The document is built in process by the Python app (scripts/openapi_spec.py), so no
// server has to run. The interpreter is $KNEECAVE_PYTHON, else the repository's .venv.
import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

import openapiTS, { astToString, COMMENT_HEADER } from "openapi-typescript";

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const REPO_DIR = join(PACKAGE_DIR, "..", "..");
export const GENERATED = join(PACKAGE_DIR, "src", "generated", "openapi.ts");

export function python() {
  if (process.env.KNEECAVE_PYTHON) return process.env.KNEECAVE_PYTHON;
  const venv = join(REPO_DIR, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

/** The OpenAPI document as the Python app builds it. */
export function dumpSpec() {
  const out = execFileSync(python(), [join(PACKAGE_DIR, "scripts", "openapi_spec.py")], {
    cwd: REPO_DIR,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    // Settings come from the environment: keep the document independent of the caller's.
    env: Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !k.startsWith("KNEECAVE_")),
    ),
  });
  return JSON.parse(out);
}

/** TypeScript source for `spec` (what src/generated/openapi.ts must contain). */
export async function generateTypes(spec) {
  const ast = await openapiTS(spec, { alphabetize: false, excludeDeprecated: false });
  const banner =
    COMMENT_HEADER +
    "// Generated from the server's OpenAPI document by `npm run generate`\n" +
    "// (sdk/typescript/scripts/generate.mjs). Drift is a test failure.\n";
  return banner + astToString(ast);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const source = await generateTypes(dumpSpec());
  writeFileSync(GENERATED, source);
  console.log(`wrote ${GENERATED} (${source.length} chars)`);
}
