"""`Annotated` dependencies: what a route needs, read from `app.state` (set by the lifespan)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from service.config import Settings
from service.errors import InvalidRequestError, RateLimitedError, UnauthorizedError
from service.jobs.backends import Backends
from service.jobs.base import JobBackend
from service.ratelimit import AUTH, POLL, SUBMIT, look, take
from service.storage.base import BlobStore
from service.tenants import TenantLimits, authenticate

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


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits that hold for the request's tenant: its own, else the server's."""

    max_active: int
    rate: int
    poll_rate: int


def _limits(own: TenantLimits, settings: Settings) -> Limits:
    return Limits(
        own.max_active or settings.max_active_jobs_per_tenant,
        own.rate or settings.rate_limit_per_minute,
        own.poll_rate or settings.poll_rate_limit_per_minute,
    )


async def current_tenant(
    request: Request,
    backends: BackendsDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """Authenticate the API key, then count the request against the tenant's budget.

    Reads (GET, HEAD) count against the `poll` budget, everything else against
    `submit`. Failed authentications are counted per client address: past
    `auth_failures_per_minute` the client gets 429 without its key being looked at,
    so keys cannot be guessed at the rate the server answers. The budget counted is
    left in the request state for the RateLimit header fields.
    """
    address = request.client.host if request.client else "-"
    failures = await look(backends.rate, AUTH, address, settings.auth_failures_per_minute)
    request.state.quota = failures
    if failures.remaining == 0:
        raise RateLimitedError(
            f"more than {failures.limit} failed authentications per minute from this address",
            retry_after_s=failures.reset_s,
            code="too_many_auth_failures",
        )
    tenant = None
    if credentials is not None and credentials.scheme.lower() == "bearer":
        tenant = await authenticate(backends.keys, credentials.credentials)
    if tenant is None:
        request.state.quota = await take(
            backends.rate, AUTH, address, settings.auth_failures_per_minute
        )
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise UnauthorizedError("send `Authorization: Bearer <api key>`")
        raise UnauthorizedError("the API key is not valid")
    request.state.tenant = tenant  # for the access log
    limits = _limits(await backends.keys.limits(tenant), settings)
    request.state.limits = limits
    if request.method in ("GET", "HEAD"):
        quota = await take(backends.rate, POLL, tenant, limits.poll_rate)
    else:
        quota = await take(backends.rate, SUBMIT, tenant, limits.rate)
    request.state.quota = quota
    if quota.exceeded:
        kind = "reads" if quota.policy == POLL else "submissions"
        raise RateLimitedError(
            f"more than {quota.limit} {kind} per minute", retry_after_s=quota.reset_s
        )
    return tenant


TenantDep = Annotated[str, Depends(current_tenant)]


def tenant_limits(request: Request, tenant: TenantDep) -> Limits:
    del tenant  # authenticated first: it sets the limits
    limits: Limits = request.state.limits
    return limits


LimitsDep = Annotated[Limits, Depends(tenant_limits)]


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
