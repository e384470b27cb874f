"""`python -m steward_cli` = the `steward` console script."""

import sys

from steward_cli import main

sys.exit(main())
