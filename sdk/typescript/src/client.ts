// The client: one class over the HTTP API (jobs, waiting, one-call scoring, keypoints,
// landmarks, paging, webhook secret). Requests go through http.ts, which owns retries and
// errors; every response's RateLimit fields land in `lastRateLimit`.
import {
  API_KEY_ENV,
  BASE_URL_ENV,
  DEFAULT_BASE_URL,
  DEFAULT_MAX_RETRIES,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_TIMEOUT_MS,
  DEFAULT_WAIT_TIMEOUT_MS,
  TERMINAL_STATUSES,
} from "./constants.js";
import { JobCanceledError, JobFailedError, KneecaveError, WaitTimeoutError } from "./errors.js";
import { send, sendJson, type FetchLike, type HttpConfig } from "./http.js";
import { env, sleep, uuid4 } from "./platform.js";
import { parseRateLimit, type RateLimit } from "./ratelimit.js";
import { pollDelayMs, retryPolicy } from "./retry.js";
import type {
  Exercise,
  Job,
  JobLandmarks,
  JobList,
  KeypointsRequest,
  ScoreResult,
  View,
  WebhookTestResult,
} from "./types.js";
import { multipart, prepareVideo, type VideoInput } from "./upload.js";

export interface ClientOptions {
  /** Default: `KNEECAVE_API_KEY` from the environment (Node). */
  apiKey?: string;
  /** Default: `KNEECAVE_BASE_URL` from the environment, else http://127.0.0.1:8000. */
  baseUrl?: string;
  /** Per attempt, in ms (default 120 000). */
  timeoutMs?: number;
  /** Retries after a connection error, a timeout, 408, 429 or 5xx (default 2). */
  maxRetries?: number;
  /** A fetch implementation (default the global one). */
  fetch?: FetchLike;
  /** Sent with every request. */
  headers?: Record<string, string>;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface CreateJobOptions extends RequestOptions {
  view?: View;
  /** The video is mirror-image (a front camera's preview saved as shown): knees are then
   * reported on the person's own sides. */
  mirrored?: boolean;
  exercise?: Exercise;
  /** Where the signed `job.succeeded` / `job.failed` event is POSTed. */
  webhookUrl?: string;
  /** Default: a new UUID per call, reused by every retry of that call. */
  idempotencyKey?: string;
  /** The upload's file name (default: the path's, the File's, or "video"). */
  filename?: string;
}

export interface WaitOptions extends RequestOptions {
  /** Called with the job after every poll (its `status` and `progress` 0..1). */
  onProgress?: (job: Job) => void;
  /** Give up (WaitTimeoutError) after this long; default 600 000. */
  timeoutMs?: number;
  /** Poll no faster than this (default 1000); the server's Retry-After may ask for longer. */
  pollIntervalMs?: number;
}

export type ScoreOptions = CreateJobOptions & WaitOptions;

export interface ListOptions extends RequestOptions {
  /** Page size, 1..100 (server default 20). */
  limit?: number;
  /** The previous page's `next_cursor` (opaque): list the jobs after that page. */
  startingAfter?: string;
}

const jobPath = (id: string): string => `/v1/jobs/${encodeURIComponent(id)}`;

export class Kneecave {
  readonly baseUrl: string;
  private readonly http: HttpConfig;
  private rateLimit: RateLimit | undefined;

  /** The budget the last response reported (`RateLimit-Policy` / `RateLimit` fields), e.g.
   * `{policy: "poll", limit: 1200, remaining: 1187, resetSeconds: 41}`; undefined before the
   * first response and after one that sent none. */
  get lastRateLimit(): RateLimit | undefined {
    return this.rateLimit;
  }

  constructor(options: ClientOptions = {}) {
    const fetchImpl = options.fetch ?? (globalThis as { fetch?: FetchLike }).fetch;
    if (!fetchImpl) throw new KneecaveError("no fetch here: pass `fetch` in the client options");
    this.baseUrl = options.baseUrl ?? env(BASE_URL_ENV) ?? DEFAULT_BASE_URL;
    this.http = {
      baseUrl: this.baseUrl,
      apiKey: options.apiKey ?? env(API_KEY_ENV),
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      retry: retryPolicy(options.maxRetries ?? DEFAULT_MAX_RETRIES),
      // A bare `fetch` reference loses its `this` in some browsers ("Illegal invocation").
      fetch: (input, init) => fetchImpl.call(globalThis, input, init),
      headers: { ...options.headers },
      onResponse: (response) => {
        this.rateLimit = parseRateLimit(response.headers);
      },
    };
  }

  /** Uploads a video and queues its analysis (202). Retries reuse one Idempotency-Key, so a
   * retried upload never makes a second job. */
  async createJob(video: VideoInput, options: CreateJobOptions = {}): Promise<Job> {
    const prepared = await prepareVideo(video, options.filename);
    const idempotencyKey = options.idempotencyKey ?? (await uuid4());
    const fields = {
      view: options.view,
      mirrored: options.mirrored ? "true" : undefined,
      exercise: options.exercise,
      webhook_url: options.webhookUrl,
    };
    return sendJson<Job>(this.http, {
      method: "POST",
      path: "/v1/jobs",
      body: () => multipart(prepared, fields),
      headers: { "Idempotency-Key": idempotencyKey },
      signal: options.signal,
    });
  }

  async getJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    return sendJson<Job>(this.http, { method: "GET", path: jobPath(jobId), signal: options.signal });
  }

  /** Per-frame landmarks of a succeeded job, for drawing the skeleton over the video (sent
   * gzipped; fetch inflates it). NotFoundError `landmarks_not_found` until the job has
   * succeeded, `landmarks_disabled` when the tenant opted out, `job_not_found` once deleted. */
  async getLandmarks(jobId: string, options: RequestOptions = {}): Promise<JobLandmarks> {
    return sendJson<JobLandmarks>(this.http, {
      method: "GET",
      path: `${jobPath(jobId)}/landmarks`,
      signal: options.signal,
    });
  }

  /** One page of the tenant's jobs, newest first. */
  async listJobs(options: ListOptions = {}): Promise<JobList> {
    const query = { limit: options.limit, starting_after: options.startingAfter };
    return sendJson<JobList>(this.http, { method: "GET", path: "/v1/jobs", query, signal: options.signal });
  }

  /** Every job, newest first, fetching pages as the loop goes (`for await … of`). */
  async *iterJobs(options: Omit<ListOptions, "startingAfter"> = {}): AsyncGenerator<Job, void, undefined> {
    let startingAfter: string | undefined;
    do {
      const page = await this.listJobs({ ...options, ...(startingAfter ? { startingAfter } : {}) });
      yield* page.items;
      startingAfter = page.next_cursor ?? undefined;
    } while (startingAfter);
  }

  /** Cancels a queued or running job (idempotent); returns the job as it now is. */
  async cancelJob(jobId: string, options: RequestOptions = {}): Promise<Job> {
    return sendJson<Job>(this.http, { method: "POST", path: `${jobPath(jobId)}/cancel`, signal: options.signal });
  }

  /** Deletes a job and its result (cancelling it first if it is still running). */
  async deleteJob(jobId: string, options: RequestOptions = {}): Promise<void> {
    await send(this.http, { method: "DELETE", path: jobPath(jobId), signal: options.signal });
  }

  /** Polls until the job is succeeded, failed or canceled and returns it (it does not throw
   * on a failed job: look at `status`; score() does). */
  async wait(job: string | Job, options: WaitOptions = {}): Promise<Job> {
    const jobId = typeof job === "string" ? job : job.id;
    const timeoutMs = options.timeoutMs ?? DEFAULT_WAIT_TIMEOUT_MS;
    const interval = options.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const response = await send(this.http, { method: "GET", path: jobPath(jobId), signal: options.signal });
      const current = (await response.json()) as Job;
      options.onProgress?.(current);
      if (TERMINAL_STATUSES.has(current.status)) return current;
      const left = deadline - Date.now();
      if (left <= 0) throw new WaitTimeoutError(current, timeoutMs);
      await sleep(Math.min(pollDelayMs(this.http.retry, response.headers, interval), left), options.signal);
    }
  }

  /** Upload, wait, and the typed result, in one call. Throws JobFailedError (`code`,
   * `detail`) when the job fails and JobCanceledError when it is canceled meanwhile. */
  async score(video: VideoInput, options: ScoreOptions = {}): Promise<ScoreResult> {
    const job = await this.wait(await this.createJob(video, options), options);
    if (job.status === "canceled") throw new JobCanceledError(job);
    if (job.status !== "succeeded") throw new JobFailedError(job);
    if (!job.result) throw new JobFailedError(job, `job ${job.id} succeeded without a result`);
    return job.result;
  }

  /** Scores landmarks from on-device pose (synchronous on the server: no job). */
  async scoreKeypoints(body: KeypointsRequest, options: RequestOptions = {}): Promise<ScoreResult> {
    return sendJson<ScoreResult>(this.http, {
      method: "POST",
      path: "/v1/score/keypoints",
      json: body,
      signal: options.signal,
    });
  }

  /** The `whsec_…` secret that signs this tenant's webhooks (for verifyWebhook). */
  async webhookSecret(options: RequestOptions = {}): Promise<string> {
    const body = await sendJson<{ secret: string }>(this.http, {
      method: "GET",
      path: "/v1/webhook-secret",
      signal: options.signal,
    });
    return body.secret;
  }

  /** Sends one signed `webhook.test` event to `url` now and says whether it was delivered
   * (for wiring up a receiver without running a job). */
  async testWebhook(url: string, options: RequestOptions = {}): Promise<WebhookTestResult> {
    return sendJson<WebhookTestResult>(this.http, {
      method: "POST",
      path: "/v1/webhooks/test",
      json: { url },
      signal: options.signal,
    });
  }
}
