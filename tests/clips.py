"""Access to the shared real clips (third-party footage: read in place, never copied)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CLIPS_DIR = REPO.parent / "shared" / "clips"
REFERENCE_DIR = CLIPS_DIR / "reference"


@cache
def manifest() -> dict[str, dict[str, Any]]:
    entries = json.loads((CLIPS_DIR / "manifest.json").read_text())
    return {e["id"]: e for e in entries}


def clip_path(clip_id: str) -> Path:
    return CLIPS_DIR / str(manifest()[clip_id]["file"])


def reference_path(clip_id: str) -> Path:
    return REFERENCE_DIR / f"{clip_id}.mediapipe_full.npz"


def clips_with_reference() -> list[str]:
    return [c for c in manifest() if reference_path(c).exists()]
