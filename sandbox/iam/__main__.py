"""`python -m sandbox.iam report`: the IAM report of README "IAM in the sandbox"."""

from sandbox.iam.report import main

raise SystemExit(main())
