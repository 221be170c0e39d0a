"""The AI gateway's model facts by era, and how it picked the model for a registry request.

Since 2025-09 the gateway no longer reads the model from the prompt definition file. For a
request without model metadata it looks the prompt version up in ``LEGACY_MODEL_MAPPING``
(``ai_gateway/prompts/registry.py``), else serves the default model of the prompt id's feature
setting (``ai_gateway/model_selection/unit_primitives.yml``), and ``models.yml`` says what that
model identifier is. These *facts* changed many times; *how* they are combined changed three
times. Both are dated here, so a record is judged by the rules and facts of its own time:

- until 2025-09-07 the definition file decided (:class:`PromptRegistry`);
- from 2025-09-08 (ai-assist ``08c482877``, ``ai_gateway/prompts/registry.py``) the version is
  resolved against the definition files first and the *resolved* version is looked up;
- from 2025-10-27 (``c4dca98e3``, same file) the *requested* string is looked up as it is
  (``^1.0.0`` is never a key, so it gets the feature setting's default);
- from 2026-04-15 (``25579a777``) ``PROMPT_ID_TO_FEATURE_SETTING`` names the feature setting
  of a prompt id; before, and for ids it does not list, it is the id's first path segment.

A record's own ``model_identifier`` (the identifier actually served, since 2025-09-18,
``2e6b7ceb1``) outweighs all of that; an identifier the facts do not know is reported as
unknown, never given a provider by guess.

Facts come from the bundled file (``data/gateway-facts.json``, made by
``scripts/gateway_facts.py`` from the gateway's history) or from an ai-assist checkout
(:meth:`GatewayFacts.from_checkout`), whichever parts of it the checkout has.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, Final

import yaml
from poetry.core.constraints.version import Version, parse_constraint
from pydantic import AwareDatetime, Field

from failover_verify._exceptions import DefinitionsError
from failover_verify._model import Model
from failover_verify._registry import (
    PromptRegistry,
    Resolution,
    ResolutionSource,
    ResolutionStatus,
)

__all__ = [
    "LEGACY_SINCE",
    "PROMPT_FOLDERS",
    "REQUESTED_KEY_SINCE",
    "EraFacts",
    "GatewayFacts",
    "facts_from_texts",
]

LEGACY_SINCE: Final = datetime(2025, 9, 8, 20, 42, 21, tzinfo=UTC)
"""ai-assist 08c482877 merged to main: definitions stop naming models; LEGACY_MODEL_MAPPING is
looked up with the resolved version."""
REQUESTED_KEY_SINCE: Final = datetime(2025, 10, 27, 21, 21, 37, tzinfo=UTC)
"""ai-assist c4dca98e3 merged to main: LEGACY_MODEL_MAPPING is looked up with the requested
version string. (457adfd2f did the same for five hours on 2025-10-21 before its revert,
961d812bb; those hours are judged by the resolved-version rule.)"""
_FEATURE_PREFIX: Final = "code_suggestions/"
# The gateway maps the first path segment "chat" to the duo_chat feature setting.
_SEGMENT_SETTINGS: Final = {"chat": "duo_chat"}
# The feature settings of Code Suggestions in unit_primitives.yml.
_CODE_SETTINGS: Final = frozenset({"code_suggestions", "code_generations", "code_completions"})
# Model classes that call their provider's own API; litellm classes route by params instead.
_DIRECT_CLASSES: Final = frozenset({"anthropic", "openai", "amazon_q"})
_BUNDLED: Final = "data/gateway-facts.json"
_MODELS: Final = "ai_gateway/model_selection/models.yml"
_UNIT_PRIMITIVES: Final = "ai_gateway/model_selection/unit_primitives.yml"
_REGISTRY: Final = "ai_gateway/prompts/registry.py"
_DEFINITIONS: Final = "ai_gateway/prompts/definitions"
_MAX_FILE: Final = 4 << 20
PROMPT_FOLDERS: Final = ("code_suggestions/generations", "code_suggestions/completions")
"""The prompt ids whose folders' version files the facts record (base and family folders)."""


class ModelFacts(Model):
    """One model identifier of ``models.yml`` as far as Code Suggestions is concerned."""

    identifier: str
    name: str | None = None
    """The display name (``Claude Sonnet 4.6``)."""
    model: str | None = None
    """The provider's model name (``params.model``), which served records log as model_name."""
    provider: str | None = None
    """Where requests go: ``params.custom_llm_provider``, else a class that calls its own API."""
    provider_note: str = ""
    """Why ``provider`` is unknown, when it is."""
    model_class: str | None = None
    family: tuple[str, ...] = ()


class EraFacts(Model):
    """The facts in force from ``since`` (on the gateway's main branch) to the next era."""

    since: AwareDatetime | None = None
    commit: str | None = None
    source: str
    models: dict[str, ModelFacts] = Field(default_factory=dict)
    legacy: dict[str, dict[str, str]] = Field(default_factory=dict)
    """Prompt id -> version -> model identifier (LEGACY_MODEL_MAPPING)."""
    defaults: dict[str, str] = Field(default_factory=dict)
    """Feature setting -> default model identifier."""
    prompt_settings: dict[str, str] = Field(default_factory=dict)
    """Prompt id -> feature setting (PROMPT_ID_TO_FEATURE_SETTING), when the era has it."""
    versions: dict[str, list[str]] = Field(default_factory=dict)
    """Prompt folder -> the version files it held (``code_suggestions/generations/base``)."""

    @property
    def label(self) -> str:
        when = f"{self.since:%Y-%m-%d}" if self.since else "undated"
        return f"{self.source} ({when})"

    def setting_for(self, prompt_id: str) -> str:
        if prompt_id in self.prompt_settings:
            return self.prompt_settings[prompt_id]
        segment = prompt_id.split("/", 1)[0]
        return _SEGMENT_SETTINGS.get(segment, segment)


def _text_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _model_facts(entry: Mapping[str, Any]) -> ModelFacts | None:
    identifier = _text_or_none(entry.get("gitlab_identifier"))
    if identifier is None:
        return None
    raw_params = entry.get("params")
    params: Mapping[str, Any] = raw_params if isinstance(raw_params, Mapping) else {}
    model_class = _text_or_none(entry.get("model_class_provider")) or _text_or_none(
        params.get("model_class_provider")
    )
    model = _text_or_none(params.get("model")) or _text_or_none(entry.get("provider_identifier"))
    custom = _text_or_none(params.get("custom_llm_provider"))
    # models.yml of 2025-04 to 2025-09 named the routing provider itself ("provider"); since
    # 2025-11 "provider" is a display label (96229221f), which must not pass for a route.
    old_route = _text_or_none(entry.get("provider")) if "provider_identifier" in entry else None
    provider, note = custom or old_route, ""
    if provider is None and model_class in _DIRECT_CLASSES:
        provider = model_class
    if provider is None:
        note = (
            f"models.yml names no custom_llm_provider for {identifier} and its class "
            f"{model_class or '(none)'} routes by the model name, so the provider is not stated"
        )
    # family was one name until 2025-09-08 (``family: Optional[str]``) and a list since
    # (``list[str]``, f134fac5a), in ai_gateway/model_selection/model_selection_config.py.
    family = entry.get("family")
    families = [family] if isinstance(family, str) else family
    return ModelFacts(
        identifier=identifier,
        name=_text_or_none(entry.get("name")),
        model=model,
        provider=provider,
        provider_note=note,
        model_class=model_class,
        family=tuple(str(item) for item in families if item) if isinstance(families, list) else (),
    )


def _default_of(entry: Mapping[str, Any]) -> str | None:
    # One default until 2026-04-13 (default_model); then a list whose first entry is served
    # unless a feature flag asks for a random pick (9a7e319a6, 2026-06-04).
    many = entry.get("default_models")
    if isinstance(many, list) and many:
        return _text_or_none(many[0])
    return _text_or_none(entry.get("default_model"))


def _dict_literals(text: str) -> dict[str, Any]:
    """Top-level ``NAME = {...}`` dict literals of a Python file, read without running it."""
    found: dict[str, Any] = {}
    for node in ast.parse(text).body:
        target: ast.expr | None = None
        expression: ast.expr | None = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, expression = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, expression = node.target, node.value
        if not isinstance(target, ast.Name) or expression is None:
            continue
        try:
            value = ast.literal_eval(expression)
        except ValueError:
            continue
        if isinstance(value, dict):
            found[target.id] = value
    return found


def facts_from_texts(
    *,
    models: str | None,
    unit_primitives: str | None,
    registry: str | None,
    source: str,
    since: datetime | None = None,
    commit: str | None = None,
    versions: Mapping[str, list[str]] | None = None,
) -> EraFacts:
    """The Code Suggestions facts in the texts of the three files (any may be missing), and
    the version files of the Code Suggestions prompt folders when known."""
    legacy: dict[str, dict[str, str]] = {}
    prompt_settings: dict[str, str] = {}
    if registry is not None:
        literals = _dict_literals(registry)
        for prompt_id, mapped in (literals.get("LEGACY_MODEL_MAPPING") or {}).items():
            if str(prompt_id).startswith(_FEATURE_PREFIX) and isinstance(mapped, dict):
                legacy[str(prompt_id)] = {str(k): str(v) for k, v in mapped.items()}
        for prompt_id, setting in (literals.get("PROMPT_ID_TO_FEATURE_SETTING") or {}).items():
            if str(prompt_id).startswith(_FEATURE_PREFIX):
                prompt_settings[str(prompt_id)] = str(setting)
    defaults: dict[str, str] = {}
    # Only the models Code Suggestions can serve: those its settings and mappings name.
    wanted: set[str] = {
        identifier for versions in legacy.values() for identifier in versions.values()
    }
    if unit_primitives is not None:
        loaded = yaml.safe_load(unit_primitives) or {}
        for entry in loaded.get("configurable_unit_primitives") or []:
            setting = _text_or_none(entry.get("feature_setting"))
            if setting not in _CODE_SETTINGS:
                continue
            default = _default_of(entry)
            if default is not None:
                defaults[setting] = default
                wanted.add(default)
            wanted.update(str(item) for item in entry.get("selectable_models") or [])
    catalogue = _catalogue(models, wanted) if models is not None else {}
    return EraFacts(
        since=since,
        commit=commit,
        source=source,
        models=catalogue,
        legacy=legacy,
        defaults=defaults,
        prompt_settings=prompt_settings,
        versions={folder: sorted(stems) for folder, stems in (versions or {}).items()},
    )


def _catalogue(models: str, wanted: set[str]) -> dict[str, ModelFacts]:
    catalogue: dict[str, ModelFacts] = {}
    for entry in (yaml.safe_load(models) or {}).get("models") or []:
        facts = _model_facts(entry) if isinstance(entry, Mapping) else None
        # With nothing to say which models Code Suggestions uses, keep them all.
        if facts is not None and (not wanted or facts.identifier in wanted):
            catalogue[facts.identifier] = facts
    return catalogue


def _version_files(definitions: Path) -> dict[str, list[str]]:
    """The version files of each folder of the Code Suggestions prompts in a definitions tree."""
    found: dict[str, list[str]] = {}
    for prompt_id in PROMPT_FOLDERS:
        directory = definitions.joinpath(*prompt_id.split("/"))
        if not directory.is_dir() or directory.is_symlink():
            continue
        for folder in sorted(directory.iterdir()):
            if folder.is_dir() and not folder.is_symlink():
                stems = sorted(path.stem for path in folder.glob("*.yml") if path.is_file())
                if stems:
                    found[f"{prompt_id}/{folder.name}"] = stems
    return found


def _read(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise DefinitionsError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if len(raw) > _MAX_FILE:
        raise DefinitionsError(f"{path} is larger than {_MAX_FILE >> 20} MiB; not a gateway file")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DefinitionsError(f"{path} is not UTF-8 text") from exc


def _bundle_error(problem: str) -> DefinitionsError:
    return DefinitionsError(
        f"The bundled gateway facts ({_BUNDLED}) cannot be read ({problem}); "
        "reinstall failover-verify."
    )


class GatewayFacts:
    """Resolves registry records to the model the gateway served, by the record's era."""

    def __init__(self, eras: list[EraFacts], definitions: PromptRegistry, description: str) -> None:
        self.eras = sorted(eras, key=lambda era: era.since or datetime.min.replace(tzinfo=UTC))
        self.definitions = definitions
        self.description = description
        self._cache: dict[tuple[object, ...], Resolution] = {}

    def __repr__(self) -> str:
        return f"GatewayFacts({self.description!r})"

    @classmethod
    def bundled(cls, definitions: PromptRegistry | None = None) -> GatewayFacts:
        """The facts shipped with the package, one era per change on the gateway's main."""
        try:
            text = resources.files("failover_verify").joinpath(_BUNDLED).read_text("utf-8")
            data = json.loads(text)
            eras = [EraFacts.model_validate(era) for era in data["eras"]]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise _bundle_error(str(exc)) from exc
        if not eras:
            raise _bundle_error("it holds no eras")
        newest = eras[-1]
        description = (
            f"bundled gateway facts, {len(eras)} eras to {newest.since:%Y-%m-%d} "
            f"(ai-assist {newest.commit}), generated {data.get('generated', '?')}"
        )
        return cls(eras, definitions or PromptRegistry.bundled(), description)

    @classmethod
    def from_checkout(cls, path: str | Path) -> GatewayFacts:
        """Facts from an ai-assist checkout: its model-selection files and registry literals,
        and its prompt definitions (falling back to the bundled snapshot for their models).

        Whichever parts the checkout lacks are left out: an old checkout without
        ``ai_gateway/model_selection`` resolves through its definitions only.
        """
        root = Path(path)
        if not root.is_dir():
            raise DefinitionsError(f"the gateway checkout {root} does not exist or is no folder")
        texts = {name: _read(root / name) for name in (_MODELS, _UNIT_PRIMITIVES, _REGISTRY)}
        has_definitions = (root / "ai_gateway" / "prompts" / "definitions").is_dir()
        if not has_definitions and all(text is None for text in texts.values()):
            raise DefinitionsError(
                f"{root} holds neither ai_gateway/prompts/definitions nor "
                "ai_gateway/model_selection: expected the root of an ai-assist checkout"
            )
        definitions = (
            PromptRegistry.from_directory(root, fallback=PromptRegistry.bundled())
            if has_definitions
            else PromptRegistry.bundled()
        )
        found = [name for name, text in texts.items() if text is not None]
        era = facts_from_texts(
            models=texts[_MODELS],
            unit_primitives=texts[_UNIT_PRIMITIVES],
            registry=texts[_REGISTRY],
            source=f"checkout {root}",
            versions=_version_files(root / _DEFINITIONS) if has_definitions else None,
        )
        parts = ", ".join([*found, *(["definitions"] if has_definitions else [])])
        return cls([era], definitions, f"gateway checkout {root} ({parts})")

    def era_at(self, moment: datetime | None) -> EraFacts | None:
        """The facts in force at ``moment``: undated facts (a checkout) hold at any time."""
        chosen: EraFacts | None = None
        for era in self.eras:
            if era.since is None or moment is None or era.since <= moment:
                chosen = era
        return chosen

    def model_named(
        self, engine: str | None, name: str | None, at: datetime | None
    ) -> ModelFacts | None:
        """The identifier whose provider model name a served record logs, if exactly one fits."""
        era = self.era_at(at)
        if era is None or name is None:
            return None
        candidates = [model for model in era.models.values() if model.model == name]
        if len(candidates) > 1 and engine:
            # The engine's first word names the class: anthropic-chat is the Anthropic class,
            # litellm-chat and litellm-completion the LiteLLM classes.
            kind = engine.split("-", 1)[0]
            candidates = [
                model for model in candidates if (model.model_class or "").startswith(kind)
            ]
        return candidates[0] if len(candidates) == 1 else None

    def resolve(
        self,
        prompt_id: str | None,
        version: str | None,
        *,
        at: datetime | None,
        model_identifier: str | None = None,
        model_class_provider: str | None = None,
    ) -> Resolution:
        """The model and provider the gateway served a registry record with, at ``at``."""
        era = self.era_at(at)
        # The rules change at two moments; an undated era (a checkout) spans both, so the
        # answers of each period are kept apart.
        rule = (
            "requested key"
            if at is None or at >= REQUESTED_KEY_SINCE
            else "resolved key"
            if at >= LEGACY_SINCE
            else "definitions"
        )
        key = (prompt_id, version, model_identifier, model_class_provider, rule, era and era.since)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        ask = _Ask(prompt_id, version, era, at, model_identifier, model_class_provider)
        resolution = self._resolve(ask)
        if len(self._cache) < 10_000:
            self._cache[key] = resolution
        return resolution

    def _resolve(self, ask: _Ask) -> Resolution:
        era, at = ask.era, ask.at
        by_definitions = self.definitions.resolve(
            ask.prompt_id,
            ask.version,
            model_class_provider=ask.class_provider,
            model_identifier=ask.identifier,
        )
        if era is None or (at is not None and at < LEGACY_SINCE) or not (era.legacy or era.models):
            # The definition era: the file the version resolves to names the model, and the
            # record's own evidence weighs in as PromptRegistry weighs it.
            return by_definitions
        requested_id = (ask.prompt_id or "").removesuffix("/base")
        base = _pick(era, requested_id, "base", ask.version)
        if base is not None:
            by_definitions = by_definitions.model_copy(
                update={"resolved_version": base.version, "definition_path": base.path}
            )
        if ask.identifier is not None:
            return _from_identifier(ask, era, ask.identifier, by_definitions)
        if ask.prompt_id is None or ask.version is None or by_definitions.status == "invalid_input":
            return by_definitions
        mapping = era.legacy.get(requested_id, {})
        keyed_by, folder = ask.version, "base"
        how = f"LEGACY_MODEL_MAPPING[{requested_id!r}][{keyed_by!r}]"
        if at is not None and at < REQUESTED_KEY_SINCE:
            keyed_by = (
                by_definitions.resolved_version or _highest(list(mapping), ask.version) or keyed_by
            )
            how = f"LEGACY_MODEL_MAPPING[{requested_id!r}][{keyed_by!r}] (the resolved version)"
        chosen = mapping.get(keyed_by)
        if chosen is None:
            setting = era.setting_for(requested_id)
            chosen = era.defaults.get(setting)
            how = f"{how} is absent, so the default of feature setting {setting}"
            if chosen is None:
                return _unresolved(ask, era, by_definitions, "no_model", f"{how} is unknown")
            if at is None or at >= REQUESTED_KEY_SINCE:
                # The default model's first family folder that exists holds the prompt
                # (c4dca98e3, ai_gateway/prompts/registry.py), else base.
                model = era.models.get(chosen)
                families = model.family if model is not None else ()
                folder = next(
                    (name for name in families if f"{requested_id}/{name}" in era.versions),
                    "base",
                )
        picked = _pick(era, requested_id, folder, ask.version)
        if picked is not None and picked.version is None:
            return _unresolved(
                ask,
                era,
                by_definitions,
                "no_matching_version",
                f"{how} is {chosen}, but no version file in {requested_id}/{folder} satisfies "
                f"{ask.version!r} ({', '.join(picked.files)}), so the gateway could not have "
                "served it",
            )
        if picked is not None and folder != "base":
            by_definitions = by_definitions.model_copy(
                update={"resolved_version": picked.version, "definition_path": picked.path}
            )
        return _described(ask, era, chosen, how, by_definitions, source="facts")


@dataclass(frozen=True)
class _Picked:
    """The version file a constraint selects in one prompt folder of an era, if any."""

    files: list[str]
    version: str | None
    path: str | None


def _pick(era: EraFacts, prompt_id: str, folder: str, version: str | None) -> _Picked | None:
    """None when the era does not record the folder's files (then nothing is checked)."""
    files = era.versions.get(f"{prompt_id}/{folder}")
    if not files or version is None:
        return None
    picked = _highest(files, version)
    path = f"{_DEFINITIONS}/{prompt_id}/{folder}/{picked}.yml" if picked else None
    return _Picked(files, picked, path)


def _unresolved(
    ask: _Ask, era: EraFacts, by_definitions: Resolution, status: ResolutionStatus, why: str
) -> Resolution:
    return Resolution(
        prompt_id=ask.prompt_id,
        requested_version=ask.version,
        status=status,
        resolved_version=by_definitions.resolved_version,
        definition_path=by_definitions.definition_path,
        source="facts",
        era=era.label,
        detail=f"{why}, per {era.label}.",
    )


@dataclass(frozen=True)
class _Ask:
    """One registry record's question: what did the gateway serve it with?"""

    prompt_id: str | None
    version: str | None
    era: EraFacts | None
    at: datetime | None
    identifier: str | None
    class_provider: str | None


def _from_identifier(
    ask: _Ask, era: EraFacts, identifier: str, by_definitions: Resolution
) -> Resolution:
    how = f"the record's model_identifier {identifier!r}"
    if identifier in era.models:
        return _described(ask, era, identifier, how, by_definitions, source="record")
    # Not a gitlab identifier the era knows: the record's class provider still says where a
    # direct class went; a routing class (litellm) says nothing about the provider.
    provider = ask.class_provider if ask.class_provider in _DIRECT_CLASSES else None
    because = (
        f"its model_class_provider {ask.class_provider!r} calls that provider directly."
        if provider
        else "the provider is unknown rather than guessed."
    )
    return Resolution(
        prompt_id=ask.prompt_id,
        requested_version=ask.version,
        status="resolved" if provider else "unknown_model",
        resolved_version=by_definitions.resolved_version,
        definition_path=by_definitions.definition_path,
        identifier=identifier,
        model=identifier,
        provider=provider,
        source="record",
        era=era.label,
        detail=f"{how} is not in the facts of {era.label}; {because}",
    )


def _described(
    ask: _Ask,
    era: EraFacts,
    identifier: str,
    how: str,
    by_definitions: Resolution,
    *,
    source: ResolutionSource,
) -> Resolution:
    model = era.models.get(identifier)
    if model is None:
        return Resolution(
            prompt_id=ask.prompt_id,
            requested_version=ask.version,
            status="unknown_model",
            resolved_version=by_definitions.resolved_version,
            definition_path=by_definitions.definition_path,
            identifier=identifier,
            model=identifier,
            source=source,
            era=era.label,
            detail=f"{how} gives {identifier}, which models.yml of {era.label} does not list.",
        )
    provider, note = model.provider, f" ({model.provider_note})" if model.provider_note else ""
    if (
        provider is None
        and model.model_class is None
        and by_definitions.provider in _DIRECT_CLASSES
    ):
        # Until 2025-10-09 (10fb259e3) models.yml named no class; the prompt definition's
        # model_class_provider chose it, and anthropic/openai call their own API.
        provider = by_definitions.provider
        note = " (the class from the prompt definition, as models.yml then named none)"
    where = provider or "an unstated provider"
    return Resolution(
        prompt_id=ask.prompt_id,
        requested_version=ask.version,
        status="resolved" if provider else "unknown_model",
        resolved_version=by_definitions.resolved_version,
        definition_path=by_definitions.definition_path,
        identifier=identifier,
        model=identifier,
        model_name=model.model,
        provider=provider,
        family=model.family,
        source=source,
        era=era.label,
        detail=(f"{how}: {identifier} ({model.model or '?'}) via {where}{note}, per {era.label}."),
    )


def _highest(files: list[str], version: str) -> str | None:
    """The file a constraint selects among version files, by the gateway's rule: the highest
    allowed version, stable versions only unless the constraint is an exact one."""
    try:
        constraint = parse_constraint(version)
    except ValueError:
        return None
    parsed = {}
    for name in files:
        try:
            parsed[name] = Version.parse(name)
        except ValueError:
            continue
    allowed = [
        name
        for name, value in parsed.items()
        if (constraint.is_simple() or value.is_stable()) and constraint.allows(value)
    ]
    return max(allowed, key=lambda name: parsed[name], default=None)
