"""The field mapping of the HTTP API connector: how a report row becomes the body of a request.
Pure: no I/O.

A mapping is `{target field: source}`; a target field's dots nest it (`agent.id` is
`{"agent": {"id": ...}}`), a source is a column name (the shorthand) or a FieldSpec with exactly
one of `column`, `const`, `template` or `meta`, and modifiers (`cast`, `format_time` with
`timezone`, `join`, `default`). An empty mapping sends the row as it is.

Templates (`"{group_name}: {calls_answered} calls"`) are parsed with `string.Formatter` but never
given to it: only plain names of columns or meta fields are allowed, no attribute or index access,
no conversion, no nested field; a format spec only of the usual kind (`{avg_talk_time_s:.1f}`). So
a template reads the row's values and nothing else.

The mapping is compiled once against the report's columns (`compile_mapping`): every error is a
MappingError naming the target field.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer, model_validator

from ziwo_reports.metric_definitions import renamed_hint

Cast = Literal["string", "integer", "number", "boolean"]
MetaField = Literal["report", "key", "instance", "timezone", "period_start", "period_end", "row_key"]
META_FIELDS: tuple[str, ...] = MetaField.__args__  # type: ignore[attr-defined]
#: Meta fields that are the same for every row of a report (a batch's URL may use them).
REPORT_META: tuple[str, ...] = tuple(name for name in META_FIELDS if name != "row_key")
SOURCES = ("column", "const", "template", "meta")
JsonScalar = str | int | float | bool | None

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# The format specs of format(): fill, align, sign, width, grouping, precision, type. No braces.
_FORMAT_SPEC = re.compile(r"(?:[^{}]?[<>=^])?[+\- ]?z?#?0?\d*[,_]?(?:\.\d+)?[bcdeEfFgGnosxX%]?")
_SEGMENT = re.compile(r"[^.\s]+")
#: Ids and joined values a ledger line shows at most.
MAX_SHOWN = 200


class MappingError(ValueError):
    """A mapping that cannot work; one line naming the target field."""


class FieldSpec(BaseModel):
    """One target field: exactly one source, and modifiers."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = Field(default=None, title="Column", description="The report column it takes.")
    const: JsonScalar | list[JsonScalar] = Field(
        default=None, title="Constant", description="A fixed value: text, number, true/false, null or a list of them."
    )
    template: str | None = Field(
        default=None,
        title="Template",
        description="Text with {column} or {meta field} placeholders, e.g. '{group_name}: {calls_answered} calls'.",
    )
    meta: MetaField | None = Field(
        default=None,
        title="Report field",
        description="A field of the report rather than the row: report, key, instance, timezone, period_start, "
        "period_end, row_key.",
    )
    cast: Cast | None = Field(
        default=None, title="Cast", description="Convert the value: string, integer, number or boolean."
    )
    format_time: str | None = Field(
        default=None,
        title="Time format",
        description="strftime pattern for a time value (e.g. '%Y-%m-%d %H:%M'), in `timezone` or the report's zone.",
    )
    timezone: str | None = Field(
        default=None,
        title="Time zone",
        description="IANA zone a formatted time is shown in (e.g. 'Europe/Paris'); default: the report's zone.",
    )
    join: str | None = Field(
        default=None, title="Join with", description="Separator that joins a list value (tags) into text, e.g. ', '."
    )
    default: JsonScalar = Field(default=None, title="Default", description="The value when the source is null.")

    @model_validator(mode="after")
    def _one_source(self) -> FieldSpec:
        given = [name for name in SOURCES if name in self.model_fields_set]
        if len(given) != 1:
            raise ValueError(
                f"needs exactly one source of {', '.join(SOURCES)}, got {', '.join(given) if given else 'none'}"
            )
        if self.timezone is not None and self.format_time is None:
            raise ValueError("timezone only goes with format_time")
        if self.format_time is not None:
            if not self.format_time.strip():
                raise ValueError("format_time is empty")
            if self.timezone is not None:
                zone_of(self.timezone)
        if self.template is not None:
            template_names(self.template)
        return self

    @model_serializer(mode="wrap")
    def _as_given(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # Only what was given: a `const: null` stays a source, and the options read back (the
        # ledger keeps them for replay) validate as they were written.
        return {name: value for name, value in handler(self).items() if name in self.model_fields_set}


def zone_of(name: str) -> tzinfo:
    """The IANA zone of that name; ValueError naming it."""
    if name.upper() == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"timezone {name!r} is not an IANA time zone such as Asia/Dubai") from None


# --- templates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and the names (with format specs) between them."""

    text: str
    parts: tuple[tuple[str, str | None, str], ...]  # (literal, name or None, format spec)

    @property
    def names(self) -> list[str]:
        return [name for _, name, _ in self.parts if name is not None]

    def render(self, values: Mapping[str, Any]) -> str:
        out = []
        for literal, name, spec in self.parts:
            out.append(literal)
            if name is not None:
                out.append(render_value(values.get(name), spec))
        return "".join(out)


def parse_template(text: str) -> Template:
    """`text` parsed; ValueError naming what is not allowed."""
    parts = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as problem:
        raise ValueError(f"template {text!r} is not valid: {problem}") from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, ""))
            continue
        if not _NAME.fullmatch(name):
            what = "an empty placeholder {}" if name == "" else f"placeholder {{{name}}}"
            raise ValueError(
                f"template {text!r}: {what} is not allowed: only plain names of columns or report fields, "
                "no positions, attributes or indexes"
            )
        if conversion is not None:
            raise ValueError(f"template {text!r}: conversion !{conversion} in {{{name}}} is not allowed")
        if spec and not _FORMAT_SPEC.fullmatch(spec):
            raise ValueError(f"template {text!r}: format spec {spec!r} of {{{name}}} is not allowed")
        parts.append((literal, name, spec or ""))
    return Template(text, tuple(parts))


def template_names(text: str) -> list[str]:
    """The names a template uses; ValueError when it is not allowed."""
    return parse_template(text).names


def render_value(value: Any, spec: str = "") -> str:
    """A value as template text: null as nothing, a list joined with ', ', a time in ISO 8601."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(render_value(v) for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.isoformat()
    if spec:
        try:
            return format(value, spec)
        except (ValueError, TypeError) as problem:
            raise ValueError(f"format spec {spec!r} does not fit {value!r}: {problem}") from None
    return str(value)


# --- compiling --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CompiledField:
    target: str
    path: tuple[str, ...]
    source: str  # column, const, template or meta
    name: str | None  # the column or meta field
    const: Any
    template: Template | None
    spec: FieldSpec | None

    def value(self, row: Mapping[str, Any], meta: Mapping[str, Any], zone: tzinfo) -> Any:
        if self.source == "column":
            value = row.get(self.name)  # type: ignore[arg-type]
        elif self.source == "meta":
            value = meta.get(self.name)  # type: ignore[arg-type]
        elif self.source == "const":
            value = self.const
        else:
            assert self.template is not None
            try:
                value = self.template.render({**meta, **row})
            except ValueError as problem:
                raise MappingError(f"mapping.{self.target}: {problem}") from None
        spec = self.spec
        if spec is None:
            return value
        if value is not None and spec.format_time is not None:
            value = self._time(value, zone_of(spec.timezone) if spec.timezone else zone)
        if value is not None and spec.join is not None and isinstance(value, list | tuple):
            value = spec.join.join(render_value(v) for v in value if v is not None)
        if value is not None and spec.cast is not None:
            value = self._cast(value, spec.cast)
        return spec.default if value is None else value

    def _time(self, value: Any, zone: tzinfo) -> str:
        assert self.spec is not None and self.spec.format_time is not None
        instant = value
        if isinstance(value, str):
            try:
                instant = datetime.fromisoformat(value)
            except ValueError:
                raise MappingError(f"mapping.{self.target}: {value!r} is not a time to format") from None
        if not isinstance(instant, datetime):
            raise MappingError(f"mapping.{self.target}: {value!r} is not a time to format")
        if instant.tzinfo is None:  # the warehouse keeps UTC
            instant = instant.replace(tzinfo=UTC)
        return instant.astimezone(zone).strftime(self.spec.format_time)

    def _cast(self, value: Any, cast: Cast) -> Any:
        try:
            return _CASTS[cast](value)
        except (ValueError, TypeError, OverflowError):
            raise MappingError(f"mapping.{self.target}: cannot cast {value!r} to {cast}") from None


def _to_string(value: Any) -> str:
    return render_value(value)


def _to_integer(value: Any) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("not a whole number")
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            number = float(text)
            if not number.is_integer():
                raise ValueError("not a whole number") from None
            return int(number)
    raise TypeError(type(value).__name__)


def _to_number(value: Any) -> float:
    if isinstance(value, list | tuple | dict | datetime):
        raise TypeError(type(value).__name__)
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):  # JSON has neither
        raise ValueError("not a finite number")
    return number


_TRUE, _FALSE = {"true", "yes", "1", "on", "y", "t"}, {"false", "no", "0", "off", "n", "f", ""}


def _to_boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise ValueError("not a boolean")


_CASTS = {"string": _to_string, "integer": _to_integer, "number": _to_number, "boolean": _to_boolean}


@dataclass(frozen=True)
class CompiledMapping:
    """A mapping checked against a report's columns: `body(row, meta)` builds one body."""

    fields: tuple[CompiledField, ...]
    zone: tzinfo

    def body(self, row: Mapping[str, Any], meta: Mapping[str, Any]) -> dict[str, Any]:
        if not self.fields:
            return dict(row)
        out: dict[str, Any] = {}
        for field in self.fields:
            node = out
            for part in field.path[:-1]:
                node = node.setdefault(part, {})
            node[field.path[-1]] = field.value(row, meta, self.zone)
        return out


def check_paths(targets: Sequence[str]) -> dict[str, tuple[str, ...]]:
    """Each target field's path; MappingError for an empty segment or two fields that collide
    (`a` and `a.b`: a value cannot also be an object)."""
    paths: dict[str, tuple[str, ...]] = {}
    for target in targets:
        path = tuple(target.split("."))
        if not target or not all(_SEGMENT.fullmatch(part) for part in path):
            raise MappingError(
                f"mapping.{target}: a target field is names joined by dots (agent.id), with no empty or blank part"
            )
        paths[target] = path
    ordered = sorted(paths.items(), key=lambda item: item[1])
    for (first, a), (second, b) in itertools.pairwise(ordered):
        if b[: len(a)] == a:
            raise MappingError(
                f"mapping.{second}: conflicts with mapping.{first}: {first} cannot be a value and hold {second}"
            )
    return paths


def _columns_text(report: str, columns: Sequence[str]) -> str:
    return f"{report} (columns: {', '.join(columns)})"


def compile_mapping(
    mapping: Mapping[str, str | FieldSpec],
    columns: Sequence[str],
    *,
    report: str,
    zone: tzinfo = UTC,
    list_columns: Sequence[str] = (),
) -> CompiledMapping:
    """The mapping checked against the report's columns (`list_columns`: those holding lists);
    MappingError naming the target field: `mapping.agent.id: column 'grp' is not a column of
    agent-performance (columns: ...)`."""
    paths = check_paths(list(mapping))
    known = set(columns)
    compiled = []
    for target, source in mapping.items():
        spec = FieldSpec(column=source) if isinstance(source, str) else source
        where = f"mapping.{target}"
        kind = next(name for name in SOURCES if name in spec.model_fields_set)
        if kind == "column":
            if spec.column not in known:
                raise MappingError(
                    f"{where}: column {spec.column!r} is not a column of {_columns_text(report, columns)}"
                    + renamed_hint(spec.column)
                )
            if spec.join is not None and spec.column not in list_columns:
                raise MappingError(f"{where}: join is for list columns ({', '.join(list_columns) or 'none here'})")
        elif spec.join is not None:
            raise MappingError(f"{where}: join is for list columns, not for a {kind}")
        template = None
        if kind == "template":
            assert spec.template is not None
            try:
                template = parse_template(spec.template)
            except ValueError as problem:
                raise MappingError(f"{where}: {problem}") from None
            for name in template.names:
                if name not in known and name not in META_FIELDS:
                    raise MappingError(
                        f"{where}: template placeholder {{{name}}} is neither a report field "
                        f"({', '.join(META_FIELDS)}) nor a column of {_columns_text(report, columns)}"
                    )
        compiled.append(
            CompiledField(
                target=target,
                path=paths[target],
                source=kind,
                name=spec.column if kind == "column" else spec.meta,
                const=spec.const,
                template=template,
                spec=None if isinstance(source, str) else spec,
            )
        )
    return CompiledMapping(tuple(compiled), zone)


def parse_mapping(raw: Mapping[str, Any]) -> dict[str, str | FieldSpec]:
    """A mapping from options (YAML, a form): each value a column name or a FieldSpec; MappingError
    naming the target field. Checks what needs no columns (sources, templates, paths)."""
    if not isinstance(raw, Mapping):
        raise MappingError(f"mapping must be target field: source pairs, got {type(raw).__name__}")
    parsed: dict[str, str | FieldSpec] = {}
    for target, source in raw.items():
        where = f"mapping.{target}"
        if isinstance(source, str):
            if not source:
                raise MappingError(f"{where}: the column name is empty")
            parsed[target] = source
        elif isinstance(source, FieldSpec):
            parsed[target] = source
        elif isinstance(source, Mapping):
            try:
                parsed[target] = FieldSpec.model_validate(source)
            except ValueError as problem:
                errors = getattr(problem, "errors", None)
                if callable(errors):
                    text = "; ".join(
                        (".".join(str(p) for p in e["loc"]) + ": " if e["loc"] else "")
                        + e["msg"].removeprefix("Value error, ")
                        for e in errors()
                    )
                else:
                    text = str(problem)
                raise MappingError(f"{where}: {text}") from None
        else:
            raise MappingError(f"{where}: {source!r} is neither a column name nor a field spec")
    check_paths(list(parsed))
    return parsed


def capped(values: Sequence[str], limit: int = MAX_SHOWN) -> str:
    """Values joined with commas, cut to `limit` characters with how many more there were."""
    text = ""
    for shown, value in enumerate(values):
        candidate = f"{text},{value}" if text else value
        if len(candidate) > limit:
            return f"{text},...(+{len(values) - shown})" if text else f"{value[:limit]}..."
        text = candidate
    return text
