"""Entry point of the app worker process: ``python -m peoplenet.plugins.worker MODULE:ATTR``."""

import sys

from peoplenet.plugins.worker.serve import main

sys.exit(main(sys.argv))
