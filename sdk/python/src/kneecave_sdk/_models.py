# Generated from the API's OpenAPI document by sdk/python/scripts/generate_models.py.
# Do not edit: after changing a response schema on the server, run
#     .venv/bin/python sdk/python/scripts/generate_models.py
"""Response models of the kneecave API (the server's OpenAPI component schemas).

Unknown fields are kept (``model_extra``), never rejected. Enumerations are Literal types for
type checkers but accept any string at run time, so a value added by a newer server does not
make an older app fail.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeAlias

from pydantic import Field

from kneecave_sdk._constants import TERMINAL_STATUSES
from kneecave_sdk._model_base import Model

__all__ = [
    "Advice",
    "Ankle",
    "AnkleSide",
    "Asymmetry",
    "Depth",
    "Exercise",
    "Health",
    "Job",
    "JobError",
    "JobErrorCode",
    "JobEvent",
    "JobEventType",
    "JobLandmarks",
    "JobList",
    "JobStatus",
    "KneeCave",
    "KneeSide",
    "MetricSummary",
    "ModelInfo",
    "Problem",
    "ProblemCode",
    "Rep",
    "RepView",
    "ResultView",
    "ScoreResult",
    "Severity",
    "Side",
    "SideSummary",
    "Summary",
    "VideoInfo",
    "View",
    "WebhookDelivery",
    "WebhookSecret",
    "WebhookTestData",
    "WebhookTestEvent",
    "WebhookTestResult",
]

# Enumerations: Literal types for type checkers, any string at run time.
if TYPE_CHECKING:
    Exercise: TypeAlias = Literal["squat"]
    JobErrorCode: TypeAlias = Literal[
        "video_unreadable",
        "too_long",
        "too_many_frames",
        "too_large",
        "no_person",
        "keypoints_invalid",
        "video_missing",
        "worker_lost",
        "timeout",
        "internal_error",
        "canceled",
    ]
    JobStatus: TypeAlias = Literal["queued", "processing", "succeeded", "failed", "canceled"]
    Severity: TypeAlias = Literal["none", "mild", "moderate", "severe"]
    Side: TypeAlias = Literal["left", "right"]
    RepView: TypeAlias = Literal["front", "side", "oblique"]
    ResultView: TypeAlias = Literal["front", "side", "oblique", "other"]
    View: TypeAlias = Literal["auto", "front", "side"]
    JobEventType: TypeAlias = Literal["job.succeeded", "job.failed"]
    ProblemCode: TypeAlias = Literal[
        "bad_request",
        "client_disconnected",
        "unauthorized",
        "not_found",
        "job_not_found",
        "landmarks_disabled",
        "landmarks_not_found",
        "method_not_allowed",
        "request_timeout",
        "idempotency_conflict",
        "too_large",
        "unsupported_media_type",
        "invalid_request",
        "invalid_cursor",
        "keypoints_invalid",
        "webhook_url_refused",
        "rate_limited",
        "too_many_active_jobs",
        "too_many_auth_failures",
        "http_error",
        "unavailable",
        "internal_error",
    ]
else:
    Exercise = JobErrorCode = JobStatus = Severity = Side = RepView = ResultView = View = (
        JobEventType
    ) = ProblemCode = str


class Health(Model):
    status: str
    checks: dict[str, str] = Field(default_factory=dict)


class JobError(Model):
    """What a failed job tells its client: a stable code and a human message, never a
    path on the server (a decoder or model message may quote one).
    """

    code: JobErrorCode
    detail: str


class ModelInfo(Model):
    pose: str
    """Pose model that produced the keypoints."""
    scorer: str
    """Scorer version."""
    versions: dict[str, str]
    """Library versions."""


class AnkleSide(Model):
    score: float | None
    """0-100, 100 = no visible proxy of collapse."""
    shank_tilt_mid_deg: float | None = None
    """Frontal shank tilt at mid-depth, degrees from vertical, positive = knee inside the ankle
    (medial collapse proxy).
    """
    shank_tilt_change_deg: float | None = None
    """Medial shank tilt change from standing to mid-depth, degrees. Reported, not graded: it does
    not track ankle collapse on the 3D harness.
    """
    medial_ankle_drift_leg: float | None = None
    """Inward drift of the ankle against the heel-toe midpoint from standing to mid-depth, leg
    lengths (arch-collapse proxy; positive = inward). The graded front-view proxy.
    """
    toe_out_change_deg: float | None = None
    """Change of foot progression (toe-out) angle from standing to mid-depth, degrees, estimated
    from the toe's sideways offset (positive = turns out). Reported, not graded.
    """
    heel_lift_leg: float | None = None
    """Heel rise against the toe from standing to the bottom, leg lengths (side view only)."""


class Ankle(Model):
    score: float | None
    """0-100 for the rep: the worse side."""
    left: AnkleSide | None
    """Subject's left foot."""
    right: AnkleSide | None
    """Subject's right foot."""
    note: str = "Proxies of ankle pronation visible in video, not a measurement or a diagnosis."
    """What these numbers are."""
    reason: str | None = None
    """Why the measure is null, when it is."""


class Depth(Model):
    hip_drop_leg: float
    """Pelvis drop from standing to the bottom, in leg lengths (hip-knee-ankle)."""
    bottom_height_leg: float
    """Pelvis height above the ankles at the bottom, in leg lengths (~0.95 standing, ~0.5 at
    parallel, lower is deeper).
    """
    below_parallel: bool | None = None
    """Hip crease below the knee at the bottom (side view only; null otherwise)."""
    knee_flexion_deg: float | None = None
    """Peak knee flexion at the bottom, degrees (side view only; null otherwise)."""


class KneeSide(Model):
    score: float | None
    """0-100, 100 = the knee tracks over its own foot (or outside it); graded on deviation_leg."""
    severity: Severity | None
    """Knee-cave severity for this side."""
    deviation_leg: float | None = None
    """The graded measure: the knee's distance inside the plane through the hip, the ankle and the
    foot's direction, rebuilt in 3D, in leg lengths (thigh + shank), median over the deep part
    of the rep (from 40% of the hip drop down and back up). Positive = towards the midline
    (cave), negative = knees out. Bands: none < 0.08, mild < 0.15, moderate < 0.22, severe.
    """
    deviation_deg: float | None = None
    """The same as an angle: the knee's plane (hip, knee, ankle) turned inside the foot's plane
    about the hip-ankle line, degrees (3D knee abduction against the foot).
    """
    deviation_descent_leg: float | None = None
    """deviation_leg over the descent's mid-depth (40-80% of the drop)."""
    deviation_ascent_leg: float | None = None
    """deviation_leg over the ascent's mid-depth (40-80% of the drop)."""
    deviation_bottom_leg: float | None = None
    """deviation_leg at the bottom (deepest 5% of the drop)."""
    deviation_sd_leg: float | None = None
    """Uncertainty of deviation_leg (one standard deviation) from the foot's direction, which the
    landmarks give to a few degrees; larger when the foot points across the picture.
    """
    knee_toe_ratio_mid: float | None
    """2D, reported only: the knee's distance from the midline over the toe's, at mid-depth (40-80%
    of the rep's hip drop). < 1: knee inside the line of the toes in the picture (a wide,
    turned-out stance reads low with the knee over the foot).
    """
    knee_toe_ratio_descent: float | None
    """As above, descent only."""
    knee_toe_ratio_ascent: float | None
    """As above, ascent only."""
    knee_toe_ratio_bottom: float | None
    """As above, at the bottom."""
    knee_ankle_ratio_mid: float | None
    """Knee's distance from the midline over the ankle's, at mid-depth (a per-side knee-to-ankle
    separation ratio).
    """
    medial_knee_displacement_leg: float | None
    """Inward knee travel from standing to mid-depth, in leg lengths, measured against the feet
    (positive = inward).
    """
    fppa_deg: float | None
    """2D frontal-plane projection angle at the bottom, degrees, valgus positive. Dominated by
    thigh foreshortening in a deep squat: reported, not graded.
    """
    fppa_mid_deg: float | None
    """FPPA at mid-depth (median over 40-80% of the drop), degrees, valgus positive."""
    fppa_standing_deg: float | None
    """FPPA standing before the rep (the person's own alignment), degrees."""
    fppa_mid_change_deg: float | None
    """FPPA at mid-depth minus standing, degrees (valgus positive)."""


class KneeCave(Model):
    score: float | None
    """0-100 for the rep: the worse side."""
    severity: Severity | None
    """none | mild | moderate | severe (worse side)."""
    worse_side: Side | None = None
    """Side with the lower score."""
    left: KneeSide | None
    """Subject's left leg."""
    right: KneeSide | None
    """Subject's right leg."""
    kasr_mid: float | None = None
    """Knee-to-ankle separation ratio at mid-depth (Mizner et al. 2012)."""
    kasr_bottom: float | None = None
    """Knee-to-ankle separation ratio at the bottom."""
    ktsr_mid: float | None = None
    """Knee-to-toe (foot index) separation ratio at mid-depth."""
    reason: str | None = None
    """Why the measure is null, when it is."""


class Rep(Model):
    index: int
    """1-based rep number."""
    start_s: float
    """Descent starts, s."""
    bottom_s: float
    """Lowest pelvis position, s."""
    end_s: float
    """Back to standing, s."""
    start_frame: int
    """Frame index where the descent starts (0-based)."""
    bottom_frame: int
    """Frame index of the lowest pelvis position."""
    end_frame: int
    """Frame index where the lifter is back up."""
    view: RepView
    """Camera view during this rep."""
    yaw_deg: float | None
    """Body yaw against the camera, degrees (0 = facing)."""
    depth: Depth
    """How deep the rep went."""
    knee_cave: KneeCave
    """Knee cave (valgus) for this rep; null with a reason when the view cannot support it."""
    ankle: Ankle
    """Ankle pronation proxies for this rep."""
    confidence: float
    """0-1: view certainty x landmark visibility in this rep."""


class Advice(Model):
    id: str
    """Stable identifier."""
    text: str
    """What to say or do."""
    because: str
    """The measurement that triggered it."""
    reps: list[int] = Field(default_factory=list)
    """The reps that triggered it."""
    sides: list[Side] = Field(default_factory=list)
    """The sides that triggered it."""


class Asymmetry(Model):
    knee_cave_points: float | None
    """Mean knee-cave score left minus right (negative = left worse)."""
    ankle_points: float | None
    """Mean ankle score left minus right."""
    worse_side: Side | None
    """Side with more knee cave, if the gap is > 10 points."""


class SideSummary(Model):
    mean_score: float | None
    """Mean 0-100 score over scored reps."""
    worst_score: float | None
    """Lowest rep score."""
    worst_rep: int | None
    """Index of the lowest-scoring rep."""
    reps_flagged: int
    """Reps below the finding threshold: knee cave mild or worse (score < 85), ankle score < 70."""


class MetricSummary(Model):
    score: float | None
    """Mean of the rep scores (0-100)."""
    severity: Severity | None = None
    """The set's headline (knee cave only): none when no rep is flagged, else the severity of the
    typical flagged rep (median of their scores). Never contradicts the reps.
    """
    flagged_reps: list[int] = Field(default_factory=list)
    """Reps flagged on either side (knee cave mild or worse, ankle score < 70)."""
    left: SideSummary
    """Subject's left side over the set."""
    right: SideSummary
    """Subject's right side over the set."""
    worst_rep: int | None
    """Index of the lowest-scoring rep."""
    trend_per_rep: float | None
    """Least-squares slope of the rep score over the set, points per rep (negative = later reps
    worse); null with fewer than 3 scored reps.
    """
    later_reps_worse: bool | None
    """Trend below -2 points per rep and a fitted fall of at least 10 points over at least 3 scored
    reps.
    """
    reason: str | None = None
    """Why the summary is null, when it is."""


class Summary(Model):
    knee_cave: MetricSummary
    """Knee cave over the set."""
    ankle: MetricSummary
    """Ankle proxies over the set."""
    asymmetry: Asymmetry
    """Left/right differences."""
    cues: list[Advice]
    """Coaching cues that fit the findings."""
    exercises: list[Advice]
    """Corrective exercises that fit the findings."""


class VideoInfo(Model):
    fps: float
    """Frames per second of the keypoint stream."""
    frames: int
    """Number of frames."""
    width: int
    """Upright frame width, px."""
    height: int
    """Upright frame height, px."""
    duration_s: float
    """Duration, s (frames / fps)."""


class ScoreResult(Model):
    rep_count: int
    """Completed squat reps."""
    view: ResultView
    """Main camera view (the view of most reps); "other" when no rep was found."""
    view_changes: bool = False
    """The view differs between reps."""
    confidence: float
    """0-1 overall confidence."""
    reason: str | None = None
    """Why there are no reps, when there are none."""
    notes: list[str] = Field(default_factory=list)
    """Caveats found while scoring."""
    video: VideoInfo
    """The keypoint stream the result was computed from."""
    reps: list[Rep]
    """One entry per completed rep, in time order."""
    summary: Summary
    """Set-level findings, cues and exercises."""
    model: ModelInfo
    """Which pose model and scorer produced this."""
    timings: dict[str, float]
    """Stage wall times, ms."""


class WebhookDelivery(Model):
    attempt: int
    at: datetime
    status_code: int | None = None
    error: str | None = None
    ok: bool


class Job(Model):
    """A job as the API shows it; `result` is set once `status` is `succeeded`."""

    id: str
    status: JobStatus
    progress: float
    """fraction of frames done"""
    created_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None
    expires_at: datetime | None = None
    """when the result (and this record) will be removed"""
    attempts: int
    """deliveries to a worker so far"""
    view: View
    exercise: Exercise
    mirrored: bool = False
    """the video was mirror-image; sides are the person's own"""
    webhook_url: str | None = None
    result: ScoreResult | None = None
    error: JobError | None = None
    """`code` is stable; see docs/api.md"""
    webhook_deliveries: list[WebhookDelivery] = Field(default_factory=list)

    @property
    def terminal(self) -> bool:
        """True once the job is succeeded, failed or canceled: it will not change any more."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"


class JobEvent(Model):
    """Sent once a job with a `webhook_url` succeeds or fails (never for a cancel)."""

    type: JobEventType
    timestamp: datetime
    """when the event was made (not the attempt)"""
    data: Job
    """the job as GET /v1/jobs/{id} returns it, less `webhook_deliveries`"""


class JobLandmarks(Model):
    """Per-frame landmarks for drawing the skeleton over the video (`GET …/landmarks`)."""

    fps: float
    """Frames per second of the landmark stream."""
    width: int
    """Upright frame width, px (the coordinates' frame)."""
    height: int
    """Upright frame height, px."""
    frames: int
    """Number of frames (length of `t_s` and `points`)."""
    names: list[str]
    """The landmarks of each frame, in order (BlazePose names; subject's left)."""
    t_s: list[float]
    """Frame timestamps, s (the video's media time; rep times use the same clock)."""
    points: list[list[int | None] | None]
    """Per frame: x0, y0, x1, y1, … for `names`, in upright-frame pixels (rounded); a point not
    seen is null, a frame without a person is null.
    """


class JobList(Model):
    items: list[Job]
    next_cursor: str | None = None
    """pass as `starting_after` for the next page; null on the last page"""


class Problem(Model):
    """RFC 9457 problem details; `code` is the stable machine-readable part."""

    type: str
    title: str
    status: int
    detail: str
    code: ProblemCode
    instance: str | None = None
    request_id: str | None = None
    """this request's id (also the `X-Request-Id` header and in the logs)"""
    errors: list[dict[str, Any]] | None = None
    """field errors (422 only)"""


class WebhookSecret(Model):
    secret: str
    """verifies the `webhook-signature` header (Standard Webhooks)"""


class WebhookTestData(Model):
    """`data` of a `webhook.test` event."""

    message: str
    """a human-readable note; nothing to act on"""
    request_id: str | None = None
    """the id of the request that sent it"""


class WebhookTestEvent(Model):
    """Sent by POST /v1/webhooks/test."""

    type: str
    timestamp: datetime
    data: WebhookTestData


class WebhookTestResult(Model):
    delivered: bool
    """the receiver answered 2xx"""
    status_code: int | None
    """the receiver's HTTP status, if it answered"""
    error: str | None
    """why it was not delivered (HTTP status, timeout, …)"""
    webhook_id: str
    """the event's `webhook-id` header"""
