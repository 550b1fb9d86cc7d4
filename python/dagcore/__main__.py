"""``python -m dagcore``: the ``dagcore`` command line (:mod:`dagcore.cli`)."""

import sys

from dagcore.cli import main

sys.exit(main())
