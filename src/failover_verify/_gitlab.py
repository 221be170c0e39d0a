"""The one place that talks to GitLab: reading the incident flags with python-gitlab.

The features API (administrators only) shows every gate; when it answers 403 the GraphQL
``metadata.featureFlags`` field, open to any user, says whether each flag is enabled. Errors
become :class:`GitLabError` with messages that name what to fix, and never hold the token.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Final
from urllib.parse import urlsplit

from pydantic import SecretStr

from failover_verify._exceptions import ConfigurationError, GitLabError
from failover_verify._extras import JOBS_EXTRA, require
from failover_verify._flags import (
    FEATURES_API,
    GRAPHQL,
    FlagReading,
    flags_from_features_api,
    flags_from_graphql,
    graphql_query,
)

__all__ = ["read_flags"]

_MAX_DETAIL: Final = 200
_ERRNO: Final = re.compile(r"\[Errno -?\d+\] [^'\")\]]+")
_GRAPHQL_NOTE: Final = (
    "the features API answered 403 (the token is not an administrator's), so the flags were "
    "read from GraphQL, which cannot show partial rollouts"
)
# Loggers of the clients python-gitlab uses; a server may echo headers in a body they log.
_CLIENT_LOGGERS: Final = (
    "gitlab",
    "gql.transport.httpx",
    "gql.transport.requests",
    "httpx",
    "urllib3.connectionpool",
)


class _RedactingFilter(logging.Filter):
    """Scrubs GitLab tokens that a client might log, e.g. inside an echoed error body."""

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = _scrub(message, self.secrets)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_LOG_FILTER: Final = _RedactingFilter()
for _name in _CLIENT_LOGGERS:
    logging.getLogger(_name).addFilter(_LOG_FILTER)


def _secret_forms(token: str) -> set[str]:
    # A token of a few characters would scrub ordinary words; no real token is that short.
    return {form for form in (token, f"Bearer {token}") if len(token) >= 4}


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


def _gitlab_module() -> Any:
    require("gitlab", purpose="reading the incident flags", package="python-gitlab")
    import gitlab  # noqa: PLC0415 - optional dependency, needed only for --expect flags

    return gitlab


def read_flags(
    url: str,
    token: str | SecretStr,
    *,
    features: Iterable[str] = ("completion", "generation"),
    request_timeout: float = 30.0,
    ssl_verify: bool | str = True,
) -> FlagReading:
    """Read the incident flags of ``features`` from the GitLab at ``url``.

    Tries the features API first, then GraphQL if that answers 403 (a token that is not an
    administrator's). Raises :class:`GitLabError` when GitLab cannot be reached, refuses the
    token, or answers something unusable, and :class:`ConfigurationError` for a bad ``url=``
    or a missing ``jobs`` extra.
    """
    secret = token.get_secret_value() if isinstance(token, SecretStr) else token
    if not secret:
        raise ConfigurationError("token= is empty: give a GitLab personal access token")
    base = _check_url(url)
    wanted = list(features)
    secrets = _secret_forms(secret)
    _LOG_FILTER.secrets.update(secrets)
    gitlab = _gitlab_module()
    client = gitlab.Gitlab(
        base, private_token=secret, timeout=request_timeout, ssl_verify=ssl_verify
    )
    with _translated(base, "the features API", secrets):
        try:
            entries = [item.attributes for item in client.features.list(get_all=True)]
        except gitlab.exceptions.GitlabListError as exc:
            if exc.response_code != 403:
                raise
            entries = None
    if entries is not None:
        return FlagReading(
            gitlab_url=base,
            source=FEATURES_API,
            flags=flags_from_features_api(entries, wanted),
        )
    answer = _graphql(gitlab, base, secret, wanted, timeout=request_timeout, ssl_verify=ssl_verify)
    return FlagReading(
        gitlab_url=base,
        source=GRAPHQL,
        flags=flags_from_graphql(answer, wanted),
        notes=(_GRAPHQL_NOTE,),
    )


def _graphql(
    gitlab: Any,
    base: str,
    secret: str,
    features: list[str],
    *,
    timeout: float,
    ssl_verify: bool | str,
) -> dict[str, Any]:
    secrets = _secret_forms(secret)
    with _translated(base, "GraphQL", secrets):
        try:
            client = gitlab.GraphQL(base, token=secret, timeout=timeout, ssl_verify=ssl_verify)
        except ImportError:
            raise ConfigurationError(
                f"reading the flags through GraphQL needs python-gitlab's GraphQL client: "
                f"{JOBS_EXTRA}"
            ) from None
        with client:
            answer = client.execute(graphql_query(features))
    if not isinstance(answer, dict):
        raise GitLabError(f"GitLab's GraphQL API at {base} answered something that is not JSON")
    return answer


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(
            f"the GitLab URL {url!r} is not an http(s) URL with a host; expected something "
            "like https://gitlab.example.com"
        )
    if parts.username or parts.password:
        raise ConfigurationError(
            "the GitLab URL must not carry credentials; give the token in GITLAB_TOKEN"
        )
    return url.rstrip("/")


@contextmanager
def _translated(base: str, api: str, secrets: set[str]) -> Iterator[None]:
    """Re-raise client errors as :class:`GitLabError`, without the token and without the cause.

    The cause is dropped on purpose: client errors carry response bodies, which a
    misbehaving server or proxy may fill with the request's token.
    """

    def clean(text: object) -> str:
        # Scrub before clipping, so a clip never leaves the start of a token behind.
        return _clip(_scrub(str(text), secrets))

    error: GitLabError | None = None
    try:
        yield
    except GitLabError:
        raise
    except Exception as exc:  # every client error is translated; see _describers
        for kind, describe in _describers():
            if isinstance(exc, kind):
                error = GitLabError(_scrub(describe(_Failure(base, api, exc, clean)), secrets))
                break
        else:
            raise
    if error is not None:
        raise error from None


class _Failure:
    """A client error with where it happened, and a way to quote it safely."""

    def __init__(self, base: str, api: str, exc: Exception, clean: Callable[[object], str]) -> None:
        self.base, self.api, self.exc, self.clean = base, api, exc, clean


def _describers() -> list[tuple[type[Exception], Callable[[_Failure], str]]]:
    """What went wrong and what to do, for the errors python-gitlab and its clients raise."""
    import gitlab  # noqa: PLC0415 - only reached after python-gitlab imported fine
    import requests  # noqa: PLC0415 - python-gitlab's HTTP client

    found: list[tuple[type[Exception], Callable[[_Failure], str]]] = [
        (gitlab.exceptions.GitlabError, _http_error),
        (requests.exceptions.Timeout, _timeout),
        (requests.exceptions.RequestException, _unreachable),
    ]
    try:
        import httpx  # noqa: PLC0415 - the GraphQL client's transport, part of the extra
        from gql.transport.exceptions import (  # noqa: PLC0415 - same
            TransportError,
            TransportQueryError,
        )
    except ImportError:
        return found
    return [
        *found,
        (httpx.TimeoutException, _timeout),
        (httpx.HTTPError, _unreachable),
        (TransportQueryError, _query_error),
        (TransportError, _unreachable),
    ]


def _http_error(failure: _Failure) -> str:
    base, api = failure.base, failure.api
    status = getattr(failure.exc, "response_code", None)
    detail = failure.clean(getattr(failure.exc, "error_message", None) or "no details")
    if status == 401:
        return (
            f"GitLab at {base} refused GITLAB_TOKEN (401) on {api}: {detail}; check that the "
            "token is valid, not expired, and has the read_api scope"
        )
    if status == 403:
        return (
            f"GitLab at {base} forbids this token {api} (403): {detail}; a token with the "
            "read_api scope can read the flags through GraphQL"
        )
    if status is None:
        return f"GitLab at {base} gave no usable answer on {api}: {detail}"
    return f"GitLab at {base} answered {status} on {api}: {detail}; check GITLAB_URL"


def _timeout(failure: _Failure) -> str:
    return (
        f"GitLab at {failure.base} did not answer in time on {failure.api} "
        f"({type(failure.exc).__name__}); raise request_timeout= or check that GitLab is up"
    )


def _unreachable(failure: _Failure) -> str:
    # requests nests the reason deep in a long repr; the errno text is what a person needs.
    errno = _ERRNO.search(str(failure.exc))
    reason = errno.group(0) if errno else failure.clean(failure.exc) or type(failure.exc).__name__
    return (
        f"cannot reach GitLab at {failure.base} for {failure.api}: {reason}; check GITLAB_URL "
        "and that GitLab is up"
    )


def _query_error(failure: _Failure) -> str:
    return (
        f"GitLab at {failure.base} refused the {failure.api} query for the flags: "
        f"{failure.clean(failure.exc)}; this GitLab may predate metadata.featureFlags (added "
        "in 2024): use an administrator's token so the features API can be read"
    )


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"
