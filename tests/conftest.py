from __future__ import annotations

import pytest

from tests.clips import CLIPS_DIR


def pytest_sessionstart(session: pytest.Session) -> None:
    # The real clips are part of the test contract: fail loudly, never skip, if they are absent.
    if not (CLIPS_DIR / "manifest.json").exists():
        raise pytest.UsageError(f"shared clips not found at {CLIPS_DIR}")


@pytest.fixture
def anyio_backend() -> str:
    """The async tests (``pytest.mark.anyio``) run on asyncio, as the service does."""
    return "asyncio"
