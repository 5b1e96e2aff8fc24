// RateLimit header fields (parsed, kept per response, on RateLimitError) and getLandmarks()
// against a local HTTP server.
import assert from "node:assert/strict";
import { test } from "node:test";
import { gzipSync } from "node:zlib";

import { Kneecave, NotFoundError, RateLimitError, parseRateLimit, type RateLimit } from "@kneecave/sdk";

import { json, problem, jobJson, serve } from "./support.js";

/** The header fields exactly as the server writes them (service/ratelimit.py Quota.headers). */
function limits(policy: string, limit: number, remaining: number, reset: number): Record<string, string> {
  return { "RateLimit-Policy": `"${policy}";q=${limit};w=60`, RateLimit: `"${policy}";r=${remaining};t=${reset}` };
}

const rl = (policy: string, limit: number | undefined, remaining: number, resetSeconds: number | undefined): RateLimit => ({
  policy,
  limit,
  remaining,
  resetSeconds,
});

test("parseRateLimit reads the fields and gives undefined for missing or odd ones", () => {
  const cases: [Record<string, string>, RateLimit | undefined][] = [
    [limits("poll", 1200, 1187, 41), rl("poll", 1200, 1187, 41)],
    [{ RateLimit: '"poll";r=5;t=2' }, rl("poll", undefined, 5, 2)], // no policy field
    [{ ratelimit: '"p";r=5', "ratelimit-policy": '"p";q=9' }, rl("p", 9, 5, undefined)],
    [{ RateLimit: '"p";r=5;t=2', "RateLimit-Policy": '"o";q=9' }, rl("p", undefined, 5, 2)],
    [{ RateLimit: 'x;pk=:YWJj:;r=5;t=2, "y";r=1;t=9' }, rl("y", undefined, 1, 9)], // the tightest
    [{ RateLimit: '"a,b\\"c";r=0;t=1' }, rl('a,b"c', undefined, 0, 1)], // escapes in a string
    [{}, undefined],
    [{ "RateLimit-Policy": '"poll";q=1200;w=60' }, undefined],
    [{ RateLimit: "limit=10, remaining=5, reset=3" }, undefined], // an older draft's dictionary
    [{ RateLimit: '"poll";t=4' }, undefined],
    [{ RateLimit: '"poll";r=-1;t=4' }, undefined],
    [{ RateLimit: '"poll";r=1.5;t=4' }, undefined],
    [{ RateLimit: '"poll;r=1;t=4' }, undefined], // unterminated string
    [{ RateLimit: '"poll";r=1;t=4 junk' }, undefined],
    [{ RateLimit: "(a b);r=1" }, undefined], // inner lists are not items
  ];
  for (const [fields, expected] of cases) {
    assert.deepEqual(parseRateLimit(new Headers(fields)), expected, JSON.stringify(fields));
  }
});

test("lastRateLimit follows every response, retried ones too, and clears when none is sent", async (t) => {
  const seenBefore: (RateLimit | undefined)[] = [];
  const client: { kc?: Kneecave } = {}; // the handler looks at the client between attempts
  const local = await serve((_req, res, i) => {
    seenBefore.push(client.kc?.lastRateLimit);
    if (i === 0) problem(res, 503, "unavailable", { ...limits("poll", 1200, 1199, 59), "retry-after": "0" });
    else if (i === 1) json(res, 200, jobJson(), limits("poll", 1200, 1198, 58));
    else json(res, 200, jobJson()); // e.g. through a proxy that drops the fields
  });
  t.after(() => local.close());
  const kc = (client.kc = new Kneecave({ baseUrl: local.url, apiKey: "kc_test" }));
  assert.equal(kc.lastRateLimit, undefined);
  await kc.getJob("job_1");
  assert.deepEqual(seenBefore, [undefined, rl("poll", 1200, 1199, 59)]); // the 503 counted too
  assert.deepEqual(kc.lastRateLimit, rl("poll", 1200, 1198, 58));
  await kc.getJob("job_1");
  assert.equal(kc.lastRateLimit, undefined, "no stale budget");
});

test("a RateLimitError carries the exhausted budget", async (t) => {
  const local = await serve((_req, res, i) =>
    problem(res, 429, "rate_limited", { "retry-after": "3600", ...(i === 0 ? limits("submit", 60, 0, 3600) : {}) }),
  );
  t.after(() => local.close());
  const kc = new Kneecave({ baseUrl: local.url, apiKey: "kc_test" });
  const error = await kc.cancelJob("job_1").catch((e: unknown) => e);
  assert.ok(error instanceof RateLimitError, String(error));
  assert.deepEqual(error.rateLimit, rl("submit", 60, 0, 3600));
  assert.equal(error.retryAfter, 3600);
  assert.deepEqual(kc.lastRateLimit, error.rateLimit);
  const bare = await kc.getJob("job_1").catch((e: unknown) => e);
  assert.ok(bare instanceof RateLimitError);
  assert.equal(bare.rateLimit, undefined);
});

test("getLandmarks() reads the gzipped document; a 404 keeps its code", async (t) => {
  const doc = {
    fps: 30,
    width: 1080,
    height: 1920,
    frames: 2,
    names: ["left_knee", "right_knee"],
    t_s: [0, 0.033],
    points: [[500, 900, 580, 905], null],
  };
  const local = await serve((req, res) => {
    if (req.url.startsWith("/v1/jobs/job_1/")) {
      res.writeHead(200, { "content-type": "application/json", "content-encoding": "gzip", ...limits("poll", 1200, 7, 9) });
      res.end(gzipSync(JSON.stringify(doc)));
    } else problem(res, 404, "landmarks_not_found");
  });
  t.after(() => local.close());
  const kc = new Kneecave({ baseUrl: local.url, apiKey: "kc_test" });
  const marks = await kc.getLandmarks("job_1");
  assert.deepEqual(marks, doc);
  assert.equal(local.seen[0]!.method, "GET");
  assert.equal(local.seen[0]!.url, "/v1/jobs/job_1/landmarks");
  assert.match(String(local.seen[0]!.headers["accept-encoding"]), /gzip/);
  assert.deepEqual(kc.lastRateLimit, rl("poll", 1200, 7, 9));
  const missing = await kc.getLandmarks("job/2").catch((e: unknown) => e);
  assert.ok(missing instanceof NotFoundError, String(missing));
  assert.equal(missing.code, "landmarks_not_found");
  assert.equal(local.seen[1]!.url, "/v1/jobs/job%2F2/landmarks", "the id is one path segment");
});
