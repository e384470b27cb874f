"""`python -m steward.cli` = the `steward` console script."""

import sys

from steward.cli import main

sys.exit(main())
