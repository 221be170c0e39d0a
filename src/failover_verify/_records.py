"""Typed gateway log records, parsed from Elasticsearch hits of any shape."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import (
    AliasChoices,
    AliasPath,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    computed_field,
    create_model,
)

from failover_verify import _fields as f
from failover_verify._exceptions import UsageError
from failover_verify._model import Model

__all__ = [
    "NOT_OURS",
    "CompletionRecord",
    "ParseProblem",
    "Record",
    "RegistryRecord",
    "ServedRecord",
    "parse_fast",
    "parse_hit",
    "parse_hit_json",
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
    "log_time": f.LOG_TIME,
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
    log_time: AwareDatetime | None = Field(
        default=None, description="json.timestamp, the log entry's own time"
    )
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
    # The GitLab context is read only when asked for: a record parsed from JSON text keeps the
    # text, so the fast path never builds the dict of every gitlab_* field.
    _context: dict[str, Any] | bytes | None = PrivateAttr(default=None)

    @computed_field  # type: ignore[prop-decorator]
    @property
    def gitlab_context(self) -> dict[str, Any]:
        """The record's ``gitlab_*`` fields (realm, instance, user, version...), unprefixed."""
        context = self._context
        if context is None:
            return {}
        if isinstance(context, bytes):
            context = _context_of(context)
            self._context = context
        return context

    def __eq__(self, other: object) -> bool:
        # The context may still be JSON text on one side and parsed on the other.
        if not isinstance(other, _RecordBase) or type(other) is not type(self):
            return NotImplemented
        return self.__dict__ == other.__dict__ and self.gitlab_context == other.gitlab_context

    def __hash__(self) -> int:
        # Equal records share their hit's index and id; a list field would make pydantic's
        # hash over every field fail.
        return hash((type(self), self.index, self.id))


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
    conflicts: set[str] = set()
    try:
        flat = f.flatten_hit(hit, objects, conflicts)
    except f.FieldConflictError as exc:
        return ParseProblem(index=index, id=doc_id, reason=_clip(str(exc)))
    if f.MESSAGE in conflicts:
        return ParseProblem(index=index, id=doc_id, reason=_twice(f.MESSAGE))
    kind = _kind(flat, objects)
    if kind is None:
        return None
    if isinstance(kind, str):
        return ParseProblem(index=index, id=doc_id, reason=kind)
    model, paths, names = kind
    if index is None or doc_id is None:
        return ParseProblem(index=index, id=doc_id, reason="the hit has no _index or _id")
    # A path given twice with different values is refused only where the record reads it:
    # guessing which value is right could misreport. Elsewhere it is left out.
    if conflicts and not conflicts.isdisjoint(names):
        clash = min(conflicts.intersection(names))
        return ParseProblem(index=index, id=doc_id, reason=_clip(_twice(clash)))
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
    try:
        record = model.model_validate(values)
    except UsageError as exc:
        return ParseProblem(index=index, id=doc_id, reason=_describe(exc, paths))
    record._context = context
    return record


def _twice(path: str) -> str:
    return f"{path} appears twice with different values"


def _context_of(raw: bytes) -> dict[str, Any]:
    """The GitLab context of a hit kept as JSON text (parsed when first asked for)."""
    # Only hits that parse_fast read, so with an object for _source, keep their text here.
    flat = f.flatten_hit(json.loads(raw), conflicts=set())
    return {
        path[_CONTEXT_START:]: value
        for path, value in flat.items()
        if path.startswith(f.GITLAB_CONTEXT_PREFIX) and path != f.ENABLED_BY_NAMESPACES
    }


# --- the fast path: a hit's JSON text validated straight into a record by pydantic-core ------


# Hits whose _source has dotted keys, or that carry "fields", take the general path: these
# byte strings are in every such hit (and, rarely, inside a value, which only costs speed).
def _general_only(data: bytes) -> bool:
    # Plain substring tests (memchr-fast) beat one regex with alternatives here.
    return (
        b'"json.' in data
        or b"Payload." in data
        or b"resource." in data
        or b"labels." in data
        or b'"fields"' in data
        # A key may spell its dot as an escape.
        or b"\\u002e" in data
        or b"\\u002E" in data
    )


def _source_alias(path: str) -> AliasChoices:
    return AliasChoices(AliasPath("_source", *path.split(".")))


# Each before-validator of a record field, with the types it accepts from JSON: the wire model
# checks those in Rust, and the function itself then runs once in Python.
_RAW_TYPES: Final[dict[Callable[[Any], object], Any]] = {
    _blank_to_none: str | None,
    _flag_text: str | bool | None,
    _as_string_list: list[int | str] | int | str | None,
}


def _wire_model() -> tuple[type[BaseModel], dict[str, Callable[[Any], object]]]:
    """One model with every field of every record kind, read from nested ``_source``, and the
    Python normalisers to apply to its values."""
    fields: dict[str, Any] = {
        "index": (str | None, Field(None, validation_alias="_index")),
        "id": (str | None, Field(None, validation_alias="_id")),
        "message": (Any, Field(None, validation_alias=_source_alias(f.MESSAGE))),
    }
    normalisers: dict[str, Callable[[Any], object]] = {}
    for kind in RECORD_TYPES:
        for name, path in kind.PATHS.items():
            if name in fields:
                continue
            info = kind.model_fields[name]
            befores = [item.func for item in info.metadata if isinstance(item, BeforeValidator)]
            annotation: Any = info.annotation
            if befores and befores[0] in _RAW_TYPES:
                annotation = _RAW_TYPES[befores[0]]
                normalisers[name] = befores[0]
            elif info.metadata:
                annotation = Annotated[(info.annotation, *info.metadata)]
            fields[name] = (annotation, Field(None, validation_alias=_source_alias(path)))
    model = create_model("_WireHit", __config__=ConfigDict(str_max_length=1_000_000), **fields)
    return model, normalisers


_WIRE, _NORMALISERS = _wire_model()


# How a record's value is made from the wire's: as it is, blank text to None, or a normaliser.
_AS_IS: Final = 0
_BLANK: Final = 1


def _wire_plan(
    kind: type[Record],
) -> tuple[type[Record], str, tuple[tuple[str, int | Callable[[Any], object]], ...]]:
    """Per record kind: its fields in declaration order (so records compare and print as
    validated ones do), each with how its value is made, and its kind name."""
    plan: list[tuple[str, int | Callable[[Any], object]]] = []
    for name in kind.model_fields:
        normalise = _NORMALISERS.get(name)
        if normalise is None:
            plan.append((name, _AS_IS))
        elif normalise is _blank_to_none:
            plan.append((name, _BLANK))
        else:
            plan.append((name, normalise))
    return kind, kind.model_fields["kind"].default, tuple(plan)


_WIRE_PLANS: Final = {kind.MESSAGE: _wire_plan(kind) for kind in RECORD_TYPES}


def parse_hit_json(raw: bytes | str) -> Record | ParseProblem | None:
    """Read one hit from its JSON text, as :func:`parse_hit` reads it decoded.

    Hits with nested ``_source`` (the usual shape) are validated straight from the text by
    pydantic-core, without building Python objects for the fields no record reads; any other
    shape, and any hit the fast path cannot read, goes through :func:`parse_hit`, so both
    give the same result.
    """
    try:
        data = raw.encode() if isinstance(raw, str) else raw
    except UnicodeEncodeError:
        data = None  # lone surrogates: only the general path reads these
    outcome = GENERAL if data is None else parse_fast(data)
    if not isinstance(outcome, str):
        return outcome
    if outcome == NOT_OURS:
        return None
    try:
        decoded = json.loads(raw)
    except ValueError as exc:
        return ParseProblem(index=None, id=None, reason=_clip(f"the hit is not JSON ({exc})"))
    return parse_hit(decoded)


# What parse_fast says of a hit it gives no record for.
NOT_OURS: Final = "not ours"  # another gateway message: parse_hit gives None too
GENERAL: Final = "general"  # only parse_hit can read the hit, or say what is wrong with it
FastOutcome = Record | Literal["not ours", "general"]


def parse_fast(data: bytes) -> FastOutcome:
    """The fast path of :func:`parse_hit_json`: a record, or why there is none here."""
    if b'"_source"' not in data or _general_only(data):
        return GENERAL
    try:
        wire = _WIRE.model_validate_json(data)
    except ValidationError:
        return GENERAL
    return _from_wire(wire, data)


def _from_wire(wire: BaseModel, data: bytes) -> FastOutcome:
    values = wire.__dict__
    message = values["message"]
    if not isinstance(message, str):
        # Without a message the hit may still be malformed in a way parse_hit explains.
        return GENERAL
    plan = _WIRE_PLANS.get(message)
    if plan is None:
        return NOT_OURS
    # parse_hit refuses an empty _index or _id as it refuses a missing one.
    if not values["index"] or not values["id"]:
        return GENERAL
    model, values["kind"], steps = plan
    fields: dict[str, Any] = {}
    for name, step in steps:
        value = values[name]
        if value is not None and step is not _AS_IS:
            if step is _BLANK:
                # _blank_to_none, inlined: it runs for most fields of every record.
                if not value.strip():
                    value = None
            else:
                value = step(value)  # type: ignore[operator]
        fields[name] = value
    # Every field was validated above; building the instance directly skips pydantic's generic
    # model_construct, which costs more than the whole validation.
    record = model.__new__(model)
    object.__setattr__(record, "__dict__", fields)
    object.__setattr__(record, "__pydantic_fields_set__", set(fields))
    object.__setattr__(record, "__pydantic_extra__", None)
    object.__setattr__(record, "__pydantic_private__", {"_context": data})
    return record


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


# Record fields read from the hit itself, not from _source: a reason names them as the hit does.
_HIT_KEYS: Final = MappingProxyType({"index": "_index", "id": "_id"})


def _describe(exc: UsageError, paths: Mapping[str, str]) -> str:
    if not exc.details:
        return _clip(str(exc))
    first = exc.details[0]
    location = str(first["loc"][0]) if first.get("loc") else ""
    name = paths.get(location) or _HIT_KEYS.get(location) or location
    more = len(exc.details) - 1
    suffix = f" (and {more} more)" if more else ""
    return _clip(f"{name}: {first['msg']}{suffix}")


def _clip(text: str) -> str:
    return text if len(text) <= _MAX_REASON else text[: _MAX_REASON - 1] + "…"
