"""Ziwo (Aswat) call-center API: settings, client and call records.

The Prefect credentials block lives in `ziwo_reports.connectors.ziwo.block`, so that importing the client
does not import Prefect.
"""

from ziwo_reports.connectors.ziwo.client import (
    CallBatch,
    ListingCheck,
    PullStats,
    ZiwoAuthError,
    ZiwoClient,
    ZiwoError,
    ZiwoListingError,
    ZiwoPagingError,
    days,
)
from ziwo_reports.connectors.ziwo.records import CALL_COLUMNS, REJECT_REASONS, CallRecord, Reject, parse_call
from ziwo_reports.connectors.ziwo.settings import ZiwoSettings, instance_url

__all__ = [
    "CALL_COLUMNS",
    "REJECT_REASONS",
    "CallBatch",
    "CallRecord",
    "ListingCheck",
    "PullStats",
    "Reject",
    "ZiwoAuthError",
    "ZiwoClient",
    "ZiwoError",
    "ZiwoListingError",
    "ZiwoPagingError",
    "ZiwoSettings",
    "days",
    "instance_url",
    "parse_call",
]
