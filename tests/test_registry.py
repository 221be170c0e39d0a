"""Tests for resolving a logged prompt version to the model and provider the gateway used."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import ClassVar, get_args

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from poetry.core.constraints.version import Version, parse_constraint
from pydantic import ValidationError

from examples import examples
from failover_verify._exceptions import DefinitionsError
from failover_verify._registry import PromptRegistry, Resolution, ResolutionStatus

HISTORY = Path(__file__).resolve().parent.parent / "fixtures" / "prompt-definitions-history"
GENERATIONS = "code_suggestions/generations"
BASE = "code_suggestions/generations/base"
BASE_PATH = "ai_gateway/prompts/definitions/code_suggestions/generations/base"
PROMPTS = "ai_gateway/prompts"

# Hand-made versions: each names model "model-<version>"; 1.x run on anthropic, the rest on
# vertex_ai through litellm, as the real generations definitions did.
HAND_MADE_VERSIONS = (
    "1.0.0",
    "1.0.1-dev",
    "1.0.1",
    "1.0.2-dev",
    "1.1.0",
    "1.2.0-dev",
    "2.0.0",
    "2.0.1",
    "2.0.2-dev",
    "2.0.2",
    "2.0.3",
    "3.0.0-dev",
)

# The brief's table, plus the two versions the fixture history also names a model for.
SNAPSHOT_FACTS = (
    ("1.0.0", "claude-3-5-sonnet-20240620", "anthropic"),
    ("1.0.1-dev", "claude-3-5-sonnet-20241022", "anthropic"),
    ("1.0.1", "claude-3-5-sonnet-20241022", "anthropic"),
    ("2.0.0", "claude-3-5-sonnet@20240620", "vertex_ai"),
    ("2.0.1", "claude-3-5-sonnet@20241022", "vertex_ai"),
    ("2.0.2-dev", "claude-3-7-sonnet@20250219", "vertex_ai"),
    ("2.0.2", "claude-3-7-sonnet@20250219", "vertex_ai"),
    ("1.0.2", "claude-3-7-sonnet-20250219", "anthropic"),
    ("2.0.3", "claude-3-7-sonnet-20250219", "anthropic"),
    ("1.1.0", "claude-sonnet-4-20250514", "anthropic"),
    ("1.2.0-dev", "gemini-2.5-flash", "vertex_ai"),
    ("1.1.0-dev", "claude-sonnet-4-20250514", "anthropic"),
    ("3.0.2-dev", "claude-3-7-sonnet-20250219", "anthropic"),
)


class FileAccess:
    """Records every path the process opens or lists while recording (a PEP 578 audit hook)."""

    _installed: ClassVar[bool] = False
    _paths: ClassVar[list[str] | None] = None

    @classmethod
    @contextmanager
    def recording(cls) -> Iterator[list[str]]:
        if not cls._installed:
            sys.addaudithook(cls._hook)
            cls._installed = True
        paths: list[str] = []
        cls._paths = paths
        try:
            yield paths
        finally:
            cls._paths = None

    @classmethod
    def _hook(cls, event: str, args: tuple[object, ...]) -> None:
        paths = cls._paths
        if paths is None or event not in ("open", "os.listdir", "os.scandir") or not args:
            return
        target = args[0]
        if isinstance(target, str | bytes | os.PathLike):
            paths.append(os.fsdecode(target))


def outside(paths: list[str], root: Path) -> list[str]:
    real_root = root.resolve()
    return [path for path in paths if not Path(path).resolve().is_relative_to(real_root)]


def write_files(root: Path, files: Mapping[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def definition_yaml(model: str, provider: str) -> str:
    if provider == "vertex_ai":
        params = "    model_class_provider: litellm\n    custom_llm_provider: vertex_ai\n"
    else:
        params = f"    model_class_provider: {provider}\n"
    return (
        f"---\nname: Hand-made agent\nmodel:\n  name: {model}\n  params:\n{params}"
        "    temperature: 0.0\n    max_tokens: 2_048\n    max_retries: 1\n"
    )


def make_checkout(root: Path, extra: Mapping[str, str] | None = None) -> Path:
    """An ai-assist-like checkout with HAND_MADE_VERSIONS plus ``extra`` files under prompts/."""
    files = {
        f"{PROMPTS}/definitions/{BASE}/{version}.yml": definition_yaml(
            f"model-{version}", "anthropic" if version.startswith("1.") else "vertex_ai"
        )
        for version in HAND_MADE_VERSIONS
    }
    files.update({f"{PROMPTS}/{relative}": text for relative, text in (extra or {}).items()})
    return write_files(root, files)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    return make_checkout(tmp_path / "ai-assist")


@pytest.fixture
def registry(checkout: Path) -> PromptRegistry:
    return PromptRegistry.from_directory(checkout)


@pytest.fixture(scope="module")
def bundled() -> PromptRegistry:
    return PromptRegistry.bundled()


def one_definition(tmp_path: Path, text: str, **configs: str) -> PromptRegistry:
    """A checkout whose only definition is 1.0.0.yml with ``text``, plus model configs."""
    files = {f"{PROMPTS}/definitions/{BASE}/1.0.0.yml": text}
    files.update({f"{PROMPTS}/model_configs/{name}.yml": body for name, body in configs.items()})
    return PromptRegistry.from_directory(write_files(tmp_path / "ai-assist", files))


class TestPoetryCoreAssumptions:
    def test_dev_suffix_is_a_pep440_dev_release(self) -> None:
        """poetry-core reads "1.0.1-dev" as 1.0.1.dev0 and prints that, not the file stem."""
        version = Version.parse("1.0.1-dev")
        assert version == Version.parse("1.0.1.dev0")
        assert str(version) == "1.0.1.dev0"
        assert not version.is_stable()

    def test_caret_range_allows_dev_releases_by_itself(self) -> None:
        """poetry-core's allows() lets ^1.0.0 match a dev release, so stable filtering is ours."""
        constraint = parse_constraint("^1.0.0")
        assert constraint.allows(Version.parse("1.2.0-dev"))
        assert not constraint.is_simple()

    def test_open_ended_constraints_count_as_simple(self) -> None:
        """poetry-core calls "*" and ">=2.0.0" simple, so the gateway serves pre-releases."""
        assert parse_constraint("*").is_simple()
        assert parse_constraint(">=2.0.0").is_simple()
        assert parse_constraint("1.2.0-dev").is_simple()


class TestResolution:
    def test_round_trips_through_json(self, bundled: PromptRegistry) -> None:
        """A resolution serialises to JSON and back without losing anything."""
        resolution = bundled.resolve(GENERATIONS, "^1.0.0")
        assert Resolution.model_validate_json(resolution.model_dump_json()) == resolution

    def test_is_frozen(self, bundled: PromptRegistry) -> None:
        """A resolution cannot be changed after the fact."""
        resolution = bundled.resolve(GENERATIONS, "2.0.0")
        with pytest.raises(ValidationError):
            resolution.provider = "anthropic"  # type: ignore[misc]


class TestFromDirectory:
    @pytest.mark.parametrize("below", ["", PROMPTS, f"{PROMPTS}/definitions"])
    def test_accepts_checkout_prompts_or_definitions_folder(
        self, checkout: Path, below: str
    ) -> None:
        """The checkout root, its prompts folder and its definitions folder all work."""
        registry = PromptRegistry.from_directory(checkout / below if below else checkout)
        resolution = registry.resolve(GENERATIONS, "2.0.1")
        assert (resolution.status, resolution.model) == ("resolved", "model-2.0.1")
        expected = (checkout / PROMPTS / "definitions").resolve()
        assert registry.description == f"definitions at {expected}"

    def test_accepts_path_like(self, checkout: Path) -> None:
        """A string path works as well as a Path."""
        registry = PromptRegistry.from_directory(str(checkout))
        assert registry.resolve(BASE, "1.0.0").model == "model-1.0.0"

    def test_rejects_a_folder_without_definitions(self, tmp_path: Path) -> None:
        """A folder that is no checkout raises DefinitionsError naming it and what was expected."""
        (tmp_path / "elsewhere").mkdir()
        with pytest.raises(DefinitionsError) as caught:
            PromptRegistry.from_directory(tmp_path / "elsewhere")
        assert str(tmp_path / "elsewhere") in str(caught.value)
        assert "ai_gateway/prompts/definitions" in str(caught.value)

    def test_rejects_a_missing_path(self, tmp_path: Path) -> None:
        """A path that does not exist raises DefinitionsError saying so."""
        with pytest.raises(DefinitionsError, match="does not exist"):
            PromptRegistry.from_directory(tmp_path / "missing")


class TestBundled:
    @pytest.mark.parametrize(("version", "model", "provider"), SNAPSHOT_FACTS)
    def test_every_version_resolves_to_the_brief(
        self, bundled: PromptRegistry, version: str, model: str, provider: str
    ) -> None:
        """Each snapshot version resolves exactly to the model and provider the brief lists."""
        resolution = bundled.resolve(BASE, version)
        assert resolution.status == "resolved"
        assert (resolution.resolved_version, resolution.model, resolution.provider) == (
            version,
            model,
            provider,
        )
        assert resolution.source == "snapshot"
        assert resolution.definition_path == f"{BASE_PATH}/{version}.yml"

    def test_description_counts_versions(self, bundled: PromptRegistry) -> None:
        """The bundled registry describes itself with its number of versions."""
        assert bundled.description == f"bundled snapshot ({len(SNAPSHOT_FACTS)} versions)"

    @pytest.mark.parametrize(
        "constraint",
        ["^1.0.0", "~1.0.0", "^2.0.0", ">=2.0.0,<2.0.3", "2.0.0", "1.2.0-dev", "*", "^3.0.0"],
    )
    @pytest.mark.parametrize("prompt_id", [GENERATIONS, BASE])
    def test_behaves_like_the_last_definitions_with_models(
        self, bundled: PromptRegistry, constraint: str, prompt_id: str
    ) -> None:
        """The snapshot picks the same file, model and provider as the 2025-08 definitions."""
        folder = PromptRegistry.from_directory(HISTORY / "2025-08-12-5771d96bb")
        fields = ("status", "resolved_version", "definition_path", "config_file", "model")
        from_snapshot = bundled.resolve(prompt_id, constraint).model_dump(include=set(fields))
        from_folder = folder.resolve(prompt_id, constraint).model_dump(include=set(fields))
        assert from_snapshot == from_folder
        assert bundled.resolve(prompt_id, constraint).provider == (
            folder.resolve(prompt_id, constraint).provider
        )


class TestVersionSelection:
    def test_exact_version(self, registry: PromptRegistry) -> None:
        """An exact version selects that file."""
        resolution = registry.resolve(BASE, "2.0.1")
        assert resolution.resolved_version == "2.0.1"
        assert resolution.definition_path == f"{BASE_PATH}/2.0.1.yml"
        assert (resolution.model, resolution.provider) == ("model-2.0.1", "vertex_ai")
        assert resolution.source == "definitions"

    def test_caret_picks_highest_stable(self, registry: PromptRegistry) -> None:
        """^1.0.0 picks 1.1.0 although 1.2.0-dev is higher, because ranges skip pre-releases."""
        resolution = registry.resolve(BASE, "^1.0.0")
        assert (resolution.resolved_version, resolution.model) == ("1.1.0", "model-1.1.0")
        assert resolution.provider == "anthropic"

    def test_tilde_stays_within_minor(self, registry: PromptRegistry) -> None:
        """~1.0.0 picks 1.0.1, skipping 1.0.2-dev and everything from 1.1.0 on."""
        assert registry.resolve(BASE, "~1.0.0").resolved_version == "1.0.1"

    def test_range(self, registry: PromptRegistry) -> None:
        """>=2.0.0,<2.0.3 picks 2.0.2: 2.0.3 is outside and 2.0.2-dev is a pre-release."""
        resolution = registry.resolve(BASE, ">=2.0.0,<2.0.3")
        assert (resolution.resolved_version, resolution.model) == ("2.0.2", "model-2.0.2")

    def test_exact_pre_release_selects_its_file(self, registry: PromptRegistry) -> None:
        """An exact 1.2.0-dev selects 1.2.0-dev.yml and reports the file's own spelling."""
        resolution = registry.resolve(BASE, "1.2.0-dev")
        assert resolution.resolved_version == "1.2.0-dev"
        assert resolution.definition_path == f"{BASE_PATH}/1.2.0-dev.yml"
        assert resolution.model == "model-1.2.0-dev"

    def test_pep440_spelling_finds_the_dev_file(self, registry: PromptRegistry) -> None:
        """1.0.1.dev0 is the same version as the file 1.0.1-dev.yml."""
        assert registry.resolve(BASE, "1.0.1.dev0").resolved_version == "1.0.1-dev"

    def test_simple_open_constraint_serves_pre_releases(self, registry: PromptRegistry) -> None:
        """Like the gateway, a simple constraint such as >=2.0.0 may pick a pre-release."""
        assert registry.resolve(BASE, ">=2.0.0").resolved_version == "3.0.0-dev"

    def test_unsatisfiable_lists_available_versions(self, registry: PromptRegistry) -> None:
        """^3.0.0 matches nothing stable; the detail names the skipped dev file and all versions."""
        resolution = registry.resolve(BASE, "^3.0.0")
        assert resolution.status == "no_matching_version"
        assert resolution.resolved_version is None
        assert resolution.provider is None
        assert resolution.source is None
        assert "3.0.0-dev" in resolution.detail
        assert ", ".join(HAND_MADE_VERSIONS) in resolution.detail

    def test_ignores_files_not_named_by_a_version(self, tmp_path: Path) -> None:
        """A stray YAML file that is not a version is never selected nor parsed."""
        root = make_checkout(
            tmp_path / "ai-assist", {f"definitions/{BASE}/notes.yml": "{ not yaml: ["}
        )
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "*")
        assert (resolution.status, resolution.resolved_version) == ("resolved", "3.0.0-dev")

    def test_ignores_files_sorting_before_the_versions(self, tmp_path: Path) -> None:
        """macOS "._1.0.0.yml" companions sort first and are skipped, not taken as the end."""
        root = make_checkout(tmp_path / "ai-assist", {f"definitions/{BASE}/._1.0.0.yml": "\x00"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "*")
        assert (resolution.status, resolution.resolved_version) == ("resolved", "3.0.0-dev")


class TestModelStanza:
    def test_config_file_with_definition_params_on_top(self, tmp_path: Path) -> None:
        """A model config supplies name and params; the definition's own params override it."""
        registry = one_definition(
            tmp_path,
            "model:\n  config_file: claude_3_7_vertex\n"
            "  params:\n    custom_llm_provider: bedrock\n",
            claude_3_7_vertex="name: claude-3-7-sonnet@20250219\nparams:\n"
            "  model_class_provider: litellm\n  custom_llm_provider: vertex_ai\n",
        )
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "resolved"
        assert (resolution.model, resolution.provider) == ("claude-3-7-sonnet@20250219", "bedrock")
        assert resolution.config_file == "ai_gateway/prompts/model_configs/claude_3_7_vertex.yml"

    def test_definition_name_overrides_config_name(self, tmp_path: Path) -> None:
        """A model name in the definition wins over the model config's name."""
        registry = one_definition(
            tmp_path,
            "model:\n  config_file: claude_3_7\n  name: claude-special\n",
            claude_3_7="name: claude-3-7-sonnet-20250219\n"
            "params:\n  model_class_provider: anthropic\n",
        )
        resolution = registry.resolve(BASE, "1.0.0")
        assert (resolution.model, resolution.provider) == ("claude-special", "anthropic")

    def test_underscored_numbers_parse(self, tmp_path: Path) -> None:
        """YAML like max_tokens: 2_048 reads without trouble."""
        registry = one_definition(tmp_path, definition_yaml("claude-x", "anthropic"))
        assert registry.resolve(BASE, "1.0.0").status == "resolved"

    def test_missing_model_is_no_model(self, tmp_path: Path) -> None:
        """A definition without a model stanza (since 2025-09) gives no_model, not a guess."""
        registry = one_definition(tmp_path, "---\nname: Code Generations Agent\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "no_model"
        assert (resolution.model, resolution.provider, resolution.source) == (None, None, None)
        assert resolution.resolved_version == "1.0.0"
        assert "names no model" in resolution.detail

    def test_provider_class_without_name_is_no_model(self, tmp_path: Path) -> None:
        """A stanza with only model_class_provider names no model; the detail says what it has."""
        registry = one_definition(
            tmp_path, "model:\n  params:\n    model_class_provider: litellm\n"
        )
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "no_model"
        assert resolution.provider is None
        assert "only model_class_provider 'litellm'" in resolution.detail

    def test_malformed_yaml_is_unreadable(self, tmp_path: Path) -> None:
        """Broken YAML gives unreadable with the file and line in the detail."""
        registry = one_definition(tmp_path, "model:\n  name: [unclosed\n  params: {\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert f"{BASE_PATH}/1.0.0.yml is not valid YAML" in resolution.detail
        assert "line" in resolution.detail

    def test_definition_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """A definition holding a list is unreadable, with a detail that says so."""
        registry = one_definition(tmp_path, "- model\n- name\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "a list rather than a mapping" in resolution.detail

    def test_model_that_is_not_a_mapping(self, tmp_path: Path) -> None:
        """A model entry that is plain text is unreadable, with a detail that says so."""
        registry = one_definition(tmp_path, "model: claude-3-5-sonnet\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "model entry" in resolution.detail
        assert "not a mapping" in resolution.detail

    def test_missing_config_file(self, tmp_path: Path) -> None:
        """A config_file that is not in model_configs is unreadable and names the missing file."""
        registry = one_definition(tmp_path, "model:\n  config_file: claude_9\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "ai_gateway/prompts/model_configs/claude_9.yml does not exist" in resolution.detail

    def test_name_without_provider(self, tmp_path: Path) -> None:
        """A model name with no provider params is unreadable: the gateway could not serve it."""
        registry = one_definition(tmp_path, "model:\n  name: claude-x\n")
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "neither custom_llm_provider nor model_class_provider" in resolution.detail


class TestPromptIds:
    def test_requested_id_maps_to_base_folder(self, registry: PromptRegistry) -> None:
        """The requested id (since 2025-09) and the resolved folder (before) pick the same file."""
        requested = registry.resolve(GENERATIONS, "2.0.0")
        resolved = registry.resolve(BASE, "2.0.0")
        assert requested.definition_path == resolved.definition_path == f"{BASE_PATH}/2.0.0.yml"
        assert requested.model == resolved.model == "model-2.0.0"
        assert requested.prompt_id == GENERATIONS

    def test_unknown_prompt(self, registry: PromptRegistry) -> None:
        """An id with no definitions gives unknown_prompt naming the id."""
        resolution = registry.resolve("code_suggestions/completions", "1.0.0")
        assert resolution.status == "unknown_prompt"
        assert "'code_suggestions/completions'" in resolution.detail

    def test_unknown_prompt_in_snapshot(self, bundled: PromptRegistry) -> None:
        """The snapshot answers an unknown id the same way a folder does."""
        assert bundled.resolve("chat/explain_code", "1.0.0").status == "unknown_prompt"


class TestUntrustedInput:
    @pytest.mark.parametrize(
        "prompt_id",
        [
            None,
            "",
            "../code_suggestions/generations",
            "code_suggestions/../../etc",
            "/etc/passwd",
            "code_suggestions//generations",
            "code_suggestions/generations/",
            "code_suggestions\\generations",
            "code_suggestions/generations\x00",
            "Code_Suggestions/generations",
            "code_suggestions/generat\u0131ons",
            "\uff43ode_suggestions/generations",
            "code_suggestions/generations\n",
            "a" * 201,
        ],
    )
    def test_bad_prompt_id_reads_nothing(self, checkout: Path, prompt_id: str | None) -> None:
        """A malformed prompt id gives invalid_input and no file is opened or listed."""
        registry = PromptRegistry.from_directory(checkout)
        with FileAccess.recording() as paths:
            resolution = registry.resolve(prompt_id, "1.0.0")
        assert resolution.status == "invalid_input"
        assert paths == []

    @pytest.mark.parametrize(
        "version",
        [
            None,
            "",
            "../1.0.0",
            "1.0.0/../../secrets",
            "/etc/passwd",
            "1.0.0\x00",
            "^1.0.0\n",
            "\u0661.\u0660.\u0660",
            "1.0.0 - 2.0.0",
            "latest",
            "1" * 65,
        ],
    )
    def test_bad_version_reads_nothing(self, checkout: Path, version: str | None) -> None:
        """A malformed version constraint gives invalid_input and no file is opened or listed."""
        registry = PromptRegistry.from_directory(checkout)
        with FileAccess.recording() as paths:
            resolution = registry.resolve(BASE, version)
        assert resolution.status == "invalid_input"
        assert paths == []

    @pytest.mark.parametrize("value", ["anthropic\x1b[31m", "a" * 201, "vertex ai"])
    def test_bad_record_evidence(self, registry: PromptRegistry, value: str) -> None:
        """A provider or model value with control characters or spaces gives invalid_input."""
        assert registry.resolve(BASE, "1.0.0", model_class_provider=value).status == "invalid_input"
        assert registry.resolve(BASE, "1.0.0", model_identifier=value).status == "invalid_input"

    @pytest.mark.parametrize("name", ["../../../secret", "/etc/secret", "Claude", "a.b"])
    def test_config_file_traversal_is_refused(self, tmp_path: Path, name: str) -> None:
        """A config_file that is not a plain name is refused before anything is opened."""
        write_files(tmp_path, {"secret.yml": "name: stolen\nparams:\n  model_class_provider: x\n"})
        registry = one_definition(tmp_path, f"model:\n  config_file: {name!r}\n")
        with FileAccess.recording() as paths:
            resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "not a plain config name" in resolution.detail
        assert outside(paths, tmp_path / "ai-assist") == []

    def test_symlinked_definition_out_of_root(self, tmp_path: Path, checkout: Path) -> None:
        """A definition that is a symlink out of the checkout is refused and never opened."""
        secret = write_files(tmp_path / "outside", {"secret.yml": definition_yaml("x", "evil")})
        link = checkout / PROMPTS / "definitions" / BASE / "9.0.0.yml"
        link.symlink_to(secret / "secret.yml")
        registry = PromptRegistry.from_directory(checkout)
        with FileAccess.recording() as paths:
            resolution = registry.resolve(BASE, "9.0.0")
        assert resolution.status == "unreadable"
        assert "outside" in resolution.detail
        assert resolution.model is None
        assert outside(paths, checkout) == []

    def test_symlinked_folder_out_of_root(self, tmp_path: Path, checkout: Path) -> None:
        """A prompt folder that is a symlink out of the checkout is refused and never listed."""
        target = make_checkout(tmp_path / "other") / PROMPTS / "definitions" / "code_suggestions"
        (checkout / PROMPTS / "definitions" / "escape").symlink_to(target)
        registry = PromptRegistry.from_directory(checkout)
        with FileAccess.recording() as paths:
            resolution = registry.resolve("escape/generations", "1.0.0")
        assert resolution.status == "unreadable"
        assert "outside" in resolution.detail
        assert outside(paths, checkout) == []

    def test_symlinked_model_config_out_of_root(self, tmp_path: Path) -> None:
        """A model config that is a symlink out of the checkout is refused and never opened."""
        secret = write_files(tmp_path / "outside", {"c.yml": "name: x\nparams: {a: b}\n"})
        registry = one_definition(tmp_path, "model:\n  config_file: linked\n")
        configs = tmp_path / "ai-assist" / PROMPTS / "model_configs"
        configs.mkdir()
        (configs / "linked.yml").symlink_to(secret / "c.yml")
        with FileAccess.recording() as paths:
            resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        assert "outside" in resolution.detail
        assert outside(paths, tmp_path / "ai-assist") == []

    def test_symlink_loop(self, checkout: Path) -> None:
        """A folder that is a symlink to itself is unreadable, not a crash."""
        loop = checkout / PROMPTS / "definitions" / "loop"
        loop.symlink_to(loop)
        resolution = PromptRegistry.from_directory(checkout).resolve("loop", "1.0.0")
        assert resolution.status == "unreadable"


class TestRecordEvidence:
    def test_concrete_provider_overrides_registry(self, registry: PromptRegistry) -> None:
        """model_class_provider anthropic outweighs a vertex_ai definition; detail shows both."""
        resolution = registry.resolve(
            GENERATIONS,
            "2.0.0",
            model_class_provider="anthropic",
            model_identifier="claude_sonnet_4_20250514",
        )
        assert resolution.status == "resolved"
        assert (resolution.provider, resolution.source) == ("anthropic", "record")
        assert resolution.model == "claude_sonnet_4_20250514"
        assert resolution.definition_path == f"{BASE_PATH}/2.0.0.yml"
        assert "model_class_provider 'anthropic'" in resolution.detail
        assert "vertex_ai" in resolution.detail

    def test_concrete_provider_keeps_registry_model(self, registry: PromptRegistry) -> None:
        """Without model_identifier the model still comes from the definition."""
        resolution = registry.resolve(BASE, "2.0.0", model_class_provider="anthropic")
        assert (resolution.model, resolution.provider) == ("model-2.0.0", "anthropic")

    def test_litellm_does_not_override(self, registry: PromptRegistry) -> None:
        """model_class_provider litellm is a routing client, so vertex_ai from the file stands."""
        resolution = registry.resolve(BASE, "2.0.0", model_class_provider="litellm")
        assert (resolution.provider, resolution.source) == ("vertex_ai", "definitions")
        assert "routing client" in resolution.detail

    def test_litellm_without_registry_provider(self, tmp_path: Path) -> None:
        """When no definition names a model, litellm is all there is and is reported as such."""
        registry = one_definition(tmp_path, "name: Code Generations Agent\n")
        resolution = registry.resolve(BASE, "1.0.0", model_class_provider="litellm")
        assert (resolution.status, resolution.provider) == ("resolved", "litellm")
        assert resolution.source == "record"

    def test_model_identifier_alone(self, registry: PromptRegistry) -> None:
        """model_identifier sets the model while the provider still comes from the definition."""
        resolution = registry.resolve(BASE, "2.0.0", model_identifier="claude_3_5_sonnet_vertex")
        assert (resolution.model, resolution.provider) == ("claude_3_5_sonnet_vertex", "vertex_ai")
        assert resolution.source == "definitions"

    def test_provider_decides_even_when_registry_cannot(self, bundled: PromptRegistry) -> None:
        """A concrete provider resolves a prompt the registry does not know, saying so."""
        resolution = bundled.resolve(
            "code_suggestions/completions", "1.0.0", model_class_provider="anthropic"
        )
        assert (resolution.status, resolution.provider) == ("resolved", "anthropic")
        assert resolution.definition_path is None
        assert "no prompt" in resolution.detail


class TestFallback:
    def test_snapshot_names_the_model_a_new_checkout_lacks(self, bundled: PromptRegistry) -> None:
        """A post-2025-09 checkout picks the file; the snapshot supplies its model and provider."""
        registry = PromptRegistry.from_directory(HISTORY / "2026-02-20-93f7829ea", fallback=bundled)
        resolution = registry.resolve(GENERATIONS, "2.0.0")
        assert resolution.status == "resolved"
        assert (resolution.model, resolution.provider) == (
            "claude-3-5-sonnet@20240620",
            "vertex_ai",
        )
        assert resolution.source == "snapshot"
        assert resolution.definition_path == f"{BASE_PATH}/2.0.0.yml"
        assert "names no model" in resolution.detail
        assert "bundled snapshot" in resolution.detail

    def test_chain_picks_in_the_checkout_and_names_from_the_snapshot(
        self, bundled: PromptRegistry
    ) -> None:
        """chain(checkout, snapshot): the checkout picks 1.1.0, the snapshot names its model."""
        folder = HISTORY / "2025-10-01-6caf95d54"
        chained = PromptRegistry.chain(PromptRegistry.from_directory(folder), bundled)
        resolution = chained.resolve(BASE, "^1.0.0")
        assert (resolution.status, resolution.resolved_version, resolution.source) == (
            "resolved",
            "1.1.0",
            "snapshot",
        )
        assert (resolution.model, resolution.provider) == ("claude-sonnet-4-20250514", "anthropic")
        assert resolution.definition_path == f"{BASE_PATH}/1.1.0.yml"
        assert resolution.config_file == "ai_gateway/prompts/model_configs/claude_4_0.yml"
        assert chained.description == (
            f"definitions at {folder.resolve()}/ai_gateway/prompts/definitions, "
            "falling back to bundled snapshot (13 versions)"
        )

    def test_without_fallback_stays_no_model(self) -> None:
        """Without a fallback, a definition that names no model stays no_model."""
        registry = PromptRegistry.from_directory(HISTORY / "2026-02-20-93f7829ea")
        assert registry.resolve(GENERATIONS, "2.0.0").status == "no_model"

    def test_fallback_keeps_the_primary_choice(self, bundled: PromptRegistry) -> None:
        """The checkout's choice (1.2.0) stands even though the snapshot would pick 1.1.0 itself."""
        registry = PromptRegistry.from_directory(HISTORY / "2026-04-15-f6bccf05f", fallback=bundled)
        resolution = registry.resolve(GENERATIONS, "^1.0.0")
        assert (resolution.status, resolution.resolved_version) == ("no_model", "1.2.0")
        assert resolution.model is None
        assert "names no model for it either" in resolution.detail

    def test_fallback_not_asked_when_the_primary_names_a_model(
        self, checkout: Path, bundled: PromptRegistry
    ) -> None:
        """A checkout naming its own model wins over what the snapshot says for that version."""
        registry = PromptRegistry.from_directory(checkout, fallback=bundled)
        resolution = registry.resolve(GENERATIONS, "2.0.0")
        assert (resolution.model, resolution.source) == ("model-2.0.0", "definitions")

    def test_the_primary_file_spelling_stands(
        self, tmp_path: Path, bundled: PromptRegistry
    ) -> None:
        """A checkout file 1.0.1.dev0.yml keeps its own name and path; the snapshot's model for
        that version (its 1.0.1-dev) fills in."""
        root = write_files(
            tmp_path / "ai-assist",
            {f"{PROMPTS}/definitions/{BASE}/1.0.1.dev0.yml": "name: Agent\n"},
        )
        resolution = PromptRegistry.from_directory(root, fallback=bundled).resolve(
            BASE, "1.0.1.dev0"
        )
        assert (resolution.status, resolution.model) == ("resolved", "claude-3-5-sonnet-20241022")
        assert resolution.resolved_version == "1.0.1.dev0"
        assert resolution.definition_path == f"{BASE_PATH}/1.0.1.dev0.yml"


class TestHistory:
    @pytest.mark.parametrize(
        ("snapshot", "version", "model"),
        [
            ("2024-12-13-fdb17d6b2", "1.0.0", "claude-3-5-sonnet-20240620"),
            ("2025-01-16-752b688e4", "1.0.0", "claude-3-5-sonnet-20240620"),
            ("2025-02-13-71f7aa0d2", "1.0.1", "claude-3-5-sonnet-20241022"),
            ("2025-03-13-ff34785f0", "1.0.2", "claude-3-7-sonnet-20250219"),
            ("2025-03-14-990b2f117", "1.0.1", "claude-3-5-sonnet-20241022"),
            ("2025-06-17-ead25fb5f", "1.1.0", "claude-sonnet-4-20250514"),
            ("2025-08-12-5771d96bb", "1.1.0", "claude-sonnet-4-20250514"),
        ],
    )
    def test_caret_picks_different_files_over_time(
        self, snapshot: str, version: str, model: str
    ) -> None:
        """^1.0.0 moves from 1.0.0 to 1.1.0 as stable versions are added (and 1.0.2 withdrawn)."""
        resolution = PromptRegistry.from_directory(HISTORY / snapshot).resolve(BASE, "^1.0.0")
        assert (resolution.resolved_version, resolution.model) == (version, model)
        assert resolution.provider == "anthropic"

    @pytest.mark.parametrize(
        "snapshot", sorted(path.name for path in HISTORY.iterdir() if path.is_dir())
    )
    def test_failover_version_stays_on_vertex_until_models_moved_out(self, snapshot: str) -> None:
        """2.0.0 runs on vertex_ai from its creation until definitions lost models in 2025-09."""
        resolution = PromptRegistry.from_directory(HISTORY / snapshot).resolve(GENERATIONS, "2.0.0")
        if snapshot < "2025-01-16":
            assert resolution.status == "no_matching_version"
        elif snapshot < "2025-09":
            assert (resolution.status, resolution.provider) == ("resolved", "vertex_ai")
            assert resolution.model == "claude-3-5-sonnet@20240620"
        else:
            assert resolution.status == "no_model"

    def test_history_has_every_era(self) -> None:
        """The fixture history spans pre-failover, model-bearing and model-free definitions."""
        names = sorted(path.name for path in HISTORY.iterdir() if path.is_dir())
        assert len(names) == 23
        assert names[0] < "2025-01-16"
        assert names[-1] > "2025-09"


class TestCaching:
    def test_repeated_resolve_reads_nothing(self, registry: PromptRegistry) -> None:
        """The second identical resolve returns the same result without touching the disk."""
        first = registry.resolve(GENERATIONS, "^1.0.0")
        with FileAccess.recording() as paths:
            second = registry.resolve(GENERATIONS, "^1.0.0")
        assert second is first
        assert paths == []

    def test_definition_parsed_once(self, registry: PromptRegistry) -> None:
        """Two constraints selecting the same file open it only once."""
        with FileAccess.recording() as paths:
            registry.resolve(BASE, "^1.0.0")
            registry.resolve(BASE, "1.1.0")
            registry.resolve(GENERATIONS, "~1.1.0", model_class_provider="anthropic")
        assert sum(path.endswith("/1.1.0.yml") for path in paths) == 1

    def test_each_file_keeps_its_own_model(self, registry: PromptRegistry) -> None:
        """Files parsed one after the other are remembered apart."""
        assert registry.resolve(BASE, "1.0.0").model == "model-1.0.0"
        assert registry.resolve(BASE, "2.0.0").model == "model-2.0.0"
        assert registry.resolve(BASE, "1.0.0").model == "model-1.0.0"

    def test_folder_listed_once(self, registry: PromptRegistry) -> None:
        """Different constraints on one prompt list its folders only the first time."""
        with FileAccess.recording() as first:
            registry.resolve(GENERATIONS, "^1.0.0")
        with FileAccess.recording() as later:
            registry.resolve(GENERATIONS, "^2.0.0")
            registry.resolve(GENERATIONS, "~1.0.0")
        folders = ("/generations", "/generations/base")
        assert any(path.endswith(folders) for path in first)
        assert not any(path.endswith(folders) for path in later)

    def test_model_config_read_once(self, tmp_path: Path) -> None:
        """Definitions sharing a model config open it only once."""
        uses_c = "model:\n  config_file: c\n"
        root = write_files(
            tmp_path / "ai-assist",
            {
                f"{PROMPTS}/definitions/{BASE}/1.0.0.yml": uses_c,
                f"{PROMPTS}/definitions/{BASE}/1.1.0.yml": uses_c,
                f"{PROMPTS}/model_configs/c.yml": "name: m\nparams: {model_class_provider: x}\n",
            },
        )
        registry = PromptRegistry.from_directory(root)
        with FileAccess.recording() as paths:
            assert registry.resolve(BASE, "1.0.0").model == "m"
            assert registry.resolve(BASE, "1.1.0").model == "m"
        assert sum(path.endswith("/model_configs/c.yml") for path in paths) == 1

    def test_cache_holds_at_most_10000_results(self, registry: PromptRegistry) -> None:
        """Past 10,000 remembered results new ones are worked out afresh, old ones kept."""
        first = registry.resolve(None, "0")
        for number in range(1, 10_000):
            registry.resolve(None, str(number))
        assert registry.resolve(None, "0") is first
        beyond = registry.resolve(None, "10000")
        assert registry.resolve(None, "10000") == beyond
        assert registry.resolve(None, "10000") is not beyond


STATUSES = set(get_args(ResolutionStatus))


@pytest.fixture(scope="module")
def guarded_checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout full of traps pointing outside it: symlinked files, folders, configs, loops."""
    base = tmp_path_factory.mktemp("guarded")
    secret = write_files(
        base / "outside",
        {
            "secret.yml": "model:\n  name: stolen\n  params: {model_class_provider: anthropic}\n",
            f"definitions/{BASE}/1.0.0.yml": "model:\n  name: stolen\n",
        },
    )
    root = make_checkout(
        base / "ai-assist",
        {f"definitions/{BASE}/2.1.0.yml": "model:\n  config_file: linked\n"},
    )
    definitions = root / PROMPTS / "definitions"
    (definitions / BASE / "9.9.9.yml").symlink_to(secret / "secret.yml")
    (definitions / "escape").symlink_to(secret / "definitions")
    (definitions / "loop").symlink_to(definitions / "loop")
    (root / PROMPTS / "model_configs").mkdir()
    (root / PROMPTS / "model_configs" / "linked.yml").symlink_to(secret / "secret.yml")
    return root


PROMPT_IDS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(
        [GENERATIONS, BASE, "escape", "escape/code_suggestions/generations", "loop", "x"]
    ),
    st.from_regex(r"[a-z_./\\]{1,30}", fullmatch=True),
    st.none(),
)
VERSIONS = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["^1.0.0", "9.9.9", "2.1.0", "1.0.0", "*", ">=0", "^3.0.0"]),
    st.from_regex(r"[0-9a-z^~<>=!*,|. +/-]{1,20}", fullmatch=True),
    st.none(),
)


class TestResolveProperty:
    @settings(max_examples=examples(300), deadline=None)
    @given(prompt_id=PROMPT_IDS, version=VERSIONS, provider=st.none() | st.text(max_size=10))
    def test_never_raises_nor_leaves_the_root(
        self,
        guarded_checkout: Path,
        prompt_id: str | None,
        version: str | None,
        provider: str | None,
    ) -> None:
        """For any text, resolve returns a Resolution and opens nothing outside the checkout."""
        registry = PromptRegistry.from_directory(guarded_checkout)
        with FileAccess.recording() as paths:
            resolution = registry.resolve(prompt_id, version, model_class_provider=provider)
        assert resolution.status in STATUSES
        assert outside(paths, guarded_checkout) == []
        if resolution.status == "resolved" and resolution.source != "record":
            assert resolution.model is not None
            assert not resolution.model.startswith("stolen")
