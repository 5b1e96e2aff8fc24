"""BlazePose (MediaPipe Pose, full) on ONNX Runtime: video → Keypoints.

``PoseEngine`` composes the detector, the landmark model, ROI tracking and
smoothing; everything between the models is plain numpy in its own module.
"""

from service.pipeline.pose.engine import ENGINE_VERSION, PoseEngine, ProcessingStoppedError

__all__ = ["ENGINE_VERSION", "PoseEngine", "ProcessingStoppedError"]
