"""The data-quality suite for each batch of call legs, run with Great Expectations on a pandas
frame (GX's SQL route over DuckDB is broken: see shared/reference/pipeline-anchors.md).

Imported only when a batch is validated: GX takes seconds and hundreds of MB to import.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from ziwo_reports.connectors.ziwo.assumptions import DIRECTIONS, RESULTS

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")  # no usage reports from a data pipeline

import great_expectations as gx
from great_expectations.data_context.types.base import (
    DataContextConfig,
    InMemoryStoreBackendDefaults,
    ProgressBarsConfig,
)

DURATIONS = (
    "duration_s",
    "ivr_time_s",
    "queue_wait_time_s",
    "ring_time_s",
    "talk_time_s",
    "hold_time_s",
    "wrap_up_time_s",
)
CHECKED_COLUMNS = (
    *("instance", "call_id", "started_at", "ended_at", "direction", "result", "agent_id", "queue_id"),
    *DURATIONS,
)


@dataclass(frozen=True)
class Failure:
    row: int  # position in the batch
    reason: str  # the expectation that failed, e.g. expect_column_values_to_be_in_set(result)
    detail: str


def _expectations(known_agents: Collection[int], known_queues: Collection[int]) -> list[Any]:
    e = gx.expectations
    return [
        e.ExpectColumnValuesToNotBeNull(column="instance"),
        e.ExpectColumnValuesToNotBeNull(column="call_id"),
        e.ExpectColumnValuesToNotBeNull(column="started_at"),
        e.ExpectColumnValuesToBeUnique(column="call_id"),
        *(e.ExpectColumnValuesToBeBetween(column=c, min_value=0) for c in DURATIONS),
        e.ExpectColumnPairValuesAToBeGreaterThanB(
            column_A="ended_at", column_B="started_at", or_equal=True, ignore_row_if="either_value_is_missing"
        ),
        e.ExpectColumnValuesToBeInSet(column="direction", value_set=list(DIRECTIONS)),
        e.ExpectColumnValuesToBeInSet(column="result", value_set=list(RESULTS)),
        e.ExpectColumnValuesToBeInSet(column="agent_id", value_set=sorted(known_agents)),
        e.ExpectColumnValuesToBeInSet(column="queue_id", value_set=sorted(known_queues)),
    ]


class CallChecks:
    """The suite, built once per run; `failures` validates one batch."""

    def __init__(self, known_agents: Collection[int], known_queues: Collection[int]) -> None:
        # In memory, without the temporary Data Docs folder GX makes by default, and quiet.
        config = DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        asset = context.data_sources.add_pandas("ziwo").add_dataframe_asset("call_legs")
        batch = asset.add_batch_definition_whole_dataframe("batch")
        suite = context.suites.add(gx.ExpectationSuite(name="ziwo_call_legs"))
        for expectation in _expectations(known_agents, known_queues):
            suite.add_expectation(expectation)
        self.suite = suite
        self._validation = context.validation_definitions.add(
            gx.ValidationDefinition(name="ziwo_call_legs", data=batch, suite=suite)
        )

    @property
    def expectation_names(self) -> list[str]:
        return [_name(e.expectation_type, e.configuration.kwargs) for e in self.suite.expectations]

    def failures(self, table: pa.Table) -> list[Failure]:
        """Each failed expectation of each row of the batch."""
        frame = table.select(list(CHECKED_COLUMNS)).to_pandas()
        for column in ("started_at", "ended_at"):  # UTC instants as naive UTC: GX compares plain values
            frame[column] = frame[column].dt.tz_convert(None)
        for column in DURATIONS:  # GX checks float64 columns vectorised, other number types value by value
            frame[column] = frame[column].astype("float64")
        result = self._validation.run(
            batch_parameters={"dataframe": frame}, result_format={"result_format": "COMPLETE"}
        )
        found: list[Failure] = []
        for outcome in result.results:
            if outcome.success:
                continue
            kwargs = outcome.expectation_config.kwargs
            name = _name(outcome.expectation_config.type, kwargs)
            for row in outcome.result.get("unexpected_index_list") or []:
                found.append(Failure(int(row), name, _detail(name, kwargs, frame.iloc[int(row)])))
        return found


def _name(kind: str, kwargs: dict[str, Any]) -> str:
    columns = kwargs.get("column") or f"{kwargs.get('column_A')}, {kwargs.get('column_B')}"
    return f"{kind}({columns})"


def _detail(name: str, kwargs: dict[str, Any], row: Any) -> str:
    if "column_A" in kwargs:
        a, b = kwargs["column_A"], kwargs["column_B"]
        return f"{a} {row[a]} is before {b} {row[b]}"
    column = kwargs["column"]
    value = row[column]
    if "unique" in name:
        return f"{column} {value!r} appears more than once in the batch"
    if "not_be_null" in name:
        return f"{column} is missing"
    if "between" in name:
        return f"{column} is {_plain(value)!r}, below {_plain(kwargs.get('min_value'))}"
    return f"{column} is {_plain(value)!r}, not one of the known values"


def _plain(value: Any) -> Any:
    """numpy scalars as Python values, whole floats as ints (pandas turns nullable ints to floats)."""
    value = value.item() if hasattr(value, "item") else value
    return int(value) if isinstance(value, float) and value.is_integer() else value
