"""Prefect flows: the entry points that prefect.yaml names."""
