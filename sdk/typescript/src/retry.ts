// Retry policy as pure functions of (attempt, status, headers): no I/O, unit-tested directly.
import { INITIAL_RETRY_DELAY_MS, MAX_RETRY_AFTER_MS, MAX_RETRY_DELAY_MS } from "./constants.js";

export interface RetryPolicy {
  /** Retries after the first attempt (0 disables retrying). */
  maxRetries: number;
  initialDelayMs: number;
  maxDelayMs: number;
  /** A longer Retry-After is not waited for: the error is thrown with `retryAfter` set. */
  maxRetryAfterMs: number;
}

export function retryPolicy(maxRetries: number): RetryPolicy {
  return {
    maxRetries,
    initialDelayMs: INITIAL_RETRY_DELAY_MS,
    maxDelayMs: MAX_RETRY_DELAY_MS,
    maxRetryAfterMs: MAX_RETRY_AFTER_MS,
  };
}

/** Milliseconds the server asked to wait (`retry-after-ms`, or `Retry-After` as seconds or
 * an HTTP date), else undefined. */
export function parseRetryAfter(headers: Headers, now: number = Date.now()): number | undefined {
  const ms = headers.get("retry-after-ms");
  if (ms !== null && ms.trim() !== "" && Number.isFinite(Number(ms))) {
    return Math.max(0, Number(ms));
  }
  const raw = headers.get("retry-after")?.trim();
  if (!raw) return undefined;
  if (/^\d+(\.\d+)?$/.test(raw)) return Number(raw) * 1000;
  const when = Date.parse(raw);
  return Number.isNaN(when) ? undefined : Math.max(0, when - now);
}

/** Statuses worth another attempt: the request may succeed unchanged a moment later. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || status === 500 || status === 502 || status === 503 || status === 504;
}

/**
 * Delay before retry number `attempt` (0-based), or undefined when the server asked for a
 * wait longer than the policy accepts. Retry-After wins (plus up to 10% so clients told the
 * same second do not return in lockstep); otherwise exponential backoff with up to 25% jitter.
 */
export function retryDelayMs(
  policy: RetryPolicy,
  attempt: number,
  headers?: Headers,
  random: () => number = Math.random,
): number | undefined {
  const retryAfter = headers ? parseRetryAfter(headers) : undefined;
  if (retryAfter !== undefined) {
    if (retryAfter > policy.maxRetryAfterMs) return undefined;
    return retryAfter * (1 + 0.1 * random());
  }
  const step = Math.min(policy.initialDelayMs * 2 ** attempt, policy.maxDelayMs);
  return step * (1 - 0.25 * random());
}

/** Delay before the next poll of a running job: the client's interval, or longer when the
 * server's Retry-After asks for it (capped at the policy's maximum). */
export function pollDelayMs(policy: RetryPolicy, headers: Headers, intervalMs: number): number {
  const retryAfter = parseRetryAfter(headers);
  if (retryAfter === undefined) return intervalMs;
  return Math.max(intervalMs, Math.min(retryAfter, policy.maxRetryAfterMs));
}
