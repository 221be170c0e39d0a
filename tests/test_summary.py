from __future__ import annotations

import pytest

from failover_verify._summary import decide


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

    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            # failover share against the default 0.95, both sides
            ((5, 95, 0), "failover"),
            ((6, 94, 0), "mixed"),
            # primary share, both sides
            ((95, 5, 0), "primary"),
            ((94, 6, 0), "mixed"),
            # unclassified share: at most 1 - threshold is tolerated, more is inconclusive
            ((0, 95, 5), "failover"),
            ((95, 0, 5), "primary"),
            ((94, 0, 6), "inconclusive"),
            ((47, 47, 6), "inconclusive"),
            ((48, 47, 5), "mixed"),
        ],
    )
    def test_default_threshold_edges(self, counts: tuple[int, int, int], verdict: str) -> None:
        """Each edge of the default threshold, at and just past it."""
        assert _decide(*counts)[0] == verdict

    @pytest.mark.parametrize(
        ("counts", "verdict"),
        [
            ((20, 80, 0), "failover"),
            ((21, 79, 0), "mixed"),
            ((80, 20, 0), "primary"),
            ((79, 21, 0), "mixed"),
            ((0, 80, 20), "failover"),
            ((0, 79, 21), "inconclusive"),
        ],
    )
    def test_custom_threshold_edges(self, counts: tuple[int, int, int], verdict: str) -> None:
        """A threshold of 0.8 moves every edge: shares, and the unclassified tolerance."""
        assert _decide(*counts, threshold=0.8)[0] == verdict

    @pytest.mark.parametrize(
        ("min_count", "counts", "verdict"),
        [
            (5, (0, 4, 0), "inconclusive"),
            (5, (0, 5, 0), "failover"),
            (5, (4, 0, 0), "inconclusive"),
            (5, (5, 0, 0), "primary"),
            (1, (0, 1, 0), "failover"),
            (1, (0, 0, 0), "no_data"),
            (20, (10, 9, 0), "inconclusive"),
            (20, (10, 10, 0), "mixed"),
        ],
    )
    def test_min_count_edges(
        self, min_count: int, counts: tuple[int, int, int], verdict: str
    ) -> None:
        """The minimum count, at and just below it, for several minimums."""
        assert _decide(*counts, min_count=min_count)[0] == verdict

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
