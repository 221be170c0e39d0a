"""Where things live in a gateway log document, and reading them from any hit shape.

Cloud Logging entries arrive through Pub/Sub as ``json.*``; the gateway's structlog event
is ``json.jsonPayload.*``. Clients see ``_source`` either as nested objects or with dotted
keys (or a mix), and the ``fields`` API returns flat dotted keys with list values. Everything
here turns those shapes into one flat ``{dotted.path: value}`` mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = [
    "API_KEY",
    "COMPLETION_MESSAGE",
    "CORRELATION_ID",
    "CURRENT_FILE_NAME",
    "ENABLED_BY_NAMESPACES",
    "ERROR",
    "ERROR_TYPE",
    "EVENT_TIME",
    "FEATURE_CATEGORY",
    "FINISH_REASON",
    "GITLAB_CONTEXT_PREFIX",
    "INGEST_TIME",
    "LEVEL",
    "LOCATION",
    "LOGGER",
    "LOG_TIME",
    "MESSAGE",
    "MODEL_CLASS_PROVIDER",
    "MODEL_ENGINE",
    "MODEL_IDENTIFIER",
    "MODEL_NAME",
    "MODEL_PROVIDER",
    "PAYLOAD",
    "PREFIX",
    "PRIVATE_FIELDS",
    "PROMPT",
    "PROMPT_ID",
    "PROMPT_NAME",
    "PROMPT_VERSION",
    "REGISTRY_MESSAGE",
    "REVISION_NAME",
    "SERVED_MESSAGE",
    "SERVICE_NAME",
    "SEVERITY",
    "STREAM",
    "STREAMING",
    "SUFFIX",
    "UNIT_PRIMITIVE",
    "FieldConflictError",
    "flatten_hit",
]

PAYLOAD: Final = "json.jsonPayload"

INGEST_TIME: Final = "@timestamp"
"""Set when the record reaches Elasticsearch; the Kibana data view's time field."""
LOG_TIME: Final = "json.timestamp"
"""The Cloud Logging entry's own time, 0.75-1.1 s before ``@timestamp`` in production."""
EVENT_TIME: Final = f"{PAYLOAD}.timestamp"
"""When the gateway logged the event (structlog's timestamp)."""
MESSAGE: Final = f"{PAYLOAD}.message"
LOGGER: Final = f"{PAYLOAD}.logger"
LEVEL: Final = f"{PAYLOAD}.level"
CORRELATION_ID: Final = f"{PAYLOAD}.correlation_id"
SEVERITY: Final = "json.severity"
SERVICE_NAME: Final = "json.resource.labels.service_name"
REVISION_NAME: Final = "json.resource.labels.revision_name"
LOCATION: Final = "json.resource.labels.location"

MODEL_PROVIDER: Final = f"{PAYLOAD}.model_provider"
MODEL_NAME: Final = f"{PAYLOAD}.model_name"
PROMPT: Final = f"{PAYLOAD}.prompt"
PREFIX: Final = f"{PAYLOAD}.prefix"
SUFFIX: Final = f"{PAYLOAD}.suffix"
CURRENT_FILE_NAME: Final = f"{PAYLOAD}.current_file_name"
STREAM: Final = f"{PAYLOAD}.stream"
API_KEY: Final = f"{PAYLOAD}.api_key"

PROMPT_ID: Final = f"{PAYLOAD}.prompt_id"
PROMPT_NAME: Final = f"{PAYLOAD}.prompt_name"
PROMPT_VERSION: Final = f"{PAYLOAD}.prompt_version"
MODEL_IDENTIFIER: Final = f"{PAYLOAD}.model_identifier"
MODEL_CLASS_PROVIDER: Final = f"{PAYLOAD}.model_class_provider"
ENABLED_BY_NAMESPACES: Final = f"{PAYLOAD}.gitlab_feature_enabled_by_namespace_ids"

# "Request to LLM complete" (ai_gateway/instrumentators/model_requests.py; these fields since
# 968638cf1, 2026-07-13): one record per call to a model, ungated.
UNIT_PRIMITIVE: Final = f"{PAYLOAD}.unit_primitive"
MODEL_ENGINE: Final = f"{PAYLOAD}.model_engine"
ERROR: Final = f"{PAYLOAD}.error"
ERROR_TYPE: Final = f"{PAYLOAD}.error_type"
FEATURE_CATEGORY: Final = f"{PAYLOAD}.feature_category"
STREAMING: Final = f"{PAYLOAD}.streaming"
FINISH_REASON: Final = f"{PAYLOAD}.finish_reason"

GITLAB_CONTEXT_PREFIX: Final = f"{PAYLOAD}.gitlab_"

COMPLETION_MESSAGE: Final = "code completion input:"
REGISTRY_MESSAGE: Final = "Returning prompt from the registry"
SERVED_MESSAGE: Final = "Request to LLM complete"

# Fields that may hold a user's code or a credential: never copied into evidence or output.
PRIVATE_FIELDS: Final = frozenset({PROMPT, PREFIX, SUFFIX, API_KEY})


class FieldConflictError(ValueError):
    """The same dotted path appears twice in a hit with different values."""


def flatten_hit(
    hit: Mapping[str, Any], objects: set[str] | None = None, conflicts: set[str] | None = None
) -> dict[str, Any]:
    """Merge a hit's ``_source`` (nested, dotted or mixed) and ``fields`` into dotted keys.

    Objects become dotted paths; lists of scalars stay lists (``fields`` always returns lists,
    so one-element lists from there are unwrapped). A path given twice with different values
    raises :class:`FieldConflictError`, since guessing which one is right could misreport;
    with ``conflicts`` given, such paths are added to it and left out of the result instead,
    so a caller can refuse only the conflicts that touch what it reads. The dotted paths of
    objects met on the way are added to ``objects`` when given. A ``_source`` or ``fields``
    that is not an object always raises.
    """
    flat: dict[str, Any] = {}
    source = hit.get("_source")
    if source is not None:
        # isinstance against the Mapping ABC is slow; decoded JSON is nearly always a dict.
        if type(source) is not dict and not isinstance(source, Mapping):
            raise FieldConflictError(f"_source is a {type(source).__name__}, not an object")
        _flatten_into(flat, source, "", objects, conflicts)
    fields = hit.get("fields")
    if fields is not None:
        if not isinstance(fields, Mapping):
            raise FieldConflictError(f"fields is a {type(fields).__name__}, not an object")
        for key, value in fields.items():
            item = value[0] if isinstance(value, list) and len(value) == 1 else value
            _put(flat, str(key), item, conflicts)
    if conflicts:
        for path in conflicts:
            flat.pop(path, None)
    return flat


# Values that are never objects: checking their exact type first skips the much slower
# isinstance(value, Mapping) for almost every value of a document.
_LEAF_TYPES: Final = frozenset({str, int, float, bool, type(None), list})


def _flatten_into(
    flat: dict[str, Any],
    node: Mapping[str, Any],
    prefix: str,
    objects: set[str] | None,
    conflicts: set[str] | None,
) -> None:
    # An explicit stack, not recursion: a deeply nested document must not hit the
    # interpreter's recursion limit. The conflict check is inlined because it runs for every
    # value of every hit.
    stack: list[tuple[Mapping[str, Any], str]] = [(node, prefix)]
    while stack:
        current, base = stack.pop()
        for key, value in current.items():
            path = f"{base}{key}"
            kind = type(value)
            if kind is dict or (kind not in _LEAF_TYPES and isinstance(value, Mapping)):
                if objects is not None:
                    objects.add(path)
                stack.append((value, f"{path}."))
                continue
            if path in flat and flat[path] != value:
                if conflicts is None:
                    raise FieldConflictError(f"{path} appears twice with different values")
                conflicts.add(path)
            flat[path] = value


def _put(flat: dict[str, Any], path: str, value: Any, conflicts: set[str] | None) -> None:
    if path in flat and flat[path] != value:
        if conflicts is None:
            raise FieldConflictError(f"{path} appears twice with different values")
        conflicts.add(path)
    flat[path] = value
