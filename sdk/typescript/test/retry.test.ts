// Retries, Retry-After, idempotency and error mapping against a local HTTP server.
import assert from "node:assert/strict";
import { test } from "node:test";

import {
  APIConnectionError,
  APITimeoutError,
  BadRequestError,
  InternalServerError,
  Kneecave,
  NotFoundError,
  RateLimitError,
  parseRetryAfter,
  retryDelayMs,
  retryPolicy,
} from "@kneecave/sdk";

import { jobJson, json, problem, serve } from "./support.js";

const VIDEO = new Uint8Array([0, 0, 0, 24, 102, 116, 121, 112, 109, 112, 52, 50, 1, 2, 3]);

function client(url: string, extra: ConstructorParameters<typeof Kneecave>[0] = {}): Kneecave {
  return new Kneecave({ baseUrl: url, apiKey: "kc_test", ...extra });
}

test("a 5xx upload is retried with the same Idempotency-Key until it is accepted", async (t) => {
  const local = await serve((_req, res, i) => {
    if (i < 2) problem(res, 503, "unavailable");
    else json(res, 202, jobJson());
  });
  t.after(() => local.close());
  const job = await client(local.url).createJob(VIDEO, { filename: "squat.mp4" });
  assert.equal(job.id, "job_1");
  assert.equal(local.seen.length, 3);
  const keys = local.seen.map((r) => r.headers["idempotency-key"]);
  assert.match(String(keys[0]), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.deepEqual(keys, [keys[0], keys[0], keys[0]]);
  assert.ok(local.seen.every((r) => r.headers.authorization === "Bearer kc_test"));
  // Every attempt carried the whole video (a FormData is rebuilt per attempt).
  assert.ok(local.seen.every((r) => r.body.includes(Buffer.from(VIDEO))));
});

test("each createJob call gets its own key unless one is given", async (t) => {
  const local = await serve((_req, res) => json(res, 202, jobJson()));
  t.after(() => local.close());
  const kc = client(local.url);
  await kc.createJob(VIDEO);
  await kc.createJob(VIDEO);
  await kc.createJob(VIDEO, { idempotencyKey: "mine-1" });
  const keys = local.seen.map((r) => r.headers["idempotency-key"]);
  assert.notEqual(keys[0], keys[1]);
  assert.equal(keys[2], "mine-1");
});

test("a 429 waits for Retry-After before the retry", async (t) => {
  const local = await serve((_req, res, i) => {
    if (i === 0) problem(res, 429, "rate_limited", { "retry-after": "1" });
    else json(res, 200, jobJson("processing"));
  });
  t.after(() => local.close());
  const job = await client(local.url).getJob("job_1");
  assert.equal(job.status, "processing");
  assert.equal(local.seen.length, 2);
  const gap = local.seen[1]!.at - local.seen[0]!.at;
  // Backoff alone would have waited 375-500 ms; Retry-After: 1 means at least a second.
  assert.ok(gap >= 990, `retried after ${gap} ms`);
  assert.ok(gap < 2000, `retried after ${gap} ms`); // generous: a loaded machine is slow
});

test("a Retry-After beyond a minute is not slept on: RateLimitError with retryAfter", async (t) => {
  const local = await serve((_req, res) => problem(res, 429, "too_many_active_jobs", { "retry-after": "120" }));
  t.after(() => local.close());
  const error = await client(local.url).getJob("job_1").catch((e: unknown) => e);
  assert.ok(error instanceof RateLimitError);
  assert.equal(error.retryAfter, 120);
  assert.equal(error.code, "too_many_active_jobs");
  assert.equal(local.seen.length, 1);
});

test("4xx answers are not retried and carry code, status, detail and the request id", async (t) => {
  const local = await serve((_req, res, i) =>
    problem(res, i === 0 ? 404 : 400, i === 0 ? "job_not_found" : "bad_request", { "x-request-id": `req_${i}` }),
  );
  t.after(() => local.close());
  const kc = client(local.url);
  const missing = await kc.getJob("job_x").catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError);
  assert.equal(missing.status, 404);
  assert.equal(missing.code, "job_not_found");
  assert.equal(missing.detail, "job_not_found detail");
  assert.equal(missing.requestId, "req_0");
  assert.match(missing.message, /404 \[job_not_found\].*req_0/);
  const bad = await kc.cancelJob("job_x").catch((e: unknown) => e);
  assert.ok(bad instanceof BadRequestError);
  assert.equal(local.seen.length, 2);
});

test("the request id falls back to the problem body's request_id (no exposed header)", async (t) => {
  const local = await serve((_req, res) => problem(res, 404, "job_not_found"));
  t.after(() => local.close());
  const error = await client(local.url).getJob("job_x").catch((e: unknown) => e);
  assert.ok(error instanceof NotFoundError);
  assert.equal(error.requestId, "req_body");
});

test("retries stop after maxRetries and the last error is thrown", async (t) => {
  const local = await serve((_req, res) => problem(res, 500, "internal"));
  t.after(() => local.close());
  const error = await client(local.url, { maxRetries: 2 }).getJob("job_1").catch((e: unknown) => e);
  assert.ok(error instanceof InternalServerError);
  assert.equal(local.seen.length, 3);
  const gaps = [local.seen[1]!.at - local.seen[0]!.at, local.seen[2]!.at - local.seen[1]!.at];
  // Exponential: ~0.5 s then ~1 s, each with up to 25% jitter off.
  // Upper bounds are generous (a loaded machine is slow); the lower ones are the backoff.
  assert.ok(gaps[0]! >= 370 && gaps[0]! < 1000, `gaps ${gaps.join(",")}`);
  assert.ok(gaps[1]! >= 740 && gaps[1]! < 1700, `gaps ${gaps.join(",")}`);
});

test("a refused connection is APIConnectionError after the retries", async () => {
  const local = await serve(() => undefined);
  const url = local.url;
  await local.close(); // nothing listens there now
  const error = await client(url, { maxRetries: 1 }).getJob("job_1").catch((e: unknown) => e);
  assert.ok(error instanceof APIConnectionError, String(error));
  assert.ok(!(error instanceof APITimeoutError));
});

test("no answer within timeoutMs is APITimeoutError", async (t) => {
  const local = await serve((_req, res) => {
    setTimeout(() => json(res, 200, jobJson()), 1_000);
  });
  t.after(() => local.close());
  const started = Date.now();
  const error = await client(local.url, { timeoutMs: 150, maxRetries: 0 }).getJob("job_1").catch((e: unknown) => e);
  assert.ok(error instanceof APITimeoutError, String(error));
  assert.ok(Date.now() - started < 900);
});

test("the caller's AbortSignal stops a backoff at once, with no further attempt", async (t) => {
  const local = await serve((_req, res) => problem(res, 503, "unavailable", { "retry-after": "5" }));
  t.after(() => local.close());
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 200);
  const started = Date.now();
  const error = await client(local.url).getJob("job_1", { signal: controller.signal }).catch((e: unknown) => e);
  assert.equal((error as Error).name, "AbortError");
  assert.ok(Date.now() - started < 1_000);
  assert.equal(local.seen.length, 1);
});

test("parseRetryAfter reads seconds, HTTP dates and retry-after-ms", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "3" })), 3000);
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "Thu, 01 Jan 2026 00:00:07 GMT" }), now), 7000);
  assert.equal(parseRetryAfter(new Headers({ "retry-after-ms": "250", "retry-after": "3" })), 250);
  assert.equal(parseRetryAfter(new Headers({ "retry-after": "soon" })), undefined);
  assert.equal(parseRetryAfter(new Headers()), undefined);
});

test("retryDelayMs: exponential with jitter, capped; Retry-After wins", () => {
  const policy = retryPolicy(5);
  assert.equal(retryDelayMs(policy, 0, undefined, () => 0), 500);
  assert.equal(retryDelayMs(policy, 0, undefined, () => 1), 375);
  assert.equal(retryDelayMs(policy, 3, undefined, () => 0), 4000);
  assert.equal(retryDelayMs(policy, 10, undefined, () => 0), 8000);
  assert.equal(retryDelayMs(policy, 0, new Headers({ "retry-after": "2" }), () => 0), 2000);
  assert.equal(retryDelayMs(policy, 0, new Headers({ "retry-after": "2" }), () => 1), 2200);
  assert.equal(retryDelayMs(policy, 0, new Headers({ "retry-after": "61" })), undefined);
});
