// The SDK against a real `kneecave serve` with a real worker. tests/test_sdk_typescript.py
// starts the server and sets the environment; without KNEECAVE_BASE_URL these tests skip
// (and that pytest file fails on any skip).
import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { readFileSync } from "node:fs";
import { test } from "node:test";

import {
  JobCanceledError,
  Kneecave,
  NotFoundError,
  UnsupportedMediaTypeError,
  ValidationError,
  WebhookVerificationError,
  verifyWebhook,
  type Job,
  type KeypointsRequest,
  type ScoreResult,
} from "@kneecave/sdk";

const env = process.env;
const skip = env.KNEECAVE_BASE_URL ? false : "KNEECAVE_BASE_URL is not set (no server to test against)";
const CLIP = env.KNEECAVE_TEST_CLIP ?? "";

interface Delivery {
  body: Buffer;
  headers: IncomingHttpHeaders;
}

/** A webhook receiver on 127.0.0.1 that keeps every delivery as raw bytes. */
async function receiver(): Promise<{ url: string; got: Delivery[]; close: () => void }> {
  const got: Delivery[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      got.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hooks/kneecave`, got, close: () => server.close() };
}

async function until<T>(what: string, get: () => T | undefined, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = get();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

const without = ({ timings: _, ...rest }: ScoreResult): Omit<ScoreResult, "timings"> => rest;

test("score() a real clip with progress; its webhook verifies with the SDK", { skip }, async (t) => {
  const hooks = await receiver();
  t.after(() => hooks.close());
  const kc = new Kneecave(); // KNEECAVE_BASE_URL and KNEECAVE_API_KEY from the environment
  const secret = await kc.webhookSecret();
  assert.equal(secret, env.KNEECAVE_TEST_WEBHOOK_SECRET);

  const seen: Job[] = [];
  const result = await kc.score(CLIP, { webhookUrl: hooks.url, onProgress: (job) => seen.push(job) });
  assert.equal(result.rep_count, 1);
  assert.equal(result.reps.length, 1);
  assert.equal(result.video.frames > 0, true);
  assert.ok(["none", "mild", "moderate", "severe", null].includes(result.reps[0]!.knee_cave.severity));
  assert.ok(seen.length >= 2, `progress reported ${seen.length} times`);
  assert.equal(seen.at(-1)!.status, "succeeded");
  assert.equal(seen.at(-1)!.progress, 1);
  const progress = seen.map((job) => job.progress);
  assert.deepEqual(progress, [...progress].sort((a, b) => a - b), "progress never goes back");
  const jobId = seen[0]!.id;

  const delivery = await until("the job's webhook", () => hooks.got[0]);
  const event = await verifyWebhook(delivery.body, delivery.headers, secret);
  if (event.type !== "job.succeeded") assert.fail(`got a ${event.type} event`);
  assert.equal(event.data.id, jobId);
  assert.equal(delivery.headers["webhook-id"], `${jobId}.succeeded`);
  assert.deepEqual(without(event.data.result!), without(result));
  const forged = Buffer.from(delivery.body.toString().replace('"rep_count":1', '"rep_count":9'));
  assert.notDeepEqual(forged, delivery.body);
  await assert.rejects(verifyWebhook(forged, delivery.headers, secret), WebhookVerificationError);
  await assert.rejects(verifyWebhook(delivery.body, delivery.headers, "whsec_" + btoa("not it")), WebhookVerificationError);
});

test("getLandmarks() of a scored clip, on the result's clock, until the job is deleted", { skip }, async () => {
  const kc = new Kneecave();
  const seen: Job[] = [];
  const result = await kc.score(CLIP, { onProgress: (job) => seen.push(job) });
  const jobId = seen.at(-1)!.id;
  const marks = await kc.getLandmarks(jobId);
  assert.equal(marks.frames, result.video.frames);
  assert.equal(marks.points.length, marks.frames);
  assert.equal(marks.t_s.length, marks.frames);
  assert.ok(marks.names.includes("left_knee"), marks.names.join());
  assert.deepEqual([marks.width, marks.height], [result.video.width, result.video.height]);
  assert.deepEqual(marks.t_s, [...marks.t_s].sort((a, b) => a - b));
  const rep = result.reps[0]!;
  assert.ok(marks.t_s[0]! <= rep.start_s && rep.end_s <= marks.t_s.at(-1)!, "one clock");
  const drawn = marks.points.filter((frame) => frame !== null);
  assert.ok(drawn.length > marks.frames / 2, `${drawn.length} of ${marks.frames} frames drawn`);
  assert.ok(drawn.every((frame) => frame.length === 2 * marks.names.length));
  await kc.deleteJob(jobId);
  const gone = await kc.getLandmarks(jobId).catch((e: unknown) => e);
  assert.ok(gone instanceof NotFoundError, String(gone));
  assert.equal(gone.code, "job_not_found");
});

test("lastRateLimit reports the poll and submit budgets the server counted", { skip }, async () => {
  const kc = new Kneecave();
  await kc.listJobs({ limit: 1 });
  const first = kc.lastRateLimit;
  await kc.listJobs({ limit: 1 });
  const second = kc.lastRateLimit;
  // A cancel counts as a submission, found or not.
  await assert.rejects(kc.cancelJob("job_0123456789abcdef0123456789abcdef"), NotFoundError);
  const submit = kc.lastRateLimit;
  const pollRate = Number(env.KNEECAVE_TEST_POLL_RATE);
  assert.ok(first && second && submit);
  assert.deepEqual([first.policy, first.limit], ["poll", pollRate]);
  assert.ok(first.remaining > 0 && first.remaining < pollRate, String(first.remaining));
  assert.ok(first.resetSeconds !== undefined && first.resetSeconds > 0 && first.resetSeconds <= 60);
  if (second.resetSeconds !== undefined && second.resetSeconds <= first.resetSeconds) {
    assert.equal(second.remaining, first.remaining - 1, "the same window counts down");
  }
  assert.deepEqual([submit.policy, submit.limit], ["submit", Number(env.KNEECAVE_TEST_SUBMIT_RATE)]);
});

test("testWebhook() sends a signed webhook.test event to a receiver", { skip }, async (t) => {
  const hooks = await receiver();
  t.after(() => hooks.close());
  const kc = new Kneecave();
  const outcome = await kc.testWebhook(hooks.url);
  assert.equal(outcome.delivered, true);
  assert.equal(outcome.status_code, 204);
  const delivery = await until("the test event", () => hooks.got[0]);
  assert.equal(delivery.headers["webhook-id"], outcome.webhook_id);
  const event = await verifyWebhook(delivery.body, delivery.headers, await kc.webhookSecret());
  assert.equal(event.type, "webhook.test");
});

test("scoreKeypoints() scores on-device landmarks like the server's own scorer", { skip }, async () => {
  const body = JSON.parse(readFileSync(env.KNEECAVE_TEST_KEYPOINTS!, "utf8")) as KeypointsRequest;
  const expected = JSON.parse(readFileSync(env.KNEECAVE_TEST_EXPECTED!, "utf8")) as ScoreResult;
  const result = await new Kneecave().scoreKeypoints(body);
  assert.equal(result.rep_count, 1);
  assert.deepEqual(without(result), without(expected));
});

test("errors carry the problem code, status, detail and request id", { skip }, async () => {
  const kc = new Kneecave();
  const missing = await kc.getJob("job_00000000000000000000000000000000").catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError, String(missing));
  assert.equal(missing.status, 404);
  assert.equal(missing.code, "job_not_found");
  assert.match(missing.detail ?? "", /job_0000/);
  assert.match(missing.requestId ?? "", /^req_[0-9a-f]+$/);
  assert.equal(missing.requestId, missing.problem.request_id);

  const notVideo = new TextEncoder().encode("this is not a video, just text ".repeat(40));
  const refused = await kc.createJob(notVideo, { filename: "notes.mp4" }).catch((e: unknown) => e);
  assert.ok(refused instanceof UnsupportedMediaTypeError, String(refused));
  assert.equal(refused.status, 415);
  assert.ok(refused.code && refused.requestId);

  const custom = new Kneecave({ headers: { "X-Request-Id": "sdk-test.1" } });
  const invalid = await custom.listJobs({ limit: 1000 }).catch((e: unknown) => e);
  assert.ok(invalid instanceof ValidationError, String(invalid));
  assert.equal(invalid.requestId, "sdk-test.1");
  assert.ok(invalid.errors.length > 0);

  const unauthorized = await new Kneecave({ apiKey: "kc_wrong" }).getJob("job_x").catch((e: unknown) => e);
  assert.equal((unauthorized as { status?: number }).status, 401);
});

test("cancel, delete; score() of a job canceled meanwhile throws JobCanceledError", { skip }, async () => {
  const kc = new Kneecave();
  const job = await kc.createJob(CLIP);
  const canceled = await kc.cancelJob(job.id);
  assert.equal(canceled.status, "canceled");
  assert.equal((await kc.cancelJob(job.id)).status, "canceled", "cancel is idempotent");
  assert.equal((await kc.wait(job.id)).status, "canceled");
  const noLandmarks = await kc.getLandmarks(job.id).catch((e: unknown) => e);
  assert.ok(noLandmarks instanceof NotFoundError, String(noLandmarks));
  assert.equal(noLandmarks.code, "landmarks_not_found");
  await kc.deleteJob(job.id);
  await assert.rejects(kc.getJob(job.id), NotFoundError);

  let cancel: Promise<Job> | undefined;
  const scoring = kc.score(CLIP, {
    onProgress: (current) => {
      cancel ??= kc.cancelJob(current.id); // on the first poll, queued or processing
    },
  });
  await assert.rejects(scoring, JobCanceledError);
  assert.equal((await cancel!).status, "canceled");
});

test("iterJobs() pages through every job via next_cursor / starting_after", { skip }, async () => {
  const kc = new Kneecave();
  const made: string[] = [];
  for (let i = 0; i < 5; i++) {
    const job = await kc.createJob(CLIP);
    made.push(job.id);
    await kc.cancelJob(job.id); // keeps the worker free; a canceled job is still listed
  }
  const onePage: string[] = [];
  for await (const job of kc.iterJobs({ limit: 100 })) onePage.push(job.id);
  const paged: string[] = [];
  for await (const job of kc.iterJobs({ limit: 2 })) paged.push(job.id);
  assert.deepEqual(paged, onePage);
  assert.equal(new Set(paged).size, paged.length, "no job twice");
  assert.deepEqual(paged.slice(0, 5), [...made].reverse(), "newest first");
  const first = await kc.listJobs({ limit: 2 });
  assert.equal(first.items.length, 2);
  assert.ok(first.next_cursor, "a cursor to the next page");
  const second = await kc.listJobs({ limit: 2, startingAfter: first.next_cursor });
  assert.deepEqual(second.items.map((j) => j.id), paged.slice(2, 4));
});
