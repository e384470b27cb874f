"""`make bench`: Steward's benchmarks, every figure measured in the same run (`python -m tests.bench`).

Not a test suite: pytest collects nothing here (no test_*.py). Each section returns rows of one table
(measure | value | baseline | ratio | target | met); baselines are measured in the same run, and the
run exits non-zero when a target is missed. The table is also written to tests/bench/latest.md.
"""
