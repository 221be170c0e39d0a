"""The network boundary: every request to Elasticsearch goes through :class:`Reader`.

Client errors become the package's own exceptions with messages that say what failed and
what to try; transient failures are retried a bounded number of times with backoff.
"""

from __future__ import annotations

import base64
import contextlib
import logging
import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar

import elasticsearch
from elastic_transport import ObjectApiResponse

from failover_verify._exceptions import (
    AccessDenied,
    ConnectionFailed,
    ElasticsearchError,
    RequestRejected,
)

__all__ = ["LOG", "Reader", "credentials_of", "describe_error", "forget_secrets"]

LOG: Final = logging.getLogger("failover_verify")

# The client's own loggers; at DEBUG level they log whole response bodies.
_CLIENT_LOGGERS: Final = (
    "elastic_transport.transport",
    "elastic_transport.node",
    "elastic_transport.node_pool",
    "elasticsearch",
)


class _RedactingFilter(logging.Filter):
    """Scrubs known credentials from the client's log records.

    A server or proxy may echo request headers in an error body, which the client logs at
    DEBUG level. One filter per logger holds every credential a reader has seen, since
    logging configuration is process-wide too.
    """

    def __init__(self) -> None:
        super().__init__()
        self.secrets: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.secrets:
            return True
        message = record.getMessage()
        scrubbed = message
        for secret in sorted(self.secrets, key=len, reverse=True):
            scrubbed = scrubbed.replace(secret, "***")
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True


_LOG_FILTER: Final = _RedactingFilter()
for _name in _CLIENT_LOGGERS:
    logging.getLogger(_name).addFilter(_LOG_FILTER)


def forget_secrets() -> None:
    """Drop every credential the log filter knows (for tests that must start clean)."""
    _LOG_FILTER.secrets.clear()


_T = TypeVar("_T")
_TRANSIENT_STATUS: Final = frozenset({429, 502, 503, 504})
_MAX_DETAIL: Final = 300


class Reader:
    """Reads from one cluster; counts the requests it sends so callers can show the cost."""

    def __init__(
        self,
        client: elasticsearch.Elasticsearch,
        *,
        retries: int = 2,
        backoff: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._secrets = credentials_of(client)
        _LOG_FILTER.secrets.update(self._secrets)
        self._retries = max(0, retries)
        self._backoff = backoff
        self._sleep = sleep
        self.requests = 0

    @property
    def target(self) -> str:
        """The cluster's address for messages (never with credentials)."""
        try:
            nodes = self._client.transport.node_pool.all()
            return str(nodes[0].base_url) if nodes else "Elasticsearch"
        except (AttributeError, IndexError):
            return "Elasticsearch"

    def field_caps(self, index: str, fields: Sequence[str]) -> dict[str, Any]:
        wanted = sorted({*fields, *(f"{name}.keyword" for name in fields)})
        return self._call(
            "read the field mappings",
            lambda: self._client.field_caps(
                index=index,
                fields=wanted,
                include_unmapped=True,
                ignore_unavailable=True,
                allow_no_indices=True,
                expand_wildcards="open",
            ),
        )

    def refresh_intervals(self, index: str) -> dict[str, Any]:
        """Each matching index's ``refresh_interval``, set or default, in one small answer."""
        return self._call(
            "read the index settings",
            lambda: self._client.indices.get_settings(
                index=index,
                name="index.refresh_interval",
                include_defaults=True,
                ignore_unavailable=True,
                allow_no_indices=True,
                expand_wildcards="open",
                filter_path=[
                    "*.settings.index.refresh_interval",
                    "*.defaults.index.refresh_interval",
                ],
            ),
        )

    def msearch(self, index: str, bodies: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """One round trip for several searches; each result is a response or an error item."""
        searches: list[Mapping[str, Any]] = []
        for body in bodies:
            searches.append({"index": index, "ignore_unavailable": True, "allow_no_indices": True})
            searches.append(body)
        response = self._call("search", lambda: self._client.msearch(searches=searches))
        return list(response["responses"])

    def search(self, index: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        """One search; ``body`` is a request body as ``Search.to_dict()`` makes it."""
        return self._call("search", lambda: self._client.search(index=index, **body))

    def open_point_in_time(self, index: str, keep_alive: str) -> str:
        response = self._call(
            "open a point in time",
            lambda: self._client.open_point_in_time(
                index=index,
                keep_alive=keep_alive,
                ignore_unavailable=True,
                allow_partial_search_results=False,
            ),
        )
        return str(response["id"])

    def close_point_in_time(self, pit_id: str) -> None:
        # Closing is a courtesy: the point in time expires on its own after keep_alive.
        with contextlib.suppress(elasticsearch.ApiError, elasticsearch.TransportError):
            self._client.close_point_in_time(id=pit_id)

    def _call(self, action: str, request: Callable[[], ObjectApiResponse[Any]]) -> dict[str, Any]:
        for attempt in self._attempts():
            self.requests += 1
            try:
                return dict(request().body)
            except elasticsearch.ApiError as exc:
                if exc.meta.status in _TRANSIENT_STATUS and attempt < self._retries:
                    self._pause(action, attempt, f"the server answered {exc.meta.status}")
                    continue
                error = self._api_error(action, exc)
            except elasticsearch.TransportError as exc:
                if attempt < self._retries and not isinstance(exc, elasticsearch.SSLError):
                    self._pause(action, attempt, type(exc).__name__)
                    continue
                error = self._transport_error(action, exc)
            # The cause is dropped on purpose: client errors carry response bodies, which a
            # misbehaving server or proxy may fill with the request's credentials.
            raise type(error)(self._scrub(str(error))) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _attempts(self) -> Iterator[int]:
        return iter(range(self._retries + 1))

    def _pause(self, action: str, attempt: int, why: str) -> None:
        # Full jitter keeps several watchers from retrying in lockstep against a sick cluster.
        delay = random.uniform(0, self._backoff * 2**attempt)  # noqa: S311
        LOG.info(
            "retrying to %s at %s in %.2f s (attempt %d of %d): %s",
            action,
            self.target,
            delay,
            attempt + 2,
            self._retries + 1,
            why,
        )
        self._sleep(delay)

    def _transport_error(
        self, action: str, exc: elasticsearch.TransportError
    ) -> ElasticsearchError:
        tries = f" after {self._retries + 1} attempts" if self._retries else ""
        if isinstance(exc, elasticsearch.SSLError):
            return ConnectionFailed(
                f"TLS failed talking to {self.target}: {_clip(str(exc.message))}; "
                "give the cluster's CA with ca_certs= (or ES_CA_CERTS)"
            )
        if isinstance(exc, elasticsearch.ConnectionTimeout):
            return ConnectionFailed(
                f"Elasticsearch at {self.target} did not answer in time{tries} while trying to "
                f"{action}; raise request_timeout= or try a shorter window"
            )
        return ConnectionFailed(
            f"cannot reach Elasticsearch at {self.target}{tries} to {action}: "
            f"{_clip(str(exc.message))}; check the URL and that the cluster is up"
        )

    def _api_error(self, action: str, exc: elasticsearch.ApiError) -> ElasticsearchError:
        status = exc.meta.status
        detail = _reason(exc.body)
        if isinstance(exc, elasticsearch.UnsupportedProductError):
            return ConnectionFailed(
                f"the server at {self.target} is not Elasticsearch (or a proxy hides its headers)"
            )
        if status == 401:
            return ConnectionFailed(
                f"Elasticsearch at {self.target} refused the credentials (401); "
                "check ES_API_KEY or ES_USERNAME/ES_PASSWORD"
            )
        if status == 403:
            return AccessDenied(
                f"the credentials may not {action} on {self.target} (403): {detail}; "
                "they need read and view_index_metadata on the index pattern"
            )
        if status in _TRANSIENT_STATUS:
            return ConnectionFailed(
                f"Elasticsearch at {self.target} is overloaded or unavailable ({status}) "
                f"after {self._retries + 1} attempts to {action}: {detail}"
            )
        return RequestRejected(f"Elasticsearch refused to {action} ({status}): {detail}")


def credentials_of(client: elasticsearch.Elasticsearch) -> list[str]:
    """Every form in which the client's credentials could come back in an error."""
    headers = getattr(client, "_headers", None) or {}
    value = headers.get("authorization") or headers.get("Authorization")
    if not isinstance(value, str) or " " not in value:
        return []
    token = value.split(" ", 1)[1]
    forms = [value, token]
    try:
        decoded = base64.b64decode(token, validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return forms
    forms.append(decoded)
    if ":" in decoded:
        forms.append(decoded.split(":", 1)[1])
    # Longest first, so a shorter form never leaves part of a longer one behind.
    return sorted({form for form in forms if len(form) >= 4}, key=len, reverse=True)


def _reason(body: object) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            causes = error.get("root_cause")
            cause = (
                causes[0]
                if isinstance(causes, list) and causes and isinstance(causes[0], Mapping)
                else error
            )
            # Some errors (a point in time refused for missing shards) have no root cause and
            # an empty reason; the shards are named further down the caused_by chain.
            while not cause.get("reason") and isinstance(cause.get("caused_by"), Mapping):
                cause = cause["caused_by"]
            return _clip(f"{cause.get('type', 'error')}: {cause.get('reason', '')}")
        if isinstance(error, str):
            return _clip(error)
    return _clip(str(body)) if body else "no details"


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


def describe_error(item: Mapping[str, Any]) -> str:
    """One line for an error answer (a refused msearch item): its status and reason."""
    return f"{item.get('status', '?')} {_reason(item)}"
