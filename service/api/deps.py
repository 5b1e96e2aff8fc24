"""`Annotated` dependencies: what a route needs, read from `app.state` (set by the lifespan)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.config import Settings
from service.errors import InvalidRequestError, RateLimitedError, UnauthorizedError
from service.jobs.backends import Backends
from service.jobs.base import JobBackend
from service.storage.base import BlobStore
from service.tenants import authenticate

_bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer kc_…` (one per tenant)")


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_backends(request: Request) -> Backends:
    backends: Backends = request.app.state.backends
    return backends


def get_jobs(request: Request) -> JobBackend:
    return get_backends(request).jobs


def get_blobs(request: Request) -> BlobStore:
    blobs: BlobStore = request.app.state.blobs
    return blobs


SettingsDep = Annotated[Settings, Depends(get_settings)]
BackendsDep = Annotated[Backends, Depends(get_backends)]
JobsDep = Annotated[JobBackend, Depends(get_jobs)]
BlobsDep = Annotated[BlobStore, Depends(get_blobs)]


async def current_tenant(
    request: Request,
    backends: BackendsDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Authenticate the API key, then count the request against the tenant's rate.

    Failed authentications are counted per client address: past
    `auth_failures_per_minute` the client gets 429 without its key being looked at,
    so keys cannot be guessed at the rate the server answers.
    """
    failures = f"authfail:{request.client.host if request.client else '-'}"
    limit = settings.auth_failures_per_minute
    blocked = await backends.rate.over(failures, limit)
    if blocked is not None:
        raise RateLimitedError(
            f"more than {limit} failed authentications per minute from this address",
            retry_after_s=blocked,
            code="too_many_auth_failures",
        )
    tenant = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        tenant = await authenticate(backends.keys, credentials.credentials)
    if tenant is None:
        await backends.rate.hit(failures, limit)
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthorizedError("send `Authorization: Bearer <api key>`")
        raise UnauthorizedError("the API key is not valid")
    request.state.tenant = tenant  # for the access log
    retry_after = await backends.rate.hit(tenant, settings.rate_limit_per_minute)
    if retry_after is not None:
        raise RateLimitedError(
            f"more than {settings.rate_limit_per_minute} requests per minute",
            retry_after_s=retry_after,
        )
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


async def known_query_only(request: Request) -> None:
    """422 for a query parameter the route does not take: `?veiw=front` would otherwise
    be ignored in silence and the job run with the default view."""
    route = request.scope.get("route")
    dependant = getattr(route, "dependant", None)
    if dependant is None:
        return
    known = {p.alias for p in _all_query_params(dependant)}
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        raise InvalidRequestError(f"unknown query parameter(s): {', '.join(unknown)}")


def _all_query_params(dependant: Any) -> list[Any]:
    params = list(dependant.query_params)
    for sub in dependant.dependencies:
        params += _all_query_params(sub)
    return params
