// One request with the client's policy: base URL, auth, per-attempt timeout, retries with
// backoff (honouring Retry-After), caller cancellation, and problem+json → typed errors.
import { APIConnectionError, APITimeoutError, statusError } from "./errors.js";
import { abortReason, sleep } from "./platform.js";
import { isRetryableStatus, parseRetryAfter, retryDelayMs, type RetryPolicy } from "./retry.js";

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface HttpConfig {
  baseUrl: string;
  apiKey: string | undefined;
  timeoutMs: number;
  retry: RetryPolicy;
  fetch: FetchLike;
  headers: Record<string, string>;
  /** Sees every response, retried ones and errors too (the client reads its RateLimit). */
  onResponse?: (response: Response) => void;
}

export interface RequestSpec {
  method: "GET" | "POST" | "DELETE";
  path: string;
  query?: Record<string, string | number | undefined>;
  json?: unknown;
  /** Builds the body for one attempt (a FormData is consumed by sending it). */
  body?: () => BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal | undefined;
}

export function buildUrl(baseUrl: string, path: string, query?: RequestSpec["query"]): string {
  const url = baseUrl.replace(/\/+$/, "") + path;
  const params = Object.entries(query ?? {}).filter(
    (entry): entry is [string, string | number] => entry[1] !== undefined,
  );
  if (params.length === 0) return url;
  return `${url}?${params.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`).join("&")}`;
}

/** An AbortSignal that fires on the caller's signal or after `ms` (AbortSignal.any is
 * Node ≥ 20.3 only, so this is done by hand). */
function attemptSignal(ms: number, outer: AbortSignal | undefined): { signal: AbortSignal; timedOut: () => boolean; done: () => void } {
  const controller = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    controller.abort();
  }, ms);
  const onAbort = (): void => controller.abort(outer ? abortReason(outer) : undefined);
  if (outer?.aborted) onAbort();
  outer?.addEventListener("abort", onAbort, { once: true });
  return {
    signal: controller.signal,
    timedOut: () => expired,
    done: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onAbort);
    },
  };
}

async function problemOf(response: Response): Promise<Record<string, unknown>> {
  const text = await response.text().catch(() => "");
  try {
    const body: unknown = JSON.parse(text);
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {
    // not JSON (a proxy's HTML page): keep the text as the detail
  }
  return { detail: text.slice(0, 500) || response.statusText };
}

type Outcome = { response: Response } | { error: Error; retry: boolean; headers?: Headers };

function requestInit(config: HttpConfig, spec: RequestSpec): RequestInit {
  const headers: Record<string, string> = { Accept: "application/json", ...config.headers, ...spec.headers };
  if (config.apiKey) headers.Authorization = `Bearer ${config.apiKey}`;
  if (spec.json !== undefined) {
    headers["Content-Type"] = "application/json";
    return { method: spec.method, headers, body: JSON.stringify(spec.json) };
  }
  return { method: spec.method, headers, body: spec.body?.() };
}

async function failure(spec: RequestSpec, url: string, response: Response): Promise<Outcome> {
  const retryAfterMs = parseRetryAfter(response.headers);
  const error = statusError({
    method: spec.method,
    url,
    status: response.status,
    headers: response.headers,
    problem: await problemOf(response),
    retryAfter: retryAfterMs === undefined ? undefined : retryAfterMs / 1000,
  });
  return { error, retry: isRetryableStatus(response.status), headers: response.headers };
}

async function attempt(config: HttpConfig, spec: RequestSpec, url: string): Promise<Outcome> {
  const { signal, timedOut, done } = attemptSignal(config.timeoutMs, spec.signal);
  const init = { method: spec.method, url };
  try {
    const response = await config.fetch(url, { ...requestInit(config, spec), signal });
    config.onResponse?.(response);
    return response.ok ? { response } : await failure(spec, url, response);
  } catch (cause) {
    if (spec.signal?.aborted) throw abortReason(spec.signal); // the caller's choice: no retry
    if (timedOut()) {
      const error = new APITimeoutError(`no response within ${config.timeoutMs} ms`, { ...init, cause });
      return { error, retry: true };
    }
    // fetch rejects with a TypeError when no response came (refused, reset, DNS, CORS).
    if (!(cause instanceof TypeError)) throw cause;
    const reason = (cause as { cause?: { code?: unknown } }).cause?.code; // Node: ECONNREFUSED, …
    const message = `connection failed: ${cause.message}${typeof reason === "string" ? ` (${reason})` : ""}`;
    return { error: new APIConnectionError(message, { ...init, cause }), retry: true };
  } finally {
    done();
  }
}

/** Sends `spec`, retrying what is safe to retry; resolves with a 2xx response or throws. */
export async function send(config: HttpConfig, spec: RequestSpec): Promise<Response> {
  const url = buildUrl(config.baseUrl, spec.path, spec.query);
  for (let n = 0; ; n++) {
    const outcome = await attempt(config, spec, url);
    if ("response" in outcome) return outcome.response;
    const more = outcome.retry && n < config.retry.maxRetries;
    const delay = more ? retryDelayMs(config.retry, n, outcome.headers) : undefined;
    if (delay === undefined) throw outcome.error;
    await sleep(delay, spec.signal);
  }
}

export async function sendJson<T>(config: HttpConfig, spec: RequestSpec): Promise<T> {
  const response = await send(config, spec);
  return (await response.json()) as T;
}
