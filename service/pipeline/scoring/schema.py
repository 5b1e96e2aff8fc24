"""The scoring result (DESIGN §4): pydantic v2 models, exposed as-is in OpenAPI.

Field names are a public contract: add fields, never rename or remove. A
measure the view or the data cannot support is ``null`` and the enclosing
object says why in ``reason``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ViewName = Literal["front", "side", "oblique"]
# The clip as a whole: "other" when there is no squat rep to judge the view from.
ClipView = Literal["front", "side", "oblique", "other"]
Severity = Literal["none", "mild", "moderate", "severe"]
Side = Literal["left", "right"]


class _Model(BaseModel):
    # Results are stored and read back later (GET /v1/jobs/{id}): fields added by a
    # newer scorer must survive a read by an older API and vice versa, so extras pass.
    model_config = ConfigDict(extra="allow", frozen=True)


class VideoInfo(_Model):
    fps: float = Field(description="Frames per second of the keypoint stream.")
    frames: int = Field(description="Number of frames.")
    width: int = Field(description="Upright frame width, px.")
    height: int = Field(description="Upright frame height, px.")
    duration_s: float = Field(description="Duration, s (frames / fps).")


class Depth(_Model):
    hip_drop_leg: float = Field(
        description="Pelvis drop from standing to the bottom, in leg lengths (hip-knee-ankle)."
    )
    bottom_height_leg: float = Field(
        description="Pelvis height above the ankles at the bottom, in leg lengths "
        "(~0.95 standing, ~0.5 at parallel, lower is deeper)."
    )
    below_parallel: bool | None = Field(
        None,
        description="Hip crease below the knee at the bottom (side view only; null otherwise).",
    )
    knee_flexion_deg: float | None = Field(
        None,
        description="Peak knee flexion at the bottom, degrees (side view only; null otherwise).",
    )


class KneeSide(_Model):
    score: float | None = Field(
        description="0-100, 100 = the knee tracks over its own foot (or outside it); "
        "graded on deviation_leg."
    )
    severity: Severity | None = Field(description="Knee-cave severity for this side.")
    deviation_leg: float | None = Field(
        None,
        description="The graded measure: the knee's distance inside the plane through the hip, "
        "the ankle and the foot's direction, rebuilt in 3D, in leg lengths (thigh + shank), "
        "median over the deep part of the rep (from 40% of the hip drop down and back up). "
        "Positive = towards the midline (cave), negative = knees out. "
        "Bands: none < 0.08, mild < 0.15, moderate < 0.22, severe.",
    )
    deviation_deg: float | None = Field(
        None,
        description="The same as an angle: the knee's plane (hip, knee, ankle) turned inside the "
        "foot's plane about the hip-ankle line, degrees (3D knee abduction against the foot).",
    )
    deviation_descent_leg: float | None = Field(
        None, description="deviation_leg over the descent's mid-depth (40-80% of the drop)."
    )
    deviation_ascent_leg: float | None = Field(
        None, description="deviation_leg over the ascent's mid-depth (40-80% of the drop)."
    )
    deviation_bottom_leg: float | None = Field(
        None, description="deviation_leg at the bottom (deepest 5% of the drop)."
    )
    deviation_sd_leg: float | None = Field(
        None,
        description="Uncertainty of deviation_leg (one standard deviation) from the foot's "
        "direction, which the landmarks give to a few degrees; larger when the foot points "
        "across the picture.",
    )
    knee_toe_ratio_mid: float | None = Field(
        description="2D, reported only: the knee's distance from the midline over the toe's, "
        "at mid-depth (40-80% of the rep's hip drop). < 1: knee inside the line of the toes "
        "in the picture (a wide, turned-out stance reads low with the knee over the foot)."
    )
    knee_toe_ratio_descent: float | None = Field(description="As above, descent only.")
    knee_toe_ratio_ascent: float | None = Field(description="As above, ascent only.")
    knee_toe_ratio_bottom: float | None = Field(description="As above, at the bottom.")
    knee_ankle_ratio_mid: float | None = Field(
        description="Knee's distance from the midline over the ankle's, at mid-depth "
        "(a per-side knee-to-ankle separation ratio)."
    )
    medial_knee_displacement_leg: float | None = Field(
        description="Inward knee travel from standing to mid-depth, in leg lengths, measured "
        "against the feet (positive = inward)."
    )
    fppa_deg: float | None = Field(
        description="2D frontal-plane projection angle at the bottom, degrees, valgus positive. "
        "Dominated by thigh foreshortening in a deep squat: reported, not graded."
    )
    fppa_mid_deg: float | None = Field(
        description="FPPA at mid-depth (median over 40-80% of the drop), degrees, valgus positive."
    )
    fppa_standing_deg: float | None = Field(
        description="FPPA standing before the rep (the person's own alignment), degrees."
    )
    fppa_mid_change_deg: float | None = Field(
        description="FPPA at mid-depth minus standing, degrees (valgus positive)."
    )


class KneeCave(_Model):
    score: float | None = Field(description="0-100 for the rep: the worse side.")
    severity: Severity | None = Field(description="none | mild | moderate | severe (worse side).")
    worse_side: Side | None = Field(None, description="Side with the lower score.")
    left: KneeSide | None = Field(description="Subject's left leg.")
    right: KneeSide | None = Field(description="Subject's right leg.")
    kasr_mid: float | None = Field(
        None, description="Knee-to-ankle separation ratio at mid-depth (Mizner et al. 2012)."
    )
    kasr_bottom: float | None = Field(
        None, description="Knee-to-ankle separation ratio at the bottom."
    )
    ktsr_mid: float | None = Field(
        None, description="Knee-to-toe (foot index) separation ratio at mid-depth."
    )
    reason: str | None = Field(None, description="Why the measure is null, when it is.")


class AnkleSide(_Model):
    score: float | None = Field(description="0-100, 100 = no visible proxy of collapse.")
    shank_tilt_mid_deg: float | None = Field(
        None,
        description="Frontal shank tilt at mid-depth, degrees from vertical, positive = knee "
        "inside the ankle (medial collapse proxy).",
    )
    shank_tilt_change_deg: float | None = Field(
        None,
        description="Medial shank tilt change from standing to mid-depth, degrees. Reported, "
        "not graded: it does not track ankle collapse on the 3D harness.",
    )
    medial_ankle_drift_leg: float | None = Field(
        None,
        description="Inward drift of the ankle against the heel-toe midpoint from standing to "
        "mid-depth, leg lengths (arch-collapse proxy; positive = inward). The graded front-view "
        "proxy.",
    )
    toe_out_change_deg: float | None = Field(
        None,
        description="Change of foot progression (toe-out) angle from standing to mid-depth, "
        "degrees, estimated from the toe's sideways offset (positive = turns out). Reported, "
        "not graded.",
    )
    heel_lift_leg: float | None = Field(
        None,
        description="Heel rise against the toe from standing to the bottom, leg lengths "
        "(side view only).",
    )


class Ankle(_Model):
    score: float | None = Field(description="0-100 for the rep: the worse side.")
    left: AnkleSide | None = Field(description="Subject's left foot.")
    right: AnkleSide | None = Field(description="Subject's right foot.")
    note: str = Field(
        "Proxies of ankle pronation visible in video, not a measurement or a diagnosis.",
        description="What these numbers are.",
    )
    reason: str | None = Field(None, description="Why the measure is null, when it is.")


class Rep(_Model):
    index: int = Field(description="1-based rep number.")
    start_s: float = Field(description="Descent starts, s.")
    bottom_s: float = Field(description="Lowest pelvis position, s.")
    end_s: float = Field(description="Back to standing, s.")
    start_frame: int = Field(description="Frame index where the descent starts (0-based).")
    bottom_frame: int = Field(description="Frame index of the lowest pelvis position.")
    end_frame: int = Field(description="Frame index where the lifter is back up.")
    view: ViewName = Field(description="Camera view during this rep.")
    yaw_deg: float | None = Field(description="Body yaw against the camera, degrees (0 = facing).")
    depth: Depth = Field(description="How deep the rep went.")
    knee_cave: KneeCave = Field(
        description="Knee cave (valgus) for this rep; null with a reason "
        "when the view cannot support it."
    )
    ankle: Ankle = Field(description="Ankle pronation proxies for this rep.")
    confidence: float = Field(description="0-1: view certainty x landmark visibility in this rep.")


class SideSummary(_Model):
    mean_score: float | None = Field(description="Mean 0-100 score over scored reps.")
    worst_score: float | None = Field(description="Lowest rep score.")
    worst_rep: int | None = Field(description="Index of the lowest-scoring rep.")
    reps_flagged: int = Field(
        description="Reps below the finding threshold: knee cave mild or worse (score < 85), "
        "ankle score < 70."
    )


class MetricSummary(_Model):
    score: float | None = Field(description="Mean of the rep scores (0-100).")
    severity: Severity | None = Field(
        None,
        description="The set's headline (knee cave only): none when no rep is flagged, else the "
        "severity of the typical flagged rep (median of their scores). Never contradicts the reps.",
    )
    flagged_reps: list[int] = Field(
        default_factory=list,
        description="Reps flagged on either side (knee cave mild or worse, ankle score < 70).",
    )
    left: SideSummary = Field(description="Subject's left side over the set.")
    right: SideSummary = Field(description="Subject's right side over the set.")
    worst_rep: int | None = Field(description="Index of the lowest-scoring rep.")
    trend_per_rep: float | None = Field(
        description="Least-squares slope of the rep score over the set, points per rep "
        "(negative = later reps worse); null with fewer than 3 scored reps."
    )
    later_reps_worse: bool | None = Field(
        description="Trend below -2 points per rep and a fitted fall of at least 10 points "
        "over at least 3 scored reps."
    )
    reason: str | None = Field(None, description="Why the summary is null, when it is.")


class Asymmetry(_Model):
    knee_cave_points: float | None = Field(
        description="Mean knee-cave score left minus right (negative = left worse)."
    )
    ankle_points: float | None = Field(description="Mean ankle score left minus right.")
    worse_side: Side | None = Field(
        description="Side with more knee cave, if the gap is > 10 points."
    )


class Advice(_Model):
    id: str = Field(description="Stable identifier.")
    text: str = Field(description="What to say or do.")
    because: str = Field(description="The measurement that triggered it.")
    reps: list[int] = Field(default_factory=list, description="The reps that triggered it.")
    sides: list[Side] = Field(default_factory=list, description="The sides that triggered it.")


class Summary(_Model):
    knee_cave: MetricSummary = Field(description="Knee cave over the set.")
    ankle: MetricSummary = Field(description="Ankle proxies over the set.")
    asymmetry: Asymmetry = Field(description="Left/right differences.")
    cues: list[Advice] = Field(description="Coaching cues that fit the findings.")
    exercises: list[Advice] = Field(description="Corrective exercises that fit the findings.")


class ModelInfo(_Model):
    pose: str = Field(description="Pose model that produced the keypoints.")
    scorer: str = Field(description="Scorer version.")
    versions: dict[str, str] = Field(description="Library versions.")


class ScoreResult(_Model):
    rep_count: int = Field(description="Completed squat reps.")
    view: ClipView = Field(
        description='Main camera view (the view of most reps); "other" when no rep was found.'
    )
    view_changes: bool = Field(False, description="The view differs between reps.")
    confidence: float = Field(description="0-1 overall confidence.")
    reason: str | None = Field(None, description="Why there are no reps, when there are none.")
    notes: list[str] = Field(default_factory=list, description="Caveats found while scoring.")
    video: VideoInfo = Field(description="The keypoint stream the result was computed from.")
    reps: list[Rep] = Field(description="One entry per completed rep, in time order.")
    summary: Summary = Field(description="Set-level findings, cues and exercises.")
    model: ModelInfo = Field(description="Which pose model and scorer produced this.")
    timings: dict[str, float] = Field(description="Stage wall times, ms.")
