"""The history index: each run's report as one Elasticsearch document, for charts over time.

The mapping is explicit so that verdicts, features and counts stay aggregatable whatever
the first document looked like, and the bulky evidence (queries, breakdowns, samples, links)
is kept in ``_source`` without being indexed. Keys the report gains later are kept but not
indexed (``dynamic: false``) until the mapping names them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import elasticsearch
from pydantic import ConfigDict

from failover_verify._es import credentials_of
from failover_verify._exceptions import ConnectionFailed, ElasticsearchError, RequestRejected
from failover_verify._model import Model
from failover_verify._report import Report

__all__ = ["HISTORY_MAPPING", "Recorded", "record_report"]

_KEYWORD: Final = {"type": "keyword"}
_DATE: Final = {"type": "date"}
_LONG: Final = {"type": "long"}
_DOUBLE: Final = {"type": "double"}
_BOOLEAN: Final = {"type": "boolean"}
_TEXT: Final = {"type": "text"}
# Kept in _source for whoever reads the document, neither searchable nor aggregatable.
_STORED_OBJECT: Final = {"type": "object", "enabled": False}
_STORED_STRING: Final = {"type": "keyword", "index": False, "doc_values": False}
_SPAN: Final = {"properties": {"first": _DATE, "last": _DATE}}

_FEATURE: Final = {
    "properties": {
        "feature": _KEYWORD,
        "verdict": _KEYWORD,
        "reason": _TEXT,
        "total": _LONG,
        "primary": _LONG,
        "failover": _LONG,
        "unclassified": _LONG,
        "failover_share": _DOUBLE,
        "primary_share": _DOUBLE,
        "by_provider": _STORED_OBJECT,
        "by_model": _STORED_OBJECT,
        "by_prompt_version": _STORED_OBJECT,
        "seen": {"properties": {"primary": _SPAN, "failover": _SPAN, "unclassified": _SPAN}},
        "complete": _BOOLEAN,
        "failed_indices": _KEYWORD,
        "problems": _TEXT,
        "notes": _TEXT,
        "breakdown": _STORED_OBJECT,
        "samples": _STORED_OBJECT,
        "resolutions": _STORED_OBJECT,
        "query": _STORED_OBJECT,
        "kql": _STORED_STRING,
        "kibana_url": _STORED_STRING,
    }
}
_FLAG: Final = {
    "properties": {
        "name": _KEYWORD,
        "feature": _KEYWORD,
        "state": _KEYWORD,
        "partial": _BOOLEAN,
        "gates": _STORED_OBJECT,
        "source": _KEYWORD,
        "detail": _TEXT,
        "expects": _KEYWORD,
        "expectation": _KEYWORD,
    }
}
_EXPECTATION: Final = {
    "properties": {"allows": _KEYWORD, "label": _KEYWORD, "because": _TEXT},
}

HISTORY_MAPPING: Final[dict[str, Any]] = {
    "dynamic": False,
    "properties": {
        "@timestamp": _DATE,
        "exit_code": {"type": "integer"},
        "command": _KEYWORD,
        "schema_version": {"type": "integer"},
        "generated_at": _DATE,
        "source": _KEYWORD,
        "index": _KEYWORD,
        "time_field": _KEYWORD,
        "window": {
            "properties": {
                "from": _DATE,
                "to": _DATE,
                "requested_to": _DATE,
                "searchable_until": _DATE,
                "notes": _TEXT,
            }
        },
        "threshold": _DOUBLE,
        "min_count": _LONG,
        "policy": _KEYWORD,
        "registry": _KEYWORD,
        "requests": _LONG,
        "ok": _BOOLEAN,
        "expect": _KEYWORD,
        "features": {"properties": {"completion": _FEATURE, "generation": _FEATURE}},
        "expectations": {
            "properties": {"completion": _EXPECTATION, "generation": _EXPECTATION},
        },
        "flags": {
            "properties": {
                "gitlab_url": _KEYWORD,
                "source": _KEYWORD,
                "notes": _TEXT,
                "flags": {"properties": {"completion": _FLAG, "generation": _FLAG}},
            }
        },
        "parse_problems": {"properties": {"count": _LONG, "examples": _STORED_OBJECT}},
        "notes": _TEXT,
        "watch": {
            "properties": {
                "polls": _LONG,
                "started": _DATE,
                "ended": _DATE,
                "switched_at": {"properties": {"completion": _DATE, "generation": _DATE}},
            }
        },
    },
}
"""The mapping given to a history index that does not exist yet."""


class Recorded(Model):
    """Where a report was recorded."""

    model_config = ConfigDict(frozen=True)

    index: str
    id: str
    created_index: bool


def history_document(
    report: Report | Mapping[str, Any],
    *,
    run_time: datetime,
    exit_code: int | None = None,
    command: str | None = None,
) -> dict[str, Any]:
    """The document for one run: the report's JSON form with ``@timestamp`` = ``run_time``."""
    data = dict(report.to_json_dict() if isinstance(report, Report) else report)
    data["@timestamp"] = run_time.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if exit_code is not None:
        data["exit_code"] = exit_code
    if command is not None:
        data["command"] = command
    return data


def record_report(
    client: elasticsearch.Elasticsearch,
    index: str,
    report: Report | Mapping[str, Any],
    *,
    run_time: datetime,
    exit_code: int | None = None,
    command: str | None = None,
) -> Recorded:
    """Append the report to ``index`` (an index or a data stream) as one document.

    An index that does not exist is created with :data:`HISTORY_MAPPING`, unless an index
    template matches its name (for a data stream, say): then Elasticsearch creates it from
    the template. Raises :class:`ConnectionFailed` or :class:`RequestRejected`.
    """
    document = history_document(report, run_time=run_time, exit_code=exit_code, command=command)
    secrets = credentials_of(client)
    with _translated(index, secrets):
        created = False
        if not client.indices.exists(index=index) and not _template_matches(client, index):
            created = _create(client, index)
        # op_type create works for indices and data streams alike (data streams only take it).
        response = client.index(index=index, document=document, op_type="create")
    return Recorded(index=str(response["_index"]), id=str(response["_id"]), created_index=created)


def _template_matches(client: elasticsearch.Elasticsearch, index: str) -> bool:
    # Elasticsearch answers {} when no template matches the name.
    response = client.indices.simulate_index_template(name=index)
    return bool(response.body.get("template"))


def _create(client: elasticsearch.Elasticsearch, index: str) -> bool:
    try:
        client.indices.create(index=index, mappings=HISTORY_MAPPING)
    except elasticsearch.BadRequestError as exc:
        # Another run created it between the check and here: that is fine.
        if _error_type(exc.body) == "resource_already_exists_exception":
            return False
        raise
    return True


def _error_type(body: object) -> str | None:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return str(error.get("type"))
    return None


def _reason(body: object) -> str:
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            return f"{error.get('type', 'error')}: {error.get('reason', '')}"[:300]
    return str(body)[:300] if body else "no details"


@contextmanager
def _translated(index: str, secrets: list[str]) -> Iterator[None]:
    """Turns client errors into the package's own, scrubbed and without the cause.

    The cause is dropped on purpose, as in the reader: client errors carry response bodies,
    which a misbehaving server or proxy may fill with the request's credentials.
    """
    error: ElasticsearchError
    try:
        yield
    except elasticsearch.ApiError as exc:
        status = exc.meta.status
        if status in (401, 403):
            error = ConnectionFailed(
                f"Elasticsearch refused to record to {index} ({status}): {_reason(exc.body)}; "
                "the credentials need create_doc (and create_index for a new index) on it"
            )
        else:
            error = RequestRejected(
                f"Elasticsearch refused to record to {index} ({status}): {_reason(exc.body)}"
            )
    except elasticsearch.TransportError as exc:
        error = ConnectionFailed(
            f"cannot reach Elasticsearch to record to {index}: {exc.message}; check "
            "the cluster's address and that it is up"
        )
    else:
        return
    message = str(error)
    for secret in secrets:
        message = message.replace(secret, "***")
    raise type(error)(message) from None
