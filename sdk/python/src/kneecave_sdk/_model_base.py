"""The base of every response model (the generated ones in _models.py and WebhookEvent)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Tolerant on purpose: a field added by a newer server is kept (``model_extra``), so an
    older app never fails on it."""

    model_config = ConfigDict(extra="allow")
