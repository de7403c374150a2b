"""``python -m rds``: see ``rds._cli``."""

import sys

from ._cli import main

sys.exit(main())
