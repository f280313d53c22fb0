"""Connectors: one module (or package) per external system."""
