"""Workflows: what a user builds in Ziwo's workflow builder (a trigger, an operation, conditions, a delay,
deliveries), as validated configuration. `conditions` is the if/then part, as data."""
