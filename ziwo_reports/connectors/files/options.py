"""What the file connector is asked to do, as pydantic models a Prefect flow can take as typed
parameters (Literal choices, defaults and descriptions show in its JSON schema)."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ziwo_reports.connectors.files.naming import DEFAULT_TEMPLATE, FileFormat, check_template

Overwrite = Literal["replace", "never", "version"]

#: Excel's row limit, header row included.
EXCEL_MAX_ROWS = 1_048_576


class Thresholds(BaseModel):
    """Where Excel's conditional formatting flags a group; None turns a check off."""

    model_config = ConfigDict(extra="forbid")

    aht_above_s: float | None = Field(
        default=600,
        ge=0,
        title="AHT above (s)",
        description="Flag an average handle time above this many seconds; None: no check.",
    )
    csat_below: float | None = Field(
        default=4.0, ge=1, le=5, title="CSAT below", description="Flag a CSAT average below this (1-5); None: no check."
    )
    fcr_below: float | None = Field(
        default=0.7, ge=0, le=1, title="FCR below", description="Flag an FCR rate below this (0-1); None: no check."
    )
    service_level_below: float | None = Field(
        default=0.8,
        ge=0,
        le=1,
        title="Service level below",
        description="Queues: flag a service level below this (0-1, as every rate: 0.8 is 80%); None: no check.",
    )
    abandon_rate_above: float | None = Field(
        default=None,
        ge=0,
        le=1,
        title="Abandon rate above",
        description="Queues: flag an abandon rate above this (0-1); None (default): no check.",
    )

    @field_validator("service_level_below", mode="before")
    @classmethod
    def _a_fraction(cls, value: object) -> object:
        # It was a percentage (80) until every rate became a fraction: say so rather than "<= 1".
        if isinstance(value, int | float) and not isinstance(value, bool) and 1 < value <= 100:
            raise ValueError(
                f"service_level_below {value:g} looks like a percentage: it is a fraction 0-1 like every rate "
                f"(write {value / 100:g})"
            )
        return value


#: What each threshold checks, one place for Excel's red cells and the e-mail's flagged rows:
#: (column, threshold field, comparison, factor from the threshold to Excel's stored cell value).
#: Compared with the report's own values the factor is 1: the threshold is in the column's unit.
THRESHOLD_RULES: tuple[tuple[str, str, str, float], ...] = (
    ("avg_handle_time_s", "aht_above_s", ">", 1 / 86400),
    ("csat_avg", "csat_below", "<", 1),
    ("fcr_rate", "fcr_below", "<", 1),
    ("service_level_rate", "service_level_below", "<", 1),
    ("abandon_rate", "abandon_rate_above", ">", 1),
)


def threshold_text(setting: str, limit: float) -> str:
    """A threshold as people read it: 0:10:00, 70%, 80%, 4."""
    if setting == "aht_above_s":
        minutes, seconds = divmod(round(limit), 60)
        return f"{minutes // 60}:{minutes % 60:02d}:{seconds:02d}"
    if setting in ("fcr_below", "abandon_rate_above", "service_level_below"):
        return f"{limit:.0%}"
    return f"{limit:g}"


class FileOptions(BaseModel):
    """Which files to write for a report, where, under which names."""

    model_config = ConfigDict(extra="forbid")

    formats: list[FileFormat] = Field(
        default=["xlsx", "csv"],
        min_length=1,
        title="Formats",
        description="File formats, one file each: xlsx, csv, parquet, json.",
    )
    destination: str = Field(
        default="reports_out",
        title="Destination",
        description="A local folder, or an fsspec URL: `s3://bucket/prefix`, `sftp://host/path`, `file:///path`, `memory://x`.",
    )
    template: str = Field(
        default=DEFAULT_TEMPLATE,
        title="File name template",
        description="File name template. Fields: report, instance, rolling_date, timezone, zone (the time zone as "
        "a name part: Asia-Dubai, UTC-12-00), group_by, interval, period (2026-11-23, or 2026-11-16--2026-11-22 "
        "when the window spans several days), period_start, period_end (the last day included), window_start, "
        "window_end (excluded), generated_at, format, ext; dates take strftime formats, e.g. "
        "{period_start:%Y-%m-%d}. The format's extension replaces or completes the name's.",
    )
    overwrite: Overwrite = Field(
        default="replace",
        title="When the file exists",
        description="When the file exists: replace it, never (fail naming it), or version (name_v2, name_v3, ...).",
    )
    thresholds: Thresholds = Field(
        default_factory=Thresholds, title="Excel thresholds", description="Excel: conditional formatting limits."
    )
    csv_bom: bool = Field(
        default=True,
        title="CSV byte-order mark",
        description="CSV: start with a UTF-8 byte-order mark, so Excel reads UTF-8.",
    )
    max_rows_per_sheet: int = Field(
        default=EXCEL_MAX_ROWS,
        ge=2,
        le=EXCEL_MAX_ROWS,
        title="Excel rows per sheet",
        description="Excel: rows per data sheet, header included; longer reports go on to 'Calls 2', ...",
    )

    @field_validator("destination", mode="before")
    @classmethod
    def _path(cls, value: object) -> object:
        return os.fspath(value) if isinstance(value, os.PathLike) else value

    @field_validator("formats")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))

    @field_validator("template")
    @classmethod
    def _template(cls, value: str) -> str:
        check_template(value)
        return value


class WrittenFile(BaseModel):
    """One file written: its format, where it is, its size and the report rows in it."""

    format: FileFormat
    path: str = Field(description="The local path, or the URL for an fsspec destination.")
    bytes: int
    rows: int
