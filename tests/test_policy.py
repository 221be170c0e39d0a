from __future__ import annotations

from pathlib import Path

import pytest

from failover_verify import PolicyError
from failover_verify._policy import Policy, Rule
from failover_verify._signals import SIGNALS

CUSTOM = """
schema = 1

[completion]
[[completion.rules]]
role = "failover"
model_provider = ["anthropic"]
model_name = ["claude-*"]

[generation]
prompt_ids = ["code_suggestions/generations"]
[[generation.rules]]
role = "failover"
provider = ["vertex_ai", "litellm"]
[[generation.rules]]
role = "primary"
model = ["claude-sonnet-4-*"]
"""

RULE = 'role = "failover"\nmodel_provider = ["anthropic"]\nmodel_name = ["claude-*"]\n'
"""The completion rule of CUSTOM."""


class TestDefaultPolicy:
    def test_source_is_named(self) -> None:
        assert Policy.default().source == "built-in runbook policy"

    @pytest.mark.parametrize(
        ("provider", "role"),
        [
            ("anthropic", "failover"),
            ("vertex-ai", "primary"),
            ("fireworks_ai", "primary"),
            ("gitlab", "primary"),
            ("codestral", "primary"),
            ("something-new", "primary"),
            (None, "primary"),
        ],
    )
    def test_completion_follows_runbook(self, provider: str | None, role: str) -> None:
        """Completion: anthropic is failover; any other provider, or none, is primary."""
        rule = Policy.default().classify("completion", {"model_provider": provider})
        assert rule is not None
        assert rule.role == role

    @pytest.mark.parametrize(
        ("version", "role"),
        [
            ("2.0.0", "failover"),
            ("^1.0.0", "primary"),
            ("1.2.0-dev", "primary"),
            ("2.0.1", None),
            ("~2.0.0", None),
            (None, None),
        ],
    )
    def test_generation_by_requested_version(self, version: str | None, role: str | None) -> None:
        """Generation registry records: the incident flag's 2.0.0 is failover, ^1.0.0 (or a
        1.x trial) primary, whatever their provider; other versions are unclassified."""
        for provider in ("vertex_ai", "anthropic", None):
            values = {
                "prompt_version": version,
                "provider": provider,
                "model": None,
                "family": None,
                "resolved_version": None,
            }
            rule = Policy.default().classify("generation", values)
            assert (rule.role if rule else None) == role

    def test_vertex_is_not_failover_by_itself(self) -> None:
        """A provider alone no longer decides generation: vertex_ai serves both sides today."""
        assert Policy.default().classify("generation", {"provider": "vertex_ai"}) is None

    @pytest.mark.parametrize(
        ("values", "role"),
        [
            ({"model_name": "claude-sonnet-4-5-20250929"}, "failover"),
            ({"model_name": "codestral-2508"}, "primary"),
            ({"model_class_provider": "anthropic", "model": None}, "failover"),
            ({"model_class_provider": "litellm_completion", "model": None}, "primary"),
            ({"model_name": "gpt-5"}, None),
        ],
    )
    def test_completion_served_and_registry(
        self, values: dict[str, str | None], role: str | None
    ) -> None:
        """Completion served records by model name, registry records by model class."""
        keys = {"model_engine", "model", "family", "provider"} if "model_name" in values else set()
        facts = {**dict.fromkeys(keys), **values}
        rule = Policy.default().classify("completion", facts)
        assert (rule.role if rule else None) == role

    @pytest.mark.parametrize(
        ("prompt_id", "is_generation"),
        [
            ("code_suggestions/generations", True),
            ("code_suggestions/generations/base", True),
            ("code_suggestions/completions", False),
            ("code_suggestions/generations_v2", False),
            ("chat/explain_code", False),
            (None, False),
        ],
    )
    def test_generation_prompt_ids(self, prompt_id: str | None, is_generation: bool) -> None:
        """Generation records are the configured prompt id and the folders under it."""
        policy = Policy.default()
        signal = next(signal for signal in SIGNALS if signal.id == "generation.registry")
        (condition,) = signal.selects(policy.settings_for(signal))
        assert condition.holds(prompt_id) is is_generation


class TestCustomPolicy:
    def test_rule_without_note_describes_itself(self) -> None:
        """A rule without a note is shown as its role and conditions, in policy order."""
        rule = Rule(
            role="failover",
            conditions={"model_provider": ("anthropic",), "model_name": ("claude-*", "opus")},
        )
        assert rule.describe() == (
            "failover if model_provider in [anthropic] and model_name in [claude-*, opus]"
        )
        assert Rule(role="primary", conditions={}).describe() == "primary if always"

    def test_from_file(self, tmp_path: Path) -> None:
        """A policy file replaces the rules: globs, several conditions, no default role."""
        path = tmp_path / "policy.toml"
        path.write_text(CUSTOM)
        policy = Policy.from_file(path)
        assert policy.source == str(path)
        rule = policy.classify(
            "completion", {"model_provider": "anthropic", "model_name": "claude-x"}
        )
        assert rule is not None
        assert rule.role == "failover"
        assert (
            policy.classify("completion", {"model_provider": "anthropic", "model_name": "gpt"})
            is None
        )
        assert policy.classify("completion", {"model_provider": None}) is None
        litellm = policy.classify("generation", {"provider": "litellm"})
        assert litellm is not None
        assert litellm.role == "failover"
        sonnet = policy.classify(
            "generation", {"provider": "x", "model": "claude-sonnet-4-20250514"}
        )
        assert sonnet is not None
        assert sonnet.role == "primary"

    @pytest.mark.parametrize(
        ("first", "second", "role"),
        [("failover", "primary", "failover"), ("primary", "failover", "primary")],
    )
    def test_first_matching_rule_decides(self, first: str, second: str, role: str) -> None:
        """When two rules match, the one listed first decides, whichever role it names."""
        text = f"""
schema = 1
[completion]
[[completion.rules]]
role = "{first}"
model_provider = ["anthropic"]
[[completion.rules]]
role = "{second}"
model_provider = ["*"]
[generation]
prompt_ids = ["code_suggestions/generations"]
[[generation.rules]]
role = "primary"
provider = ["anthropic"]
"""
        policy = Policy.from_toml(text, source="order")
        rule = policy.classify("completion", {"model_provider": "anthropic"})
        assert rule is not None
        assert rule.role == role
        other = policy.classify("completion", {"model_provider": "vertex-ai"})
        assert other is not None
        assert other.role == second

    def test_star_does_not_match_none(self) -> None:
        """'*' matches any present value but not a missing one; '<none>' matches missing."""
        policy = Policy.from_toml(
            CUSTOM.replace('model_name = ["claude-*"]', 'model_name = ["*"]'), source="t"
        )
        assert (
            policy.classify("completion", {"model_provider": "anthropic", "model_name": None})
            is None
        )


class TestPolicyErrors:
    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (lambda t: t.replace("schema = 1", "schema = 2"), "schema = 1"),
            (lambda t: "extra = 1\n" + t, "unknown top-level keys"),
            (
                lambda t: t.replace(
                    'role = "failover"\nmodel_provider', 'role = "backup"\nmodel_provider'
                ),
                "role must be",
            ),
            (lambda t: t.replace("model_name = ", "model_nam = "), "unknown condition 'model_nam'"),
            (
                lambda t: t.replace(
                    'provider = ["vertex_ai", "litellm"]', 'provider = "vertex_ai"'
                ),
                "non-empty list",
            ),
            (
                lambda t: t.replace(
                    'prompt_ids = ["code_suggestions/generations"]', "prompt_ids = []"
                ),
                "prompt_ids",
            ),
            (
                lambda t: t.replace("[generation]", "[generation]\ncolour = 1"),
                r"unknown keys \['colour'\]",
            ),
            (lambda t: t.replace("= [", "= [[", 1), "not valid TOML"),
        ],
    )
    def test_specific_messages(self, edit: object, message: str) -> None:
        """Each mistake in a policy file gives a PolicyError that names it."""
        assert callable(edit)
        with pytest.raises(PolicyError, match=message):
            Policy.from_toml(edit(CUSTOM), source="my-policy.toml")

    @pytest.mark.parametrize("ids", ['[""]', '["code_suggestions/"]', "[1]"])
    def test_prompt_ids_are_whole_text(self, ids: str) -> None:
        """An empty prompt id, one ending in a slash (a prefix) or one that is not text is
        refused, saying what is wanted."""
        text = CUSTOM.replace(
            'prompt_ids = ["code_suggestions/generations"]', f"prompt_ids = {ids}"
        )
        with pytest.raises(PolicyError) as caught:
            Policy.from_toml(text, source="p.toml")
        assert str(caught.value) == (
            "the policy p.toml: [generation] prompt_ids must be a non-empty list of registry "
            'prompt ids of code generation, e.g. "code_suggestions/generations"'
        )

    def test_rule_that_is_not_a_table_is_numbered(self) -> None:
        """Rules are numbered from 1 in the error, as a reader counts them."""
        text = CUSTOM.replace(
            '[[completion.rules]]\nrole = "failover"\nmodel_provider = ["anthropic"]\n'
            'model_name = ["claude-*"]\n',
            'rules = [{role = "failover", model_provider = ["anthropic"]}, 5]\n',
        )
        with pytest.raises(PolicyError) as caught:
            Policy.from_toml(text, source="p.toml")
        assert str(caught.value) == "the policy p.toml, [[completion.rules]] #2 is not a table"

    def test_note_is_kept_and_defaults_to_nothing(self) -> None:
        """A rule's note is kept as written; a rule without one has an empty note."""
        text = CUSTOM.replace(RULE, RULE + 'note = "Claude is the failover"\n')
        policy = Policy.from_toml(text, source="p.toml")
        assert [rule.note for rule in policy.completion] == ["Claude is the failover"]
        assert [rule.note for rule in policy.generation] == ["", ""]

    @pytest.mark.parametrize(
        ("edit", "message"),
        [
            (
                lambda t: t.replace("schema = 1", "schema = 2"),
                "the policy p.toml must say schema = 1 (got 2)",
            ),
            (
                lambda t: "extra = 1\n" + t,
                (
                    "the policy p.toml has unknown top-level keys ['extra']; "
                    "allowed: schema, completion, generation"
                ),
            ),
            (
                lambda t: t.replace("[generation]", "[generation]\ncolour = 1"),
                (
                    "the policy p.toml has unknown keys ['colour'] in [generation]; "
                    "allowed: prompt_ids, rules, versions"
                ),
            ),
            (
                lambda t: t.replace(RULE, RULE + "note = 5\n"),
                "the policy p.toml, [[completion.rules]] #1: note must be text",
            ),
            (
                lambda t: t.replace("model_name = ", "model_nam = "),
                (
                    "the policy p.toml, [[completion.rules]] #1: unknown condition 'model_nam'; "
                    "completion rules may use family, model, model_class_provider, model_engine, "
                    "model_name, model_provider, prompt_name, provider"
                ),
            ),
            (
                lambda t: t.replace('model_name = ["claude-*"]', "model_name = []"),
                (
                    "the policy p.toml, [[completion.rules]] #1: model_name must be a "
                    "non-empty list of patterns"
                ),
            ),
            (
                lambda t: t.replace('model_name = ["claude-*"]', 'model_name = [""]'),
                (
                    "the policy p.toml, [[completion.rules]] #1: model_name must be a "
                    "non-empty list of patterns"
                ),
            ),
            (
                lambda t: t.replace(
                    'model = ["claude-sonnet-4-*"]',
                    'model = ["claude-sonnet-4-*"]\nprompt_version = ["2.0.0"]\nmodel_name = ["x"]',
                ),
                (
                    "the policy p.toml, [[generation.rules]] #2 tests model, model_name, "
                    "prompt_version, which no one kind of generation record has together "
                    '("Request to LLM complete" records of generate_code: as_version, family, '
                    'model, model_engine, model_name, provider; "Returning prompt from the '
                    'registry" records of code generation: family, model, prompt_version, '
                    "provider, resolved_version)"
                ),
            ),
        ],
        ids=[
            "schema",
            "unknown-top-level",
            "unknown-in-section",
            "note-not-text",
            "unknown-condition",
            "empty-list",
            "empty-pattern",
            "not-together",
        ],
    )
    def test_messages_in_full(self, edit: object, message: str) -> None:
        """What each mistake says, word for word: the rule's number and what is allowed."""
        assert callable(edit)
        with pytest.raises(PolicyError) as caught:
            Policy.from_toml(edit(CUSTOM), source="p.toml")
        assert str(caught.value) == message

    def test_rule_without_condition(self) -> None:
        """A rule with a role but no condition is refused rather than matching everything."""
        text = CUSTOM.replace('model_provider = ["anthropic"]\nmodel_name = ["claude-*"]\n', "")
        with pytest.raises(PolicyError, match="has no condition"):
            Policy.from_toml(text, source="p")

    def test_unreadable_file(self, tmp_path: Path) -> None:
        """A missing policy file names the path."""
        with pytest.raises(PolicyError, match=r"cannot read the policy file .*nope\.toml"):
            Policy.from_file(tmp_path / "nope.toml")
