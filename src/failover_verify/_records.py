"""Typed gateway log records, parsed from Elasticsearch hits of any shape."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field

from failover_verify import _fields as f
from failover_verify._exceptions import UsageError
from failover_verify._model import Model

__all__ = [
    "CompletionRecord",
    "ParseProblem",
    "Record",
    "RegistryRecord",
    "ServedRecord",
    "parse_hit",
]

_MAX_REASON = 300


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


def _as_string_list(value: object) -> object:
    if value is None or isinstance(value, list):
        return value
    return [value]


def _flag_text(value: object) -> object:
    # The gateway logs "yes"/"no"; a pipeline may turn them into booleans on the way.
    if isinstance(value, bool):
        return "yes" if value else "no"
    return _blank_to_none(value)


OptionalText = Annotated[str | None, BeforeValidator(_blank_to_none)]
FlagText = Annotated[str | None, BeforeValidator(_flag_text)]


_COMMON: Final = {
    "ingest_time": f.INGEST_TIME,
    "event_time": f.EVENT_TIME,
    "logger": f.LOGGER,
    "level": f.LEVEL,
    "severity": f.SEVERITY,
    "correlation_id": f.CORRELATION_ID,
    "service_name": f.SERVICE_NAME,
    "revision_name": f.REVISION_NAME,
    "location": f.LOCATION,
}


class _RecordBase(Model):
    """What every gateway record has. Each subclass is one log message.

    A subclass names its message (``MESSAGE``) and where each of its fields lives in a
    document (``PATHS``, attribute -> dotted path); :func:`parse_hit` reads any of them.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_max_length=1_000_000)

    MESSAGE: ClassVar[str]
    PATHS: ClassVar[Mapping[str, str]]

    index: str
    id: str
    ingest_time: AwareDatetime | None = Field(default=None, description="@timestamp, set at ingest")
    event_time: AwareDatetime | None = Field(
        default=None, description="json.jsonPayload.timestamp, when the gateway logged it"
    )
    message: str
    logger: OptionalText = None
    level: OptionalText = None
    severity: OptionalText = None
    correlation_id: OptionalText = None
    service_name: OptionalText = None
    revision_name: OptionalText = None
    location: OptionalText = None
    gitlab_context: dict[str, Any] = Field(default_factory=dict)


class CompletionRecord(_RecordBase):
    """A ``code completion input:`` record (logger ``codesuggestions``).

    ``prompt``, ``prefix`` and ``suffix`` hold users' code; they are kept for callers that
    need them but never shown in evidence. The record's ``api_key`` field is not read at all.
    """

    MESSAGE: ClassVar[str] = f.COMPLETION_MESSAGE
    PATHS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            **_COMMON,
            "model_provider": f.MODEL_PROVIDER,
            "model_name": f.MODEL_NAME,
            "current_file_name": f.CURRENT_FILE_NAME,
            "stream": f.STREAM,
            "prompt": f.PROMPT,
            "prefix": f.PREFIX,
            "suffix": f.SUFFIX,
        }
    )

    kind: Literal["completion"] = "completion"
    model_provider: OptionalText = None
    model_name: OptionalText = None
    current_file_name: OptionalText = None
    stream: bool | None = None
    prompt: str | None = Field(default=None, repr=False)
    prefix: str | None = Field(default=None, repr=False)
    suffix: str | None = Field(default=None, repr=False)


class RegistryRecord(_RecordBase):
    """A ``Returning prompt from the registry`` record (logger ``prompts``), any era."""

    MESSAGE: ClassVar[str] = f.REGISTRY_MESSAGE
    PATHS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            **_COMMON,
            "prompt_id": f.PROMPT_ID,
            "prompt_name": f.PROMPT_NAME,
            "prompt_version": f.PROMPT_VERSION,
            "model_identifier": f.MODEL_IDENTIFIER,
            "model_class_provider": f.MODEL_CLASS_PROVIDER,
            "enabled_by_namespace_ids": f.ENABLED_BY_NAMESPACES,
        }
    )

    kind: Literal["registry"] = "registry"
    prompt_id: OptionalText = None
    prompt_name: OptionalText = None
    prompt_version: OptionalText = None
    model_identifier: OptionalText = None
    model_class_provider: OptionalText = None
    enabled_by_namespace_ids: Annotated[
        list[int | str] | None, BeforeValidator(_as_string_list)
    ] = None


class ServedRecord(_RecordBase):
    """A ``Request to LLM complete`` record: which model answered one call, and whether it failed.

    Logged for every call to a model (ai-assist ``ai_gateway/instrumentators/model_requests.py``),
    with the model fields since 2026-07-13 (``968638cf1``); ``model_name`` is the provider's name
    for the model (``claude-sonnet-4-6``, ``codestral-2508``), ``error`` is ``yes`` or ``no``.
    """

    MESSAGE: ClassVar[str] = f.SERVED_MESSAGE
    PATHS: ClassVar[Mapping[str, str]] = MappingProxyType(
        {
            **_COMMON,
            "unit_primitive": f.UNIT_PRIMITIVE,
            "model_engine": f.MODEL_ENGINE,
            "model_name": f.MODEL_NAME,
            "error": f.ERROR,
            "error_type": f.ERROR_TYPE,
            "feature_category": f.FEATURE_CATEGORY,
            "streaming": f.STREAMING,
            "finish_reason": f.FINISH_REASON,
        }
    )

    kind: Literal["served"] = "served"
    unit_primitive: OptionalText = None
    model_engine: OptionalText = None
    model_name: OptionalText = None
    error: FlagText = None
    error_type: OptionalText = None
    feature_category: OptionalText = None
    streaming: FlagText = None
    finish_reason: OptionalText = None


Record = CompletionRecord | RegistryRecord | ServedRecord
# Every record kind parse_hit reads; a new kind is a new class above and an entry here.
RECORD_TYPES: Final[tuple[type[Record], ...]] = (CompletionRecord, RegistryRecord, ServedRecord)


class ParseProblem(Model):
    """A hit that could not be read as a record: counted and shown, never fatal."""

    model_config = ConfigDict(frozen=True)

    index: str | None
    id: str | None
    reason: str


_CONTEXT_START: Final = len(f.PAYLOAD) + 1

# Per record message: the model, its field -> path map, and the reverse for one lookup per key.
_KINDS: Final[dict[str, tuple[type[Record], Mapping[str, str], Mapping[str, str]]]] = {
    kind.MESSAGE: (kind, kind.PATHS, {path: name for name, path in kind.PATHS.items()})
    for kind in RECORD_TYPES
}


def parse_hit(hit: Mapping[str, Any]) -> Record | ParseProblem | None:
    """Read one Elasticsearch hit.

    Returns the record, a :class:`ParseProblem` saying why the hit is unreadable, or ``None``
    for a well-formed hit of some other gateway message (those are not ours to count).
    """
    # Callers pass decoded JSON, which can be anything; the dict test first skips the slow
    # isinstance against the Mapping ABC for the usual case.
    if type(hit) is not dict and not isinstance(hit, Mapping):
        return ParseProblem(  # type: ignore[unreachable]
            index=None, id=None, reason=f"a hit must be an object, not {type(hit).__name__}"
        )
    index, doc_id = _text_or_none(hit.get("_index")), _text_or_none(hit.get("_id"))
    objects: set[str] = set()
    try:
        flat = f.flatten_hit(hit, objects)
    except f.FieldConflictError as exc:
        return ParseProblem(index=index, id=doc_id, reason=_clip(str(exc)))
    kind = _kind(flat, objects)
    if kind is None:
        return None
    if isinstance(kind, str):
        return ParseProblem(index=index, id=doc_id, reason=kind)
    model, paths, names = kind
    if index is None or doc_id is None:
        return ParseProblem(index=index, id=doc_id, reason="the hit has no _index or _id")
    misplaced = _object_in_place_of_value(flat, objects, paths, names)
    if misplaced is not None:
        return ParseProblem(index=index, id=doc_id, reason=f"{misplaced} is an object, not a value")
    values: dict[str, Any] = {"index": index, "id": doc_id, "message": flat[f.MESSAGE]}
    context: dict[str, Any] = {}
    # One pass over the hit's paths fills the record's fields and its GitLab context: a lookup
    # per path costs far less than a scan of the hit per field.
    for path, value in flat.items():
        name = names.get(path)
        if name is not None:
            values[name] = value
        elif path.startswith(f.GITLAB_CONTEXT_PREFIX) and path != f.ENABLED_BY_NAMESPACES:
            context[path[_CONTEXT_START:]] = value
    if context:
        values["gitlab_context"] = context
    try:
        return model.model_validate(values)
    except UsageError as exc:
        return ParseProblem(index=index, id=doc_id, reason=_describe(exc, paths))


def _kind(
    flat: Mapping[str, Any], objects: set[str]
) -> tuple[type[Record], Mapping[str, str], Mapping[str, str]] | str | None:
    """The record model and field maps for a hit's message, a problem, or None if not ours."""
    message = flat.get(f.MESSAGE)
    if f.MESSAGE in objects:
        return f"{f.MESSAGE} is an object, not text"
    if isinstance(message, str):
        return _KINDS.get(message)
    if message is None:
        return None
    return f"{f.MESSAGE} is a {type(message).__name__}, not text"


def _object_in_place_of_value(
    flat: Mapping[str, Any], objects: set[str], paths: Mapping[str, str], names: Mapping[str, str]
) -> str | None:
    """The first field path that holds an object: it must not pass for a missing value."""
    # Most hits hold no object at any field path; the set test spares them the loop.
    if not objects or objects.isdisjoint(names):
        return None
    for path in paths.values():
        if path in objects and path not in flat:
            return path
    return None


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _describe(exc: UsageError, paths: Mapping[str, str]) -> str:
    if not exc.details:
        return _clip(str(exc))
    first = exc.details[0]
    location = first["loc"][0] if first.get("loc") else ""
    name = paths.get(str(location), str(location))
    more = len(exc.details) - 1
    suffix = f" (and {more} more)" if more else ""
    return _clip(f"{name}: {first['msg']}{suffix}")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
