"""The delivery contract: what every destination of a computed report implements (files first;
webhooks, HTTP APIs, CRMs, SQL databases and e-mail next), and the registry of delivery types.

A delivery is built from its options, a pydantic model tagged by `type`, and offers four steps:

- `validate()`: static checks of the options, no I/O; a DeliveryConfigError names field and value.
- `check()`: a read-only probe of the target ("test connection"): can it be reached, may we write.
- `plan(report)`: the dry run: every item it would send (a file, a request, a chunk of rows) with
  its stable key, target, method, row count and keys, payload hash and a sample; nothing written.
- `deliver(report, keys)`: sends the plan's items (or those of `keys`), yielding one ItemResult per
  item as it goes. It is idempotent: an item's key is stable across reruns of the same period and
  the target upserts by it, so a rerun updates what it sent and never duplicates it.

The pipeline (`ziwo_reports.deliveries`) runs these steps and keeps the ledger; a connector never
touches the warehouse.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol, TypeVar

import orjson
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model, model_validator

from ziwo_reports.redaction import redact
from ziwo_reports.report_model import Report

#: Rows of the report shown in a plan's sample.
SAMPLE_ROWS = 5

#: sent; failed (replay may send it); gave_up (the connector stopped trying); gone (the target
#: said it is gone for good, HTTP 410: nothing more is sent to it until a replay gets through);
#: held (not sent yet, by design: an e-mail digest's rows waiting for its next window).
ItemStatus = Literal["sent", "failed", "gave_up", "gone", "held"]


class DeliveryConfigError(ValueError):
    """Options that cannot work, found without I/O; one line naming the field and the value."""


class DeliveryError(Exception):
    """A delivery that failed for good. The message is redacted and one line."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(" ".join(str(message).split())))


class TargetOptions(BaseModel):
    """What every target's options have: the `type` that tags them, and the target's name."""

    model_config = ConfigDict(extra="forbid")
    #: What the Prefect form calls the list of targets of this type ("Webhooks"), and says of it.
    form_title: ClassVar[str] = "Targets"
    form_description: ClassVar[str] = ""

    type: str
    name: str = Field(
        default="",
        max_length=100,
        title="Target name",
        description="How the delivery ledger and `ziwo-reports deliveries` name this target; empty: its type.",
    )

    @property
    def target_name(self) -> str:
        return self.name or self.type


@dataclass(frozen=True)
class Item:
    """One thing a delivery sends: a file, a request, a chunk of rows."""

    key: str  # stable across reruns of the same period: the ledger's chunk key
    target: str  # where it goes: a path, a URL, an object name
    method: str  # what is done there: write, POST, upsert, ...
    rows: int
    payload_hash: str
    row_keys: tuple[str, ...] = ()  # the stable keys of its rows, where the target keys rows
    sample: tuple[dict[str, Any], ...] = ()


@dataclass
class Plan:
    """A dry run: the items a delivery would send, in order. `requests` shows the first of them
    exactly as they would go out (method, URL, headers with secrets masked, body), for
    connectors that send requests."""

    target_type: str
    target_name: str
    items: list[Item]
    requests: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per item, for a person."""
        return [
            f"{self.target_type} {self.target_name}: {item.method} {item.target} ({item.rows} rows, "
            f"payload {item.payload_hash[:12]})"
            for item in self.items
        ]


@dataclass
class ItemResult:
    """What became of one item. `ref` is the target's own reference (a path, a message or job id);
    `info` what a person wants to see of it (bytes, format)."""

    key: str
    status: ItemStatus
    ref: str | None = None
    error: str | None = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    detail: str


class Delivery(Protocol):
    """The contract; see the module's docstring."""

    type: ClassVar[str]
    options: TargetOptions
    # Optional, default False: what it sends cannot be taken back or upserted (an e-mail), so an
    # item the ledger shows as sent is not sent again unless forced (`deliveries.deliver_report`).
    # once: ClassVar[bool]

    def validate(self) -> None: ...

    def check(self) -> CheckResult: ...

    def plan(self, report: Report) -> Plan: ...

    def deliver(self, report: Report, keys: Collection[str] | None = None) -> Iterator[ItemResult]: ...


# --- the registry -----------------------------------------------------------------------------

_REGISTRY: dict[str, tuple[type[TargetOptions], Callable[[Any], Delivery]]] = {}


def register(options_model: type[TargetOptions], factory: Callable[[Any], Delivery]) -> None:
    """Make a delivery type known: its options model (whose `type` field is a one-value Literal)
    and what builds a delivery from those options."""
    kind = options_model.model_fields["type"].default
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"{options_model.__name__}.type needs a default naming the type")
    _REGISTRY[kind] = (options_model, factory)


def delivery_types() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


class DeliveriesBase(BaseModel):
    """Targets of a report, a list per delivery type (the fields: see `deliveries_model`)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _sort_by_type(cls, value: Any) -> Any:
        # A flat list of targets tagged by `type` (the Python API, YAML, the CLI): sorted by type.
        if isinstance(value, list | tuple):
            by_type: dict[str, list[TargetOptions]] = {}
            for entry in value:
                target = parse_target(entry)
                by_type.setdefault(target.type, []).append(target)
            return by_type
        return value

    def targets(self) -> list[TargetOptions]:
        """Every target, in the order of the types."""
        return [target for kind in type(self).model_fields for target in getattr(self, kind)]


@functools.cache
def deliveries_model() -> type[DeliveriesBase]:
    """One model with a list of targets per registered type (`webhook: [...]`, `http_api: [...]`),
    for a flow's `deliveries` parameter: the Prefect UI renders a list of one model as a form per
    item, where a list of a union of models would be a bare JSON box. A flat list of targets
    tagged by `type` reads too."""
    _load_builtin()
    fields: dict[str, Any] = {
        kind: (
            list[model],  # type: ignore[valid-type]
            Field(
                default_factory=list,
                title=model.form_title,
                description=model.form_description or f"Targets of type {kind}.",
            ),
        )
        for kind, (model, _) in sorted(_REGISTRY.items())
    }
    return create_model("Deliveries", __base__=DeliveriesBase, **fields)


def parse_target(options: TargetOptions | dict[str, Any]) -> TargetOptions:
    """Options of any registered type, from a model or a dict with `type`; errors name field and value."""
    if isinstance(options, TargetOptions):
        return options
    _load_builtin()
    kind = options.get("type") if isinstance(options, dict) else None
    if kind not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise DeliveryConfigError(f"delivery type {kind!r} is not one of {known}")
    model = _REGISTRY[kind][0]
    try:
        return model.model_validate(options)
    except ValidationError as problems:
        raise DeliveryConfigError(config_problem(kind, problems)) from None


def config_problem(kind: str, problems: ValidationError) -> str:
    """A pydantic error as one line naming each field and its value."""
    lines = []
    for error in problems.errors():
        where = ".".join(str(part) for part in error["loc"])
        message = error["msg"].removeprefix("Value error, ")
        lines.append(f"{kind} delivery: {where} {error.get('input')!r}: {message}")
    return redact("; ".join(lines))  # a value refused may hold a secret (a password in a URL)


def delivery_for(options: TargetOptions | dict[str, Any]) -> Delivery:
    """The delivery of these options, validated."""
    parsed = parse_target(options)
    _load_builtin()
    delivery = _REGISTRY[parsed.type][1](parsed)
    delivery.validate()
    return delivery


def _load_builtin() -> None:
    """Import the connectors that register themselves (their modules call `register`)."""
    from ziwo_reports.connectors.email import delivery as _email  # noqa: F401
    from ziwo_reports.connectors.files import delivery  # noqa: F401
    from ziwo_reports.connectors.http_api import delivery as _http_api  # noqa: F401
    from ziwo_reports.connectors.hubspot import delivery as _hubspot  # noqa: F401
    from ziwo_reports.connectors.salesforce import delivery as _salesforce  # noqa: F401
    from ziwo_reports.connectors.sql_database import delivery as _sql  # noqa: F401
    from ziwo_reports.connectors.webhook import delivery as _webhook  # noqa: F401
    from ziwo_reports.connectors.zendesk import delivery as _zendesk  # noqa: F401


# --- helpers every delivery uses ---------------------------------------------------------------

W = TypeVar("W")
R = TypeVar("R")


def in_parallel(work: Iterable[W], run: Callable[[W], R], concurrency: int, name: str) -> Iterator[R]:
    """`run` over each piece of work, at most `concurrency` at a time and at most twice that waiting,
    each result as it completes; work not yet started is cancelled when the caller stops reading
    (what it would send, nobody would record)."""
    pending: set[Future[R]] = set()
    with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix=name) as pool:
        try:
            for piece in work:
                if len(pending) >= 2 * concurrency:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (future.result() for future in done)
                pending.add(pool.submit(run, piece))
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (future.result() for future in done)
        finally:
            for future in pending:
                future.cancel()


def validate_options(options: TargetOptions) -> None:
    """A delivery's `validate()`: its options as their model checks them, again (no I/O); a
    DeliveryConfigError naming the type, field and value."""
    try:
        type(options).model_validate(options.model_dump())
    except ValidationError as problems:
        raise DeliveryConfigError(config_problem(options.type, problems)) from None


def json_hash(payload: Any) -> str:
    """sha256 of a JSON-ready payload, keys sorted: what an item sends, for the ledger's payload_hash."""
    import orjson

    return hashlib.sha256(orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)).hexdigest()


def row_item(
    key: str, target: str, method: str, payload: Any, sample: Any = None, encoded: bytes | None = None
) -> Item:
    """The plan's item of a delivery that sends one record per row (the CRMs): keyed by the row's
    key, hashed over what it sends (`encoded`: the payload as json_hash encodes it, when the
    delivery keeps those bytes to send), its sample the record (or `sample`)."""
    return Item(
        key=key,
        target=target,
        method=method,
        rows=1,
        payload_hash=json_hash(payload) if encoded is None else hashlib.sha256(encoded).hexdigest(),
        row_keys=(key,),
        sample=(payload if sample is None else sample,),
    )


def table_hash(table: pa.Table) -> str:
    """sha256 of a table's data (schema and values, in Arrow's stream format): equal data, equal
    hash, whatever the run; what the ledger keeps instead of the payload."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def sample_rows(table: pa.Table, rows: int = SAMPLE_ROWS) -> tuple[dict[str, Any], ...]:
    """The first rows as JSON-ready dicts (ISO times, lists kept)."""
    return tuple(orjson.loads(orjson.dumps(table.slice(0, rows).to_pylist())))
