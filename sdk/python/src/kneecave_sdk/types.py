"""The response models, public: ``from kneecave_sdk.types import ScoreResult, Rep``.

Generated from the API's OpenAPI document into _models.py; WebhookEvent (JobEvent,
WebhookTestEvent or UnknownEvent) is what verify_webhook() returns.
"""

from kneecave_sdk import _models
from kneecave_sdk._models import *  # noqa: F403 (re-exports the generated module's __all__)
from kneecave_sdk.webhooks import UnknownEvent, WebhookEvent

__all__ = [*_models.__all__, "UnknownEvent", "WebhookEvent"]  # noqa: PLE0604 (generated names, all str)
