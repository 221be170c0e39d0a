from __future__ import annotations

import pytest

from failover_verify._report import decide


def _decide(
    primary: int = 0, failover: int = 0, unclassified: int = 0, **kwargs: object
) -> tuple[str, str]:
    options: dict[str, object] = {
        "complete": True,
        "blockers": [],
        "threshold": 0.95,
        "min_count": 20,
    }
    options.update(kwargs)
    return decide(
        total=primary + failover + unclassified,
        primary=primary,
        failover=failover,
        unclassified=unclassified,
        **options,  # type: ignore[arg-type]
    )


class TestDecide:
    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            ((100, 0, 0), "primary"),
            ((0, 100, 0), "failover"),
            ((5, 95, 0), "failover"),
            ((6, 94, 0), "mixed"),
            ((50, 50, 0), "mixed"),
            ((95, 0, 5), "primary"),
            ((0, 94, 6), "inconclusive"),
            ((40, 40, 20), "inconclusive"),
            ((0, 0, 0), "no_data"),
            ((0, 19, 0), "inconclusive"),
            ((0, 20, 0), "failover"),
        ],
    )
    def test_verdicts(self, counts: tuple[int, int, int], verdict: str) -> None:
        """Shares against the threshold and the minimum count decide the verdict."""
        assert _decide(*counts)[0] == verdict

    def test_incomplete_is_never_definite(self) -> None:
        """Partial results give inconclusive, however clear the counts look."""
        verdict, reason = _decide(0, 1000, complete=False)
        assert verdict == "inconclusive"
        assert "partial" in reason

    def test_blockers_win(self) -> None:
        """A preflight problem is the reason, even with zero records (not no_data)."""
        assert _decide(blockers=["the index pattern 'x' matches no index"]) == (
            "inconclusive",
            "the index pattern 'x' matches no index",
        )

    def test_reasons_give_numbers(self) -> None:
        """Reasons state the share and the count behind the verdict."""
        assert _decide(0, 10)[1] == "only 10 records in the window; at least 20 are needed"
        assert _decide(3, 97)[1] == "97.0% of 100 records are on the failover provider"
        assert "neither reaches 95%" in _decide(50, 50)[1]
        assert "match no policy rule" in _decide(40, 40, 20)[1]
