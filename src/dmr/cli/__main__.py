"""``python -m dmr.cli``."""

import sys

from dmr.cli import main

sys.exit(main())
