"""Zendesk as a delivery target: metrics upserted into a custom object, and follow-up tickets or
internal notes after calls (see delivery.py)."""
