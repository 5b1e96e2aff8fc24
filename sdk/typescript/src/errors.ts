// Everything this package throws. The shape follows the Python SDK (sdk/python):
//
// KneecaveError                      root of everything this package throws
// ├── APIError                       a request did not produce a successful response
// │   ├── APIConnectionError         no response (DNS, refused, reset, CORS)
// │   │   └── APITimeoutError        no response within `timeout`
// │   └── APIStatusError             the API answered 4xx/5xx (RFC 9457 problem+json)
// │       ├── BadRequestError            400
// │       ├── AuthenticationError        401
// │       ├── PermissionDeniedError      403
// │       ├── NotFoundError              404
// │       ├── ConflictError              409 (Idempotency-Key reused with another body)
// │       ├── PayloadTooLargeError       413
// │       ├── UnsupportedMediaTypeError  415
// │       ├── ValidationError            422 (`.errors`: the field errors)
// │       ├── RateLimitError             429 (`.retryAfter`, seconds; `.rateLimit`)
// │       └── InternalServerError        5xx
// ├── JobFailedError                 the job ended "failed" (`.code`, `.detail`, `.job`)
// │   └── JobCanceledError           the job ended "canceled" (score() has no result)
// ├── WaitTimeoutError               wait() gave up (`.job`: the last state seen)
// └── WebhookVerificationError       verifyWebhook() rejected a delivery
import { parseRateLimit, type RateLimit } from "./ratelimit.js";
import type { ErrorCode, Job, Problem } from "./types.js";

export class KneecaveError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message);
    this.name = new.target.name;
    if (options && "cause" in options) {
      Object.defineProperty(this, "cause", { value: options.cause, configurable: true, writable: true });
    }
  }
}

export class APIError extends KneecaveError {
  /** The id of the request: the server's `X-Request-Id` answer, else the one the client sent. */
  readonly requestId: string | undefined;
  readonly method: string;
  readonly url: string;

  constructor(
    message: string,
    init: { method: string; url: string; requestId?: string | undefined; cause?: unknown },
  ) {
    super(message, "cause" in init ? { cause: init.cause } : undefined);
    this.method = init.method;
    this.url = init.url;
    this.requestId = init.requestId;
  }
}

export class APIConnectionError extends APIError {}

export class APITimeoutError extends APIConnectionError {}

export interface StatusErrorInit {
  method: string;
  url: string;
  status: number;
  headers: Headers;
  /** The problem+json body (or what could be made of a non-JSON body). */
  problem: Partial<Problem> & Record<string, unknown>;
  requestId?: string | undefined;
}

export class APIStatusError extends APIError {
  readonly status: number;
  /** The stable machine-readable code of the problem (`job_not_found`, `too_large`, …). */
  readonly code: ErrorCode | undefined;
  readonly title: string | undefined;
  readonly detail: string | undefined;
  /** The whole problem+json body. */
  readonly problem: Partial<Problem> & Record<string, unknown>;
  readonly headers: Headers;

  constructor(init: StatusErrorInit) {
    const { problem } = init;
    const code = typeof problem.code === "string" ? problem.code : undefined;
    const detail = typeof problem.detail === "string" ? problem.detail : undefined;
    const title = typeof problem.title === "string" ? problem.title : undefined;
    const bodyId = typeof problem.request_id === "string" ? problem.request_id : undefined;
    const requestId = init.headers.get("x-request-id") ?? bodyId ?? init.requestId;
    super(
      `${init.status}${code ? ` [${code}]` : ""}: ${detail ?? title ?? "request failed"}` +
        (requestId ? ` (request ${requestId})` : ""),
      { method: init.method, url: init.url, requestId },
    );
    this.status = init.status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.problem = problem;
    this.headers = init.headers;
  }
}

export class BadRequestError extends APIStatusError {}
export class AuthenticationError extends APIStatusError {}
export class PermissionDeniedError extends APIStatusError {}
export class NotFoundError extends APIStatusError {}
export class ConflictError extends APIStatusError {}
export class PayloadTooLargeError extends APIStatusError {}
export class UnsupportedMediaTypeError extends APIStatusError {}

export class ValidationError extends APIStatusError {
  /** Field errors (`[{loc, msg, type}]`) when the server lists them. */
  get errors(): Record<string, unknown>[] {
    const errors = this.problem.errors;
    return Array.isArray(errors) ? errors : [];
  }
}

export class RateLimitError extends APIStatusError {
  /** Seconds the server asked to wait (`Retry-After`), when it said. */
  readonly retryAfter: number | undefined;
  /** The budget that ran out (policy, limit, remaining, resetSeconds), when the server said. */
  readonly rateLimit: RateLimit | undefined;

  constructor(init: StatusErrorInit & { retryAfter?: number | undefined }) {
    super(init);
    this.retryAfter = init.retryAfter;
    this.rateLimit = parseRateLimit(init.headers);
  }
}

export class InternalServerError extends APIStatusError {}

const BY_STATUS: Record<number, typeof APIStatusError> = {
  400: BadRequestError,
  401: AuthenticationError,
  403: PermissionDeniedError,
  404: NotFoundError,
  409: ConflictError,
  413: PayloadTooLargeError,
  415: UnsupportedMediaTypeError,
  422: ValidationError,
};

/** The error class for an error response. */
export function statusError(init: StatusErrorInit & { retryAfter?: number | undefined }): APIStatusError {
  if (init.status === 429) return new RateLimitError(init);
  if (init.status >= 500) return new InternalServerError(init);
  const Class = BY_STATUS[init.status] ?? APIStatusError;
  return new Class(init);
}

/** The job ended "failed"; `code` is the server's stable job error code (`no_person`, …). */
export class JobFailedError extends KneecaveError {
  readonly job: Job;
  readonly code: string | undefined;
  readonly detail: string | undefined;

  constructor(job: Job, message?: string) {
    const code = job.error?.code;
    const detail = job.error?.detail;
    super(message ?? `job ${job.id} failed [${code ?? "unknown"}]: ${detail ?? "no detail"}`);
    this.job = job;
    this.code = code;
    this.detail = detail;
  }
}

/** The job ended "canceled", so it has no result (thrown by score(), never by wait()). */
export class JobCanceledError extends JobFailedError {
  constructor(job: Job) {
    super(job, `job ${job.id} was canceled`);
  }
}

/** wait() ran out of time; `job` is the last state it saw (the job keeps running). */
export class WaitTimeoutError extends KneecaveError {
  readonly job: Job;
  readonly timeout: number;

  constructor(job: Job, timeout: number) {
    super(`job ${job.id} still ${job.status} after ${timeout} ms`);
    this.job = job;
    this.timeout = timeout;
  }
}

/** A webhook delivery whose signature, headers or timestamp do not check out. */
export class WebhookVerificationError extends KneecaveError {}
