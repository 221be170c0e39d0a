"""The gateway's model facts by era: resolution checked against an independent reading of
every model-selection snapshot, the definitions era kept, and no provider beyond the facts."""

from __future__ import annotations

import ast
import json
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from poetry.core.constraints.version import Version, parse_constraint

import failover_verify as fv
from failover_verify._gateway import (
    LEGACY_SINCE,
    REQUESTED_KEY_SINCE,
    EraFacts,
    GatewayFacts,
    facts_from_texts,
)

ROOT = Path(__file__).resolve().parent.parent
SELECTION = ROOT / "fixtures" / "model-selection-history"
DEFINITIONS = ROOT / "fixtures" / "prompt-definitions-history"
SNAPSHOT = ROOT / "src" / "failover_verify" / "data" / "prompt-snapshot.toml"
MAIN_DATES = tomllib.loads((SELECTION / "main-dates.toml").read_text())
FOLDERS = sorted(MAIN_DATES)
VERSIONS = ("^1.0.0", "2.0.0", "2.0.1", "1.2.0", "~2.0.0")
GENERATIONS = "code_suggestions/generations"
DIRECT = {"anthropic", "openai", "amazon_q"}


# --- an independent reading of the gateway's rules, kept deliberately plain -------------------


def _snapshot() -> dict[str, dict[str, Any]]:
    data = tomllib.loads(SNAPSHOT.read_text())
    entries: dict[str, dict[str, Any]] = data["prompts"][f"{GENERATIONS}/base"]
    return entries


def _highest(candidates: list[str], requested: str) -> str | None:
    try:
        constraint = parse_constraint(requested)
    except ValueError:
        return None
    allowed = []
    for name in candidates:
        version = Version.parse(name)
        if constraint.allows(version) and (constraint.is_simple() or version.is_stable()):
            allowed.append((version, name))
    return max(allowed)[1] if allowed else None


def _literals(folder: Path) -> dict[str, Any]:
    found = {}
    for node in ast.parse((folder / "ai_gateway/prompts/registry.py").read_text()).body:
        if isinstance(node, ast.Assign):
            name = node.targets[0]
            assert isinstance(name, ast.Name)
            found[name.id] = ast.literal_eval(node.value)
    return found


def _expected(folder: Path, requested: str, at: datetime) -> tuple[str | None, str | None]:
    """(model, provider) for a registry record without model fields, by the gateway's rules."""
    snapshot = _snapshot()
    resolved = _highest(list(snapshot), requested)
    if at < LEGACY_SINCE:
        if resolved is None:
            return None, None
        return snapshot[resolved]["model"], snapshot[resolved]["provider"]
    literals = _literals(folder)
    mapping = literals.get("LEGACY_MODEL_MAPPING", {}).get(GENERATIONS, {})
    settings = literals.get("PROMPT_ID_TO_FEATURE_SETTING", {})
    key = (resolved or requested) if at < REQUESTED_KEY_SINCE else requested
    identifier = mapping.get(key)
    if identifier is None:
        setting = settings.get(GENERATIONS, GENERATIONS.split("/", maxsplit=1)[0])
        primitives = yaml.safe_load(
            (folder / "ai_gateway/model_selection/unit_primitives.yml").read_text()
        )
        for entry in primitives["configurable_unit_primitives"]:
            if entry["feature_setting"] == setting:
                defaults = entry.get("default_models") or [entry.get("default_model")]
                identifier = defaults[0]
    models = _plain_models((folder / "ai_gateway/model_selection/models.yml").read_text())
    provider, model_class = models[identifier]["provider"], models[identifier]["model_class"]
    if provider is None and model_class is None and resolved is not None:
        # The era's prompt file named the class (as the snapshot records it).
        named = snapshot[resolved]["provider"]
        provider = named if named in DIRECT else None
    return identifier, provider


def _at(folder: str) -> datetime:
    # A moment after the folder's commit reached main.
    return datetime.fromisoformat(MAIN_DATES[folder]["date"]).astimezone(UTC) + timedelta(minutes=1)


class TestAgainstEverySnapshot:
    @pytest.mark.parametrize("folder", FOLDERS)
    def test_records_without_model_fields(self, folder: str) -> None:
        """With --gateway on each snapshot, every version resolves as the gateway's rules say,
        judged by the date its facts reached main."""
        facts = GatewayFacts.from_checkout(SELECTION / folder)
        at = _at(folder)
        for requested in VERSIONS:
            resolution = facts.resolve(GENERATIONS, requested, at=at)
            model, provider = _expected(SELECTION / folder, requested, at)
            got = (resolution.model, resolution.provider)
            assert got == (model, provider), (folder, requested, resolution.detail)

    @pytest.mark.parametrize("folder", [name for name in FOLDERS if name >= "2025-09-09"])
    def test_records_with_identifiers(self, folder: str) -> None:
        """A record's own model_identifier decides, with the provider models.yml gives it."""
        facts = GatewayFacts.from_checkout(SELECTION / folder)
        at = _at(folder)
        identifier, provider = _expected(SELECTION / folder, "2.0.0", at)
        assert identifier is not None
        resolution = facts.resolve(GENERATIONS, "^1.0.0", at=at, model_identifier=identifier)
        assert (resolution.model, resolution.provider, resolution.source) == (
            identifier,
            provider,
            "record",
        )

    def test_unknown_identifier_is_unknown(self) -> None:
        """An identifier the facts do not list gets no provider, whatever the snapshot says."""
        facts = GatewayFacts.from_checkout(SELECTION / FOLDERS[-1])
        resolution = facts.resolve(
            GENERATIONS,
            "2.0.0",
            at=_at(FOLDERS[-1]),
            model_identifier="claude_sonnet_9_vertex",
            model_class_provider="litellm",
        )
        assert (resolution.status, resolution.provider) == ("unknown_model", None)
        assert "unknown rather than guessed" in resolution.detail


class TestDefinitionsEra:
    @pytest.mark.parametrize(
        "folder", sorted(path.name for path in DEFINITIONS.iterdir() if path.name < "2025-08")
    )
    def test_same_as_definitions(self, folder: str) -> None:
        """Before 2025-09-08 the definitions decide, exactly as --definitions resolves them."""
        registry = fv.PromptRegistry.from_directory(
            DEFINITIONS / folder, fallback=fv.PromptRegistry.bundled()
        )
        facts = GatewayFacts.bundled(definitions=registry)
        at = datetime.fromisoformat(folder[:10]).replace(tzinfo=UTC) + timedelta(days=1)
        for requested in (*VERSIONS, "1.0.1-dev", "2.0.2"):
            for prompt_id in (GENERATIONS, f"{GENERATIONS}/base"):
                assert facts.resolve(prompt_id, requested, at=at) == registry.resolve(
                    prompt_id, requested
                )


class TestBundledFacts:
    def test_no_provider_beyond_the_facts(self) -> None:
        """In every bundled era, every version and identifier resolves to the provider that
        era's models.yml gives the model, or to none: never another era's or a guess."""
        facts = GatewayFacts.bundled()
        checked = 0
        for era in facts.eras:
            if era.since is None or era.since < LEGACY_SINCE:
                continue
            at = era.since + timedelta(seconds=1)
            asks: list[tuple[str, str | None]] = [(version, None) for version in VERSIONS]
            asks += [("^1.0.0", identifier) for identifier in era.models]
            for version, identifier in asks:
                resolution = facts.resolve(GENERATIONS, version, at=at, model_identifier=identifier)
                if resolution.identifier is None:
                    assert resolution.provider is None
                    continue
                model = era.models.get(resolution.identifier)
                allowed = {model.provider} if model is not None else {None}
                if model is not None and model.provider is None:
                    allowed |= DIRECT
                assert resolution.provider in allowed, (era.label, version, identifier)
                checked += 1
        assert checked > 400

    def test_today(self) -> None:
        """Today ^1.0.0 with claude_sonnet_4_6_vertex is Vertex, version file 1.2.0, and the
        2.0.0 failover is Claude Sonnet 4.5 on Vertex too."""
        facts = GatewayFacts.bundled()
        now = datetime(2026, 12, 1, tzinfo=UTC)
        primary = facts.resolve(
            GENERATIONS,
            "^1.0.0",
            at=now,
            model_identifier="claude_sonnet_4_6_vertex",
            model_class_provider="litellm",
        )
        assert (primary.model, primary.provider, primary.resolved_version) == (
            "claude_sonnet_4_6_vertex",
            "vertex_ai",
            "1.2.0",
        )
        failover = facts.resolve(GENERATIONS, "2.0.0", at=now)
        assert (failover.model, failover.provider, failover.model_name) == (
            "claude_sonnet_4_5_20250929_vertex",
            "vertex_ai",
            "claude-sonnet-4-5@20250929",
        )

    def test_eras_follow_main(self) -> None:
        """The bundled eras are dated in order, and the generation failover model changes at
        the merges the gateway's history shows."""
        facts = GatewayFacts.bundled()
        dates = [era.since for era in facts.eras if era.since is not None]
        assert len(dates) == len(facts.eras)
        assert dates == sorted(dates)
        by_day = {
            day: facts.resolve(GENERATIONS, "2.0.0", at=datetime.fromisoformat(day + "T23:59Z"))
            for day in ("2025-09-09", "2025-11-07", "2026-01-08", "2026-06-13")
        }
        assert {day: res.model for day, res in by_day.items()} == {
            "2025-09-09": "claude_3_5_sonnet_20240620_vertex",
            "2025-11-07": "claude_sonnet_3_7_20250219_vertex",
            "2026-01-08": "claude_sonnet_4_20250514_vertex",
            "2026-06-13": "claude_sonnet_4_5_20250929_vertex",
        }


def _checkout(root: Path, *, default: bool) -> Path:
    """A small ai-assist checkout: version files in base and a family folder, one model."""
    prompts = root / "ai_gateway/prompts"
    generations = prompts / "definitions" / GENERATIONS
    for folder, versions in (("base", ("1.0.0", "1.2.0", "2.0.0")), ("claude_sonnet", ("1.1.0",))):
        (generations / folder).mkdir(parents=True)
        for version in versions:
            (generations / folder / f"{version}.yml").write_text("name: generation\n")
    (generations / "claude_sonnet" / "README.md").write_text("not a version\n")
    (generations / "empty").mkdir()
    (generations / "notes.txt").write_text("not a folder\n")
    (generations / "linked").symlink_to(generations / "base")
    (prompts / "registry.py").write_text(
        f"LEGACY_MODEL_MAPPING = {{{GENERATIONS!r}: {{'2.0.0': 'claude_x'}}}}\n"
    )
    selection = root / "ai_gateway/model_selection"
    selection.mkdir()
    (selection / "models.yml").write_text(
        "models:\n  - gitlab_identifier: claude_x\n    family: [claude_sonnet]\n"
        "    params: {model: claude-x, custom_llm_provider: vertex_ai}\n"
    )
    if default:
        (selection / "unit_primitives.yml").write_text(
            "configurable_unit_primitives:\n"
            "  - {feature_setting: code_suggestions, default_model: claude_x}\n"
        )
    return root


class TestReadingFiles:
    def test_checkout_version_files(self, tmp_path: Path) -> None:
        """A checkout's prompt folders give their version files; symlinked, empty and other
        entries, and a missing completions folder, are passed over."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=False))
        assert facts.eras[0].versions == {
            f"{GENERATIONS}/base": ["1.0.0", "1.2.0", "2.0.0"],
            f"{GENERATIONS}/claude_sonnet": ["1.1.0"],
        }
        assert facts.description == (
            f"gateway checkout {tmp_path} (ai_gateway/model_selection/models.yml, "
            "ai_gateway/prompts/registry.py, definitions)"
        )

    def test_no_default_model_is_no_model(self, tmp_path: Path) -> None:
        """A version the mapping lacks, with no default model, resolves to no model, keeping
        the version file the constraint selects."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=False))
        era = f"checkout {tmp_path} (undated)"
        assert facts.resolve(GENERATIONS, "^1.0.0", at=None) == fv.Resolution(
            prompt_id=GENERATIONS,
            requested_version="^1.0.0",
            status="no_model",
            resolved_version="1.2.0",
            definition_path=f"ai_gateway/prompts/definitions/{GENERATIONS}/base/1.2.0.yml",
            source="facts",
            era=era,
            detail=f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^1.0.0'] is absent, so the default "
            f"of feature setting code_suggestions is unknown, per {era}.",
        )

    def test_default_model_picks_its_family_folder(self, tmp_path: Path) -> None:
        """The default model's family folder holds the version served; a constraint no file
        there satisfies could not have been served."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=True))
        era = f"checkout {tmp_path} (undated)"
        served = facts.resolve(GENERATIONS, "^1.0.0", at=None)
        assert (served.status, served.resolved_version, served.definition_path) == (
            "resolved",
            "1.1.0",
            f"ai_gateway/prompts/definitions/{GENERATIONS}/claude_sonnet/1.1.0.yml",
        )
        assert facts.resolve(GENERATIONS, "^3.0.0", at=None) == fv.Resolution(
            prompt_id=GENERATIONS,
            requested_version="^3.0.0",
            status="no_matching_version",
            source="facts",
            era=era,
            detail=f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^3.0.0'] is absent, so the default "
            "of feature setting code_suggestions is claude_x, but no version file in "
            f"{GENERATIONS}/claude_sonnet satisfies '^3.0.0' (1.1.0), so the gateway could not "
            f"have served it, per {era}.",
        )

    def test_partial_checkout(self, tmp_path: Path) -> None:
        """A checkout with only models.yml still gives its models, and says which files it had."""
        source = SELECTION / FOLDERS[-1] / "ai_gateway/model_selection/models.yml"
        target = tmp_path / "ai_gateway/model_selection/models.yml"
        target.parent.mkdir(parents=True)
        target.write_text(source.read_text())
        facts = GatewayFacts.from_checkout(tmp_path)
        assert "claude_sonnet_4_6_vertex" in facts.eras[0].models
        assert facts.description.endswith("(ai_gateway/model_selection/models.yml)")

    def test_not_a_checkout(self, tmp_path: Path) -> None:
        """A folder with none of the gateway's files is refused, saying what was expected."""
        with pytest.raises(fv.DefinitionsError, match="root of an ai-assist checkout"):
            GatewayFacts.from_checkout(tmp_path)

    def test_registry_is_never_run(self) -> None:
        """registry.py is parsed for dict literals, never executed."""
        era = facts_from_texts(
            models=None,
            unit_primitives=None,
            registry="import os\nos.system('false')\nLEGACY_MODEL_MAPPING = "
            "{'code_suggestions/generations': {'2.0.0': 'x'}, 'chat': {'1': 'y'}}\n"
            "OTHER = compute()\n",
            source="t",
        )
        assert era.legacy == {"code_suggestions/generations": {"2.0.0": "x"}}


# --- models.yml, unit_primitives.yml and registry.py as the gateway wrote them -----------------


def _families(family: str | list[str] | None) -> tuple[str, ...]:
    # One name until 2025-09-08, a list since (model_selection_config.py, f134fac5a).
    if family is None:
        return ()
    return (family,) if isinstance(family, str) else tuple(family)


def _plain_models(text: str) -> dict[str, dict[str, Any]]:
    """models.yml read plainly: identifier -> what the facts should say of it."""
    found = {}
    for entry in yaml.safe_load(text)["models"]:
        params = entry.get("params") or {}
        model_class = entry.get("model_class_provider") or params.get("model_class_provider")
        provider = params.get("custom_llm_provider")
        if provider is None and model_class in DIRECT:
            provider = model_class
        note = ""
        if provider is None:
            note = (
                f"models.yml names no custom_llm_provider for {entry['gitlab_identifier']} and "
                f"its class {model_class or '(none)'} routes by the model name, so the provider "
                "is not stated"
            )
        found[entry["gitlab_identifier"]] = {
            "identifier": entry["gitlab_identifier"],
            "name": entry.get("name"),
            "model": params.get("model"),
            "provider": provider,
            "provider_note": note,
            "model_class": model_class,
            "family": _families(entry.get("family")),
        }
    return found


def _plain_defaults(folder: Path) -> tuple[dict[str, str], set[str]]:
    """unit_primitives.yml read plainly: the Code Suggestions defaults, and every model its
    settings name (defaults and selectable)."""
    path = folder / "ai_gateway/model_selection/unit_primitives.yml"
    if not path.exists():
        return {}, set()
    defaults, named = {}, set()
    for entry in yaml.safe_load(path.read_text())["configurable_unit_primitives"]:
        if entry["feature_setting"] not in {
            "code_suggestions",
            "code_generations",
            "code_completions",
        }:
            continue
        default = (entry.get("default_models") or [entry.get("default_model")])[0]
        if default:
            defaults[entry["feature_setting"]] = default
            named.add(default)
        named.update(entry.get("selectable_models") or ())
    return defaults, named


class TestModelsFile:
    @pytest.mark.parametrize("folder", FOLDERS)
    def test_every_snapshot(self, folder: str) -> None:
        """Each snapshot's models.yml, unit_primitives.yml and registry literals give the
        facts a plain reading of them gives: every field of every model Code Suggestions can
        serve, the default of each of its feature settings, the mapping and the settings."""
        root = SELECTION / folder
        era = GatewayFacts.from_checkout(root).eras[0]
        models_path = root / "ai_gateway/model_selection/models.yml"
        literals = _literals(root) if (root / "ai_gateway/prompts/registry.py").exists() else {}
        legacy = {
            prompt_id: mapped
            for prompt_id, mapped in literals.get("LEGACY_MODEL_MAPPING", {}).items()
            if prompt_id.startswith("code_suggestions/")
        }
        defaults, named = _plain_defaults(root)
        named |= {identifier for mapped in legacy.values() for identifier in mapped.values()}
        every = _plain_models(models_path.read_text()) if models_path.exists() else {}
        kept = {key: value for key, value in every.items() if not named or key in named}
        assert {key: facts.model_dump() for key, facts in era.models.items()} == kept
        assert era.defaults == defaults
        assert era.legacy == legacy
        assert era.prompt_settings == {
            prompt_id: setting
            for prompt_id, setting in literals.get("PROMPT_ID_TO_FEATURE_SETTING", {}).items()
            if prompt_id.startswith("code_suggestions/")
        }

    def test_snapshots_cover_each_kind_of_model(self) -> None:
        """The snapshots hold models with and without a stated provider, classes that call
        their own API and litellm ones, so the comparison above reaches every branch."""
        seen = [
            facts
            for folder in FOLDERS
            for facts in GatewayFacts.from_checkout(SELECTION / folder).eras[0].models.values()
        ]
        assert {facts.provider is None for facts in seen} == {True, False}
        assert {"anthropic", "litellm", "litellm_completion"} <= {f.model_class for f in seen}
        assert any(f.provider == f.model_class for f in seen)
        assert {bool(f.family) for f in seen} == {True, False}

    def test_routing_provider_of_2025(self) -> None:
        """Until 2025-09-07 an entry named its routing provider and provider model
        (``provider``, ``provider_identifier``; models.yml at ai-assist d31223782)."""
        era = facts_from_texts(
            models="""
models:
  - name: "Codestral 25.01 - Vertex"
    gitlab_identifier: "codestral_2501_vertex"
    provider: "vertex-ai"
    provider_identifier: "codestral-2501"
    params:
      temperature: 0.7
      max_tokens: 64
      max_retries: 1
""",
            unit_primitives=None,
            registry=None,
            source="t",
        )
        assert era.models["codestral_2501_vertex"].model_dump() == {
            "identifier": "codestral_2501_vertex",
            "name": "Codestral 25.01 - Vertex",
            "model": "codestral-2501",
            "provider": "vertex-ai",
            "provider_note": "",
            "model_class": None,
            "family": (),
        }

    def test_display_label_is_no_route(self) -> None:
        """From 2025-11-14 ``provider`` is a display label (ai-assist 96229221f): without
        ``custom_llm_provider`` or a class that calls its own API the provider is not stated,
        and a class under ``params`` counts (GPT-5's, same commit)."""
        era = facts_from_texts(
            models="""
models:
  - name: "Codestral 25.01"
    provider: "Fireworks"
    gitlab_identifier: "codestral_2501_fireworks"
    params:
      model: "codestral-2501"
      temperature: 0.7
  - name: "GPT-5"
    provider: "OpenAI"
    gitlab_identifier: "gpt_5"
    family:
      - gpt_5
    params:
      model: gpt-5-2025-08-07
      model_class_provider: "openai"
""",
            unit_primitives=None,
            registry=None,
            source="t",
        )
        fireworks, gpt = era.models["codestral_2501_fireworks"], era.models["gpt_5"]
        assert (fireworks.provider, fireworks.model, fireworks.model_class) == (
            None,
            "codestral-2501",
            None,
        )
        assert fireworks.provider_note == (
            "models.yml names no custom_llm_provider for codestral_2501_fireworks and its class "
            "(none) routes by the model name, so the provider is not stated"
        )
        assert (gpt.provider, gpt.model_class, gpt.family, gpt.provider_note) == (
            "openai",
            "openai",
            ("gpt_5",),
            "",
        )

    def test_class_at_the_top_beats_params(self) -> None:
        """The entry's own model_class_provider outweighs one under params, and the model
        under params outweighs provider_identifier."""
        era = facts_from_texts(
            models="""
models:
  - gitlab_identifier: both
    model_class_provider: litellm
    provider_identifier: old-name
    params: {model: new-name, model_class_provider: openai, custom_llm_provider: bedrock}
""",
            unit_primitives=None,
            registry=None,
            source="t",
        )
        facts = era.models["both"]
        assert (facts.model_class, facts.model, facts.provider) == (
            "litellm",
            "new-name",
            "bedrock",
        )

    def test_odd_entries(self) -> None:
        """Entries without an identifier, or that are no mapping, are passed over; empty or
        non-text values count as absent; params or a family that are no mapping or list are
        ignored."""
        era = facts_from_texts(
            models="""
models:
  - just a string
  - name: no identifier
  - gitlab_identifier: ""
  - gitlab_identifier: odd
    name: ""
    model_class_provider: 7
    family: 7
    params: [model, x]
  - gitlab_identifier: empty_model
    model_class_provider: ""
    params: {model: "", model_class_provider: anthropic}
""",
            unit_primitives=None,
            registry=None,
            source="t",
        )
        assert list(era.models) == ["odd", "empty_model"]
        odd = era.models["odd"]
        assert (odd.name, odd.model, odd.model_class, odd.family, odd.provider) == (
            None,
            None,
            None,
            (),
            None,
        )
        assert odd.provider_note.startswith("models.yml names no custom_llm_provider for odd and")
        empty = era.models["empty_model"]
        assert (empty.model, empty.model_class, empty.provider) == (None, "anthropic", "anthropic")

    def test_only_the_models_code_suggestions_can_serve(self) -> None:
        """The catalogue keeps the Code Suggestions defaults (even one no setting lists as
        selectable), their selectable models and the mapping's models; other features'
        settings, listed first, neither stop the reading nor add models."""
        models = "models:\n" + "".join(
            f"  - {{gitlab_identifier: {name}}}\n"
            for name in ("chat_model", "fallback", "picked", "mapped", "listed", "unused")
        )
        era = facts_from_texts(
            models=models,
            unit_primitives="""
configurable_unit_primitives:
  - {feature_setting: duo_chat, default_model: chat_model, selectable_models: [chat_model]}
  - {feature_setting: code_completions, default_models: [], default_model: fallback}
  - {feature_setting: code_generations, default_models: [picked, listed]}
  - {feature_setting: code_suggestions, selectable_models: [listed]}
""",
            registry="LEGACY_MODEL_MAPPING = {'code_suggestions/generations': {'2.0.0': 'mapped'}}",
            source="t",
        )
        assert era.defaults == {"code_completions": "fallback", "code_generations": "picked"}
        assert sorted(era.models) == ["fallback", "listed", "mapped", "picked"]

    def test_registry_literals(self) -> None:
        """Annotated and plain assignments are read, whatever precedes them; assignments that
        are no dict, not literal, to several names or to no name are passed over."""
        era = facts_from_texts(
            models=None,
            unit_primitives=None,
            registry="""
COUNT = 3
PENDING: dict[str, str]
FIRST, SECOND = {}, {}
A = B = {'code_suggestions/completions': 'x'}
COMPUTED = dict(a=1)
LEGACY_MODEL_MAPPING: dict[str, dict[str, str]] = {
    'code_suggestions/generations': {'2.0.0': 'claude_x', 2: 3},
    'code_suggestions/odd': 'not a mapping',
}
PROMPT_ID_TO_FEATURE_SETTING = {
    'code_suggestions/generations': 'code_generations',
    'chat/react': 'duo_chat',
}
""",
            source="t",
        )
        assert era.legacy == {"code_suggestions/generations": {"2.0.0": "claude_x", "2": "3"}}
        assert era.prompt_settings == {"code_suggestions/generations": "code_generations"}


TODAY = datetime(2026, 12, 1, tzinfo=UTC)
TODAYS_ERA = "ai-assist main b0bec742d (2026-06-12)"


class TestServedModelName:
    """A served record logs the provider's model name and the engine; the facts name the
    identifier behind them when exactly one fits."""

    @pytest.mark.parametrize(
        ("engine", "identifier"),
        [
            # claude-sonnet-4-6 is both the Anthropic class's and Vertex's (litellm) model.
            ("anthropic-chat", "claude_sonnet_4_6"),
            ("litellm-chat", "claude_sonnet_4_6_vertex"),
            (None, None),
            ("", None),
        ],
    )
    def test_a_name_two_models_share(self, engine: str | None, identifier: str | None) -> None:
        facts = GatewayFacts.bundled()
        found = facts.model_named(engine, "claude-sonnet-4-6", TODAY)
        assert (found.identifier if found else None) == identifier

    def test_one_model_of_that_name(self) -> None:
        """A name only one model has needs no engine, and any engine keeps it."""
        facts = GatewayFacts.bundled()
        for engine in (None, "anthropic-chat", "litellm-completion"):
            found = facts.model_named(engine, "codestral-2508", TODAY)
            assert found is not None
            assert found.identifier == "codestral_2508_fireworks"

    def test_nothing_to_look_up(self) -> None:
        """No name, an unknown name, or a moment before the first era: no model."""
        facts = GatewayFacts.bundled()
        assert facts.model_named("litellm-chat", None, TODAY) is None
        assert facts.model_named("litellm-chat", "gpt-9", TODAY) is None
        before = datetime(2020, 1, 1, tzinfo=UTC)
        assert facts.model_named("anthropic-chat", "claude-sonnet-4-6", before) is None


class TestIdentifierNotInFacts:
    """A record's model_identifier the era's facts do not list: a direct class still says
    where the request went; a routing class says nothing, and no provider is guessed."""

    def _resolve(self, class_provider: str) -> fv.Resolution:
        return GatewayFacts.bundled().resolve(
            GENERATIONS,
            "^1.0.0",
            at=TODAY,
            model_identifier="claude_made_up",
            model_class_provider=class_provider,
        )

    def test_direct_class(self) -> None:
        assert self._resolve("anthropic") == fv.Resolution(
            prompt_id=GENERATIONS,
            requested_version="^1.0.0",
            status="resolved",
            resolved_version="1.2.0",
            definition_path=f"ai_gateway/prompts/definitions/{GENERATIONS}/base/1.2.0.yml",
            model="claude_made_up",
            provider="anthropic",
            source="record",
            identifier="claude_made_up",
            era=TODAYS_ERA,
            detail=f"the record's model_identifier 'claude_made_up' is not in the facts of "
            f"{TODAYS_ERA}; its model_class_provider 'anthropic' calls that provider directly.",
        )

    def test_routing_class(self) -> None:
        assert self._resolve("litellm") == fv.Resolution(
            prompt_id=GENERATIONS,
            requested_version="^1.0.0",
            status="unknown_model",
            resolved_version="1.2.0",
            definition_path=f"ai_gateway/prompts/definitions/{GENERATIONS}/base/1.2.0.yml",
            model="claude_made_up",
            source="record",
            identifier="claude_made_up",
            era=TODAYS_ERA,
            detail=f"the record's model_identifier 'claude_made_up' is not in the facts of "
            f"{TODAYS_ERA}; the provider is unknown rather than guessed.",
        )


class TestReadingCheckoutFiles:
    def test_definitions_of_the_checkout_then_the_snapshot(self, tmp_path: Path) -> None:
        """In the definitions era the checkout's own files pick the version; a file that
        names no model is looked up in the bundled snapshot."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=False))
        definitions = tmp_path / "ai_gateway/prompts/definitions"
        assert facts.definitions.description == (
            f"definitions at {definitions}, falling back to bundled snapshot (13 versions)"
        )
        resolution = facts.resolve(GENERATIONS, "2.0.0", at=datetime(2025, 6, 1, tzinfo=UTC))
        assert (resolution.model, resolution.provider, resolution.source) == (
            "claude-3-5-sonnet@20240620",
            "vertex_ai",
            "snapshot",
        )
        assert resolution.detail is not None
        assert resolution.detail.startswith(
            f"'2.0.0' selects version 2.0.0 of {GENERATIONS}/base in the definitions at "
            f"{definitions}, but ai_gateway/prompts/definitions/{GENERATIONS}/base/2.0.0.yml "
            "names no model;"
        )

    def test_completions_without_generations(self, tmp_path: Path) -> None:
        """The completions folders are read even when the generations folder is missing."""
        folder = tmp_path / "ai_gateway/prompts/definitions/code_suggestions/completions"
        (folder / "codestral").mkdir(parents=True)
        (folder / "codestral" / "1.0.0.yml").write_text("name: completion\n")
        facts = GatewayFacts.from_checkout(tmp_path)
        assert facts.eras[0].versions == {"code_suggestions/completions/codestral": ["1.0.0"]}

    def test_not_a_folder(self, tmp_path: Path) -> None:
        """A checkout path that is missing or a file is refused, naming it."""
        for path in (tmp_path / "missing", tmp_path / "file"):
            if path.name == "file":
                path.write_text("")
            with pytest.raises(fv.DefinitionsError) as raised:
                GatewayFacts.from_checkout(path)
            assert str(raised.value) == (
                f"the gateway checkout {path} does not exist or is no folder"
            )

    def test_neither_definitions_nor_model_selection(self, tmp_path: Path) -> None:
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.from_checkout(tmp_path)
        assert str(raised.value) == (
            f"{tmp_path} holds neither ai_gateway/prompts/definitions nor "
            "ai_gateway/model_selection: expected the root of an ai-assist checkout"
        )

    def _models_file(self, root: Path) -> Path:
        path = root / "ai_gateway/model_selection/models.yml"
        path.parent.mkdir(parents=True)
        return path

    def test_size_limit(self, tmp_path: Path) -> None:
        """A file of 4 MiB is read; one byte more is refused as no gateway file."""
        path = self._models_file(tmp_path)
        entry = "models:\n  - {gitlab_identifier: big}\n"
        path.write_text(entry + "#" * ((4 << 20) - len(entry) - 1) + "\n")
        assert path.stat().st_size == 4 << 20
        assert list(GatewayFacts.from_checkout(tmp_path).eras[0].models) == ["big"]
        path.write_text(entry + "#" * ((4 << 20) - len(entry)) + "\n")
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.from_checkout(tmp_path)
        assert str(raised.value) == f"{path} is larger than 4 MiB; not a gateway file"

    def test_not_text(self, tmp_path: Path) -> None:
        path = self._models_file(tmp_path)
        path.write_bytes(b"models:\n  - {gitlab_identifier: caf\xe9}\n")
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.from_checkout(tmp_path)
        assert str(raised.value) == f"{path} is not UTF-8 text"

    def test_unreadable(self, tmp_path: Path) -> None:
        """A path that cannot be read (here a folder where the file should be) is named with
        the system's reason."""
        path = self._models_file(tmp_path)
        path.mkdir()
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.from_checkout(tmp_path)
        assert str(raised.value) == f"cannot read {path}: Is a directory"


def _facts(**era: Any) -> GatewayFacts:
    """Facts of one undated era, with the bundled definitions."""
    return GatewayFacts([EraFacts(source="t", **era)], fv.PromptRegistry.bundled(), "test facts")


class TestEraRules:
    @pytest.mark.parametrize(
        ("prompt_id", "setting"),
        [
            ("code_suggestions/generations/base", "code_suggestions"),
            ("code_suggestions/completions", "code_suggestions"),
            ("chat/react", "duo_chat"),
            ("review_merge_request", "review_merge_request"),
        ],
    )
    def test_setting_by_first_segment(self, prompt_id: str, setting: str) -> None:
        """Without PROMPT_ID_TO_FEATURE_SETTING the feature setting is the id's first
        segment, chat being duo_chat."""
        assert EraFacts(source="t").setting_for(prompt_id) == setting

    def test_setting_by_mapping(self) -> None:
        era = EraFacts(source="t", prompt_settings={GENERATIONS: "code_generations"})
        assert era.setting_for(GENERATIONS) == "code_generations"
        assert era.setting_for(f"{GENERATIONS}/base") == "code_suggestions"

    def test_mapped_model_models_yml_lacks(self) -> None:
        """A mapping that names a model models.yml does not list gives that identifier,
        with no provider, and says so."""
        facts = _facts(legacy={GENERATIONS: {"2.0.0": "ghost"}}, models={})
        assert facts.resolve(GENERATIONS, "2.0.0", at=None) == fv.Resolution(
            prompt_id=GENERATIONS,
            requested_version="2.0.0",
            status="unknown_model",
            resolved_version="2.0.0",
            definition_path=f"ai_gateway/prompts/definitions/{GENERATIONS}/base/2.0.0.yml",
            identifier="ghost",
            model="ghost",
            source="facts",
            era="t (undated)",
            detail=f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['2.0.0'] gives ghost, which "
            "models.yml of t (undated) does not list.",
        )

    def test_highest_version_file(self) -> None:
        """The version file a constraint selects is the highest by version (1.10.0 above
        1.9.0), names that are no version passed over wherever they stand."""
        facts = _facts(
            defaults={"code_suggestions": "claude_x"},
            models={"claude_x": {"identifier": "claude_x", "provider": "vertex_ai"}},
            versions={f"{GENERATIONS}/base": ["latest", "1.9.0", "1.10.0", "2.0.0"]},
        )
        resolution = facts.resolve(GENERATIONS, "^1.0.0", at=None)
        assert (resolution.status, resolution.resolved_version, resolution.provider) == (
            "resolved",
            "1.10.0",
            "vertex_ai",
        )

    def test_bundled_description(self) -> None:
        assert GatewayFacts.bundled().description == (
            "bundled gateway facts, 46 eras to 2026-06-12 (ai-assist b0bec742d), "
            "generated 2026-12-02"
        )


_MAIN_08C = "ai-assist main 08c482877 (2025-09-08)"
# Today 2.0.0 is Claude Sonnet 4.5 on Vertex, by the mapping.
_TODAYS_FAILOVER = (
    "resolved",
    "claude_sonnet_4_5_20250929_vertex",
    "vertex_ai",
    "2.0.0",
    TODAYS_ERA,
    (
        f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['2.0.0']: claude_sonnet_4_5_20250929_vertex "
        f"(claude-sonnet-4-5@20250929) via vertex_ai, per {TODAYS_ERA}."
    ),
)
_CLASS_NOTE = "(the class from the prompt definition, as models.yml then named none)"


class TestResolutionDetails:
    """Each rule of each era, with the detail it gives, word for word."""

    @pytest.mark.parametrize(
        ("prompt_id", "version", "at", "record", "expected"),
        [
            (
                GENERATIONS,
                "2.0.0",
                TODAY,
                {},
                _TODAYS_FAILOVER,
            ),
            # The base prompt id is looked up as its prompt's mapping.
            (
                f"{GENERATIONS}/base",
                "2.0.0",
                TODAY,
                {},
                _TODAYS_FAILOVER,
            ),
            (
                GENERATIONS,
                "^1.0.0",
                TODAY,
                {
                    "model_identifier": "claude_sonnet_4_6_vertex",
                    "model_class_provider": "litellm",
                },
                (
                    "resolved",
                    "claude_sonnet_4_6_vertex",
                    "vertex_ai",
                    "1.2.0",
                    TODAYS_ERA,
                    (
                        "the record's model_identifier 'claude_sonnet_4_6_vertex': "
                        "claude_sonnet_4_6_vertex (claude-sonnet-4-6) via vertex_ai, "
                        f"per {TODAYS_ERA}."
                    ),
                ),
            ),
            (
                None,
                "2.0.0",
                TODAY,
                {},
                (
                    "invalid_input",
                    None,
                    None,
                    None,
                    None,
                    "The record has no prompt_id, so there is nothing to resolve.",
                ),
            ),
            (
                GENERATIONS,
                None,
                TODAY,
                {},
                (
                    "invalid_input",
                    None,
                    None,
                    None,
                    None,
                    "The record has no prompt_version, so no definition can be selected.",
                ),
            ),
            (
                GENERATIONS,
                "!!",
                TODAY,
                {},
                (
                    "invalid_input",
                    None,
                    None,
                    None,
                    None,
                    (
                        "The record's prompt_version '!!' is not a version constraint Poetry "
                        "accepts (at most 64 characters of letters, digits, spaces and . ^ ~ < > "
                        "= ! * , | + -), so nothing was read."
                    ),
                ),
            ),
            # The first moment of the mapping: the resolved version is looked up, and the
            # class comes from the definition, models.yml naming none.
            (
                GENERATIONS,
                "^1.0.0",
                LEGACY_SINCE,
                {},
                (
                    "resolved",
                    "claude_sonnet_4_20250514",
                    "anthropic",
                    "1.1.0",
                    _MAIN_08C,
                    (
                        f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['1.1.0'] (the resolved version): "
                        "claude_sonnet_4_20250514 (claude-sonnet-4-20250514) via anthropic "
                        f"{_CLASS_NOTE}, per {_MAIN_08C}."
                    ),
                ),
            ),
            # A second before, the definition file decided.
            (
                GENERATIONS,
                "^1.0.0",
                LEGACY_SINCE - timedelta(seconds=1),
                {},
                (
                    "resolved",
                    "claude-sonnet-4-20250514",
                    "anthropic",
                    "1.1.0",
                    None,
                    (
                        f"'^1.0.0' selects version 1.1.0 of {GENERATIONS}/base in the bundled "
                        "snapshot (13 versions): claude-sonnet-4-20250514 via anthropic (model "
                        "config ai_gateway/prompts/model_configs/claude_4_0.yml)."
                    ),
                ),
            ),
            # The first moment the requested string is the key: ^1.0.0 is none, so the
            # feature setting's default serves.
            (
                GENERATIONS,
                "^1.0.0",
                REQUESTED_KEY_SINCE,
                {},
                (
                    "resolved",
                    "claude_sonnet_3_7_20250219",
                    "anthropic",
                    "1.1.0",
                    "ai-assist main c4dca98e3 (2025-10-27)",
                    (
                        f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^1.0.0'] is absent, so the "
                        "default of feature setting code_suggestions: claude_sonnet_3_7_20250219 "
                        f"(claude-3-7-sonnet-20250219) via anthropic {_CLASS_NOTE}, per ai-assist "
                        "main c4dca98e3 (2025-10-27)."
                    ),
                ),
            ),
            (
                GENERATIONS,
                "^1.0.0",
                REQUESTED_KEY_SINCE - timedelta(seconds=1),
                {},
                (
                    "resolved",
                    "claude_sonnet_4_20250514",
                    "anthropic",
                    "1.1.0",
                    "ai-assist main 961d812bb (2025-10-21)",
                    (
                        f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['1.1.0'] (the resolved version): "
                        "claude_sonnet_4_20250514 (claude-sonnet-4-20250514) via anthropic "
                        f"{_CLASS_NOTE}, per ai-assist main 961d812bb (2025-10-21)."
                    ),
                ),
            ),
            # In the definitions era the record's own evidence still weighs in.
            (
                GENERATIONS,
                "2.0.0",
                datetime(2025, 6, 1, tzinfo=UTC),
                {"model_class_provider": "litellm", "model_identifier": "x"},
                (
                    "resolved",
                    "x",
                    "vertex_ai",
                    "2.0.0",
                    None,
                    (
                        "The record's model_class_provider 'litellm' names the routing client, not "
                        "a provider, so the provider comes from the snapshot (the model comes from "
                        "its model_identifier): '2.0.0' selects version 2.0.0 of "
                        f"{GENERATIONS}/base in the bundled snapshot (13 versions): "
                        "claude-3-5-sonnet@20240620 via vertex_ai."
                    ),
                ),
            ),
        ],
    )
    def test_detail(
        self,
        prompt_id: str | None,
        version: str | None,
        at: datetime,
        record: dict[str, str],
        expected: tuple[str | None, ...],
    ) -> None:
        got = GatewayFacts.bundled().resolve(prompt_id, version, at=at, **record)
        assert (
            got.status,
            got.model,
            got.provider,
            got.resolved_version,
            got.era,
            got.detail,
        ) == expected
        assert (got.prompt_id, got.requested_version) == (prompt_id, version)

    def test_unstated_provider(self) -> None:
        """A model whose class routes by name, with no custom_llm_provider: the provider is
        unstated, the note says why, and a model without a provider model name shows ?."""
        note = "models.yml names no custom_llm_provider for gem and its class litellm routes"
        facts = _facts(
            legacy={GENERATIONS: {"2.0.0": "gem"}},
            models={"gem": {"identifier": "gem", "model_class": "litellm", "provider_note": note}},
        )
        got = facts.resolve(GENERATIONS, "2.0.0", at=None)
        assert (got.status, got.model, got.provider, got.era) == (
            "unknown_model",
            "gem",
            None,
            "t (undated)",
        )
        assert got.detail == (
            f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['2.0.0']: gem (?) via an unstated provider "
            f"({note}), per t (undated)."
        )

    def test_mapped_version_without_its_file(self) -> None:
        """A version the mapping names but no base version file satisfies could not have been
        served: the gateway loads the file before the model."""
        facts = _facts(
            legacy={GENERATIONS: {"^3.0.0": "claude_x"}},
            models={"claude_x": {"identifier": "claude_x", "provider": "vertex_ai"}},
            versions={f"{GENERATIONS}/base": ["1.0.0", "2.0.0"]},
        )
        got = facts.resolve(GENERATIONS, "^3.0.0", at=None)
        assert (got.status, got.detail) == (
            "no_matching_version",
            (
                f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^3.0.0'] is claude_x, but no version "
                f"file in {GENERATIONS}/base satisfies '^3.0.0' (1.0.0, 2.0.0), so the gateway "
                "could not have served it, per t (undated)."
            ),
        )

    def test_default_model_models_yml_lacks(self) -> None:
        facts = _facts(
            defaults={"code_suggestions": "ghost"},
            models={"other": {"identifier": "other", "provider": "vertex_ai"}},
        )
        got = facts.resolve(GENERATIONS, "^1.0.0", at=None)
        assert (got.status, got.model, got.detail) == (
            "unknown_model",
            "ghost",
            (
                f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^1.0.0'] is absent, so the default of "
                "feature setting code_suggestions gives ghost, which models.yml of t (undated) "
                "does not list."
            ),
        )

    def test_default_model_without_a_base_file(self) -> None:
        """The default model served from base: a constraint no base file satisfies could
        not have been served."""
        facts = _facts(
            defaults={"code_suggestions": "claude_x"},
            models={"claude_x": {"identifier": "claude_x", "provider": "vertex_ai"}},
            versions={f"{GENERATIONS}/base": ["1.0.0", "2.0.0"]},
        )
        got = facts.resolve(GENERATIONS, "^3.0.0", at=None)
        assert (got.status, got.detail) == (
            "no_matching_version",
            (
                f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['^3.0.0'] is absent, so the default of "
                "feature setting code_suggestions is claude_x, but no version file in "
                f"{GENERATIONS}/base satisfies '^3.0.0' (1.0.0, 2.0.0), so the gateway could not "
                "have served it, per t (undated)."
            ),
        )

    def test_resolved_key_from_the_mapping(self) -> None:
        """Between 2025-09-08 and 2025-10-27 the key was the resolved version: from the
        definitions, else the highest mapping key the constraint allows."""
        facts = _facts(
            legacy={GENERATIONS: {"5.0.0": "claude_x", "5.1.0": "claude_y"}},
            models={
                "claude_x": {"identifier": "claude_x", "provider": "vertex_ai"},
                "claude_y": {"identifier": "claude_y", "provider": "anthropic"},
            },
        )
        got = facts.resolve(GENERATIONS, "~5.0.0", at=datetime(2025, 10, 1, tzinfo=UTC))
        assert (got.model, got.provider, got.detail) == (
            "claude_x",
            "vertex_ai",
            (
                f"LEGACY_MODEL_MAPPING[{GENERATIONS!r}]['5.0.0'] (the resolved version): claude_x "
                "(?) via vertex_ai, per t (undated)."
            ),
        )

    def test_family_folder_from_the_requested_key_rule(self, tmp_path: Path) -> None:
        """From the first second of the requested-key rule the default model's family folder
        holds the version served; a second before, the base folder."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=True))
        at_rule = facts.resolve(GENERATIONS, "^1.0.0", at=REQUESTED_KEY_SINCE)
        assert (at_rule.resolved_version, at_rule.definition_path) == (
            "1.1.0",
            f"ai_gateway/prompts/definitions/{GENERATIONS}/claude_sonnet/1.1.0.yml",
        )
        before = facts.resolve(GENERATIONS, "^1.0.0", at=REQUESTED_KEY_SINCE - timedelta(seconds=1))
        assert before.resolved_version == "1.2.0"

    def test_family_folder_lists_its_files(self, tmp_path: Path) -> None:
        """The family folder's files are all named when none satisfies the constraint."""
        root = _checkout(tmp_path, default=True)
        family = root / f"ai_gateway/prompts/definitions/{GENERATIONS}/claude_sonnet"
        (family / "1.2.0.yml").write_text("name: generation\n")
        got = GatewayFacts.from_checkout(root).resolve(GENERATIONS, "^3.0.0", at=None)
        assert got.detail is not None
        assert f"no version file in {GENERATIONS}/claude_sonnet satisfies '^3.0.0' (1.1.0, " in (
            got.detail
        )
        assert "(1.1.0, 1.2.0), so the gateway could not have served it" in got.detail


class TestFactsObject:
    def test_rules_of_two_eras_for_one_set_of_facts(self, tmp_path: Path) -> None:
        """A checkout's undated facts answer a record of the second before the mapping by
        its definitions and one of its first second by the mapping: the same question at two
        times is not answered once."""
        facts = GatewayFacts.from_checkout(_checkout(tmp_path, default=False))
        before = facts.resolve(GENERATIONS, "2.0.0", at=LEGACY_SINCE - timedelta(seconds=1))
        after = facts.resolve(GENERATIONS, "2.0.0", at=LEGACY_SINCE)
        assert (before.source, before.model) == ("snapshot", "claude-3-5-sonnet@20240620")
        assert (after.source, after.model) == ("facts", "claude_x")

    def test_answers_kept_up_to_ten_thousand(self) -> None:
        facts = _facts()
        for number in range(10_001):
            facts.resolve(GENERATIONS, f"{number}.0.0", at=None)
        assert len(facts._cache) == 10_000

    def test_undated_era_first(self) -> None:
        dated = EraFacts(source="d", since=datetime(2026, 1, 1, tzinfo=UTC))
        undated = EraFacts(source="u")
        facts = GatewayFacts([dated, undated], fv.PromptRegistry.bundled(), "t")
        assert [era.source for era in facts.eras] == ["u", "d"]
        assert facts.era_at(datetime(2025, 1, 1, tzinfo=UTC)) is undated
        assert facts.era_at(datetime(2026, 1, 1, tzinfo=UTC)) is dated

    def test_era_dated_and_named(self) -> None:
        era = facts_from_texts(
            models=None,
            unit_primitives=None,
            registry=None,
            source="ai-assist main abc123",
            since=datetime(2026, 4, 15, 12, tzinfo=UTC),
            commit="abc123",
        )
        assert (era.since, era.commit, era.label) == (
            datetime(2026, 4, 15, 12, tzinfo=UTC),
            "abc123",
            "ai-assist main abc123 (2026-04-15)",
        )

    def test_only_plain_names_are_read(self) -> None:
        """An assignment to an attribute or an item is no top-level constant."""
        era = facts_from_texts(
            models=None,
            unit_primitives=None,
            registry="settings.LEGACY_MODEL_MAPPING = {'code_suggestions/x': {'1': 'a'}}\n"
            "table['k'] = {'code_suggestions/y': {'1': 'b'}}\n",
            source="t",
        )
        assert era.legacy == {}


class TestBundledFile:
    def _bundle(self, root: Path, content: str) -> None:
        path = root / "data" / "gateway-facts.json"
        path.parent.mkdir()
        path.write_text(content)

    def test_unreadable(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self._bundle(tmp_path, "{not json")
        monkeypatch.setattr("importlib.resources.files", lambda _package: tmp_path)
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.bundled()
        assert str(raised.value) == (
            "The bundled gateway facts (data/gateway-facts.json) cannot be read (Expecting "
            "property name enclosed in double quotes: line 1 column 2 (char 1)); reinstall "
            "failover-verify."
        )

    def test_no_eras(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self._bundle(tmp_path, '{"eras": []}')
        monkeypatch.setattr("importlib.resources.files", lambda _package: tmp_path)
        with pytest.raises(fv.DefinitionsError) as raised:
            GatewayFacts.bundled()
        assert str(raised.value) == (
            "The bundled gateway facts (data/gateway-facts.json) cannot be read (it holds no "
            "eras); reinstall failover-verify."
        )

    def test_undated_generation(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        era = {"since": "2026-06-12T16:51:20Z", "commit": "b0bec742d", "source": "s"}
        self._bundle(tmp_path, json.dumps({"eras": [era]}))
        definitions = fv.PromptRegistry.bundled()
        monkeypatch.setattr("importlib.resources.files", lambda _package: tmp_path)
        assert GatewayFacts.bundled(definitions).description == (
            "bundled gateway facts, 1 eras to 2026-06-12 (ai-assist b0bec742d), generated ?"
        )
