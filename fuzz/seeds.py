"""Write the seed corpora fuzz/run.py starts from into fuzz/corpus/<target>/ (git-ignored):
the first bytes of every shared clip and of made-up containers for the sniffer, real
keypoints bodies (a reference clip's landmarks, whole and cut) for the keypoints parser."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT.parent))

from service.api.upload import SNIFF_BYTES  # noqa: E402
from service.pipeline.keypoints import Keypoints  # noqa: E402
from tests.clips import clip_path, manifest, reference_path  # noqa: E402

CORPUS = ROOT / "corpus"


def _write(target: str, data: bytes) -> None:
    out = CORPUS / target
    out.mkdir(parents=True, exist_ok=True)
    (out / hashlib.sha1(data).hexdigest()).write_bytes(data)


def _body(kp: Keypoints, frames: slice) -> bytes:
    lm = kp.landmarks[frames]
    nested = [[[None if np.isnan(v) else round(float(v), 2) for v in p] for p in f] for f in lm]
    body = {"fps": kp.fps, "width": kp.width, "height": kp.height, "landmarks": nested}
    return json.dumps(body).encode()


def main() -> int:
    for clip_id in manifest():
        _write("sniffer", clip_path(clip_id).read_bytes()[:SNIFF_BYTES])
    for head in (b"GIF89a", b"\x47" * 400, b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"):
        _write("sniffer", head)
    kp = Keypoints.load(reference_path("front_highbar_backsquat_1rep"))
    for frames in (slice(0, 62), slice(0, 10), slice(20, 50, 2)):
        _write("keypoints", _body(kp, frames))
    _write("keypoints", b'{"fps": 30, "width": 10, "height": 10, "landmarks": []}')
    print(f"seeds in {CORPUS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
