"""Tests for the words of every registry detail and error: what was wrong and what to do.

Details are what an engineer reads to decide whether a resolution can be trusted, so each is
pinned whole, and each limit is checked on both sides.
"""

from __future__ import annotations

import importlib.resources
import os
import tracemalloc
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml

from failover_verify._exceptions import DefinitionsError
from failover_verify._registry import PromptRegistry, Resolution

BASE = "code_suggestions/generations/base"
GENERATIONS = "code_suggestions/generations"
PROMPTS = "ai_gateway/prompts"
DEFINITION = f"ai_gateway/prompts/definitions/{BASE}/1.0.0.yml"
CONFIGS = "ai_gateway/prompts/model_configs"
EXPECTED = (
    "expected an ai-assist checkout (containing ai_gateway/prompts/definitions), its "
    "ai_gateway/prompts folder, or the definitions folder itself"
)
NO_MODEL = (
    "; definitions stopped naming models in 2025-09, and newer records carry "
    "model_class_provider and model_identifier instead."
)
ANTHROPIC = "  params:\n    model_class_provider: anthropic\n"


def write_files(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def checkout_with(root: Path, versions: Mapping[str, str | bytes], **configs: str) -> Path:
    """A checkout whose base folder holds ``versions`` (stem: text), plus model configs."""
    files: dict[str, str | bytes] = {
        f"{PROMPTS}/definitions/{BASE}/{stem}.yml": text for stem, text in versions.items()
    }
    files.update({f"{PROMPTS}/model_configs/{name}.yml": text for name, text in configs.items()})
    return write_files(root, files)


def described(root: Path) -> str:
    """How a registry made from the checkout at ``root`` names itself in details."""
    return f"definitions at {(root / PROMPTS / 'definitions').resolve()}"


def named(model: str, provider: str = "anthropic") -> str:
    return f"model:\n  name: {model}\n  params:\n    model_class_provider: {provider}\n"


class TestInvalidPromptId:
    def test_missing(self, tmp_path: Path) -> None:
        """A record without prompt_id says so, keeping the version it asked for."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(None, "1.0.0") == Resolution(
            prompt_id=None,
            requested_version="1.0.0",
            status="invalid_input",
            detail="The record has no prompt_id, so there is nothing to resolve.",
        )

    def test_malformed(self, tmp_path: Path) -> None:
        """A prompt id with capitals is refused with the rule it breaks."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve("Code/gen", "1.0.0") == Resolution(
            prompt_id="Code/gen",
            requested_version="1.0.0",
            status="invalid_input",
            detail="The record's prompt_id 'Code/gen' is not a prompt id (lowercase letters, "
            "digits and _ in /-separated parts, at most 200 characters), so nothing was read.",
        )

    def test_longest_accepted(self, tmp_path: Path) -> None:
        """A prompt id of exactly 200 characters is looked up (and here is simply unknown)."""
        root = checkout_with(tmp_path, {"1.0.0": named("m")})
        resolution = PromptRegistry.from_directory(root).resolve("a" * 200, "1.0.0")
        assert resolution.status == "unknown_prompt"
        assert resolution.detail == (
            f"There is no prompt '{'a' * 200}' in the {described(root)}: no version files in "
            f"ai_gateway/prompts/definitions/{'a' * 200} or its base folder."
        )

    def test_one_too_long(self, tmp_path: Path) -> None:
        """A prompt id of 201 characters is refused, its value cut short in the detail."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        resolution = registry.resolve("a" * 201, "1.0.0")
        assert resolution.status == "invalid_input"
        assert resolution.detail == (
            f"The record's prompt_id '{'a' * 76}... is not a prompt id (lowercase letters, "
            "digits and _ in /-separated parts, at most 200 characters), so nothing was read."
        )

    @pytest.mark.parametrize(
        ("prompt_id", "shown"),
        [("A" * 78, f"'{'A' * 78}'"), ("A" * 79, f"'{'A' * 76}...")],
    )
    def test_value_shown_whole_up_to_80_characters(
        self, tmp_path: Path, prompt_id: str, shown: str
    ) -> None:
        """A bad value is quoted whole up to 80 characters; a longer one is cut to 77 and '...'."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(prompt_id, "1.0.0").detail == (
            f"The record's prompt_id {shown} is not a prompt id (lowercase letters, "
            "digits and _ in /-separated parts, at most 200 characters), so nothing was read."
        )

    def test_not_text(self, tmp_path: Path) -> None:
        """A prompt_id that is not text is refused and left out of the resolution."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(12, "1.0.0") == Resolution(  # type: ignore[arg-type]
            prompt_id=None,
            requested_version="1.0.0",
            status="invalid_input",
            detail="The record's prompt_id 12 is not a prompt id (lowercase letters, "
            "digits and _ in /-separated parts, at most 200 characters), so nothing was read.",
        )

    def test_unhashable(self, tmp_path: Path) -> None:
        """A list as prompt_id (a JSON array in a record) is refused, not a crash of the cache."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        resolution = registry.resolve(["a"], "1.0.0")  # type: ignore[arg-type]
        assert resolution.status == "invalid_input"
        assert resolution.detail.startswith("The record's prompt_id ['a'] is not a prompt id")


class TestInvalidVersion:
    PROBLEM = (
        "is not a version constraint Poetry accepts (at most 64 characters of letters, digits, "
        "spaces and . ^ ~ < > = ! * , | + -), so nothing was read."
    )

    def test_missing(self, tmp_path: Path) -> None:
        """A record without prompt_version says so, keeping its prompt id."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(BASE, None) == Resolution(
            prompt_id=BASE,
            requested_version=None,
            status="invalid_input",
            detail="The record has no prompt_version, so no definition can be selected.",
        )

    @pytest.mark.parametrize(
        ("version", "shown"),
        [("^1.0.0\n", "'^1.0.0\\n'"), ("latest", "'latest'"), ("1" * 65, f"'{'1' * 65}'")],
    )
    def test_refused(self, tmp_path: Path, version: str, shown: str) -> None:
        """Bad characters, words Poetry cannot parse and 65 characters are all refused alike."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(BASE, version) == Resolution(
            prompt_id=BASE,
            requested_version=version,
            status="invalid_input",
            detail=f"The record's prompt_version {shown} {self.PROBLEM}",
        )

    def test_longest_accepted(self, tmp_path: Path) -> None:
        """A constraint of exactly 64 characters is used (and here matches nothing)."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(BASE, "1" * 64).status == "no_matching_version"

    def test_not_text(self, tmp_path: Path) -> None:
        """A prompt_version that is a number is refused and left out of the resolution."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(BASE, 1.5) == Resolution(  # type: ignore[arg-type]
            prompt_id=BASE,
            requested_version=None,
            status="invalid_input",
            detail=f"The record's prompt_version 1.5 {self.PROBLEM}",
        )


class TestInvalidRecordEvidence:
    RULE = (
        "is not a provider or model name (printable ASCII without spaces, at most 200 "
        "characters), so it was not used."
    )

    @pytest.mark.parametrize("field", ["model_class_provider", "model_identifier"])
    def test_names_the_field(self, tmp_path: Path, field: str) -> None:
        """A bad provider or model value is refused, naming the record field it came from."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        resolution = registry.resolve(BASE, "1.0.0", **{field: "vertex ai"})
        assert resolution == Resolution(
            prompt_id=BASE,
            requested_version="1.0.0",
            status="invalid_input",
            detail=f"The record's {field} 'vertex ai' {self.RULE}",
        )

    def test_not_text(self, tmp_path: Path) -> None:
        """A provider that is a number is refused; a prompt id that is not text is left out."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        resolution = registry.resolve(7, "1.0.0", model_class_provider=5)  # type: ignore[arg-type]
        assert resolution == Resolution(
            prompt_id=None,
            requested_version="1.0.0",
            status="invalid_input",
            detail=f"The record's model_class_provider 5 {self.RULE}",
        )

    def test_longest_accepted_and_one_more(self, tmp_path: Path) -> None:
        """A provider of 200 characters decides; one of 201 is refused."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        accepted = registry.resolve(BASE, "1.0.0", model_class_provider="p" * 200)
        assert (accepted.status, accepted.provider) == ("resolved", "p" * 200)
        refused = registry.resolve(BASE, "1.0.0", model_class_provider="p" * 201)
        assert refused.detail == f"The record's model_class_provider '{'p' * 76}... {self.RULE}"

    def test_surrounding_space_is_trimmed(self, tmp_path: Path) -> None:
        """Spaces around a provider are dropped, and a blank one counts as absent."""
        registry = PromptRegistry.from_directory(checkout_with(tmp_path, {"1.0.0": named("m")}))
        assert registry.resolve(BASE, "1.0.0", model_class_provider=" bedrock ").provider == (
            "bedrock"
        )
        blank = registry.resolve(BASE, "1.0.0", model_class_provider="  ")
        assert (blank.provider, blank.source) == ("anthropic", "definitions")


class TestLookupDetails:
    def test_resolved(self, tmp_path: Path) -> None:
        """A resolved version names the request, the file's version, the model and provider."""
        root = checkout_with(tmp_path, {"1.0.0": named("m"), "1.1.0": named("n")})
        resolution = PromptRegistry.from_directory(root).resolve(GENERATIONS, "^1.0.0")
        assert resolution == Resolution(
            prompt_id=GENERATIONS,
            requested_version="^1.0.0",
            status="resolved",
            resolved_version="1.1.0",
            definition_path=f"ai_gateway/prompts/definitions/{BASE}/1.1.0.yml",
            model="n",
            provider="anthropic",
            source="definitions",
            detail=f"'^1.0.0' selects version 1.1.0 of {BASE} in the {described(root)}: "
            "n via anthropic.",
        )

    def test_resolved_through_a_model_config(self, tmp_path: Path) -> None:
        """A model named by a model config says which config it came through."""
        root = checkout_with(
            tmp_path,
            {"1.0.0": "model:\n  config_file: c\n"},
            c="name: claude-x\nparams:\n  model_class_provider: anthropic\n",
        )
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}: claude-x via "
            f"anthropic (model config {CONFIGS}/c.yml)."
        )

    def test_no_model(self, tmp_path: Path) -> None:
        """A definition without a model says why that is expected and what records carry now."""
        root = checkout_with(tmp_path, {"1.0.0": "name: Agent\n"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{DEFINITION} names no model{NO_MODEL}"
        )

    def test_no_model_name_nor_provider_class(self, tmp_path: Path) -> None:
        """A model stanza with params but no name and no provider class adds no note."""
        root = checkout_with(
            tmp_path, {"1.0.0": "model:\n  params:\n    custom_llm_provider: vertex_ai\n"}
        )
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{DEFINITION} names no model{NO_MODEL}"
        )

    def test_no_model_through_a_config_without_a_name(self, tmp_path: Path) -> None:
        """A config with only model_class_provider gives no_model, keeping config and class."""
        root = checkout_with(
            tmp_path,
            {"1.0.0": "model:\n  config_file: c\n"},
            c="params:\n  model_class_provider: litellm\n",
        )
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert (resolution.status, resolution.config_file) == ("no_model", f"{CONFIGS}/c.yml")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{DEFINITION} names no model (only model_class_provider 'litellm'){NO_MODEL}"
        )

    def test_unknown_prompt(self, tmp_path: Path) -> None:
        """An unknown prompt names both folders that were looked in."""
        root = checkout_with(tmp_path, {"1.0.0": named("m")})
        resolution = PromptRegistry.from_directory(root).resolve("chat/explain", "1.0.0")
        assert resolution.detail == (
            f"There is no prompt 'chat/explain' in the {described(root)}: no version files in "
            "ai_gateway/prompts/definitions/chat/explain or its base folder."
        )

    def test_unreadable_keeps_the_selected_file(self, tmp_path: Path) -> None:
        """A selected file that cannot be used still says which version and file were picked."""
        root = checkout_with(tmp_path, {"1.0.0": named("m"), "1.1.0": "- a list\n"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "^1.0.0")
        assert resolution == Resolution(
            prompt_id=BASE,
            requested_version="^1.0.0",
            status="unreadable",
            resolved_version="1.1.0",
            definition_path=f"ai_gateway/prompts/definitions/{BASE}/1.1.0.yml",
            detail=f"'^1.0.0' selects version 1.1.0 of {BASE} in the {described(root)}, but "
            f"ai_gateway/prompts/definitions/{BASE}/1.1.0.yml holds a list rather than a "
            "mapping, so it is not a prompt definition.",
        )


class TestNoMatchingVersion:
    def test_names_the_skipped_pre_release(self, tmp_path: Path) -> None:
        """^2.0.0 with only 2.x pre-releases explains that ranges skip them, naming the last."""
        stems = ("1.0.0", "2.1.0-dev", "2.2.0-dev", "3.0.0")
        root = checkout_with(tmp_path, {stem: named("m") for stem in stems})
        resolution = PromptRegistry.from_directory(root).resolve(GENERATIONS, "^2.0.0")
        assert resolution.detail == (
            f"No version of {BASE} in the {described(root)} satisfies '^2.0.0' (pre-releases "
            "such as 2.2.0-dev count only for a simple constraint such as an exact version); "
            "available: 1.0.0, 2.1.0-dev, 2.2.0-dev, 3.0.0."
        )

    def test_pre_releases_outside_the_range_are_not_blamed(self, tmp_path: Path) -> None:
        """Pre-releases the range would not allow anyway are not offered as the reason."""
        root = checkout_with(tmp_path, {stem: named("m") for stem in ("1.0.0", "1.2.0-dev")})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "^1.5.0")
        assert resolution.detail == (
            f"No version of {BASE} in the {described(root)} satisfies '^1.5.0'; "
            "available: 1.0.0, 1.2.0-dev."
        )

    def test_exact_version_missing(self, tmp_path: Path) -> None:
        """An exact version that is not there lists what is."""
        root = checkout_with(tmp_path, {stem: named("m") for stem in ("1.0.0", "1.2.0-dev")})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.1.0")
        assert resolution.detail == (
            f"No version of {BASE} in the {described(root)} satisfies '1.1.0'; "
            "available: 1.0.0, 1.2.0-dev."
        )

    @pytest.mark.parametrize(
        ("count", "more"), [(30, ""), (31, " and 1 more"), (33, " and 3 more")]
    )
    def test_lists_at_most_30_versions(self, tmp_path: Path, count: int, more: str) -> None:
        """Up to 30 versions are listed, in version order; the rest are counted."""
        stems = [f"1.0.{patch}" for patch in range(count)]
        root = checkout_with(tmp_path, {stem: named("m") for stem in stems})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "^2.0.0")
        assert resolution.detail == (
            f"No version of {BASE} in the {described(root)} satisfies '^2.0.0'; "
            f"available: {', '.join(stems[:30])}{more}."
        )


class TestDefinitionFiles:
    """Files the gateway could not have served are unreadable, saying why."""

    @staticmethod
    def unreadable(root: Path, clause: str) -> str:
        return f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but {clause}."

    def test_not_a_regular_file(self, tmp_path: Path) -> None:
        """A folder named like a version file is not read."""
        root = checkout_with(tmp_path, {"1.0.0.yml/inner": "x"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(root, f"{DEFINITION} is not a regular file")

    def test_dangling_symlink(self, tmp_path: Path) -> None:
        """A version file that links to nothing does not exist."""
        root = checkout_with(tmp_path, {"2.0.0": named("m")})
        folder = root / PROMPTS / "definitions" / BASE
        (folder / "1.0.0.yml").symlink_to(folder / "gone.yml")
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(root, f"{DEFINITION} does not exist")

    def test_cannot_be_opened(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A file the operating system refuses is named with the reason and the fix."""
        root = checkout_with(tmp_path, {"1.0.0": named("m")})
        original = Path.open

        def refuse(path: Path, *args: object, **kwargs: object) -> object:
            if path.name == "1.0.0.yml":
                raise PermissionError(13, "Permission denied", str(path))
            return original(path, *args, **kwargs)  # type: ignore[call-overload]

        monkeypatch.setattr(Path, "open", refuse)
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root, f"{DEFINITION} could not be read (Permission denied); check its permissions"
        )

    def test_largest_accepted(self, tmp_path: Path) -> None:
        """A definition of exactly 1 MiB is read to its last byte."""
        stanza = b"model: {name: m, params: {model_class_provider: anthropic}}"
        padding = b"#" * (1024 * 1024 - len(stanza) - 1) + b"\n"
        root = checkout_with(tmp_path, {"1.0.0": padding + stanza})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert (resolution.status, resolution.model) == ("resolved", "m")

    def test_one_byte_too_large(self, tmp_path: Path) -> None:
        """A definition of 1 MiB and one byte is not parsed."""
        stanza = b"model: {name: m, params: {model_class_provider: anthropic}}"
        padding = b"#" * (1024 * 1024 - len(stanza)) + b"\n"
        root = checkout_with(tmp_path, {"1.0.0": padding + stanza})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root,
            f"{DEFINITION} is larger than 1024 KiB, far more than any prompt definition, so it "
            "was not parsed",
        )

    def test_huge_file_is_not_read_whole(self, tmp_path: Path) -> None:
        """A 64 MiB file is refused after reading little more than the 1 MiB limit."""
        root = checkout_with(tmp_path, {"1.0.0": b""})
        os.truncate(root / PROMPTS / "definitions" / BASE / "1.0.0.yml", 64 * 1024 * 1024)
        registry = PromptRegistry.from_directory(root)
        tracemalloc.start()
        try:
            resolution = registry.resolve(BASE, "1.0.0")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert resolution.status == "unreadable"
        assert peak < 8 * 1024 * 1024

    def test_not_utf8(self, tmp_path: Path) -> None:
        """A file that is not UTF-8 names the offset of the first bad byte."""
        root = checkout_with(tmp_path, {"1.0.0": b"model:\n  name: caf\xe9\n"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root, f"{DEFINITION} is not UTF-8 text (bad byte at offset 18)"
        )

    @pytest.mark.parametrize(
        ("text", "problem"),
        [
            ("name: agent\nmodel: name: m\n", "mapping values are not allowed here at line 2"),
            ("name: agent\n\nmodel: [m\n", "expected ',' or ']', but got '<stream end>' at line 4"),
        ],
    )
    def test_invalid_yaml(self, tmp_path: Path, text: str, problem: str) -> None:
        """Broken YAML names the problem (not its context) and the line, and what to do."""
        root = checkout_with(tmp_path, {"1.0.0": text})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root,
            f"{DEFINITION} is not valid YAML ({problem}); fix the file or use a clean checkout",
        )

    def test_character_yaml_forbids(self, tmp_path: Path) -> None:
        """A control character YAML does not allow is named with its line, on one line."""
        root = checkout_with(tmp_path, {"1.0.0": "name: a\nmodel: b\x07c\nx: y\n"})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root,
            f"{DEFINITION} is not valid YAML (unacceptable character #x0007: special "
            "characters are not allowed at line 2); fix the file or use a clean checkout",
        )

    def test_other_yaml_error(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A kind of YAML error this PyYAML does not raise is still refused clearly."""
        root = checkout_with(tmp_path, {"1.0.0": "name: a\n"})

        def refuse(_text: str) -> object:
            raise yaml.YAMLError("a new kind of problem")

        monkeypatch.setattr(yaml, "safe_load", refuse)
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root,
            f"{DEFINITION} is not valid YAML (a new kind of problem); fix the file or use a "
            "clean checkout",
        )

    def test_nested_too_deeply(self, tmp_path: Path) -> None:
        """Thousands of nested lists are refused rather than crashing the parser."""
        root = checkout_with(tmp_path, {"1.0.0": "[" * 5000})
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == self.unreadable(
            root, f"{DEFINITION} nests too deeply to be a prompt definition"
        )


class TestModelStanza:
    @staticmethod
    def unreadable(root: Path, clause: str) -> str:
        return f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but {clause}."

    def resolve(self, root: Path) -> str:
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        return resolution.detail

    @pytest.mark.parametrize(("text", "kind"), [("", "nothing"), ("- model\n", "a list")])
    def test_definition_not_a_mapping(self, tmp_path: Path, text: str, kind: str) -> None:
        """An empty file or a list is not a prompt definition."""
        root = checkout_with(tmp_path, {"1.0.0": text})
        assert self.resolve(root) == self.unreadable(
            root,
            f"{DEFINITION} holds {kind} rather than a mapping, so it is not a prompt definition",
        )

    @pytest.mark.parametrize(
        ("value", "kind"),
        [("true", "a boolean"), ("3", "a number"), ("1.5", "a number"), ("claude", "text")],
    )
    def test_model_entry_not_a_mapping(self, tmp_path: Path, value: str, kind: str) -> None:
        """A model entry that is a scalar says what it is instead."""
        root = checkout_with(tmp_path, {"1.0.0": f"model: {value}\n"})
        assert self.resolve(root) == self.unreadable(
            root, f"the model entry of {DEFINITION} is {kind}, not a mapping"
        )

    def test_model_name_not_text(self, tmp_path: Path) -> None:
        """A model name that is a mapping is named by its type."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  name: {a: b}\n" + ANTHROPIC})
        assert self.resolve(root) == self.unreadable(
            root, f"the model name in {DEFINITION} is a dict, not text"
        )

    def test_model_params_not_a_mapping(self, tmp_path: Path) -> None:
        """Params of the model entry that are text are refused, naming the entry."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  name: m\n  params: fast\n"})
        assert self.resolve(root) == self.unreadable(
            root, f"the params of the model entry of {DEFINITION} are text, not a mapping"
        )

    @pytest.mark.parametrize(
        ("key", "value", "kind"),
        [
            ("custom_llm_provider", "3", "a number"),
            ("model_class_provider", "2024-01-01", "a date"),
        ],
    )
    def test_provider_not_text(self, tmp_path: Path, key: str, value: str, kind: str) -> None:
        """A provider param that YAML reads as a number or a date is refused."""
        root = checkout_with(
            tmp_path, {"1.0.0": f"model:\n  name: m\n  params:\n    {key}: {value}\n"}
        )
        assert self.resolve(root) == self.unreadable(
            root, f"{key} in {DEFINITION} is {kind}, not text"
        )

    def test_name_without_provider(self, tmp_path: Path) -> None:
        """A model name without provider params could not have been served."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  name: claude-x\n"})
        assert self.resolve(root) == self.unreadable(
            root,
            f"{DEFINITION} names model claude-x but neither custom_llm_provider nor "
            "model_class_provider, so the gateway could not have served it",
        )


class TestModelConfigs:
    @staticmethod
    def unreadable(root: Path, clause: str) -> str:
        return f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but {clause}."

    def resolve(self, root: Path) -> str:
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.status == "unreadable"
        return resolution.detail

    def test_not_a_plain_name(self, tmp_path: Path) -> None:
        """A config name with capitals is not looked up, and the rule is given."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  config_file: Claude\n"})
        assert self.resolve(root) == self.unreadable(
            root,
            f"{DEFINITION} names model config 'Claude', which is not a plain config name "
            "(lowercase letters, digits and _), so it was not looked up",
        )

    def test_missing(self, tmp_path: Path) -> None:
        """A config missing from the checkout suggests a checkout from the same commit."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  config_file: claude_9\n"})
        assert self.resolve(root) == self.unreadable(
            root,
            f"{DEFINITION} names model config claude_9, but {CONFIGS}/claude_9.yml does not "
            "exist in this checkout; use a checkout from the same commit",
        )

    def test_invalid_yaml(self, tmp_path: Path) -> None:
        """Broken YAML in a config names the config file."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  config_file: c\n"}, c="a: b: c\n")
        assert self.resolve(root) == self.unreadable(
            root,
            f"{CONFIGS}/c.yml is not valid YAML (mapping values are not allowed here at line 1); "
            "fix the file or use a clean checkout",
        )

    def test_not_a_mapping(self, tmp_path: Path) -> None:
        """A config holding a list names the config file and what it holds."""
        root = checkout_with(tmp_path, {"1.0.0": "model:\n  config_file: c\n"}, c="- a\n")
        assert self.resolve(root) == self.unreadable(
            root, f"{CONFIGS}/c.yml holds a list, not a mapping"
        )

    def test_params_not_a_mapping(self, tmp_path: Path) -> None:
        """Config params that are a list name the config file."""
        root = checkout_with(
            tmp_path, {"1.0.0": "model:\n  config_file: c\n"}, c="name: m\nparams: [a]\n"
        )
        assert self.resolve(root) == self.unreadable(
            root, f"the params of {CONFIGS}/c.yml are a list, not a mapping"
        )


class TestOutsideTheCheckout:
    OUTSIDE = "so it was refused; copy the file into the checkout instead"

    def test_definition(self, tmp_path: Path) -> None:
        """A definition linking out of the checkout says where it leads and what to do."""
        secret = write_files(tmp_path / "outside", {"secret.yml": named("stolen")})
        root = checkout_with(tmp_path / "ai-assist", {"2.0.0": named("m")})
        definitions = (root / PROMPTS / "definitions").resolve()
        (definitions / BASE / "1.0.0.yml").symlink_to(secret / "secret.yml")
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{DEFINITION} leads through a symlink to {(secret / 'secret.yml').resolve()}, "
            f"outside {definitions}, {self.OUTSIDE}."
        )

    def test_model_config(self, tmp_path: Path) -> None:
        """A model config linking out of the checkout names the config."""
        secret = write_files(tmp_path / "outside", {"c.yml": "name: x\n"})
        root = checkout_with(tmp_path / "ai-assist", {"1.0.0": "model:\n  config_file: c\n"})
        configs = (root / PROMPTS / "model_configs").resolve()
        configs.mkdir()
        (configs / "c.yml").symlink_to(secret / "c.yml")
        resolution = PromptRegistry.from_directory(root).resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{CONFIGS}/c.yml leads through a symlink to {(secret / 'c.yml').resolve()}, "
            f"outside {configs}, {self.OUTSIDE}."
        )

    def test_prompt_folder(self, tmp_path: Path) -> None:
        """A prompt folder linking out of the checkout is not searched."""
        secret = checkout_with(tmp_path / "outside", {"1.0.0": named("stolen")})
        root = checkout_with(tmp_path / "ai-assist", {"1.0.0": named("m")})
        definitions = (root / PROMPTS / "definitions").resolve()
        target = (secret / PROMPTS / "definitions" / "code_suggestions").resolve()
        (definitions / "escape").symlink_to(target)
        resolution = PromptRegistry.from_directory(root).resolve("escape/generations", "1.0.0")
        assert resolution.detail == (
            f"The {described(root)} cannot be searched for prompt 'escape/generations': "
            f"ai_gateway/prompts/definitions/escape/generations leads through a symlink to "
            f"{target / 'generations'}, outside {definitions}, {self.OUTSIDE}."
        )

    def test_symlink_loop(self, tmp_path: Path) -> None:
        """A folder that links to itself is reported as a loop."""
        root = checkout_with(tmp_path, {"1.0.0": named("m")})
        loop = (root / PROMPTS / "definitions").resolve() / "loop"
        loop.symlink_to(loop)
        resolution = PromptRegistry.from_directory(root).resolve("loop", "1.0.0")
        assert resolution.detail == (
            f"The {described(root)} cannot be searched for prompt 'loop': "
            f"ai_gateway/prompts/definitions/loop could not be resolved (Symlink loop from "
            f"'{loop}'); check it for a symlink loop."
        )

    def test_folder_cannot_be_listed(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A prompt folder the operating system refuses to list names the reason and the fix."""
        root = checkout_with(tmp_path, {"1.0.0": named("m")})
        original = Path.iterdir

        def refuse(path: Path) -> object:
            if path.name == "generations":
                raise PermissionError(13, "Permission denied", str(path))
            return original(path)

        monkeypatch.setattr(Path, "iterdir", refuse)
        resolution = PromptRegistry.from_directory(root).resolve(GENERATIONS, "1.0.0")
        assert resolution.detail == (
            f"The {described(root)} cannot be searched for prompt '{GENERATIONS}': "
            f"ai_gateway/prompts/definitions/{GENERATIONS} could not be listed (Permission "
            "denied); check its permissions."
        )


class TestRecordEvidenceDetails:
    @pytest.fixture
    def root(self, tmp_path: Path) -> Path:
        vertex = "model:\n  name: m\n  params:\n    model_class_provider: litellm\n"
        return checkout_with(tmp_path, {"1.0.0": vertex + "    custom_llm_provider: vertex_ai\n"})

    def registry_says(self, root: Path) -> str:
        return f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}: m via vertex_ai."

    def test_concrete_provider(self, root: Path) -> None:
        """A concrete provider decides, and the detail still quotes the registry."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "1.0.0", model_class_provider="anthropic"
        )
        assert (resolution.requested_version, resolution.model) == ("1.0.0", "m")
        assert resolution.detail == (
            "The record's model_class_provider 'anthropic' decides the provider; the registry "
            f"says: {self.registry_says(root)}"
        )

    def test_concrete_provider_and_model(self, root: Path) -> None:
        """With model_identifier too, the detail says where the model came from."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "1.0.0", model_class_provider="anthropic", model_identifier="claude_x"
        )
        assert resolution.detail == (
            "The record's model_class_provider 'anthropic' decides the provider (the model comes "
            f"from its model_identifier); the registry says: {self.registry_says(root)}"
        )

    def test_routing_client(self, root: Path) -> None:
        """litellm leaves the provider and model to the definition, and says why."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "1.0.0", model_class_provider="LiteLLM"
        )
        assert (resolution.model, resolution.provider) == ("m", "vertex_ai")
        assert resolution.detail == (
            "The record's model_class_provider 'LiteLLM' names the routing client, not a "
            f"provider, so the provider comes from the definitions: {self.registry_says(root)}"
        )

    def test_routing_client_and_model(self, root: Path) -> None:
        """litellm with model_identifier takes the model from the record."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "1.0.0", model_class_provider="litellm", model_identifier="claude_x"
        )
        assert (resolution.model, resolution.provider) == ("claude_x", "vertex_ai")
        assert resolution.detail == (
            "The record's model_class_provider 'litellm' names the routing client, not a "
            "provider, so the provider comes from the definitions (the model comes from its "
            f"model_identifier): {self.registry_says(root)}"
        )

    def test_routing_client_alone(self, root: Path) -> None:
        """litellm for a prompt the registry cannot resolve stays litellm, saying why."""
        resolution = PromptRegistry.from_directory(root).resolve(
            "chat/explain", "1.0.0", model_class_provider="litellm", model_identifier="claude_x"
        )
        assert (resolution.status, resolution.model, resolution.provider) == (
            "resolved",
            "claude_x",
            "litellm",
        )
        assert resolution.detail == (
            "The record's model_class_provider 'litellm' names only the routing client and the "
            "registry cannot name the provider behind it, so the provider stays 'litellm' (the "
            "model comes from its model_identifier); the registry says: There is no prompt "
            f"'chat/explain' in the {described(root)}: no version files in "
            "ai_gateway/prompts/definitions/chat/explain or its base folder."
        )

    def test_model_alone(self, root: Path) -> None:
        """model_identifier alone sets the model and leaves the provider to the registry."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "1.0.0", model_identifier="claude_x"
        )
        assert (resolution.status, resolution.requested_version) == ("resolved", "1.0.0")
        assert resolution.detail == (
            "Model 'claude_x' comes from the record's model_identifier and the registry decides "
            f"the provider; the registry says: {self.registry_says(root)}"
        )

    def test_model_alone_unresolved(self, root: Path) -> None:
        """model_identifier alone for an unknown version keeps the registry's status."""
        resolution = PromptRegistry.from_directory(root).resolve(
            BASE, "9.0.0", model_identifier="claude_x"
        )
        assert (resolution.status, resolution.model, resolution.provider) == (
            "no_matching_version",
            "claude_x",
            None,
        )
        assert resolution.detail == (
            "Model 'claude_x' comes from the record's model_identifier and the record names no "
            f"provider; the registry says: No version of {BASE} in the {described(root)} "
            "satisfies '9.0.0'; available: 1.0.0."
        )


class TestFallbackDetails:
    def no_model(self, root: Path) -> str:
        return (
            f"'1.0.0' selects version 1.0.0 of {BASE} in the {described(root)}, but "
            f"{DEFINITION} names no model{NO_MODEL}"
        )

    def test_fallback_names_the_model(self, tmp_path: Path) -> None:
        """The fallback's model is added to the primary's detail, for the primary's version."""
        primary = checkout_with(tmp_path / "new", {"1.0.0": "name: Agent\n"})
        old = checkout_with(tmp_path / "old", {"1.0.0": named("m")})
        registry = PromptRegistry.from_directory(
            primary, fallback=PromptRegistry.from_directory(old)
        )
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"{self.no_model(primary).removesuffix('.')}; the {described(old)} names m via "
            "anthropic for 1.0.0."
        )

    def test_no_fallback(self, tmp_path: Path) -> None:
        """Without a fallback the primary's detail stands as it is."""
        primary = checkout_with(tmp_path, {"1.0.0": "name: Agent\n"})
        resolution = PromptRegistry.from_directory(primary).resolve(BASE, "1.0.0")
        assert resolution.detail == self.no_model(primary)

    def test_no_fallback_names_it(self, tmp_path: Path) -> None:
        """When no fallback names a model either, the detail lists every one consulted."""
        roots = [
            checkout_with(tmp_path / name, {"1.0.0": "name: Agent\n"})
            for name in ("new", "mid", "old")
        ]
        registry = PromptRegistry.chain(
            PromptRegistry.from_directory(roots[0]),
            PromptRegistry.from_directory(
                roots[1], fallback=PromptRegistry.from_directory(roots[2])
            ),
        )
        resolution = registry.resolve(BASE, "1.0.0")
        assert resolution.detail == (
            f"{self.no_model(roots[0]).removesuffix('.')}; the {described(roots[1])} or the "
            f"{described(roots[2])} names no model for it either."
        )


class TestDefinitionsErrors:
    def test_not_a_definitions_folder(self, tmp_path: Path) -> None:
        """A folder that is no checkout names itself and what was expected."""
        with pytest.raises(DefinitionsError) as caught:
            PromptRegistry.from_directory(tmp_path)
        assert str(caught.value) == f"{tmp_path} is not a prompt definitions folder: {EXPECTED}."

    def test_missing(self, tmp_path: Path) -> None:
        """A path that does not exist says so and what was expected."""
        with pytest.raises(DefinitionsError) as caught:
            PromptRegistry.from_directory(tmp_path / "missing")
        assert str(caught.value) == (
            f"The prompt definitions path {tmp_path / 'missing'} does not exist; {EXPECTED}."
        )

    def test_cannot_be_read(self, tmp_path: Path) -> None:
        """A path the system cannot even look up gives the reason and what was expected."""
        with pytest.raises(DefinitionsError) as caught:
            PromptRegistry.from_directory(f"{tmp_path}/a\x00b")
        assert str(caught.value) == (
            f"The prompt definitions path {tmp_path}/a\x00b cannot be read (embedded null byte); "
            f"{EXPECTED}, readable by this user."
        )

    def test_empty_definitions_folder_is_accepted(self, tmp_path: Path) -> None:
        """An empty definitions folder is a checkout with no prompts, not an error."""
        (tmp_path / PROMPTS / "definitions").mkdir(parents=True)
        registry = PromptRegistry.from_directory(tmp_path)
        assert registry.resolve(BASE, "1.0.0").status == "unknown_prompt"

    def test_broken_snapshot(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A package whose snapshot is missing says which resource and to reinstall."""
        monkeypatch.setattr(importlib.resources, "files", lambda _: tmp_path)
        with pytest.raises(DefinitionsError) as caught:
            PromptRegistry.bundled()
        assert str(caught.value) == (
            "The bundled prompt snapshot (data/prompt-snapshot.toml) cannot be read ([Errno 2] "
            f"No such file or directory: '{tmp_path}/data/prompt-snapshot.toml'); reinstall "
            "failover-verify."
        )
