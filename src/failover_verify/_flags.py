"""The incident flags' state, read from GitLab's answers, and what each one expects.

Pure: :mod:`failover_verify._gitlab` asks GitLab; this module reads the answers. A flag that is
on expects ``failover`` for its feature, off expects ``primary``, and a partial rollout
(percentage or actor gates) expects ``mixed`` or either side.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from failover_verify._exceptions import GitLabError
from failover_verify._expectation import Expectation
from failover_verify._model import Model

__all__ = [
    "FEATURES_API",
    "GRAPHQL",
    "INCIDENT_FLAGS",
    "FlagReading",
    "FlagState",
    "flags_from_features_api",
    "flags_from_graphql",
    "graphql_query",
]

INCIDENT_FLAGS: Final[dict[str, str]] = {
    "completion": "incident_fail_over_completion_provider",
    "generation": "incident_fail_over_generation_provider",
}
FEATURES_API: Final = "features API"
GRAPHQL: Final = "GraphQL"
FlagSource = Literal["features API", "GraphQL"]
GateValue = bool | int | float | str | list[Any] | None
# Gates that enable a flag for some actors only; a value of 100 (percent) means everyone.
_PERCENTAGE_GATES: Final = frozenset({"percentage_of_time", "percentage_of_actors"})


class Gate(BaseModel):
    """One Flipper gate of a flag, as the features API lists it (``boolean``, ``actors``...)."""

    model_config = ConfigDict(frozen=True)

    key: str
    value: GateValue = None


class FlagState(Model):
    """How one incident flag is set, where that was read, and what it expects."""

    model_config = ConfigDict(frozen=True)

    name: str
    feature: str
    state: Literal["on", "off", "conditional"]
    partial: bool = Field(description="enabled for some actors or some of the time only")
    gates: tuple[Gate, ...] = ()
    source: FlagSource
    detail: str = Field(description="how the state was read, in words")

    @property
    def expectation(self) -> Expectation:
        because = f"{self.name} is {self.describe()} ({self.source})"
        if self.partial:
            return Expectation.partial(because=because)
        return Expectation.verdict("failover" if self.state == "on" else "primary", because=because)

    def describe(self) -> str:
        """``on``, ``off``, or ``conditional: percentage_of_time 25`` and the like."""
        if not self.partial:
            return self.state
        shown = ", ".join(
            f"{gate.key} {_gate_text(gate.value)}" for gate in self.gates if _active(gate)
        )
        return f"{self.state}: {shown}" if shown else self.state


class FlagReading(Model):
    """The incident flags as one GitLab answered, with notes on how they were read."""

    model_config = ConfigDict(frozen=True)

    gitlab_url: str
    source: FlagSource
    flags: dict[str, FlagState] = Field(description="by feature")
    notes: tuple[str, ...] = ()

    def expectations(self) -> dict[str, Expectation]:
        """The Expectation for each feature, as its flag sets it."""
        return {feature: flag.expectation for feature, flag in self.flags.items()}

    def to_json_dict(self) -> dict[str, Any]:
        """The JSON form in reports: flags by feature, each with what it expects."""
        data = self.model_dump(mode="json")
        for feature, flag in self.flags.items():
            expectation = flag.expectation
            data["flags"][feature]["expects"] = list(expectation.allows_verdicts)
            data["flags"][feature]["expectation"] = expectation.label
        return data


def flags_from_features_api(
    entries: Iterable[Mapping[str, Any]], features: Iterable[str]
) -> dict[str, FlagState]:
    """Read the incident flags from ``GET /api/v4/features`` entries.

    The API lists persisted flags only, so a flag missing from it was never set and is off
    (its default; the incident flags default to off).
    """
    by_name = {str(entry.get("name")): entry for entry in entries}
    flags: dict[str, FlagState] = {}
    for feature in features:
        name = INCIDENT_FLAGS[feature]
        entry = by_name.get(name)
        if entry is None:
            flags[feature] = FlagState(
                name=name,
                feature=feature,
                state="off",
                partial=False,
                source=FEATURES_API,
                detail="not in the features API list (never set), so off by default",
            )
            continue
        flags[feature] = _from_entry(name, feature, entry)
    return flags


def _from_entry(name: str, feature: str, entry: Mapping[str, Any]) -> FlagState:
    state = entry.get("state")
    if state not in ("on", "off", "conditional"):
        raise GitLabError(
            f"the features API gave {name} the state {state!r}, not on, off or conditional; "
            "this GitLab may be newer than failover-verify knows"
        )
    raw_gates = entry.get("gates") or []
    if not isinstance(raw_gates, list):
        raise GitLabError(f"the features API gave {name} gates that are not a list")
    gates = tuple(
        Gate(key=str(gate.get("key")), value=gate.get("value"))
        for gate in raw_gates
        if isinstance(gate, Mapping)
    )
    fully_on = any(gate.key == "boolean" and gate.value is True for gate in gates) or any(
        gate.key in _PERCENTAGE_GATES and _number(gate.value) >= 100 for gate in gates
    )
    some = [gate for gate in gates if gate.key != "boolean" and _active(gate)]
    # Flipper reports "conditional" for partly enabled flags; the gates are checked too, so
    # an "on" beside a 34% gate (as GitLab's own example shows) is still read as partial.
    partial = not fully_on and (state == "conditional" or bool(some))
    gate_words = ", ".join(f"{gate.key} {_gate_text(gate.value)}" for gate in gates) or "no gates"
    return FlagState(
        name=name,
        feature=feature,
        state=state,
        partial=partial,
        gates=gates,
        source=FEATURES_API,
        detail=f"state {state} ({gate_words})",
    )


def graphql_query(features: Iterable[str]) -> str:
    """The GraphQL query for the incident flags of ``features``."""
    # Flag names are our own constants; JSON string literals are valid GraphQL strings.
    names = ", ".join(json.dumps(INCIDENT_FLAGS[feature]) for feature in features)
    return f"query {{ metadata {{ featureFlags(names: [{names}]) {{ name enabled }} }} }}"


def flags_from_graphql(answer: Mapping[str, Any], features: Iterable[str]) -> dict[str, FlagState]:
    """Read the incident flags from the answer to :func:`graphql_query`.

    GraphQL says only whether a flag is enabled for the token's user, so a partial rollout
    shows as on or off; the detail says so.
    """
    metadata = answer.get("metadata")
    listed = metadata.get("featureFlags") if isinstance(metadata, Mapping) else None
    if not isinstance(listed, list):
        raise GitLabError(
            "GitLab's GraphQL answer has no metadata.featureFlags list (this GitLab may predate "
            "the field, added in 2024); use an administrator's token so the features API "
            "can be read"
        )
    enabled = {
        str(item.get("name")): item.get("enabled") for item in listed if isinstance(item, Mapping)
    }
    flags: dict[str, FlagState] = {}
    for feature in features:
        name = INCIDENT_FLAGS[feature]
        value = enabled.get(name)
        if name not in enabled:
            detail = "not in the GraphQL answer (unknown to this GitLab), so taken as off"
        elif not isinstance(value, bool):
            raise GitLabError(f"GitLab's GraphQL answer gave {name} enabled={value!r}, not a bool")
        else:
            detail = (
                f"enabled: {str(value).lower()} for the token's user (GraphQL cannot show a "
                "partial rollout)"
            )
        flags[feature] = FlagState(
            name=name,
            feature=feature,
            state="on" if value is True else "off",
            partial=False,
            source=GRAPHQL,
            detail=detail,
        )
    return flags


def _number(value: GateValue) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0.0
    return float(value)


def _active(gate: Gate) -> bool:
    if gate.key in _PERCENTAGE_GATES:
        return _number(gate.value) > 0
    if isinstance(gate.value, list):
        return bool(gate.value)
    return gate.value not in (None, False, 0, "")


def _gate_text(value: GateValue) -> str:
    if isinstance(value, list):
        return f"{len(value)} listed" if len(value) > 3 else ", ".join(map(str, value))
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float):
        return f"{value:g}%"
    return str(value)
