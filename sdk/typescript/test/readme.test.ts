// The ```ts example under the repository README's "Use it from an app": type-checked against
// the published .d.ts, then run with node against the live server, as a reader would.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import ts from "typescript";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const README = join(PACKAGE_DIR, "..", "..", "README.md");
const skip = process.env.KNEECAVE_BASE_URL ? false : "KNEECAVE_BASE_URL is not set (no server to test against)";

/** The first ```ts block of the README section titled `heading`. */
function exampleOf(markdown: string, heading: string): string {
  const start = markdown.search(new RegExp(`^#+ ${heading}\\s*$`, "m"));
  assert.ok(start >= 0, `README has no "${heading}" section`);
  const rest = markdown.slice(start);
  const end = rest.slice(1).search(/^## /m);
  const section = end >= 0 ? rest.slice(0, end + 1) : rest;
  const block = /^```ts\n([\s\S]*?)^```/m.exec(section);
  assert.ok(block?.[1], `no \`\`\`ts block under "${heading}"`);
  return block[1];
}

function typeErrors(file: string): string[] {
  const program = ts.createProgram([file], {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2022.d.ts", "lib.dom.d.ts"],
    types: [],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
  });
  return ts
    .getPreEmitDiagnostics(program)
    .map((d) => ts.flattenDiagnosticMessageText(d.messageText, "\n"));
}

test("the README's TypeScript example type-checks and scores a clip", { skip }, async () => {
  const source = exampleOf(readFileSync(README, "utf8"), "Use it from an app");
  assert.ok(source.trim().split("\n").length <= 10, "the example stays within 10 lines");
  // Inside the package, so `import … from "@kneecave/sdk"` resolves to it (self-reference).
  const dir = join(PACKAGE_DIR, "build", "readme");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "example.mts");
  writeFileSync(file, source);
  assert.deepEqual(typeErrors(file), []);
  const js = ts.transpileModule(source, {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  writeFileSync(join(dir, "example.mjs"), js);

  // The example names its video "squat.mp4" in the working directory.
  const cwd = mkdtempSync(join(tmpdir(), "kneecave-readme-"));
  symlinkSync(process.env.KNEECAVE_TEST_CLIP!, join(cwd, "squat.mp4"));
  const { stdout } = await promisify(execFile)(process.execPath, [join(dir, "example.mjs")], { cwd, timeout: 180_000 });
  assert.match(stdout, /^succeeded 100%$/m);
  assert.match(stdout, /^\d+ (none|mild|moderate|severe|null) /m);
});
