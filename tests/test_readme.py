"""The README tells the truth: its Python example runs and its commands exist."""

from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


class TestReadme:
    def test_python_example_runs(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The Python API example runs as written and prints what it says."""
        blocks = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)
        assert blocks
        monkeypatch.chdir(ROOT)
        output = io.StringIO()
        with contextlib.redirect_stdout(output):
            exec(compile(blocks[0], "README.md", "exec"), {})  # noqa: S102
        printed = output.getvalue().splitlines()
        assert printed[0].startswith("completion failover 100%")
        assert printed[-1] == "True"

    def test_commands_exist(self) -> None:
        """The two set-up commands point at files that exist and are executable."""
        assert "scripts/test" in README
        assert os.access(ROOT / "scripts" / "test", os.X_OK)
        assert os.access(ROOT / "scripts" / "local-es", os.X_OK)
        first = re.search(r"```sh\n(python3 -m venv .*)\n```", README)
        assert first is not None
        fixture = re.search(r"--source (\S+)", first.group(1))
        assert fixture is not None
        assert (ROOT / fixture.group(1)).is_file()
