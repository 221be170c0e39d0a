"""Classification policy: which provider counts as primary and which as failover.

The policy is data (a TOML file), because which side is "failover" changes over time and
differs per feature: completion fails over *to* anthropic, generation fails over *from* it.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from fnmatch import fnmatchcase
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Final

from pydantic import Field

from failover_verify._exceptions import FailoverVerifyError, PolicyError
from failover_verify._model import Model
from failover_verify._signals import FactValue, Setting, Signal, signals_for
from failover_verify._types import FEATURES, Feature, Role

__all__ = ["Policy", "Rule"]

NONE_PATTERN: Final = "<none>"
_RULE_KEYS: Final = frozenset({"role", "note"})


class Rule(Model):
    """If every condition holds, the record has ``role``."""

    invalid_error: ClassVar[type[FailoverVerifyError]] = PolicyError

    role: Role
    conditions: dict[str, tuple[str, ...]]
    note: str = ""

    def applies_to(self, values: Mapping[str, FactValue]) -> bool:
        """Whether the rule tests only keys the values have (those a signal offers)."""
        return all(key in values for key in self.conditions)

    def matches(self, values: Mapping[str, FactValue]) -> bool:
        return all(
            _matches_any(values.get(key), patterns) for key, patterns in self.conditions.items()
        )

    def describe(self) -> str:
        parts = [f"{key} in [{', '.join(patterns)}]" for key, patterns in self.conditions.items()]
        return f"{self.role} if {' and '.join(parts) or 'always'}"


def _matches_any(value: FactValue, patterns: tuple[str, ...]) -> bool:
    if value is None or value == ():
        return NONE_PATTERN in patterns
    # A fact with several values (a model's families) matches if any of them does.
    candidates = (value,) if isinstance(value, str) else value
    return any(
        pattern != NONE_PATTERN and fnmatchcase(candidate, pattern)
        for pattern in patterns
        for candidate in candidates
    )


class Policy(Model):
    """Ordered rules per feature, and the settings its signals read (such as prompt ids).

    A rule applies to the records of every signal of its feature that offers all the keys the
    rule tests; the first applicable rule that matches decides the role.
    """

    invalid_error: ClassVar[type[FailoverVerifyError]] = PolicyError

    source: str = Field(description="where the policy came from")
    rules: dict[Feature, tuple[Rule, ...]]
    settings: dict[Feature, dict[str, tuple[str, ...]]]

    @property
    def completion(self) -> tuple[Rule, ...]:
        return self.rules_for("completion")

    @property
    def generation(self) -> tuple[Rule, ...]:
        return self.rules_for("generation")

    @property
    def generation_prompt_ids(self) -> tuple[str, ...]:
        return self.settings["generation"]["prompt_ids"]

    @classmethod
    def default(cls) -> Policy:
        """The policy shipped with the package, which reproduces the runbook."""
        text = resources.files("failover_verify").joinpath("data/policy.toml").read_text("utf-8")
        return cls.from_toml(text, source="built-in runbook policy")

    @classmethod
    def from_file(cls, path: str | Path) -> Policy:
        location = Path(path)
        try:
            text = location.read_text("utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read the policy file {location}: {exc}") from exc
        return cls.from_toml(text, source=str(location))

    @classmethod
    def from_toml(cls, text: str, *, source: str) -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"the policy {source} is not valid TOML: {exc}") from exc
        return cls._from_mapping(data, source=source)

    @classmethod
    def _from_mapping(cls, data: Mapping[str, Any], *, source: str) -> Policy:
        unknown = set(data) - {"schema", *FEATURES}
        if unknown:
            raise PolicyError(
                f"the policy {source} has unknown top-level keys {sorted(unknown)}; "
                f"allowed: schema, {', '.join(FEATURES)}"
            )
        if data.get("schema") != 1:
            raise PolicyError(
                f"the policy {source} must say schema = 1 (got {data.get('schema')!r})"
            )
        rules: dict[Feature, tuple[Rule, ...]] = {}
        settings: dict[Feature, dict[str, tuple[str, ...]]] = {}
        for feature in FEATURES:
            section = data.get(feature)
            if not isinstance(section, Mapping):
                raise PolicyError(f"the policy {source} needs a [{feature}] table")
            signals = signals_for(feature)
            specs = {name: spec for signal in signals for name, spec in signal.settings.items()}
            wanted = set(specs)
            unknown = set(section) - {"rules", *wanted}
            if unknown:
                raise PolicyError(
                    f"the policy {source} has unknown keys {sorted(unknown)} in [{feature}]; "
                    f"allowed: {', '.join(sorted({'rules', *wanted}))}"
                )
            rules[feature] = _read_rules(section.get("rules"), feature, signals, source)
            settings[feature] = {
                name: _read_setting(section.get(name), feature, name, specs[name], source)
                for name in sorted(wanted)
            }
        return cls(source=source, rules=rules, settings=settings)

    def rules_for(self, feature: Feature) -> tuple[Rule, ...]:
        return self.rules[feature]

    def classify(self, feature: Feature, values: Mapping[str, FactValue]) -> Rule | None:
        """The first rule that applies to ``values`` and matches, or ``None``: unclassified."""
        for rule in self.rules_for(feature):
            if rule.applies_to(values) and rule.matches(values):
                return rule
        return None

    def settings_for(self, signal: Signal) -> dict[str, tuple[str, ...]]:
        return self.settings[signal.feature]


def _read_rules(
    raw: object, feature: Feature, signals: tuple[Signal, ...], source: str
) -> tuple[Rule, ...]:
    where = f"the policy {source}, [[{feature}.rules]]"
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where}: at least one rule is needed")
    allowed = frozenset().union(*(signal.condition_keys for signal in signals))
    rules = []
    for number, entry in enumerate(raw, start=1):
        if not isinstance(entry, Mapping):
            raise PolicyError(f"{where} #{number} is not a table")
        role = entry.get("role")
        if role not in ("primary", "failover"):
            raise PolicyError(
                f'{where} #{number}: role must be "primary" or "failover", not {role!r}'
            )
        note = entry.get("note", "")
        if not isinstance(note, str):
            raise PolicyError(f"{where} #{number}: note must be text")
        conditions: dict[str, tuple[str, ...]] = {}
        for key, value in entry.items():
            if key in _RULE_KEYS:
                continue
            if key not in allowed:
                raise PolicyError(
                    f"{where} #{number}: unknown condition {key!r}; "
                    f"{feature} rules may use {', '.join(sorted(allowed))}"
                )
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(item, str) and item for item in value)
            ):
                raise PolicyError(f"{where} #{number}: {key} must be a non-empty list of patterns")
            conditions[key] = tuple(value)
        if not conditions:
            raise PolicyError(
                f"{where} #{number} has no condition; name at least one of {sorted(allowed)}"
            )
        if not any(set(conditions) <= signal.condition_keys for signal in signals):
            offered = "; ".join(
                f"{signal.title}: {', '.join(sorted(signal.condition_keys))}" for signal in signals
            )
            raise PolicyError(
                f"{where} #{number} tests {', '.join(sorted(conditions))}, which no one kind of "
                f"{feature} record has together ({offered})"
            )
        rules.append(Rule(role=role, conditions=conditions, note=note))
    return tuple(rules)


def _read_setting(
    raw: object, feature: Feature, name: str, spec: Setting, source: str
) -> tuple[str, ...]:
    if raw is None:
        # Policies written before the setting existed get its default.
        return spec.default
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(item, str) and item and not item.endswith("/") for item in raw)
    ):
        raise PolicyError(
            f"the policy {source}: [{feature}] {name} must be a non-empty list of {spec.meaning}"
        )
    return tuple(raw)
