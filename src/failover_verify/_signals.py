"""The signals: each kind of gateway record that shows which provider served a feature.

One :class:`Signal` entry holds everything the rest of the package knows about a signal: the
record it is read from (its log message, parser model and field paths, on the record class),
the filters that select it, the fields it is counted by and which of them it cannot do
without, the policy condition keys it offers, how a group of its records is turned into
classification facts, the evidence and Kibana columns shown, and which feature it is evidence
for. Queries, parsing, the policy, summaries, timelines, exports and links loop over
:data:`SIGNALS`; adding a signal is adding an entry here (and, for a new log message, its
record class in ``_records.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from failover_verify import _fields as f
from failover_verify._records import CompletionRecord, Record, RegistryRecord
from failover_verify._registry import PromptRegistry, Resolution
from failover_verify._types import NONE_KEY, UNRESOLVED_KEY, Feature

__all__ = [
    "SIGNALS",
    "Condition",
    "Signal",
    "signals_for",
]

Settings = Mapping[str, tuple[str, ...]]
"""A signal's policy settings, such as the generation prompt ids: name -> values."""


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
class Facts:
    """How the policy sees one group of records, and what the report shows for it."""

    conditions: Mapping[str, str | None]
    """The values the policy's conditions are matched against."""
    provider: str
    model: str
    resolution: Resolution | None = None
    why_unmatched: str = ""
    """Added to "no policy rule matches" when nothing matched (e.g. an unresolved version)."""


FactsOf = Callable[[Mapping[str, str | None], PromptRegistry], Facts]


@dataclass(frozen=True)
class Signal:
    """One kind of record, selected and counted one way, as evidence for one feature."""

    feature: Feature
    key: str
    """The signal's name within its feature (``input``, ``registry``)."""
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
    """Turns a group's values into classification facts."""
    selects: Callable[[Settings], tuple[Condition, ...]] = lambda _settings: ()
    """Filters beyond the message, from the policy's settings for the feature."""
    settings: Mapping[str, str] = field(default_factory=dict)
    """Policy settings the signal reads (name -> what it holds), for validation and help."""
    counted_by: Mapping[str, str] = field(default_factory=dict)
    """Extra per-value counts in the report: report name -> group field."""
    discover_columns: tuple[str, ...] = ()
    evidence_fields: tuple[str, ...] = ()

    @property
    def id(self) -> str:
        return f"{self.feature}.{self.key}"

    @property
    def message(self) -> str:
        return self.record.MESSAGE

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


def _completion_facts(values: Mapping[str, str | None], _registry: PromptRegistry) -> Facts:
    provider, model = values.get("model_provider"), values.get("model_name")
    return Facts(
        conditions={"model_provider": provider, "model_name": model},
        provider=provider or NONE_KEY,
        model=model or NONE_KEY,
    )


def _generation_facts(values: Mapping[str, str | None], registry: PromptRegistry) -> Facts:
    resolution = registry.resolve(
        values.get("prompt_id"),
        values.get("prompt_version"),
        model_class_provider=values.get("model_class_provider"),
        model_identifier=values.get("model_identifier"),
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
            "prompt_version": values.get("prompt_version"),
            "resolved_version": resolution.resolved_version,
        },
        provider=resolution.provider or UNRESOLVED_KEY,
        model=resolution.model or UNRESOLVED_KEY,
        resolution=resolution,
        why_unmatched=why,
    )


def _generation_prompts(settings: Settings) -> tuple[Condition, ...]:
    # Records name the resolved folder (".../base") until 2025-09 and the requested id since,
    # so a configured id matches itself and everything under it.
    return (Condition(f.PROMPT_ID, settings["prompt_ids"], "under"),)


SIGNALS: Final[tuple[Signal, ...]] = (
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
        facts=_completion_facts,
        discover_columns=(f.MODEL_PROVIDER, f.MODEL_NAME, f.CORRELATION_ID),
        evidence_fields=(f.MODEL_PROVIDER, f.MODEL_NAME),
    ),
    Signal(
        feature="generation",
        key="registry",
        title='"Returning prompt from the registry" records of code generation prompts',
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
        condition_keys=frozenset({"provider", "model", "prompt_version", "resolved_version"}),
        facts=_generation_facts,
        selects=_generation_prompts,
        settings=MappingProxyType(
            {
                "prompt_ids": (
                    'registry prompt ids of code generation, e.g. "code_suggestions/generations"'
                )
            }
        ),
        counted_by=MappingProxyType({"by_prompt_version": "prompt_version"}),
        discover_columns=(
            f.PROMPT_ID,
            f.PROMPT_VERSION,
            f.MODEL_CLASS_PROVIDER,
            f.MODEL_IDENTIFIER,
        ),
        evidence_fields=(
            f.PROMPT_ID,
            f.PROMPT_NAME,
            f.PROMPT_VERSION,
            f.MODEL_IDENTIFIER,
            f.MODEL_CLASS_PROVIDER,
        ),
    ),
)


def signals_for(feature: Feature) -> tuple[Signal, ...]:
    """The signals that are evidence for ``feature``, strongest first."""
    return tuple(signal for signal in SIGNALS if signal.feature == feature)
