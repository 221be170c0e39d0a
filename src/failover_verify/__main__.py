"""``python -m failover_verify`` runs the CLI."""

import sys

from failover_verify._cli import main

sys.exit(main())
