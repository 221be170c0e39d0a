"""Optional dependencies: imported where used, and a missing one names the extra to install."""

from __future__ import annotations

import importlib
from typing import Final

from failover_verify._exceptions import ConfigurationError

__all__ = ["JOBS_EXTRA", "require"]

JOBS_EXTRA: Final = "pip install 'failover-verify[jobs]'"


def require(module: str, *, purpose: str, package: str, extra: str = JOBS_EXTRA) -> None:
    """Import ``module`` or raise :class:`ConfigurationError` saying how to install it."""
    try:
        importlib.import_module(module)
    except ImportError:
        raise ConfigurationError(f"{purpose} needs {package}: {extra}") from None
