// Defaults in one place, the same values as the Python SDK (sdk/python/src/kneecave_sdk/_constants.py).

export const VERSION = "0.1.0";
export const DEFAULT_BASE_URL = "http://127.0.0.1:8000";
export const BASE_URL_ENV = "KNEECAVE_BASE_URL";
export const API_KEY_ENV = "KNEECAVE_API_KEY";

/** Per attempt: an upload of a few hundred MB over a phone uplink takes a while. */
export const DEFAULT_TIMEOUT_MS = 120_000;
export const DEFAULT_MAX_RETRIES = 2;
export const INITIAL_RETRY_DELAY_MS = 500;
export const MAX_RETRY_DELAY_MS = 8_000;
/** A Retry-After longer than this is surfaced (RateLimitError.retryAfter), not slept on. */
export const MAX_RETRY_AFTER_MS = 60_000;

/** wait() polls no faster than this, nor than the server's Retry-After on the job. */
export const DEFAULT_POLL_INTERVAL_MS = 1_000;
export const DEFAULT_WAIT_TIMEOUT_MS = 600_000;

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(["succeeded", "failed", "canceled"]);
