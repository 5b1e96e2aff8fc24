// Uploads from every input kind, wait(), score() and paging against a local HTTP server.
import assert from "node:assert/strict";
import { createReadStream, mkdtempSync, writeFileSync } from "node:fs";
import { File as NodeFile } from "node:buffer";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";

import { JobFailedError, Kneecave, WaitTimeoutError, type Job } from "@kneecave/sdk";

import { formOf, jobJson, json, serve } from "./support.js";

const BYTES = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112, 109, 112, 52, 50, 9, 8, 7, 6]);

function client(url: string): Kneecave {
  return new Kneecave({ baseUrl: url, apiKey: "kc_test" });
}

test("createJob uploads a Uint8Array, a Blob, a File, a path and a Node stream", async (t) => {
  const local = await serve((_req, res) => json(res, 202, jobJson()));
  t.after(() => local.close());
  const dir = mkdtempSync(join(tmpdir(), "kneecave-sdk-"));
  const path = join(dir, "squat.mov");
  writeFileSync(path, BYTES);
  const kc = client(local.url);
  await kc.createJob(BYTES, { view: "front", webhookUrl: "https://example.com/hook" });
  await kc.createJob(new Blob([BYTES]), { filename: "clip.webm", mirrored: true });
  // Node 18 has File in node:buffer only; browsers and Node >= 20 have the global.
  const FileClass = (globalThis.File as typeof File | undefined) ?? (NodeFile as unknown as typeof File);
  await kc.createJob(new FileClass([BYTES], "phone.mp4", { type: "video/mp4" }));
  await kc.createJob(path);
  await kc.createJob(createReadStream(path), { filename: "stream.mp4" });
  const names = ["video", "clip.webm", "phone.mp4", "squat.mov", "stream.mp4"];
  for (const [i, req] of local.seen.entries()) {
    assert.equal(req.url, "/v1/jobs");
    const form = await formOf(req);
    const video = form.get("video") as Blob & { name: string };
    assert.equal(video.name, names[i]);
    assert.deepEqual(new Uint8Array(await video.arrayBuffer()), BYTES);
  }
  const first = await formOf(local.seen[0]!);
  assert.equal(first.get("view"), "front");
  assert.equal(first.get("webhook_url"), "https://example.com/hook");
  assert.equal(first.get("mirrored"), null); // only sent when set
  assert.equal((await formOf(local.seen[1]!)).get("mirrored"), "true");
  assert.equal((await formOf(local.seen[3]!)).get("view"), null);
  assert.equal(((await formOf(local.seen[3]!)).get("video") as Blob).type, "video/quicktime");
});

test("wait() polls until terminal, reporting progress, and honours Retry-After", async (t) => {
  const states = [jobJson("queued"), jobJson("processing", { progress: 0.5 }), jobJson("succeeded", { progress: 1 })];
  const local = await serve((_req, res, i) => json(res, 200, states[Math.min(i, 2)], { "retry-after": "1" }));
  t.after(() => local.close());
  const seen: Job[] = [];
  const job = await client(local.url).wait("job_1", { onProgress: (j) => seen.push(j), pollIntervalMs: 10 });
  assert.equal(job.status, "succeeded");
  assert.deepEqual(seen.map((j) => [j.status, j.progress]), [["queued", 0], ["processing", 0.5], ["succeeded", 1]]);
  assert.ok(local.seen[1]!.at - local.seen[0]!.at >= 990, "waited for Retry-After: 1");
});

test("wait() gives up after timeoutMs with the last state", async (t) => {
  const local = await serve((_req, res) => json(res, 200, jobJson("processing", { progress: 0.25 })));
  t.after(() => local.close());
  const error = await client(local.url).wait("job_1", { timeoutMs: 300, pollIntervalMs: 50 }).catch((e: unknown) => e);
  assert.ok(error instanceof WaitTimeoutError);
  assert.equal(error.job.progress, 0.25);
  assert.ok(local.seen.length >= 3);
});

test("score() throws JobFailedError with the job's error code", async (t) => {
  const failed = jobJson("failed", { error: { code: "no_person", detail: "nobody in the frame" } });
  const local = await serve((req, res) => (req.method === "POST" ? json(res, 202, jobJson()) : json(res, 200, failed)));
  t.after(() => local.close());
  const error = await client(local.url).score(BYTES).catch((e: unknown) => e);
  assert.ok(error instanceof JobFailedError);
  assert.equal(error.code, "no_person");
  assert.equal(error.detail, "nobody in the frame");
});

test("iterJobs() follows next_cursor through starting_after", async (t) => {
  const ids = ["job_5", "job_4", "job_3", "job_2", "job_1"];
  const local = await serve((req, res) => {
    const query = new URL(req.url, "http://x").searchParams;
    const limit = Number(query.get("limit"));
    const after = query.get("starting_after");
    const start = after ? ids.indexOf(after) + 1 : 0;
    const page = ids.slice(start, start + limit);
    const more = start + limit < ids.length;
    json(res, 200, { items: page.map((id) => jobJson("succeeded", { id })), next_cursor: more ? page.at(-1) : null });
  });
  t.after(() => local.close());
  const got: string[] = [];
  for await (const job of client(local.url).iterJobs({ limit: 2 })) got.push(job.id);
  assert.deepEqual(got, ids);
  assert.deepEqual(
    local.seen.map((r) => r.url),
    ["/v1/jobs?limit=2", "/v1/jobs?limit=2&starting_after=job_4", "/v1/jobs?limit=2&starting_after=job_2"],
  );
});
