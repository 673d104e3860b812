"""Exceptions raised by the Dentally client; none of them ever holds the API key.

The tree::

    DentallyError                 anything this package raises about talking to Dentally
    ├── MalformedKey              the key cannot even be sent (also a ValueError); nothing was sent
    ├── TransportError            no usable HTTP answer (connection refused, reset, TLS, protocol)
    │   └── Timeout               no answer within the per-request timeout
    └── ResponseError             Dentally answered with a status the caller cannot use
        ├── BadRequest            400: parameters or the wrapping key were wrong
        ├── Unauthorized          401: the key is unknown, expired or revoked (or belongs to another region)
        ├── Forbidden             403 for a reason Dentally did not state (e.g. a missing User-Agent)
        │   ├── InsufficientScope 403: the key lacks the scope this endpoint needs
        │   └── RateLimited       403 "Rate limit exceeded" (Dentally's way), or a defensive 429
        ├── NotFound              404
        ├── Unprocessable         422: validation failed
        ├── ServerError           5xx
        └── UnexpectedResponse    a 2xx whose body is not the JSON we expect, or any other status

``RateLimited`` sits under ``Forbidden`` because that is how Dentally reports it (403, not 429); a 429 is mapped
to it as well so callers have one thing to catch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dentally.client import ApiResponse, RateLimit


class DentallyError(Exception):
    """Base class of every error this package raises about talking to Dentally."""


class MalformedKey(DentallyError, ValueError):
    """The key holds characters an HTTP header cannot carry, so it was never sent."""


class TransportError(DentallyError):
    """The request got no usable HTTP answer."""

    def __init__(self, message: str, *, method: str, path: str) -> None:
        """Describe a failed exchange.

        Args:
            message: What went wrong, without the key.
            method: HTTP method of the request.
            path: Request path (no query, no host), e.g. ``/v1/user``.
        """
        super().__init__(message)
        self.method = method
        self.path = path

    def __repr__(self) -> str:
        return f"{type(self).__name__}(method={self.method!r}, path={self.path!r}, message={str(self)!r})"


class Timeout(TransportError):
    """No answer arrived within the per-request timeout."""


class ResponseError(DentallyError):
    """Dentally answered, but with a status the caller cannot use."""

    def __init__(self, response: ApiResponse) -> None:
        """Wrap an answer the caller cannot use.

        Args:
            response: The (already redacted) answer; its status, headers summary and body excerpt are kept.
        """
        detail = response.error_summary
        message = f"{response.method} {response.path} answered {response.status_code}"
        super().__init__(f"{message}: {detail}" if detail else message)
        self.response = response

    @property
    def status_code(self) -> int:
        """The HTTP status Dentally answered with."""
        return self.response.status_code

    @property
    def rate_limit(self) -> RateLimit:
        """The rate-limit headers of the answer (fields are None when absent)."""
        return self.response.rate_limit

    def __repr__(self) -> str:
        r = self.response
        return f"{type(self).__name__}(status_code={r.status_code}, method={r.method!r}, path={r.path!r})"


class BadRequest(ResponseError):
    """400: the request's parameters or wrapping key were wrong."""


class Unauthorized(ResponseError):
    """401: the key is unknown, expired or revoked, or it belongs to another region's host."""


class Forbidden(ResponseError):
    """403 for a reason Dentally did not state."""


class InsufficientScope(Forbidden):
    """403: the key is valid but was created without the scope this endpoint needs."""


class RateLimited(Forbidden):
    """The key's request budget is spent; ``rate_limit`` says when it refills."""


class NotFound(ResponseError):
    """404: no such record or route."""


class Unprocessable(ResponseError):
    """422: Dentally rejected the body as invalid."""


class ServerError(ResponseError):
    """5xx: Dentally failed."""


class UnexpectedResponse(ResponseError):
    """A status this client has no meaning for, or a 2xx whose body is not the expected JSON."""


def error_for(response: ApiResponse) -> ResponseError:
    """Pick the most specific exception for an unusable answer.

    Args:
        response: An answer that is not a usable 2xx.

    Returns:
        The exception to raise (not raised here, so callers keep control of the traceback).
    """
    status = response.status_code
    if response.is_rate_limited:
        return RateLimited(response)
    if status == 400:
        return BadRequest(response)
    if status == 401:
        return Unauthorized(response)
    if status == 403:
        return InsufficientScope(response) if response.is_insufficient_scope else Forbidden(response)
    if status == 404:
        return NotFound(response)
    if status == 422:
        return Unprocessable(response)
    if status >= 500:
        return ServerError(response)
    return UnexpectedResponse(response)
