"""Entry point of the app worker process: ``python -m plugins.worker_main MODULE:ATTR``."""

import sys

from plugins.worker import main

sys.exit(main(sys.argv))
