"""Make the bundled gateway facts (src/failover_verify/data/gateway-facts.json) from ai-assist.

    python scripts/gateway_facts.py REPO [--branch main] [--out FILE]
    python scripts/gateway_facts.py --folder CHECKOUT --since 2026-06-12 [--out FILE]

REPO is a clone (or bare git directory) of GitLab's AI gateway, ai-assist. Its main branch is
walked first-parent, oldest first, and at every merge that touched
``ai_gateway/model_selection/models.yml``, ``.../unit_primitives.yml`` or
``ai_gateway/prompts/registry.py`` the Code Suggestions facts are read from those three files
(with the same reader the package uses for ``--gateway``). A new era is written whenever the
facts differ from the previous one, dated with the merge's commit date: that is when the
gateway deployed from main began to serve with them.

``--folder`` reads one checkout (or a snapshot in its layout) as a single era.

Nothing from the repository is executed: registry.py is parsed, and only its dict literals
are read. The output names its source and the date it was made.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from failover_verify._gateway import PROMPT_FOLDERS, EraFacts, facts_from_texts

FILES = (
    "ai_gateway/model_selection/models.yml",
    "ai_gateway/model_selection/unit_primitives.yml",
    "ai_gateway/prompts/registry.py",
)
DEFINITIONS = "ai_gateway/prompts/definitions"
DEFAULT_OUT = Path(__file__).resolve().parent.parent / "src/failover_verify/data/gateway-facts.json"


def _git(repo: Path, *args: str) -> str | None:
    result = subprocess.run(
        ["git", f"--git-dir={repo}", *args], capture_output=True, text=True, check=False
    )
    return result.stdout if result.returncode == 0 else None


def _git_dir(repo: Path) -> Path:
    return repo / ".git" if (repo / ".git").is_dir() else repo


def _comparable(era: EraFacts) -> dict[str, Any]:
    return era.model_dump(mode="json", exclude={"since", "commit", "source"})


def eras_from_history(repo: Path, branch: str) -> list[EraFacts]:
    """One era per change of the facts along the first-parent history of ``branch``."""
    git_dir = _git_dir(repo)
    folders = [f"{DEFINITIONS}/{folder}" for folder in PROMPT_FOLDERS]
    listed = _git(
        git_dir,
        "log",
        "--first-parent",
        "--reverse",
        "--format=%H %h %cI",
        branch,
        "--",
        *FILES,
        *folders,
    )
    if listed is None:
        raise SystemExit(f"cannot read the history of {branch} in {repo}")
    eras: list[EraFacts] = []
    for line in listed.splitlines():
        full, short, when = line.split()
        texts = [_git(git_dir, "show", f"{full}:{name}") for name in FILES]
        if all(text is None for text in texts[:2]):
            continue
        era = facts_from_texts(
            models=texts[0],
            unit_primitives=texts[1],
            registry=texts[2],
            source=f"ai-assist {branch} {short}",
            since=datetime.fromisoformat(when).astimezone(UTC),
            commit=short,
            versions=_versions_at(git_dir, full),
        )
        if not era.models:
            continue
        if eras and _comparable(eras[-1]) == _comparable(era):
            continue
        eras.append(era)
    return eras


def _versions_at(git_dir: Path, commit: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for prompt_id in PROMPT_FOLDERS:
        listed = _git(
            git_dir, "ls-tree", "-r", "--name-only", f"{commit}:{DEFINITIONS}/{prompt_id}"
        )
        for name in (listed or "").split():
            folder, _, file = name.rpartition("/")
            if folder and "/" not in folder and file.endswith(".yml"):
                found.setdefault(f"{prompt_id}/{folder}", []).append(file.removesuffix(".yml"))
    return found


def era_from_folder(folder: Path, since: datetime) -> EraFacts:
    texts = [
        (folder / name).read_text("utf-8") if (folder / name).is_file() else None for name in FILES
    ]
    versions: dict[str, list[str]] = {}
    for prompt_id in PROMPT_FOLDERS:
        for path in sorted((folder / DEFINITIONS / prompt_id).glob("*/*.yml")):
            versions.setdefault(f"{prompt_id}/{path.parent.name}", []).append(path.stem)
    return facts_from_texts(
        models=texts[0],
        unit_primitives=texts[1],
        registry=texts[2],
        source=f"checkout {folder.name}",
        since=since,
        versions=versions,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("repo", nargs="?", type=Path, help="an ai-assist clone or git directory")
    parser.add_argument("--branch", default="main")
    parser.add_argument("--folder", type=Path, help="one checkout, read as a single era")
    parser.add_argument("--since", help="the date the --folder facts took effect (YYYY-MM-DD)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.folder is not None:
        if args.since is None:
            parser.error("--folder needs --since: when those facts took effect")
        start = datetime.combine(date.fromisoformat(args.since), datetime.min.time(), UTC)
        eras = [era_from_folder(args.folder, start)]
        source = f"checkout {args.folder}"
    elif args.repo is not None:
        eras = eras_from_history(args.repo, args.branch)
        source = f"ai-assist {args.branch}, first-parent history, at {args.repo}"
    else:
        parser.error("give an ai-assist REPO or --folder")
    document = {
        "generated": datetime.now(UTC).date().isoformat(),
        "source": source,
        "eras": [era.model_dump(mode="json") for era in eras],
    }
    args.out.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(eras)} eras to {args.out}", file=sys.stderr)
    for era in eras:
        generation = era.legacy.get("code_suggestions/generations", {}).get("2.0.0")
        defaults = ", ".join(f"{k}={v}" for k, v in sorted(era.defaults.items()))
        print(
            f"  {era.since:%Y-%m-%d} {era.commit}: 2.0.0={generation} {defaults}", file=sys.stderr
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
