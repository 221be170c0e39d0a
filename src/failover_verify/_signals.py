"""The signals: each kind of gateway record that shows which provider served a feature.

One :class:`Signal` entry holds everything the rest of the package knows about a signal: the
record it is read from (its log message, parser model and field paths, on the record class),
the filters that select it, the fields it is counted by and which of them it cannot do
without, the policy condition keys it offers, how a group of its records is turned into
classification facts, the evidence and Kibana columns shown, and which feature it is evidence
for. Queries, parsing, the policy, summaries, timelines, exports and links loop over
:data:`SIGNALS`; adding a signal is adding an entry here (and, for a new log message, its
record class in ``_records.py``).

Signals are listed strongest first within a feature: the record of the model that answered
(``served``), then the prompt registry record every request logs (``registry``), then the
expanded-logging sample (``input``). A feature's verdict comes from its strongest signal that
can tell; the others corroborate it, so no request is counted twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Final, Literal

from failover_verify import _fields as f
from failover_verify._gateway import GatewayFacts
from failover_verify._records import CompletionRecord, Record, RegistryRecord, ServedRecord
from failover_verify._registry import Resolution
from failover_verify._types import NONE_KEY, UNRESOLVED_KEY, Feature

__all__ = [
    "SIGNALS",
    "Condition",
    "FactValue",
    "Knowledge",
    "Setting",
    "Signal",
    "signals_for",
]

Settings = Mapping[str, tuple[str, ...]]
"""A feature's policy settings, such as its registry prompt ids: name -> values."""
FactValue = str | tuple[str, ...] | None


@dataclass(frozen=True)
class Condition:
    """One filter of a signal: the document ``field`` equals (or lies under) one of ``values``."""

    field: str
    values: tuple[str, ...]
    kind: Literal["equals", "under"] = "equals"

    def holds(self, value: object) -> bool:
        """Whether a record's value passes this filter (for records read one by one)."""
        if not isinstance(value, str):
            return False
        if self.kind == "equals":
            return value in self.values
        return any(value == base or value.startswith(f"{base}/") for base in self.values)


@dataclass(frozen=True)
class Setting:
    """A policy setting a signal reads, with what it holds and its value when not given."""

    meaning: str
    default: tuple[str, ...]


@dataclass(frozen=True)
class Knowledge:
    """What classifying needs besides a group's values: the gateway's facts and the settings."""

    gateway: GatewayFacts
    settings: Settings


@dataclass(frozen=True)
class Facts:
    """How the policy sees one group of records, and what the report shows for it."""

    conditions: Mapping[str, FactValue]
    """The values the policy's conditions are matched against."""
    provider: str
    model: str
    resolution: Resolution | None = None
    why_unmatched: str = ""
    """Added to "no policy rule matches" when nothing matched (e.g. an unresolved version)."""
    indistinct: bool = False
    """The records cannot tell the roles apart in their era (both sides use the same model)."""


FactsOf = Callable[[Mapping[str, str | None], Knowledge, datetime | None], Facts]


@dataclass(frozen=True)
class Signal:
    """One kind of record, selected and counted one way, as evidence for one feature."""

    feature: Feature
    key: str
    """The signal's name within its feature (``served``, ``registry``, ``input``)."""
    title: str
    """What the records are, for reports and notes."""
    record: type[Record]
    """The parser model; it names the log message and the field paths."""
    group_fields: Mapping[str, str]
    """Record attribute -> document path, for each field the records are counted by."""
    required: frozenset[str]
    """Group fields without which the records cannot be classified at all."""
    condition_keys: frozenset[str]
    """The keys a policy rule may test for this signal."""
    facts: FactsOf
    """Turns a group's values (at a time, for the facts of its era) into classification facts."""
    selects: Callable[[Settings], tuple[Condition, ...]] = lambda _settings: ()
    """Filters beyond the message, from the policy's settings for the feature."""
    settings: Mapping[str, Setting] = field(default_factory=dict)
    """Policy settings the signal reads, for validation, defaults and help."""
    counted_by: Mapping[str, str] = field(default_factory=dict)
    """Extra per-value counts in the report: report name -> group field."""
    error_field: str | None = None
    """The group field that says a call failed (``yes``), for errors per model."""
    discover_columns: tuple[str, ...] = ()
    evidence_fields: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.feature}.{self.key}"

    @property
    def message(self) -> str:
        return self.record.MESSAGE

    def defaults(self) -> Settings:
        """The settings of every signal of this feature at their defaults."""
        return {
            name: spec.default
            for signal in signals_for(self.feature)
            for name, spec in signal.settings.items()
        }

    def conditions(self, settings: Settings) -> tuple[Condition, ...]:
        """Every filter that selects this signal's records: the message, then the others."""
        return (Condition(f.MESSAGE, (self.message,)), *self.selects(settings))

    def picks(self, record: Record, settings: Settings) -> bool:
        """Whether a parsed record belongs to this signal (for records read one by one)."""
        if not isinstance(record, self.record):
            return False
        names = {path: name for name, path in record.PATHS.items()}
        return all(
            condition.holds(getattr(record, names[condition.field], None))
            for condition in self.selects(settings)
        )

    def values_of(self, record: Record) -> dict[str, str | None]:
        """A record's group field values, as an aggregation bucket would give them."""
        values: dict[str, str | None] = {}
        for name in self.group_fields:
            value = getattr(record, name, None)
            values[name] = None if value is None else str(value)
        return values


# --- completion ---------------------------------------------------------------------------


def _completion_input_facts(
    values: Mapping[str, str | None], _knowledge: Knowledge, _at: datetime | None
) -> Facts:
    provider, model = values.get("model_provider"), values.get("model_name")
    return Facts(
        conditions={"model_provider": provider, "model_name": model},
        provider=provider or NONE_KEY,
        model=model or NONE_KEY,
    )


def _completion_registry_facts(
    values: Mapping[str, str | None], knowledge: Knowledge, at: datetime | None
) -> Facts:
    identifier = values.get("model_identifier")
    class_provider = values.get("model_class_provider")
    era = knowledge.gateway.era_at(at)
    model = era.models.get(identifier) if era is not None and identifier else None
    provider = model.provider if model is not None else None
    if provider is None and class_provider == "anthropic":
        # The anthropic class calls Anthropic's API itself (ai_gateway/prompts/container.py).
        provider = "anthropic"
    return Facts(
        conditions={
            "model_class_provider": class_provider,
            "model": identifier,
            "family": model.family if model is not None else None,
            "provider": provider,
            "prompt_name": values.get("prompt_name"),
        },
        provider=provider or (f"({class_provider})" if class_provider else UNRESOLVED_KEY),
        model=identifier or values.get("prompt_name") or NONE_KEY,
    )


def _served_facts(
    values: Mapping[str, str | None], knowledge: Knowledge, at: datetime | None
) -> Facts:
    engine, name = values.get("model_engine"), values.get("model_name")
    model = knowledge.gateway.model_named(engine, name, at)
    return Facts(
        conditions={
            "model_name": name,
            "model_engine": engine,
            "model": model.identifier if model is not None else None,
            "family": model.family if model is not None else None,
            "provider": model.provider if model is not None else None,
        },
        provider=(model.provider if model is not None else None) or UNRESOLVED_KEY,
        model=name or NONE_KEY,
    )


def _generation_served_facts(
    values: Mapping[str, str | None], knowledge: Knowledge, at: datetime | None
) -> Facts:
    base = _served_facts(values, knowledge, at)
    name = values.get("model_name")
    # Which requested version's model served this call, in the era of the call.
    prompt_id = knowledge.settings["prompt_ids"][0]
    matches = []
    for version in knowledge.settings["versions"]:
        resolution = knowledge.gateway.resolve(prompt_id, version, at=at)
        if name is not None and name in (resolution.model_name, resolution.model):
            matches.append(version)
    as_version: str | None = matches[0] if len(matches) == 1 else None
    why, indistinct = "", False
    if len(matches) > 1:
        indistinct = True
        why = (
            f"in this era {' and '.join(matches)} resolve to the same model {name}, so served "
            "records cannot tell the roles apart"
        )
    elif not matches:
        versions = ", ".join(knowledge.settings["versions"])
        why = f"model {name or '(none)'} is not what any of {versions} resolve to in this era"
    return Facts(
        conditions={**base.conditions, "as_version": as_version},
        provider=base.provider,
        model=base.model,
        why_unmatched=why,
        indistinct=indistinct,
    )


def _generation_registry_facts(
    values: Mapping[str, str | None], knowledge: Knowledge, at: datetime | None
) -> Facts:
    resolution = knowledge.gateway.resolve(
        values.get("prompt_id"),
        values.get("prompt_version"),
        at=at,
        model_identifier=values.get("model_identifier"),
        model_class_provider=values.get("model_class_provider"),
    )
    why = (
        ""
        if resolution.status == "resolved"
        else f"prompt version not resolved: {resolution.detail}"
    )
    return Facts(
        conditions={
            "provider": resolution.provider,
            "model": resolution.model,
            "family": resolution.family or None,
            "prompt_version": values.get("prompt_version"),
            "resolved_version": resolution.resolved_version,
        },
        provider=resolution.provider or UNRESOLVED_KEY,
        model=resolution.model or UNRESOLVED_KEY,
        resolution=resolution,
        why_unmatched=why,
    )


def _prompts(settings: Settings) -> tuple[Condition, ...]:
    # Records name the resolved folder (".../base") until 2025-09 and the requested id since,
    # so a configured id matches itself and everything under it.
    return (Condition(f.PROMPT_ID, settings["prompt_ids"], "under"),)


def _unit_primitive(name: str) -> Callable[[Settings], tuple[Condition, ...]]:
    return lambda _settings: (Condition(f.UNIT_PRIMITIVE, (name,)),)


_SERVED_FIELDS: Final = MappingProxyType(
    {"model_engine": f.MODEL_ENGINE, "model_name": f.MODEL_NAME, "error": f.ERROR}
)
_SERVED_KEYS: Final = frozenset({"model_name", "model_engine", "model", "family", "provider"})
_SERVED_EVIDENCE: Final = (f.UNIT_PRIMITIVE, f.MODEL_ENGINE, f.MODEL_NAME, f.ERROR, f.ERROR_TYPE)
_REGISTRY_EVIDENCE: Final = (
    f.PROMPT_ID,
    f.PROMPT_NAME,
    f.PROMPT_VERSION,
    f.MODEL_IDENTIFIER,
    f.MODEL_CLASS_PROVIDER,
)
_REGISTRY_COLUMNS: Final = (
    f.PROMPT_ID,
    f.PROMPT_VERSION,
    f.MODEL_CLASS_PROVIDER,
    f.MODEL_IDENTIFIER,
)

SIGNALS: Final[tuple[Signal, ...]] = (
    Signal(
        feature="completion",
        key="served",
        title='"Request to LLM complete" records of complete_code',
        record=ServedRecord,
        group_fields=_SERVED_FIELDS,
        required=frozenset({"model_name"}),
        condition_keys=_SERVED_KEYS,
        facts=_served_facts,
        selects=_unit_primitive("complete_code"),
        error_field="error",
        discover_columns=(f.MODEL_ENGINE, f.MODEL_NAME, f.ERROR, f.ERROR_TYPE),
        evidence_fields=_SERVED_EVIDENCE,
    ),
    Signal(
        feature="completion",
        key="registry",
        title='"Returning prompt from the registry" records of code completion',
        record=RegistryRecord,
        group_fields=MappingProxyType(
            {
                "model_class_provider": f.MODEL_CLASS_PROVIDER,
                "model_identifier": f.MODEL_IDENTIFIER,
                "prompt_name": f.PROMPT_NAME,
            }
        ),
        required=frozenset(),
        condition_keys=frozenset(
            {"model_class_provider", "model", "family", "provider", "prompt_name"}
        ),
        facts=_completion_registry_facts,
        selects=_prompts,
        settings=MappingProxyType(
            {
                "prompt_ids": Setting(
                    'registry prompt ids of code completion, e.g. "code_suggestions/completions"',
                    ("code_suggestions/completions",),
                )
            }
        ),
        discover_columns=(f.PROMPT_ID, f.MODEL_CLASS_PROVIDER, f.MODEL_IDENTIFIER, f.PROMPT_NAME),
        evidence_fields=_REGISTRY_EVIDENCE,
    ),
    Signal(
        feature="completion",
        key="input",
        title='"code completion input:" records',
        record=CompletionRecord,
        group_fields=MappingProxyType(
            {"model_provider": f.MODEL_PROVIDER, "model_name": f.MODEL_NAME}
        ),
        required=frozenset({"model_provider"}),
        condition_keys=frozenset({"model_provider", "model_name"}),
        facts=_completion_input_facts,
        discover_columns=(f.MODEL_PROVIDER, f.MODEL_NAME, f.CORRELATION_ID),
        evidence_fields=(f.MODEL_PROVIDER, f.MODEL_NAME),
    ),
    Signal(
        feature="generation",
        key="served",
        title='"Request to LLM complete" records of generate_code',
        record=ServedRecord,
        group_fields=_SERVED_FIELDS,
        required=frozenset({"model_name"}),
        condition_keys=_SERVED_KEYS | {"as_version"},
        facts=_generation_served_facts,
        selects=_unit_primitive("generate_code"),
        error_field="error",
        discover_columns=(f.MODEL_ENGINE, f.MODEL_NAME, f.ERROR, f.ERROR_TYPE),
        evidence_fields=_SERVED_EVIDENCE,
    ),
    Signal(
        feature="generation",
        key="registry",
        title='"Returning prompt from the registry" records of code generation',
        record=RegistryRecord,
        group_fields=MappingProxyType(
            {
                "prompt_id": f.PROMPT_ID,
                "prompt_version": f.PROMPT_VERSION,
                "model_class_provider": f.MODEL_CLASS_PROVIDER,
                "model_identifier": f.MODEL_IDENTIFIER,
            }
        ),
        required=frozenset({"prompt_id", "prompt_version"}),
        condition_keys=frozenset(
            {"provider", "model", "family", "prompt_version", "resolved_version"}
        ),
        facts=_generation_registry_facts,
        selects=_prompts,
        settings=MappingProxyType(
            {
                "prompt_ids": Setting(
                    'registry prompt ids of code generation, e.g. "code_suggestions/generations"',
                    ("code_suggestions/generations",),
                ),
                "versions": Setting(
                    "requested prompt versions whose models identify served generation records",
                    ("2.0.0", "^1.0.0"),
                ),
            }
        ),
        counted_by=MappingProxyType({"by_prompt_version": "prompt_version"}),
        discover_columns=_REGISTRY_COLUMNS,
        evidence_fields=_REGISTRY_EVIDENCE,
    ),
)


def signals_for(feature: Feature) -> tuple[Signal, ...]:
    """The signals that are evidence for ``feature``, strongest first."""
    return tuple(signal for signal in SIGNALS if signal.feature == feature)
