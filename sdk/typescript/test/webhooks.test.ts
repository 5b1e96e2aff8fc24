// Standard Webhooks verification: the specification's own example, tampering, time window.
import assert from "node:assert/strict";
import { test } from "node:test";

import { WebhookVerificationError, signWebhook, verifyWebhook } from "@kneecave/sdk";

// The example of the Standard Webhooks specification (and its reference libraries' tests).
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const ID = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const TIMESTAMP = 1614265330;
const BODY = '{"test": 2432232314}';
const SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
const NOW = TIMESTAMP * 1000;

function headers(signature = SIGNATURE, timestamp = TIMESTAMP): Record<string, string> {
  return { "webhook-id": ID, "webhook-timestamp": String(timestamp), "webhook-signature": signature };
}

test("signs and verifies the specification's example", async () => {
  assert.equal(await signWebhook(SECRET, ID, TIMESTAMP, BODY), SIGNATURE);
  const event = await verifyWebhook(BODY, headers(), SECRET, { now: NOW });
  assert.deepEqual(event, { test: 2432232314 });
});

test("accepts bytes, a Headers object, mixed-case names and several signatures", async () => {
  const bytes = new TextEncoder().encode(BODY);
  const mixed = new Headers({ "Webhook-Id": ID, "Webhook-Timestamp": String(TIMESTAMP), "Webhook-Signature": `v1,bm90IGl0 ${SIGNATURE}` });
  await verifyWebhook(bytes, mixed, SECRET, { now: NOW });
  const upper = { "WEBHOOK-ID": ID, "Webhook-Timestamp": String(TIMESTAMP), "webhook-signature": [SIGNATURE] };
  await verifyWebhook(BODY, upper, SECRET, { now: new Date(NOW) });
});

test("rejects a changed body, a changed id, another secret and a missing header", async () => {
  const reject = (p: Promise<unknown>): Promise<void> => assert.rejects(p, WebhookVerificationError);
  await reject(verifyWebhook('{"test": 2432232315}', headers(), SECRET, { now: NOW }));
  await reject(verifyWebhook(BODY, { ...headers(), "webhook-id": "msg_other" }, SECRET, { now: NOW }));
  await reject(verifyWebhook(BODY, headers(), "whsec_" + btoa("another secret"), { now: NOW }));
  await reject(verifyWebhook(BODY, headers("v2,whatever"), SECRET, { now: NOW }));
  const { "webhook-signature": _, ...missing } = headers();
  await reject(verifyWebhook(BODY, missing, SECRET, { now: NOW }));
});

test("rejects a timestamp outside the tolerance (replays)", async () => {
  await assert.rejects(verifyWebhook(BODY, headers(), SECRET, { now: NOW + 301_000 }), /too old/);
  await assert.rejects(verifyWebhook(BODY, headers(), SECRET, { now: NOW - 301_000 }), /future/);
  await verifyWebhook(BODY, headers(), SECRET, { now: NOW + 3_600_000, tolerance: 7200 });
  // The signature covers the timestamp: moving it breaks the signature too.
  await assert.rejects(
    verifyWebhook(BODY, headers(SIGNATURE, TIMESTAMP + 1), SECRET, { now: NOW }),
    WebhookVerificationError,
  );
});
