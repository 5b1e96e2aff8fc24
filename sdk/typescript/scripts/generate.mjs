// Types from the server's OpenAPI document: `npm run generate` rewrites
// src/generated/openapi.ts; `npm run drift` (--check) regenerates into a temporary file and
// exits 1 when it differs from the committed one (the server's schema changed).
//
// The document is built in process by the Python app (scripts/openapi_spec.py), so no
// server has to run. The interpreter is $KNEECAVE_PYTHON, else the repository's .venv.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
    stdio: ["ignore", "pipe", "inherit"], // a Python traceback shows as it is
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

/** A unified diff of the two files (`diff -u` where there is one), at most `max` lines. */
function differences(committedPath, freshPath, max = 40) {
  let text;
  try {
    execFileSync("diff", ["-u", committedPath, freshPath], { encoding: "utf8" });
    return "";
  } catch (error) {
    text = typeof error.stdout === "string" && error.stdout ? error.stdout : "(no diff tool here)";
  }
  const lines = text.split("\n");
  return lines.slice(0, max).join("\n") + (lines.length > max ? `\n… ${lines.length - max} more lines` : "");
}

async function main(check) {
  const source = await generateTypes(dumpSpec());
  if (!check) {
    writeFileSync(GENERATED, source);
    console.log(`wrote ${GENERATED} (${source.length} chars)`);
    return 0;
  }
  const fresh = join(mkdtempSync(join(tmpdir(), "kneecave-openapi-")), "openapi.ts");
  writeFileSync(fresh, source);
  const committed = existsSync(GENERATED) ? readFileSync(GENERATED, "utf8") : "";
  if (committed === source) {
    console.log("src/generated/openapi.ts matches the server's OpenAPI document");
    return 0;
  }
  console.error(
    "DRIFT: src/generated/openapi.ts differs from the server's OpenAPI document " +
      `(regenerated into ${fresh}).\nRun \`npm run generate\`, then fix what no longer type-checks.\n` +
      differences(GENERATED, fresh),
  );
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = await main(process.argv.includes("--check"));
}
