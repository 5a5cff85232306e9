"""``python -m openclaw_connector`` runs the same entry point as ``openclaw-connectord``."""

import sys

from openclaw_connector.cli import main

sys.exit(main())
