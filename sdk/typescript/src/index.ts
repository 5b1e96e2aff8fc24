// @kneecave/sdk: the public surface. Everything else in src/ is internal.
export { Kneecave } from "./client.js";
export type {
  ClientOptions,
  CreateJobOptions,
  ListOptions,
  RequestOptions,
  ScoreOptions,
  WaitOptions,
} from "./client.js";
export {
  APIConnectionError,
  APIError,
  APIStatusError,
  APITimeoutError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  InternalServerError,
  JobCanceledError,
  JobFailedError,
  KneecaveError,
  NotFoundError,
  PayloadTooLargeError,
  PermissionDeniedError,
  RateLimitError,
  UnsupportedMediaTypeError,
  ValidationError,
  WaitTimeoutError,
  WebhookVerificationError,
} from "./errors.js";
export { API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, VERSION } from "./constants.js";
export type { FetchLike } from "./http.js";
export { parseRateLimit, type RateLimit } from "./ratelimit.js";
export { parseRetryAfter, retryDelayMs, retryPolicy, type RetryPolicy } from "./retry.js";
export type * from "./types.js";
export type { ReactNativeFile, VideoInput } from "./upload.js";
export { signWebhook, verifyWebhook, type HeadersLike, type VerifyOptions } from "./webhooks.js";
