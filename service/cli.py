"""`kneecave` command line: serve | worker | score | pose | keys | models.

Argument parsing only; each command's work lives in the module that owns it and
is imported lazily, so `kneecave pose` does not import FastAPI and `kneecave
serve` does not load a model it will not use.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kneecave", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    # --- serve / worker (service) ---
    serve = sub.add_parser("serve", help="API + embedded workers in one process")
    serve.add_argument("--host", default=None, help="bind address (default from KNEECAVE_HOST)")
    serve.add_argument("--port", type=int, default=None, help="port (default from KNEECAVE_PORT)")
    serve.add_argument("--workers", type=int, default=None, help="embedded workers (0 = API only)")
    worker = sub.add_parser("worker", help="run workers only (shared queue, e.g. Redis)")
    worker.add_argument("--concurrency", type=int, default=1, help="jobs processed at once")
    worker.add_argument(
        "--check",
        nargs="?",
        const="ready",
        choices=["ready", "live"],
        help="probe the worker running here instead of starting one: exit 0 if it is ready "
        "(models warmed up; the default) or live (running, not failed)",
    )

    # --- keys (tenants) ---
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key for a tenant")
    create.add_argument("--tenant", required=True)
    create.add_argument(
        "--landmarks",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="whether the tenant's jobs keep per-frame landmarks for the video overlay "
        "(tenant-wide; kept unless turned off; --no-landmarks also removes those kept)",
    )
    for flag, what in (
        ("--max-active", "jobs queued or running at once"),
        ("--rate", "submissions per minute (uploads, keypoints, cancel, delete)"),
        ("--poll-rate", "reads per minute"),
    ):
        create.add_argument(
            flag,
            type=_count,
            metavar="N",
            help=f"the tenant's own limit on {what} (tenant-wide; 0: back to the server's "
            "setting; unchanged when not given)",
        )
    keys_sub.add_parser("list", help="list keys (ids and tenants, never secrets)")
    revoke = keys_sub.add_parser("revoke", help="revoke a key by id")
    revoke.add_argument("key_id")

    # --- pose ---
    pose = sub.add_parser("pose", help="video → keypoints .npz (T, 33, 5)")
    pose.add_argument("video", type=Path)
    pose.add_argument("-o", "--output", type=Path, required=True)
    pose.add_argument("--no-progress", action="store_true", help="no progress bar")

    # --- score ---
    score = sub.add_parser("score", help="video (or keypoints) → per-rep result JSON")
    score.add_argument("video", type=Path, nargs="?", help="video file (pose + scoring)")
    score.add_argument("--keypoints", type=Path, help="keypoints .npz (scoring only)")
    score.add_argument("--view", choices=["auto", "front", "side"], default="auto")
    score.add_argument(
        "--mirrored", action="store_true", help="mirror-image video: report the person's sides"
    )
    score.add_argument("-o", "--output", type=Path, help="write the JSON here (default stdout)")
    score.add_argument("--no-progress", action="store_true", help="no progress bar")

    # --- models ---
    models = sub.add_parser("models", help="show the installed models and verify their hashes")
    models.add_argument("--verify", action="store_true", help="exit 1 if a hash mismatches")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # Everything this process writes (job store, videos, results) is the operator's
    # alone, whatever the shell's umask.
    os.umask(0o077)
    cmd: str = args.command
    if cmd == "serve":
        from service.server import serve_command

        return serve_command(args)
    if cmd == "worker" and args.check:
        from service.worker.health import check_command  # light: probes run it often

        return check_command(args.check)
    if cmd == "worker":
        from service.worker.main import worker_command

        return worker_command(args)
    if cmd == "keys":
        from service.tenants_cli import keys_command

        return keys_command(args)
    if cmd == "pose":
        from service.pipeline.pose.cli import pose_command

        return pose_command(args)
    if cmd == "score":
        from service.pipeline.scoring.cli import score_command

        return score_command(args)
    if cmd == "models":
        from service.pipeline.pose.models import models_command

        return models_command(args)
    raise AssertionError(cmd)  # argparse guarantees one of the above


if __name__ == "__main__":
    sys.exit(main())
