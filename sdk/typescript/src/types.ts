// Public names for the generated OpenAPI types (src/generated/openapi.ts).
import type { components } from "./generated/openapi.js";

type Schemas = components["schemas"];

/** A job as `GET /v1/jobs/{id}` returns it. */
export type Job = Schemas["JobPublic"];
export type JobList = Schemas["JobList"];
/** Per-frame landmarks of a succeeded job, for drawing the skeleton over the video:
 * `points[i]` is x0, y0, x1, y1, … for `names` at `t_s[i]` (upright-frame px; null: not seen). */
export type JobLandmarks = Schemas["JobLandmarks"];
export type JobStatus = Schemas["JobStatus"];
export type JobError = Schemas["JobError"];
export type WebhookDelivery = Schemas["WebhookDelivery"];
/** The scoring result of a video job or of `POST /v1/score/keypoints`. */
export type ScoreResult = Schemas["ScoreResult"];
export type Rep = Schemas["Rep"];
export type Summary = Schemas["Summary"];
export type KneeCave = Schemas["KneeCave"];
export type KneeSide = Schemas["KneeSide"];
export type Ankle = Schemas["Ankle"];
export type AnkleSide = Schemas["AnkleSide"];
export type Depth = Schemas["Depth"];
export type Advice = Schemas["Advice"];
export type Asymmetry = Schemas["Asymmetry"];
export type VideoInfo = Schemas["VideoInfo"];
export type ModelInfo = Schemas["ModelInfo"];
export type View = Schemas["View"];
export type Exercise = Schemas["Exercise"];
/** RFC 9457 problem details, as every error response carries them. */
export type Problem = Schemas["Problem"];
/** A problem's `code`: the published ones, and any code a newer server may add. */
export type ErrorCode = Problem["code"] | (string & {});

type KeypointsIn = Schemas["KeypointsIn"];
type Defaulted = "t_s" | "view" | "world" | "mirrored";
/**
 * The body of `POST /v1/score/keypoints`: `landmarks` is T × 33 × (x_px, y_px, z[,
 * visibility[, presence]]) in upright-frame pixels (BlazePose order), `null` for a missing
 * value. `t_s`, `view`, `world` and `mirrored` have server-side defaults.
 */
export type KeypointsRequest = Omit<KeypointsIn, Defaulted> & Partial<Pick<KeypointsIn, Defaulted>>;

/** A `job.succeeded` / `job.failed` webhook (never sent for a cancel). */
export type JobEvent = Schemas["JobEvent"];
/** The event `POST /v1/webhooks/test` sends. */
export type WebhookTestEvent = Schemas["WebhookTestEvent"];
/** What a webhook delivery carries (Standard Webhooks payload, JSON body); switch on `type`. */
export type WebhookEvent = JobEvent | WebhookTestEvent;
/** The outcome of `POST /v1/webhooks/test`. */
export type WebhookTestResult = Schemas["WebhookTestResult"];

export type { components, operations, paths } from "./generated/openapi.js";
