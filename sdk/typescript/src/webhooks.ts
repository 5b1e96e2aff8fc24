// Standard Webhooks (https://www.standardwebhooks.com) verification with Web Crypto:
// signature = base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${body}`)), sent as
// `webhook-signature: v1,<signature>` (space-separated when several keys sign), where the key is
// the base64 after `whsec_` in the tenant's secret (`GET /v1/webhook-secret`).
import { KneecaveError, WebhookVerificationError } from "./errors.js";
import { base64Decode, base64Encode, webCrypto } from "./platform.js";
import type { WebhookEvent } from "./types.js";

/** Request headers as a `Headers` object (fetch, Next.js, workers) or a plain object (Node's
 * `req.headers`, Express), names in any case. */
export type HeadersLike = Headers | Record<string, string | string[] | undefined>;

export interface VerifyOptions {
  /** How far `webhook-timestamp` may be from now, in seconds (default 300). */
  tolerance?: number;
  /** The current time (Date or ms since the epoch); default now. */
  now?: Date | number;
}

export const DEFAULT_TOLERANCE_S = 300;
const PREFIX = "whsec_";

function header(headers: HeadersLike, name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") {
    return (headers as Headers).get(name) ?? undefined;
  }
  const plain = headers as Record<string, string | string[] | undefined>;
  for (const [key, value] of Object.entries(plain)) {
    if (key.toLowerCase() === name) return typeof value === "string" ? value : value?.join(" ");
  }
  return undefined;
}

function secretKey(secret: string): Uint8Array {
  const raw = secret.startsWith(PREFIX) ? secret.slice(PREFIX.length) : secret;
  try {
    const key = base64Decode(raw);
    if (key.length === 0) throw new KneecaveError("empty");
    return key;
  } catch {
    throw new KneecaveError("the webhook secret must be `whsec_` followed by base64");
  }
}

function bytesOf(body: string | Uint8Array | ArrayBuffer): Uint8Array {
  if (typeof body === "string") return new TextEncoder().encode(body);
  return body instanceof Uint8Array ? body : new Uint8Array(body);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

async function hmac(secret: string, id: string, timestamp: string, body: Uint8Array): Promise<string> {
  const { subtle } = await webCrypto();
  const key = await subtle.importKey(
    "raw",
    secretKey(secret) as BufferSource,
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const message = concat(new TextEncoder().encode(`${id}.${timestamp}.`), body);
  return base64Encode(new Uint8Array(await subtle.sign("HMAC", key, message as BufferSource)));
}

/** Compares in time that depends on the lengths only, not on where the strings differ. */
function equal(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

/**
 * The `webhook-signature` value for a delivery (`v1,<base64>`): for testing a receiver.
 * `timestamp` is seconds since the epoch (or a Date).
 */
export async function signWebhook(
  secret: string,
  id: string,
  timestamp: number | Date,
  body: string | Uint8Array | ArrayBuffer,
): Promise<string> {
  const seconds = timestamp instanceof Date ? Math.floor(timestamp.getTime() / 1000) : Math.floor(timestamp);
  return `v1,${await hmac(secret, id, String(seconds), bytesOf(body))}`;
}

/**
 * Checks a webhook delivery and returns its parsed event. Pass the body exactly as received
 * (the raw string or bytes, not re-serialised JSON). Throws WebhookVerificationError when a
 * header is missing, the timestamp is outside `tolerance`, or no signature matches.
 * Deduplicate on the `webhook-id` header: it is the same on every retry of a delivery.
 */
export async function verifyWebhook(
  body: string | Uint8Array | ArrayBuffer,
  headers: HeadersLike,
  secret: string,
  options: VerifyOptions = {},
): Promise<WebhookEvent> {
  const id = header(headers, "webhook-id");
  const timestamp = header(headers, "webhook-timestamp");
  const signatures = header(headers, "webhook-signature");
  if (!id || !timestamp || !signatures) {
    throw new WebhookVerificationError(
      "missing webhook-id, webhook-timestamp or webhook-signature header",
    );
  }
  if (!/^\d{1,15}$/.test(timestamp)) {
    throw new WebhookVerificationError("invalid webhook-timestamp");
  }
  const now = options.now instanceof Date ? options.now.getTime() : (options.now ?? Date.now());
  const tolerance = options.tolerance ?? DEFAULT_TOLERANCE_S;
  const age = now / 1000 - Number(timestamp);
  if (age > tolerance) throw new WebhookVerificationError("webhook-timestamp too old");
  if (age < -tolerance) throw new WebhookVerificationError("webhook-timestamp in the future");
  const bytes = bytesOf(body);
  const expected = await hmac(secret, id, timestamp, bytes);
  const matched = signatures
    .split(" ")
    .some((entry) => entry.startsWith("v1,") && equal(entry.slice(3), expected));
  if (!matched) throw new WebhookVerificationError("no matching webhook signature");
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as WebhookEvent;
  } catch {
    throw new WebhookVerificationError("the webhook body is not JSON");
  }
}
