"""What the flows' parameters mean to a person: the title and description the Prefect UI's form
shows above each field, and the defaults that depend on where a flow runs."""

from __future__ import annotations

import os
from typing import Annotated, Any

from pydantic import Field

from ziwo_reports.warehouse import DEFAULT_DB


def form(title: str, description: str, **constraints: Any) -> Any:
    """A flow parameter's title and description in the form, as `Annotated[type, form(...)]`.

    Prefect titles a parameter with its name and drops the title and description of a Field, but
    merges its json_schema_extra, which pydantic applies last.
    """
    return Field(json_schema_extra={"title": title, "description": description}, **constraints)


def warehouse_path(db_path: str | None) -> str:
    """The warehouse file of a run: the parameter, else $ZIWO_REPORTS_DB where the flow runs, else
    reports_out/ziwo.duckdb (read when the run starts, so that a worker's environment applies)."""
    return db_path or os.environ.get("ZIWO_REPORTS_DB") or str(DEFAULT_DB)


CredentialsBlock = Annotated[
    str,
    form(
        "Ziwo credentials block",
        "Name of a saved Ziwo Credentials block (the deployments use `ziwo`); empty: the ZIWO_* environment "
        "variables where the flow runs.",
    ),
]
DbPath = Annotated[
    str,
    form(
        "Warehouse file",
        "The DuckDB warehouse; empty: $ZIWO_REPORTS_DB where the flow runs, else reports_out/ziwo.duckdb.",
    ),
]
