"""What runs on the sandbox rather than in it: the demo and the recorded story, and what feeds them.

- lifecycle.py: `steward local demo`, the whole lifecycle told in the terminal (acts 1 and 2, the demo's
  policy, the summary); account.py what the account held before, public.py the interfaces it goes
  through (HTTP, the CLI), drift.py its monitoring finding, questions.py the lineage questions at its end.
- story.py: `steward local replay` / `serve`, the recorded churn story on a sandbox.
- replay.py: event files (JSON, JSON lists, JSON Lines) and the SageMaker resources no event carries.

The emulator (the `Sandbox` façade and its parts) imports nothing from here.
"""
