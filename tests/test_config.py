from __future__ import annotations

import pytest
from pydantic import ValidationError

from service.config import Settings


def test_heartbeat_must_be_shorter_than_the_lease() -> None:
    with pytest.raises(ValidationError, match="heartbeat_s"):
        Settings(lease_s=5, heartbeat_s=10)
    assert Settings(lease_s=5, heartbeat_s=1).lease_s == 5


def test_settings_read_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNEECAVE_RATE_LIMIT_PER_MINUTE", "7")
    monkeypatch.setenv("KNEECAVE_QUEUE", "redis://127.0.0.1:6379/0")
    s = Settings()
    assert s.rate_limit_per_minute == 7
    assert s.queue == "redis://127.0.0.1:6379/0"
