"""The Estimator operator: an `LLMBudget` (the organisation's Claude tier) becomes the fleet's limits.

It lives in `operator/` as its own component; the package is `estimator_operator` because a package
named `operator` would shadow Python's own `operator` module. `estimator operator` runs it (kopf).
"""
