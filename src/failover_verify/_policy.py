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
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from failover_verify._exceptions import PolicyError

__all__ = ["Feature", "Policy", "Role", "Rule"]

Feature = Literal["completion", "generation"]
Role = Literal["primary", "failover"]
FEATURES: Final[tuple[Feature, ...]] = ("completion", "generation")
NONE_PATTERN: Final = "<none>"

CONDITION_KEYS: Final[Mapping[Feature, frozenset[str]]] = {
    "completion": frozenset({"model_provider", "model_name"}),
    "generation": frozenset({"provider", "model", "prompt_version", "resolved_version"}),
}
_FEATURE_KEYS: Final[Mapping[Feature, frozenset[str]]] = {
    "completion": frozenset({"rules"}),
    "generation": frozenset({"rules", "prompt_ids"}),
}
_RULE_KEYS: Final = frozenset({"role", "note"})


class Rule(BaseModel):
    """If every condition holds, the record has ``role``."""

    model_config = ConfigDict(frozen=True)

    role: Role
    conditions: dict[str, tuple[str, ...]]
    note: str = ""

    def matches(self, values: Mapping[str, str | None]) -> bool:
        return all(
            _matches_any(values.get(key), patterns) for key, patterns in self.conditions.items()
        )

    def describe(self) -> str:
        parts = [f"{key} in [{', '.join(patterns)}]" for key, patterns in self.conditions.items()]
        return f"{self.role} if {' and '.join(parts) or 'always'}"


def _matches_any(value: str | None, patterns: tuple[str, ...]) -> bool:
    if value is None:
        return NONE_PATTERN in patterns
    return any(pattern != NONE_PATTERN and fnmatchcase(value, pattern) for pattern in patterns)


class Policy(BaseModel):
    """Ordered rules per feature, plus which registry prompt ids are code generation."""

    model_config = ConfigDict(frozen=True)

    source: str = Field(description="where the policy came from")
    completion: tuple[Rule, ...]
    generation: tuple[Rule, ...]
    generation_prompt_ids: tuple[str, ...]

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
        prompt_ids: tuple[str, ...] = ()
        for feature in FEATURES:
            section = data.get(feature)
            if not isinstance(section, Mapping):
                raise PolicyError(f"the policy {source} needs a [{feature}] table")
            unknown = set(section) - _FEATURE_KEYS[feature]
            if unknown:
                raise PolicyError(
                    f"the policy {source} has unknown keys {sorted(unknown)} in [{feature}]; "
                    f"allowed: {', '.join(sorted(_FEATURE_KEYS[feature]))}"
                )
            rules[feature] = _read_rules(section.get("rules"), feature, source)
            if feature == "generation":
                prompt_ids = _read_prompt_ids(section.get("prompt_ids"), source)
        return cls(
            source=source,
            completion=rules["completion"],
            generation=rules["generation"],
            generation_prompt_ids=prompt_ids,
        )

    def rules_for(self, feature: Feature) -> tuple[Rule, ...]:
        return self.completion if feature == "completion" else self.generation

    def classify(self, feature: Feature, values: Mapping[str, str | None]) -> Rule | None:
        """The first rule that matches, or ``None``: the record is unclassified."""
        for rule in self.rules_for(feature):
            if rule.matches(values):
                return rule
        return None

    def is_generation_prompt(self, prompt_id: str | None) -> bool:
        if prompt_id is None:
            return False
        return any(
            prompt_id == base or prompt_id.startswith(f"{base}/")
            for base in self.generation_prompt_ids
        )


def _read_rules(raw: object, feature: Feature, source: str) -> tuple[Rule, ...]:
    where = f"the policy {source}, [[{feature}.rules]]"
    if not isinstance(raw, list) or not raw:
        raise PolicyError(f"{where}: at least one rule is needed")
    allowed = CONDITION_KEYS[feature]
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
        rules.append(Rule(role=role, conditions=conditions, note=note))
    return tuple(rules)


def _read_prompt_ids(raw: object, source: str) -> tuple[str, ...]:
    if (
        not isinstance(raw, list)
        or not raw
        or not all(isinstance(item, str) and item and not item.endswith("/") for item in raw)
    ):
        raise PolicyError(
            f"the policy {source}: [generation] prompt_ids must be a non-empty list of prompt ids "
            'such as ["code_suggestions/generations"]'
        )
    return tuple(raw)
