"""Resolve a logged prompt version to the model and provider the AI gateway served it with.

"Returning prompt from the registry" records carry the *requested* version constraint (such as
``^1.0.0``), not the definition file the gateway picked. This module repeats the gateway's pick
against a prompt definitions folder (an ai-assist checkout) or the snapshot bundled with the
package, reads the model and provider the picked definition names, and weighs that against the
model evidence newer records carry themselves.

Everything that comes from a log record is untrusted: bad values give a :class:`Resolution`
with a status that says what was wrong, never an exception, and never a file read outside the
checkout's ``ai_gateway/prompts`` folder.
"""

from __future__ import annotations

import abc
import os
import re
import stat
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import ClassVar, Literal

import yaml
from poetry.core.constraints.version import Version, VersionConstraint, parse_constraint
from pydantic import BaseModel, ConfigDict, ValidationError

from failover_verify._exceptions import DefinitionsError
from failover_verify._model import Model

__all__ = ["PromptRegistry", "Resolution", "ResolutionSource", "ResolutionStatus"]

ResolutionSource = Literal["record", "definitions", "snapshot", "facts"]
ResolutionStatus = Literal[
    "resolved",
    "unknown_prompt",
    "no_matching_version",
    "invalid_input",
    "no_model",
    "unknown_model",
    "unreadable",
]

_PROMPT_ID = re.compile(r"[a-z0-9_]+(?:/[a-z0-9_]+)*")
_PROMPT_ID_MAX = 200
_CONSTRAINT = re.compile(r"[0-9A-Za-z.^~<>=!*,| +-]{1,64}")
_CONFIG_NAME = re.compile(r"[a-z0-9_]{1,100}")
# Provider and model names are shown to users; printable ASCII without spaces covers every name
# the gateway logs and keeps control characters out of terminals.
_RECORD_VALUE = re.compile(r"[\x21-\x7e]{1,200}")
# Prompt definitions are a few kilobytes; a bigger file is not one, and parsing it is wasted work.
_MAX_FILE_BYTES = 1 << 20
# Enough distinct (prompt, version, provider, model) combinations for any real log window, while
# a stream of garbage values cannot grow the cache without bound.
_CACHE_LIMIT = 10_000
_LISTED_VERSIONS_MAX = 30
# "litellm" is the gateway's client class that routes to a provider, not a provider itself.
_ROUTING_CLASS = "litellm"
_BASE_TYPE = "base"
_DEFINITIONS_PREFIX = "ai_gateway/prompts/definitions"
_MODEL_CONFIGS_PREFIX = "ai_gateway/prompts/model_configs"
_SNAPSHOT_RESOURCE = "data/prompt-snapshot.toml"


class Resolution(Model):
    """What a record's prompt version resolves to, with the evidence for it.

    ``status`` is ``resolved`` when the provider is known; ``model`` may still be ``None`` when
    only the record's ``model_class_provider`` said anything. ``source`` says which evidence
    decided the provider. The path fields are repository paths in ai-assist, the ones the
    runbook tells engineers to open, whichever folder or snapshot answered.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    prompt_id: str | None
    requested_version: str | None
    status: ResolutionStatus
    resolved_version: str | None = None
    definition_path: str | None = None
    config_file: str | None = None
    model: str | None = None
    provider: str | None = None
    source: ResolutionSource | None = None
    identifier: str | None = None
    """The gateway's model identifier (``claude_sonnet_4_6_vertex``), where one applies."""
    model_name: str | None = None
    """The provider's name for the model (``claude-sonnet-4-6``), as served records log it."""
    family: tuple[str, ...] = ()
    era: str | None = None
    """Which dated gateway facts decided, for resolutions made from them."""
    detail: str


class _UnreadableError(Exception):
    """A definitions file or folder that cannot be used; the message is a clause for a detail."""


class _InvalidInputError(Exception):
    """A record value that must not be used; the message is the Resolution detail."""


@dataclass(frozen=True)
class _Lookup:
    """What a registry source alone says about a prompt version, before record evidence."""

    status: ResolutionStatus
    detail: str
    resolved_version: str | None = None
    definition_path: str | None = None
    config_file: str | None = None
    model: str | None = None
    provider: str | None = None
    source: ResolutionSource | None = None


@dataclass(frozen=True)
class _ModelFacts:
    """The model stanza of one definition; ``model`` is ``None`` when it names no model."""

    model: str | None
    provider: str | None
    config_file: str | None
    note: str = ""


@dataclass(frozen=True)
class _Evidence:
    """What the record itself says about the model (fields logged since 2025-06 and 2025-10)."""

    provider: str | None
    model: str | None


class _SnapshotEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str
    provider: str
    definition: str
    config_file: str | None = None


class _SnapshotFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    prompts: dict[str, dict[str, _SnapshotEntry]]


class _Source(abc.ABC):
    """One place prompt definitions come from; version selection is shared by all of them."""

    kind: ClassVar[Literal["definitions", "snapshot"]]

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the definitions come from, for details and the CLI."""

    @abc.abstractmethod
    def _stems(self, folder: str) -> list[str]:
        """File names without ``.yml`` directly in ``folder``; empty if there is no folder."""

    @abc.abstractmethod
    def _model(self, folder: str, stem: str) -> _ModelFacts:
        """The model stanza of ``folder/stem.yml``; raises :class:`_UnreadableError`."""

    def _definition_path(self, folder: str, stem: str) -> str:
        return f"{_DEFINITIONS_PREFIX}/{folder}/{stem}.yml"

    def lookup(self, prompt_id: str, requested: str, constraint: VersionConstraint) -> _Lookup:
        """Pick the definition the gateway would serve and read its model."""
        try:
            found = self._find_folder(prompt_id)
        except _UnreadableError as exc:
            return _Lookup(
                "unreadable",
                f"The {self.description} cannot be searched for prompt {prompt_id!r}: {exc}.",
            )
        if found is None:
            return _Lookup(
                "unknown_prompt",
                f"There is no prompt {prompt_id!r} in the {self.description}: no version files in "
                f"{_DEFINITIONS_PREFIX}/{prompt_id} or its {_BASE_TYPE} folder.",
            )
        folder, versions = found
        chosen = _select(versions, constraint)
        if chosen is None:
            return _Lookup(
                "no_matching_version",
                self._no_match_detail(folder, versions, requested, constraint),
            )
        stem = versions[chosen]
        path = self._definition_path(folder, stem)
        selected = f"{requested!r} selects version {stem} of {folder} in the {self.description}"
        try:
            facts = self._model(folder, stem)
        except _UnreadableError as exc:
            return _Lookup("unreadable", f"{selected}, but {exc}.", stem, path)
        if facts.model is None:
            note = f" ({facts.note})" if facts.note else ""
            return _Lookup(
                "no_model",
                f"{selected}, but {path} names no model{note}; definitions stopped naming models "
                "in 2025-09, and newer records carry model_class_provider and model_identifier "
                "instead.",
                stem,
                path,
                facts.config_file,
            )
        through = f" (model config {facts.config_file})" if facts.config_file else ""
        return _Lookup(
            "resolved",
            f"{selected}: {facts.model} via {facts.provider}{through}.",
            stem,
            path,
            facts.config_file,
            facts.model,
            facts.provider,
            self.kind,
        )

    def _find_folder(self, prompt_id: str) -> tuple[str, dict[Version, str]] | None:
        # Records name either the folder the gateway resolved (".../base", until 2025-09) or the
        # id the client asked for, which the gateway maps to its "base" folder.
        for folder in (prompt_id, f"{prompt_id}/{_BASE_TYPE}"):
            versions = _parse_versions(self._stems(folder))
            if versions:
                return folder, versions
        return None

    def _no_match_detail(
        self,
        folder: str,
        versions: Mapping[Version, str],
        requested: str,
        constraint: VersionConstraint,
    ) -> str:
        ordered = [versions[version] for version in sorted(versions)]
        shown = ", ".join(ordered[:_LISTED_VERSIONS_MAX])
        if len(ordered) > _LISTED_VERSIONS_MAX:
            shown += f" and {len(ordered) - _LISTED_VERSIONS_MAX} more"
        skipped = [
            versions[version]
            for version in sorted(versions)
            if not version.is_stable() and constraint.allows(version)
        ]
        why = ""
        if skipped and not constraint.is_simple():
            why = (
                f" (pre-releases such as {skipped[-1]} count only for a simple constraint such "
                "as an exact version)"
            )
        return (
            f"No version of {folder} in the {self.description} satisfies {requested!r}{why}; "
            f"available: {shown}."
        )


class _DirectorySource(_Source):
    """Prompt definitions in a folder on disk, read the way the gateway reads them."""

    kind = "definitions"

    def __init__(self, definitions: Path) -> None:
        self._definitions = definitions
        self._model_configs = definitions.parent / "model_configs"
        self._stems_cache: dict[str, list[str]] = {}
        self._model_cache: dict[tuple[str, str], _ModelFacts | _UnreadableError] = {}
        self._config_cache: dict[str, object | _UnreadableError] = {}

    @property
    def description(self) -> str:
        return f"definitions at {self._definitions}"

    def _stems(self, folder: str) -> list[str]:
        cached = self._stems_cache.get(folder)
        if cached is not None:
            return cached
        shown = f"{_DEFINITIONS_PREFIX}/{folder}"
        directory = _contained(
            self._definitions.joinpath(*folder.split("/")), self._definitions, shown
        )
        try:
            names = [entry.name for entry in directory.iterdir()]
        except (FileNotFoundError, NotADirectoryError):
            names = []
        except OSError as exc:
            raise _UnreadableError(
                f"{shown} could not be listed ({exc.strerror or exc}); check its permissions"
            ) from exc
        stems = sorted(name.removesuffix(".yml") for name in names if name.endswith(".yml"))
        self._stems_cache[folder] = stems
        return stems

    def _model(self, folder: str, stem: str) -> _ModelFacts:
        key = (folder, stem)
        outcome = self._model_cache.get(key)
        if outcome is None:
            shown = self._definition_path(folder, stem)
            path = self._definitions.joinpath(*folder.split("/"), f"{stem}.yml")
            try:
                definition = _load_yaml(_contained(path, self._definitions, shown), shown)
                outcome = _model_facts(definition, shown, self._config)
            except _UnreadableError as exc:
                outcome = exc
            self._model_cache[key] = outcome
        if isinstance(outcome, _UnreadableError):
            raise _UnreadableError(str(outcome))
        return outcome

    def _config(self, name: object, referrer: str) -> tuple[str, object]:
        if not isinstance(name, str) or not _CONFIG_NAME.fullmatch(name):
            raise _UnreadableError(
                f"{referrer} names model config {_show(name)}, which is not a plain config name "
                "(lowercase letters, digits and _), so it was not looked up"
            )
        shown = f"{_MODEL_CONFIGS_PREFIX}/{name}.yml"
        outcome = self._config_cache.get(name)
        if outcome is None:
            try:
                path = _contained(self._model_configs / f"{name}.yml", self._model_configs, shown)
                outcome = _load_yaml(
                    path,
                    shown,
                    missing=f"{referrer} names model config {name}, but {shown} does not exist "
                    "in this checkout; use a checkout from the same commit",
                )
            except _UnreadableError as exc:
                outcome = exc
            self._config_cache[name] = outcome
        if isinstance(outcome, _UnreadableError):
            raise _UnreadableError(str(outcome))
        return shown, outcome


class _SnapshotSource(_Source):
    """The facts bundled with the package, for checkouts whose definitions no longer name models."""

    kind = "snapshot"

    def __init__(self, prompts: Mapping[str, Mapping[str, _SnapshotEntry]]) -> None:
        self._prompts = prompts

    @classmethod
    def load(cls) -> _SnapshotSource:
        try:
            text = (
                resources.files("failover_verify").joinpath(_SNAPSHOT_RESOURCE).read_text("utf-8")
            )
            snapshot = _SnapshotFile.model_validate(tomllib.loads(text))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, ValidationError) as exc:
            raise DefinitionsError(
                f"The bundled prompt snapshot ({_SNAPSHOT_RESOURCE}) cannot be read ({exc}); "
                "reinstall failover-verify."
            ) from exc
        return cls(snapshot.prompts)

    @property
    def description(self) -> str:
        count = sum(len(versions) for versions in self._prompts.values())
        return f"bundled snapshot ({count} versions)"

    def _stems(self, folder: str) -> list[str]:
        return sorted(self._prompts.get(folder, {}))

    def _model(self, folder: str, stem: str) -> _ModelFacts:
        entry = self._prompts[folder][stem]
        return _ModelFacts(entry.model, entry.provider, entry.config_file)

    def _definition_path(self, folder: str, stem: str) -> str:
        return self._prompts[folder][stem].definition


class PromptRegistry:
    """Resolves "Returning prompt from the registry" records the way the AI gateway does.

    Build one with :meth:`bundled`, :meth:`from_directory` or :meth:`chain`. Results are
    cached per instance, and each definition file is parsed at most once per instance.
    """

    def __init__(self, primary: _Source, *fallbacks: _Source) -> None:
        self._sources = (primary, *fallbacks)
        self._cache: dict[tuple[str | None, ...], Resolution] = {}

    @classmethod
    def bundled(cls) -> PromptRegistry:
        """The snapshot shipped with the package (definitions from before 2025-09)."""
        return cls(_SnapshotSource.load())

    @classmethod
    def from_directory(
        cls, path: str | os.PathLike[str], *, fallback: PromptRegistry | None = None
    ) -> PromptRegistry:
        """Definitions from an ai-assist checkout, its ``ai_gateway/prompts`` or its definitions.

        Raises :class:`DefinitionsError` if ``path`` is none of those. With ``fallback``, a
        version whose definition names no model (checkouts since 2025-09) is looked up in the
        fallback registry, such as :meth:`bundled`.
        """
        registry = cls(_DirectorySource(_find_definitions(path)))
        return registry if fallback is None else cls.chain(registry, fallback)

    @classmethod
    def chain(cls, primary: PromptRegistry, fallback: PromptRegistry) -> PromptRegistry:
        """``primary`` picks the definition; ``fallback`` names its model if ``primary`` cannot."""
        return cls(*primary._sources, *fallback._sources)

    @property
    def description(self) -> str:
        """Where definitions come from, e.g. ``bundled snapshot (13 versions)``."""
        primary, *fallbacks = self._sources
        return ", falling back to ".join(
            [primary.description, *(source.description for source in fallbacks)]
        )

    def __repr__(self) -> str:
        return f"PromptRegistry({self.description!r})"

    def resolve(
        self,
        prompt_id: str | None,
        version: str | None,
        *,
        model_class_provider: str | None = None,
        model_identifier: str | None = None,
    ) -> Resolution:
        """Resolve a record's ``prompt_id`` and ``prompt_version`` to a model and provider.

        ``model_class_provider`` and ``model_identifier`` are the record's own fields, when it
        has them; a concrete provider there outweighs the definitions.
        """
        key = (prompt_id, version, model_class_provider, model_identifier)
        cacheable = all(value is None or isinstance(value, str) for value in key)
        if cacheable and (hit := self._cache.get(key)) is not None:
            return hit
        resolution = self._resolve(prompt_id, version, model_class_provider, model_identifier)
        if cacheable and len(self._cache) < _CACHE_LIMIT:
            self._cache[key] = resolution
        return resolution

    def _resolve(
        self, prompt_id: object, version: object, record_provider: object, record_model: object
    ) -> Resolution:
        shown_id = prompt_id if isinstance(prompt_id, str) else None
        shown_version = version if isinstance(version, str) else None
        try:
            evidence = _Evidence(
                _record_value(record_provider, "model_class_provider"),
                _record_value(record_model, "model_identifier"),
            )
        except _InvalidInputError as exc:
            return Resolution(
                prompt_id=shown_id,
                requested_version=shown_version,
                status="invalid_input",
                detail=str(exc),
            )
        try:
            lookup = self._lookup(_checked_prompt_id(prompt_id), *_checked_constraint(version))
        except _InvalidInputError as exc:
            lookup = _Lookup("invalid_input", str(exc))
        return _decide(shown_id, shown_version, lookup, evidence)

    def _lookup(self, prompt_id: str, requested: str, constraint: VersionConstraint) -> _Lookup:
        primary, *fallbacks = self._sources
        found = primary.lookup(prompt_id, requested, constraint)
        stem = found.resolved_version
        if found.status != "no_model" or stem is None or not fallbacks:
            return found
        for fallback in fallbacks:
            # The primary decides which file the gateway served; a fallback only says what
            # model that same version named.
            alternative = fallback.lookup(prompt_id, stem, Version.parse(stem))
            if alternative.status == "resolved":
                return replace(
                    alternative,
                    resolved_version=stem,
                    definition_path=found.definition_path,
                    detail=f"{found.detail.removesuffix('.')}; the {fallback.description} names "
                    f"{alternative.model} via {alternative.provider} for {stem}.",
                )
        others = " or ".join(f"the {fallback.description}" for fallback in fallbacks)
        return replace(
            found,
            detail=f"{found.detail.removesuffix('.')}; {others} names no model for it either.",
        )


def _find_definitions(path: str | os.PathLike[str]) -> Path:
    expected = (
        "expected an ai-assist checkout (containing ai_gateway/prompts/definitions), its "
        "ai_gateway/prompts folder, or the definitions folder itself"
    )
    try:
        given = Path(path)
        base = given.resolve(strict=True)
        for candidate in (
            base / "ai_gateway" / "prompts" / "definitions",
            base / "definitions",
            base,
        ):
            if candidate.name == "definitions" and candidate.is_dir():
                definitions = candidate.resolve(strict=True)
                next(definitions.iterdir(), None)
                return definitions
    except FileNotFoundError:
        raise DefinitionsError(
            f"The prompt definitions path {path} does not exist; {expected}."
        ) from None
    except (OSError, RuntimeError, ValueError, TypeError) as exc:
        raise DefinitionsError(
            f"The prompt definitions path {path} cannot be read ({exc}); {expected}, "
            "readable by this user."
        ) from exc
    raise DefinitionsError(f"{path} is not a prompt definitions folder: {expected}.")


def _contained(path: Path, base: Path, shown: str) -> Path:
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:
        raise _UnreadableError(
            f"{shown} could not be resolved ({exc}); check it for a symlink loop"
        ) from exc
    if not resolved.is_relative_to(base):
        raise _UnreadableError(
            f"{shown} leads through a symlink to {resolved}, outside {base}, so it was refused; "
            "copy the file into the checkout instead"
        )
    return resolved


def _load_yaml(path: Path, shown: str, *, missing: str | None = None) -> object:
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            raise _UnreadableError(f"{shown} is not a regular file")
        with path.open("rb") as handle:
            raw = handle.read(_MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise _UnreadableError(missing or f"{shown} does not exist") from None
    except OSError as exc:
        raise _UnreadableError(
            f"{shown} could not be read ({exc.strerror or exc}); check its permissions"
        ) from exc
    if len(raw) > _MAX_FILE_BYTES:
        raise _UnreadableError(
            f"{shown} is larger than {_MAX_FILE_BYTES // 1024} KiB, far more than any prompt "
            "definition, so it was not parsed"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _UnreadableError(
            f"{shown} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from exc
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        where = f" at line {exc.problem_mark.line + 1}" if exc.problem_mark is not None else ""
        raise _UnreadableError(
            f"{shown} is not valid YAML ({exc.problem or exc.context}{where}); fix the file or "
            "use a clean checkout"
        ) from exc
    except yaml.reader.ReaderError as exc:
        # The only error without a mark: its own text names an internal stream ("<unicode
        # string>") and a character offset on a second line, where a line number is what helps.
        line = text[: exc.position].count("\n") + 1
        raise _UnreadableError(
            f"{shown} is not valid YAML (unacceptable character #x{exc.character:04x}: "
            f"{exc.reason} at line {line}); fix the file or use a clean checkout"
        ) from exc
    except yaml.YAMLError as exc:
        # None other is raised by safe_load today; a new kind is still a clear refusal.
        raise _UnreadableError(
            f"{shown} is not valid YAML ({exc}); fix the file or use a clean checkout"
        ) from exc
    except RecursionError as exc:
        raise _UnreadableError(f"{shown} nests too deeply to be a prompt definition") from exc


def _model_facts(
    definition: object, shown: str, load_config: Callable[[object, str], tuple[str, object]]
) -> _ModelFacts:
    """The gateway's reading of a definition's ``model`` stanza."""
    if not isinstance(definition, dict):
        raise _UnreadableError(
            f"{shown} holds {_kind(definition)} rather than a mapping, so it is not a prompt "
            "definition"
        )
    model = definition.get("model")
    if model is None:
        return _ModelFacts(None, None, None)
    if not isinstance(model, dict):
        raise _UnreadableError(f"the model entry of {shown} is {_kind(model)}, not a mapping")
    name: object = None
    params: dict[object, object] = {}
    config_path: str | None = None
    if model.get("config_file") is not None:
        config_path, config = load_config(model["config_file"], shown)
        if not isinstance(config, dict):
            raise _UnreadableError(f"{config_path} holds {_kind(config)}, not a mapping")
        name = config.get("name")
        params.update(_params(config.get("params"), config_path))
    # The definition's own settings go on top of the model config, as the gateway merges them.
    if model.get("name") is not None:
        name = model["name"]
    params.update(_params(model.get("params"), f"the model entry of {shown}"))
    if name is not None and not isinstance(name, str):
        raise _UnreadableError(f"the model name in {shown} is {_kind(name)}, not text")
    custom = _text_param(params, "custom_llm_provider", shown)
    model_class = _text_param(params, "model_class_provider", shown)
    provider = custom or model_class
    if not name:
        note = f"only model_class_provider {model_class!r}" if model_class else ""
        return _ModelFacts(None, None, config_path, note)
    if not provider:
        raise _UnreadableError(
            f"{shown} names model {name} but neither custom_llm_provider nor "
            "model_class_provider, so the gateway could not have served it"
        )
    return _ModelFacts(name, provider, config_path)


def _params(raw: object, where: str) -> dict[object, object]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise _UnreadableError(f"the params of {where} are {_kind(raw)}, not a mapping")
    return dict(raw)


def _text_param(params: Mapping[object, object], key: str, shown: str) -> str | None:
    value = params.get(key)
    if value is None or isinstance(value, str):
        return value or None
    raise _UnreadableError(f"{key} in {shown} is {_kind(value)}, not text")


def _parse_versions(stems: list[str]) -> dict[Version, str]:
    versions: dict[Version, str] = {}
    for stem in stems:
        try:
            version = Version.parse(stem)
        except ValueError:
            # The gateway only ever selects files named by a version; anything else is ignored.
            continue
        versions.setdefault(version, stem)
    return versions


def _select(versions: Mapping[Version, str], constraint: VersionConstraint) -> Version | None:
    candidates = list(versions)
    # The gateway's rule: a constraint that is not "simple" (in poetry-core's sense: a range such
    # as ^1.0.0 rather than an exact version) only ever serves stable versions.
    if not constraint.is_simple():
        candidates = [version for version in candidates if version.is_stable()]
    return max((version for version in candidates if constraint.allows(version)), default=None)


def _checked_prompt_id(value: object) -> str:
    if value is None:
        raise _InvalidInputError("The record has no prompt_id, so there is nothing to resolve.")
    if not isinstance(value, str) or len(value) > _PROMPT_ID_MAX or not _PROMPT_ID.fullmatch(value):
        raise _InvalidInputError(
            f"The record's prompt_id {_show(value)} is not a prompt id (lowercase letters, "
            f"digits and _ in /-separated parts, at most {_PROMPT_ID_MAX} characters), so "
            "nothing was read."
        )
    return value


def _checked_constraint(value: object) -> tuple[str, VersionConstraint]:
    if value is None:
        raise _InvalidInputError(
            "The record has no prompt_version, so no definition can be selected."
        )
    problem = (
        f"The record's prompt_version {_show(value)} is not a version constraint Poetry accepts "
        "(at most 64 characters of letters, digits, spaces and . ^ ~ < > = ! * , | + -), so "
        "nothing was read."
    )
    if not isinstance(value, str) or not _CONSTRAINT.fullmatch(value):
        raise _InvalidInputError(problem)
    try:
        return value, parse_constraint(value)
    except ValueError:
        raise _InvalidInputError(problem) from None


def _record_value(value: object, field: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = value.strip()
        if not value:
            return None
        if _RECORD_VALUE.fullmatch(value):
            return value
    raise _InvalidInputError(
        f"The record's {field} {_show(value)} is not a provider or model name (printable ASCII "
        "without spaces, at most 200 characters), so it was not used."
    )


def _decide(
    prompt_id: str | None, requested: str | None, lookup: _Lookup, evidence: _Evidence
) -> Resolution:
    """Weigh the record's own model evidence against what the registry says."""

    def resolution(
        status: ResolutionStatus,
        model: str | None,
        provider: str | None,
        source: ResolutionSource | None,
        detail: str,
    ) -> Resolution:
        return Resolution(
            prompt_id=prompt_id,
            requested_version=requested,
            status=status,
            resolved_version=lookup.resolved_version,
            definition_path=lookup.definition_path,
            config_file=lookup.config_file,
            model=model,
            provider=provider,
            source=source,
            detail=detail,
        )

    said_provider, said_model = evidence.provider, evidence.model
    model = said_model or lookup.model
    model_note = ""
    if said_model is not None:
        model_note = " (the model comes from its model_identifier)"
    if said_provider is not None and said_provider.lower() != _ROUTING_CLASS:
        return resolution(
            "resolved",
            model,
            said_provider,
            "record",
            f"The record's model_class_provider {said_provider!r} decides the provider"
            f"{model_note}; the registry says: {lookup.detail}",
        )
    if said_provider is not None and lookup.status == "resolved":
        return resolution(
            "resolved",
            model,
            lookup.provider,
            lookup.source,
            f"The record's model_class_provider {said_provider!r} names the routing client, not "
            f"a provider, so the provider comes from the {lookup.source}{model_note}: "
            f"{lookup.detail}",
        )
    if said_provider is not None:
        return resolution(
            "resolved",
            model,
            said_provider,
            "record",
            f"The record's model_class_provider {said_provider!r} names only the routing client "
            "and the registry cannot name the provider behind it, so the provider stays "
            f"{said_provider!r}{model_note}; the registry says: {lookup.detail}",
        )
    if said_model is not None:
        decided = (
            "the registry decides the provider"
            if lookup.status == "resolved"
            else "the record names no provider"
        )
        return resolution(
            lookup.status,
            said_model,
            lookup.provider,
            lookup.source,
            f"Model {said_model!r} comes from the record's model_identifier and {decided}; "
            f"the registry says: {lookup.detail}",
        )
    return resolution(lookup.status, lookup.model, lookup.provider, lookup.source, lookup.detail)


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    return f"a {type(value).__name__}"
