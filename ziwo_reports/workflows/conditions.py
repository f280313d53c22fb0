"""Conditions: the if/then of a workflow, as data. The reference for what a user may write.

A condition is `{field, operator, value}`; conditions are grouped by `all` (every one holds) or `any`
(at least one holds), and groups nest::

    {"all": [{"field": "outcome", "operator": "eq", "value": "missed"},
             {"field": "caller_known", "operator": "eq", "value": true}]}

Fields are the columns of a report table or of the call details, and `totals.<name>` for the headline
totals of a report (the caller passes them in the same column mapping).

Operators (text form in brackets):

==================  ==========================  ====================================================
operator            text form                   holds when
==================  ==========================  ====================================================
eq / ne             `=` `==` `is` / `!=` `<>`   the field equals / differs from the value
gt ge lt le         `>` `>=` `<` `<=`           numbers, text, timestamps, dates
in / not_in         `in [a, b]` / `not in [..]` the field is / is not one of the listed values
contains            `contains`                  a list column (tags) holds the value; text: substring
not_contains        `not contains`              the opposite (the field itself must not be null)
is_empty            `is empty`                  null, "" or []
is_not_empty        `is not empty`              anything else
between             `between 60 and 600`        low <= field <= high (value is [low, high])
==================  ==========================  ====================================================

Types: numbers (int and float compare with each other, as doubles when either side is a float),
text (compared by code point), booleans (equality and in only), timestamps (the value is an ISO
8601 string with a zone, such as `2026-03-01T06:00:00+04:00`; a naive column takes a naive value),
dates (`2026-03-01`), lists of text, numbers or booleans (contains, not_contains, empty only).

The text form, parsed by a small tokenizer (never eval)::

    duration_s > 300
    tags contains complaint
    outcome = missed and caller_known = true
    totals.service_level_rate < 0.8
    queue_id in [1, 2]
    disposition is empty
    duration_s between 60 and 600
    (outcome = missed or duration_s > 600) and agent_name != "Jane Doe"

`and` binds tighter than `or`; parentheses group; values are numbers, `true`/`false`/`null`, "quoted"
or 'quoted' text, bare words (text), ISO dates and times, and `[lists, of, values]`.

Null semantics, the same in SQL (`to_sql`, `filter_table`) and Python (`matches`): a condition on a
null field value is false, whatever the operator (`ne`, `not_in` and `not_contains` included: a missing
value is never "different"), except `is_empty` (true) and `is_not_empty` (false). Null inside a list
is skipped by contains. A float NaN in the data equals NaN and is greater than every other number,
as DuckDB orders it. Conditions never yield "unknown": every group is plain true or false.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, BeforeValidator, ConfigDict, Discriminator, Field, Tag, ValidationError

from ziwo_reports.metric_definitions import renamed_hint

Operator = Literal[
    "eq",
    "ne",
    "gt",
    "ge",
    "lt",
    "le",
    "in",
    "not_in",
    "contains",
    "not_contains",
    "is_empty",
    "is_not_empty",
    "between",
]
OPERATORS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]

#: What users also write for an operator, in YAML or the text form.
OPERATOR_ALIASES = {
    "=": "eq",
    "==": "eq",
    "!=": "ne",
    "<>": "ne",
    ">": "gt",
    ">=": "ge",
    "<": "lt",
    "<=": "le",
    "not in": "not_in",
    "not contains": "not_contains",
    "is empty": "is_empty",
    "is not empty": "is_not_empty",
}
TEXT_FORM = {"eq": "=", "ne": "!=", "gt": ">", "ge": ">=", "lt": "<", "le": "<=", "in": "in", "not_in": "not in"}
TEXT_FORM |= {"contains": "contains", "not_contains": "not contains", "between": "between"}
TEXT_FORM |= {"is_empty": "is empty", "is_not_empty": "is not empty"}

Scalar = bool | int | float | datetime | date | str | None
Value = Scalar | list[Scalar]


class ConditionError(ValueError):
    """A condition that cannot be parsed, does not fit the columns, or cannot be evaluated: one line."""


def _operator(value: Any) -> Any:
    if isinstance(value, str):
        text = " ".join(value.lower().split())
        return OPERATOR_ALIASES.get(text, text)
    return value


class Condition(BaseModel):
    """One test of one field."""

    model_config = ConfigDict(extra="forbid", title="Condition")

    field: str = Field(
        min_length=1,
        title="Field",
        description="A column of the report or of the call details, or totals.<name> for a headline total.",
    )
    operator: Annotated[Operator, BeforeValidator(_operator)] = Field(
        title="Operator",
        description="eq, ne, gt, ge, lt, le, in, not_in, contains, not_contains, is_empty, is_not_empty, between.",
    )
    value: Value = Field(
        default=None,
        title="Value",
        description="What the field is compared with: a list for in/not_in, [low, high] for between, "
        "nothing for is_empty/is_not_empty; timestamps as ISO 8601 text with a zone.",
    )


class AllOf(BaseModel):
    """Holds when every member holds."""

    model_config = ConfigDict(extra="forbid", title="All of")

    all: list[Node] = Field(min_length=1, title="All of", description="Conditions or groups that must all hold (and).")


class AnyOf(BaseModel):
    """Holds when at least one member holds."""

    model_config = ConfigDict(extra="forbid", title="Any of")

    any: list[Node] = Field(
        min_length=1, title="Any of", description="Conditions or groups of which at least one must hold (or)."
    )


def _which(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return "all" if "all" in value else "any" if "any" in value else "condition"
    return {Condition: "condition", AllOf: "all", AnyOf: "any"}.get(type(value))


def _from_text(value: Any) -> Any:
    return parse_text(value) if isinstance(value, str) else value


#: A condition or a group; text ("duration_s > 300") is parsed into one.
Node = Annotated[
    Annotated[Condition, Tag("condition")] | Annotated[AllOf, Tag("all")] | Annotated[AnyOf, Tag("any")],
    Discriminator(
        _which,
        custom_error_type="condition",
        custom_error_message="a condition is {field, operator, value}, {all: [...]}, {any: [...]} or text",
    ),
    BeforeValidator(_from_text),
]
AllOf.model_rebuild()
AnyOf.model_rebuild()


class _Holder(BaseModel):
    conditions: Node


def parse(conditions: Any) -> Condition | AllOf | AnyOf:
    """A condition tree from the model, a mapping (as in YAML), a list (all of them) or the text form."""
    if isinstance(conditions, (Condition, AllOf, AnyOf)):
        return conditions
    if isinstance(conditions, str):
        return parse_text(conditions)
    if isinstance(conditions, (list, tuple)):
        conditions = {"all": list(conditions)}
    try:
        return _Holder(conditions=conditions).conditions
    except ValidationError as exc:
        first = exc.errors()[0]
        if isinstance(first.get("ctx", {}).get("error"), ConditionError):
            raise first["ctx"]["error"] from None  # text inside a group: its own message
        parts: list[str] = []
        for part in map(str, first["loc"]):
            if part != "condition" and (not parts or part != parts[-1]):  # drop the union's tags
                parts.append(part)
        raise ConditionError(f"{'.'.join(parts)}: {first['msg']}") from None


# -- the text form ---------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<instant>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?(?![\w.:-]))
  | (?P<number>[-+]?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?(?![\w.]))
  | (?P<op>>=|<=|!=|<>|==|=|>|<)
  | (?P<punct>[()\[\],])
  | (?P<word>[^\W\d][\w.@-]*)
    """,
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}


@dataclass(frozen=True)
class _Tok:
    kind: str  # string, instant, number, op, punct, word, end
    text: str
    at: int


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    at = 0
    while at < len(text):
        found = _TOKEN.match(text, at)
        if not found:
            raise ConditionError(
                f"conditions: unexpected {json.dumps(text[at])} at character {at + 1} of {_show(text)}"
            )
        if found.lastgroup != "space":
            out.append(_Tok(found.lastgroup or "", found.group(), at))
        at = found.end()
    out.append(_Tok("end", "", len(text)))
    return out


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.toks = _tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Tok:
        return self.toks[min(self.i + ahead, len(self.toks) - 1)]

    def word(self, *words: str, ahead: int = 0) -> bool:
        tok = self.peek(ahead)
        return tok.kind == "word" and tok.text.lower() in words

    def take(self) -> _Tok:
        tok = self.peek()
        self.i += 1
        return tok

    def fail(self, expected: str) -> ConditionError:
        tok = self.peek()
        got = "the end" if tok.kind == "end" else json.dumps(tok.text, ensure_ascii=False)
        return ConditionError(
            f"conditions: expected {expected} at character {tok.at + 1}, got {got} in {_show(self.text)}"
        )

    def expect(self, text: str) -> None:
        if self.peek().text != text:
            raise self.fail(json.dumps(text))
        self.take()

    def parse(self) -> Condition | AllOf | AnyOf:
        if self.peek().kind == "end":
            raise ConditionError("conditions: empty text; write e.g. duration_s > 300")
        node = self.any_of()
        if self.peek().kind != "end":
            raise self.fail("and, or or the end")
        return node

    def any_of(self) -> Condition | AllOf | AnyOf:
        members = [self.all_of()]
        while self.word("or"):
            self.take()
            members.append(self.all_of())
        return members[0] if len(members) == 1 else AnyOf(any=members)

    def all_of(self) -> Condition | AllOf | AnyOf:
        members = [self.term()]
        while self.word("and"):
            self.take()
            members.append(self.term())
        return members[0] if len(members) == 1 else AllOf(all=members)

    def term(self) -> Condition | AllOf | AnyOf:
        if self.peek().text == "(" and self.peek().kind == "punct":
            self.take()
            node = self.any_of()
            self.expect(")")
            return node
        return self.condition()

    def condition(self) -> Condition:
        tok = self.peek()
        if tok.kind == "word" and tok.text.lower() not in _KEYWORDS:
            field = self.take().text
        elif tok.kind == "string":
            field = _unquote(self.take().text)
        else:
            raise self.fail("a field name")
        operator, value = self.operator_and_value()
        return Condition(field=field, operator=operator, value=value)

    def operator_and_value(self) -> tuple[str, Any]:
        tok = self.peek()
        if tok.kind == "op":
            return OPERATOR_ALIASES[self.take().text], self.values(parens=False)
        if tok.kind != "word":
            raise self.fail("an operator (= != > >= < <= in contains between is)")
        name = self.take().text.lower()
        if name in OPERATORS:  # the operator's own name: `duration_s gt 300`
            if name in ("is_empty", "is_not_empty"):
                return name, None
            if name == "between":
                return name, self.between()
            return name, self.values(parens=name in ("in", "not_in"))
        if name == "not" and self.word("in", "contains"):
            name = "not_" + self.take().text.lower()
            return name, self.values(parens=name == "not_in")
        if name == "in":
            return "in", self.values()
        if name == "contains":
            return "contains", self.values(parens=False)
        if name == "between":
            return "between", self.between()
        if name == "is":
            negated = self.word("not")
            if negated:
                self.take()
            if self.word("empty"):
                self.take()
                return ("is_not_empty" if negated else "is_empty"), None
            return ("ne" if negated else "eq"), self.values(parens=False)
        self.i -= 1
        raise self.fail("an operator (= != > >= < <= in contains between is)")

    def between(self) -> list[Any]:
        low = self.scalar()
        if not self.word("and"):
            raise self.fail('"and" (between LOW and HIGH)')
        self.take()
        return [low, self.scalar()]

    def values(self, parens: bool = True) -> Any:
        """A list, or one value: check, which knows the operator, says which it needs."""
        if self.peek().kind == "punct" and self.peek().text in ("[(" if parens else "["):
            close = "]" if self.take().text == "[" else ")"
            items: list[Any] = []
            if self.peek().text != close:
                items.append(self.scalar())
                while self.peek().text == ",":
                    self.take()
                    items.append(self.scalar())
            self.expect(close)
            return items
        return self.scalar()

    def scalar(self) -> Any:
        tok = self.peek()
        if tok.kind == "string":
            return _unquote(self.take().text)
        if tok.kind == "instant":
            return self.take().text
        if tok.kind == "number":
            text = self.take().text
            return float(text) if any(c in text for c in ".eE") else int(text)
        if tok.kind == "word" and tok.text.lower() not in ("and", "or"):
            text = self.take().text
            return {"true": True, "false": False, "null": None}.get(text.lower(), text)
        raise self.fail("a value")


_KEYWORDS = {"and", "or", "not", "in", "contains", "between", "is", "empty", "true", "false", "null"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text[1:-1])


def parse_text(text: str) -> Condition | AllOf | AnyOf:
    """The model of the one-line text form, such as `outcome = missed and caller_known = true`."""
    return _Parser(text).parse()


def to_text(conditions: Any) -> str:
    """The text form of a condition tree (what `parse_text` reads back to the same model)."""
    return _to_text(parse(conditions), top=True)


def _to_text(node: Condition | AllOf | AnyOf, top: bool = False) -> str:
    if isinstance(node, Condition):
        field = node.field if _plain_word(node.field) else _quote(node.field)
        op = TEXT_FORM[node.operator]
        if node.operator in ("is_empty", "is_not_empty"):
            return f"{field} {op}"
        if node.operator == "between" and isinstance(node.value, list) and len(node.value) == 2:
            return f"{field} between {_text_value(node.value[0])} and {_text_value(node.value[1])}"
        return f"{field} {op} {_text_value(node.value)}"
    members, joiner = (node.all, " and ") if isinstance(node, AllOf) else (node.any, " or ")
    text = joiner.join(_to_text(member) for member in members)
    return text if top and len(members) > 1 else f"({text})"


def _plain_word(text: str) -> bool:
    found = _TOKEN.fullmatch(text)
    return bool(found and found.lastgroup == "word" and text.lower() not in _KEYWORDS)


def _quote(text: str) -> str:
    return (
        '"'
        + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
        + '"'
    )


def _text_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_text_value(item) for item in value) + "]"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return _quote(str(value))


# -- types, and what fits them -----------------------------------------------------------------------

ORDERED = frozenset({"eq", "ne", "gt", "ge", "lt", "le", "in", "not_in", "between"})
EMPTY = frozenset({"is_empty", "is_not_empty"})
#: The operators each kind of field takes.
FITS: dict[str, frozenset[str]] = {
    "number": ORDERED | EMPTY,
    "text": ORDERED | EMPTY | {"contains", "not_contains"},
    "bool": frozenset({"eq", "ne", "in", "not_in"}) | EMPTY,
    "timestamp": ORDERED | EMPTY,
    "naive timestamp": ORDERED | EMPTY,
    "date": ORDERED | EMPTY,
    "list": frozenset({"contains", "not_contains"}) | EMPTY,
    "null": frozenset(OPERATORS),
}
_CAST = {"timestamp": "TIMESTAMPTZ", "naive timestamp": "TIMESTAMP", "date": "DATE"}


@dataclass(frozen=True)
class Kind:
    """What a field holds, as far as conditions care: `element` is the kind of a list's items."""

    name: str
    element: str | None = None
    floating: bool = False

    def __str__(self) -> str:
        return f"a list of {self.element}" if self.name == "list" else _ARTICLE.get(self.name, self.name)


_ARTICLE = {
    "number": "a number",
    "text": "text",
    "bool": "true/false",
    "timestamp": "a timestamp",
    "naive timestamp": "a timestamp without zone",
    "date": "a date",
    "null": "always null",
}


def kind_of_type(field: str, dtype: pa.DataType) -> Kind:
    """The kind of an Arrow column, or a ConditionError when conditions cannot test it."""
    t = pa.types
    if t.is_boolean(dtype):
        return Kind("bool")
    if t.is_integer(dtype) or t.is_decimal(dtype):
        return Kind("number")
    if t.is_floating(dtype):
        return Kind("number", floating=True)
    if t.is_string(dtype) or t.is_large_string(dtype) or getattr(t, "is_string_view", lambda _: False)(dtype):
        return Kind("text")
    if t.is_timestamp(dtype):
        return Kind("timestamp" if dtype.tz else "naive timestamp")
    if t.is_date(dtype):
        return Kind("date")
    if t.is_null(dtype):
        return Kind("null")
    if t.is_list(dtype) or t.is_large_list(dtype):
        element = kind_of_type(field, dtype.value_type)
        if element.name in ("number", "text", "bool"):
            return Kind("list", element.name, floating=element.floating)
    raise ConditionError(f"condition on {_show(field)}: its type {dtype} cannot be tested by conditions")


def _kind_of_value(field: str, value: Any) -> Kind:
    """The kind of a value in a row (for `matches`, which sees values, not a schema)."""
    if value is None:
        return Kind("null")
    if isinstance(value, bool):
        return Kind("bool")
    if isinstance(value, (int, Decimal)):
        return Kind("number")
    if isinstance(value, float):
        return Kind("number", floating=True)
    if isinstance(value, str):
        return Kind("text")
    if isinstance(value, datetime):
        return Kind("timestamp" if value.tzinfo else "naive timestamp")
    if isinstance(value, date):
        return Kind("date")
    if isinstance(value, (list, tuple)):
        items = [_kind_of_value(field, item) for item in value if item is not None]
        names = {item.name for item in items}
        if not names or names == {"number"} or names == {"text"} or names == {"bool"}:
            return Kind("list", next(iter(names), "null"), floating=any(item.floating for item in items))
    raise ConditionError(f"condition on {_show(field)}: its value {_show(value)} cannot be tested by conditions")


def _fit(field: str, operator: str, kind: Kind, value: Any) -> Any:
    """The value made to fit the field's kind (timestamps parsed), or a ConditionError saying why not."""
    where = f"condition on {_show(field)}"
    if operator not in FITS[kind.name]:
        allowed = ", ".join(op for op in OPERATORS if op in FITS[kind.name])
        raise ConditionError(f"{where}: {operator} does not apply to {kind}; use one of {allowed}")
    if operator in EMPTY:
        if value is not None:
            raise ConditionError(f"{where}: {operator} takes no value, got {_show(value)}")
        return None
    if kind.name == "null":  # a column with no type: nothing to check a value against
        return value
    if operator in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise ConditionError(f"{where}: {operator} needs a list of values, such as [1, 2]; got {_show(value)}")
        return [_fit_scalar(where, operator, kind.name, item) for item in value]
    if operator == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise ConditionError(f"{where}: between needs two values [low, high]; got {_show(value)}")
        return [_fit_scalar(where, operator, kind.name, item) for item in value]
    if isinstance(value, list):
        raise ConditionError(f"{where}: {operator} takes one value, got the list {_show(value)}")
    if kind.name == "list":
        return _fit_scalar(where, operator, kind.element or "null", value)
    return _fit_scalar(where, operator, kind.name, value)


def _fit_scalar(where: str, operator: str, kind: str, value: Any) -> Any:
    if value is None:
        raise ConditionError(f"{where}: {operator} needs a value, got null (for a missing value use is_empty)")
    if kind == "null":
        return value
    if kind == "number":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConditionError(f"{where}: the field is a number, the value {_show(value)} is not")
        if isinstance(value, float) and not math.isfinite(value):
            raise ConditionError(f"{where}: the value {_show(value)} is not a finite number")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise ConditionError(f"{where}: the field is text, the value {_show(value)} is not; write it in quotes")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConditionError(f"{where}: the field is true/false, the value {_show(value)} is neither")
        return value
    if kind == "date":
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        try:
            return date.fromisoformat(value) if isinstance(value, str) else _no(value)
        except ValueError:
            raise ConditionError(
                f"{where}: the field is a date, the value {_show(value)} is not one (YYYY-MM-DD)"
            ) from None
    # timestamps, with or without a zone
    try:
        instant = (
            value
            if isinstance(value, datetime)
            else datetime.fromisoformat(value)
            if isinstance(value, str)
            else _no(value)
        )
    except ValueError:
        raise ConditionError(
            f"{where}: the field is a timestamp, the value {_show(value)} is not an ISO 8601 time "
            "(such as 2026-03-01T06:00:00+04:00)"
        ) from None
    if kind == "timestamp" and instant.tzinfo is None:
        raise ConditionError(f"{where}: the value {_show(value)} needs a time zone, such as Z or +04:00")
    if kind == "naive timestamp" and instant.tzinfo is not None:
        raise ConditionError(f"{where}: the field has no time zone, the value {_show(value)} must have none either")
    return instant


def _no(value: Any) -> Any:
    raise ValueError(value)


def _show(value: Any) -> str:
    """A value for an error message, on one line."""
    return json.dumps(value, ensure_ascii=False, default=str).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


# -- validation against columns --------------------------------------------------------------------


def _leaves(node: Condition | AllOf | AnyOf) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for member in node.all if isinstance(node, AllOf) else node.any:
            yield from _leaves(member)


def _field_kind(field: str, columns: Mapping[str, pa.DataType]) -> Kind:
    if field not in columns:
        known = ", ".join(sorted(columns)) or "none"
        raise ConditionError(f"condition on {_show(field)}: unknown field{renamed_hint(field)}; known fields: {known}")
    return kind_of_type(field, columns[field])


def check(conditions: Any, columns: Mapping[str, pa.DataType]) -> Condition | AllOf | AnyOf:
    """The parsed conditions, after checking every field, operator and value against the columns
    (a report table's or the call details', with `totals.<name>` for headline totals)."""
    node = parse(conditions)
    for leaf in _leaves(node):
        _fit(leaf.field, leaf.operator, _field_kind(leaf.field, columns), leaf.value)
    return node


# -- SQL -------------------------------------------------------------------------------------------


def quote_identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def to_sql(conditions: Any, columns: Mapping[str, pa.DataType]) -> tuple[str, dict[str, Any]]:
    """A DuckDB boolean expression (never null) and its named parameters ($c1, $c2...): only checked and
    quoted column names and fixed SQL words go into the text; every value is a parameter."""
    node = check(conditions, columns)
    params: dict[str, Any] = {}

    def bind(value: Any, kind: str, as_double: bool) -> str:
        name = f"c{len(params) + 1}"
        if isinstance(value, (datetime, date)):
            params[name] = value.isoformat()
            return f"CAST(${name} AS {_CAST[kind]})"
        params[name] = float(value) if as_double else value
        return f"${name}"

    def leaf(cond: Condition) -> str:
        kind = kind_of_type(cond.field, columns[cond.field])
        value = _fit(cond.field, cond.operator, kind, cond.value)
        col = quote_identifier(cond.field)
        op = cond.operator
        if kind.name == "null":
            return "TRUE" if op == "is_empty" else "FALSE"
        if op in EMPTY:
            empty = {"text": f"{col} = ''", "list": f"len({col}) = 0"}.get(kind.name)
            test = f"({col} IS NULL OR {empty})" if empty else f"{col} IS NULL"
            return test if op == "is_empty" else f"NOT {test}"
        values = value if isinstance(value, list) else [value]
        # Numbers compare as doubles when either side is a float, the same rule as `_compare`.
        as_double = kind.floating or any(isinstance(v, float) for v in values)
        name = kind.element if kind.name == "list" else kind.name
        if kind.name == "list":
            item = "CAST(e AS DOUBLE)" if as_double and name == "number" else "e"
            has = f"len(list_filter({col}, lambda e: {item} = {bind(value, name, as_double)})) > 0"
            test = has if op == "contains" else f"{col} IS NOT NULL AND NOT ({has})"
            return f"coalesce({test}, FALSE)"
        if as_double and name == "number":
            col = f"CAST({col} AS DOUBLE)"
        if op == "contains":
            test = f"contains({col}, {bind(value, name, False)})"
        elif op == "not_contains":
            test = f"NOT contains({col}, {bind(value, name, False)})"
        elif op in ("in", "not_in"):
            listed = ", ".join(bind(v, name, as_double) for v in values)
            test = f"{col} {'IN' if op == 'in' else 'NOT IN'} ({listed})"
        elif op == "between":
            test = f"{col} BETWEEN {bind(values[0], name, as_double)} AND {bind(values[1], name, as_double)}"
        else:
            sql_op = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}[op]
            test = f"{col} {sql_op} {bind(value, name, as_double)}"
        return f"coalesce({test}, FALSE)"

    def walk(node: Condition | AllOf | AnyOf) -> str:
        if isinstance(node, Condition):
            return leaf(node)
        members, joiner = (node.all, " AND ") if isinstance(node, AllOf) else (node.any, " OR ")
        return "(" + joiner.join(walk(member) for member in members) + ")"

    return walk(node), params


def filter_table(table: pa.Table, conditions: Any) -> tuple[pa.Table, pa.Table]:
    """The rows of `table` the conditions keep, and those they drop, in their order, evaluated by DuckDB.
    Conditions on headline totals need them as columns (`totals.<name>`, one value repeated)."""
    columns = {field.name: field.type for field in table.schema}
    sql, params = to_sql(conditions, columns)
    with duckdb.connect() as con:
        con.register("rows", table)
        # A projection without ORDER BY keeps the scan's order (DuckDB's preserve_insertion_order).
        mask = con.sql(f"SELECT {sql} AS keep FROM rows", params=params).to_arrow_table().column("keep")
    mask = mask.combine_chunks() if mask.num_chunks else pa.array([], pa.bool_())
    return table.filter(mask), table.filter(pc.invert(mask))


# -- Python ----------------------------------------------------------------------------------------


def matches(conditions: Any, row: Mapping[str, Any]) -> bool:
    """Whether a row (a call, a report row, headline totals as `totals.<name>`) meets the conditions,
    with the same answer as `to_sql` on the same data."""
    return _holds(parse(conditions), row)


def _holds(node: Condition | AllOf | AnyOf, row: Mapping[str, Any]) -> bool:
    if isinstance(node, AllOf):
        return all(_holds(member, row) for member in node.all)
    if isinstance(node, AnyOf):
        return any(_holds(member, row) for member in node.any)
    if node.field not in row:
        known = ", ".join(sorted(row)) or "none"
        raise ConditionError(
            f"condition on {_show(node.field)}: unknown field{renamed_hint(node.field)}; known fields: {known}"
        )
    actual = row[node.field]
    kind = _kind_of_value(node.field, actual)
    value = _fit(node.field, node.operator, kind, node.value)
    op = node.operator
    if op in EMPTY:
        empty = actual is None or (isinstance(actual, (str, list, tuple)) and len(actual) == 0)
        return empty if op == "is_empty" else not empty
    if actual is None:
        return False
    if kind.name == "list":
        has = any(_compare(node.field, item, value) == 0 for item in actual if item is not None)
        return has if op == "contains" else not has
    if op == "contains":
        return value in actual
    if op == "not_contains":
        return value not in actual
    if op in ("in", "not_in"):
        found = any(_compare(node.field, actual, item) == 0 for item in value)
        return found if op == "in" else not found
    if op == "between":
        return _compare(node.field, actual, value[0]) >= 0 and _compare(node.field, actual, value[1]) <= 0
    order = _compare(node.field, actual, value)
    return {"eq": order == 0, "ne": order != 0, "gt": order > 0, "ge": order >= 0, "lt": order < 0, "le": order <= 0}[
        op
    ]


def _compare(field: str, a: Any, b: Any) -> int:
    """-1, 0 or 1 as DuckDB orders a and b: int and float as doubles, NaN equal to itself and above all."""
    numbers = isinstance(a, (int, float, Decimal)) and isinstance(b, (int, float, Decimal))
    if numbers and (isinstance(a, float) or isinstance(b, float)):
        a, b = float(a), float(b)
        if math.isnan(a) or math.isnan(b):
            return int(math.isnan(a)) - int(math.isnan(b))
    try:
        return (a > b) - (a < b)
    except TypeError:
        raise ConditionError(f"condition on {_show(field)}: cannot compare {_show(a)} with {_show(b)}") from None
