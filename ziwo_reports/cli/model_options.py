"""Command-line options made from pydantic models: one option per field, its name, type, choices,
help and default read from the field, so that a new field needs no second declaration.

The rules: `--` and the field name with dashes; seconds (`_s`) lose their unit, which becomes the
metavar; a list takes the singular (`agent_ids` -> `--agent`, `outcomes` -> `--outcome`) and is
comma-separated and repeatable; a Literal gives the choices; the help is the field's description,
with its default. Options default to nothing given, and only the values given go to the model: it
validates them and supplies its own defaults, and its errors come back in the options' words.
An `Override` changes the name, the reading or the help of one field that no rule fits."""

from __future__ import annotations

import argparse
import re
import types
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal, Union, get_args, get_origin

from ziwo_reports.cli.common import day, duration, instant

if TYPE_CHECKING:  # pydantic is imported when options are made: not for every command
    from pydantic import BaseModel
    from pydantic.fields import FieldInfo

#: How the text of a scalar field's option becomes its value (the model then validates it).
SCALARS: dict[type, Callable[[str], Any]] = {
    str: str,
    int: int,
    float: float,
    date: day,
    datetime: instant,
    timedelta: duration,
}
#: Metavars that say how a value is written; the others are the option's name in capitals.
METAVARS: dict[type, str] = {date: "YYYY-MM-DD", datetime: "YYYY-MM-DDTHH:MM+HH:MM", timedelta: "DURATION"}
#: List items: how each comma-separated part is read, and what the list is called in an error.
ITEMS: dict[type, tuple[Callable[[str], Any], str]] = {
    str: (str, "names"),
    int: (int, "whole numbers"),
    float: (float, "numbers"),
}


@dataclass(frozen=True)
class Override:
    """Where one field's option departs from the rules: its name, its help, or how its text is read
    (`type` reads the whole value, a list too: the option is then given once, not repeated)."""

    flag: str | None = None
    type: Callable[[str], Any] | None = None
    help: str | None = None


@dataclass(frozen=True)
class FieldOption:
    """A model field and the option made from it."""

    path: tuple[str, ...]  # the field in the model, nested ones by their parent: ("filters", "agent_ids")
    flag: str  # --agent
    dest: str  # its attribute on the parsed arguments
    many: bool  # a list given part by part: comma-separated, repeatable


def add_model_options(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    *,
    title: str,
    nested_titles: Mapping[str, str] | None = None,
    only: Collection[str] | None = None,
    overrides: Mapping[str, Override] | None = None,
    path: tuple[str, ...] = (),
) -> list[FieldOption]:
    """An option for each field of `model` (or each named in `only`) in a group `title`; a field
    that is a model itself gets a group of its own (titled by `nested_titles`, else its title).
    `overrides` are keyed by the field's dotted path. Returns the options, for `model_values`."""
    unknown = set(only or ()) - set(model.model_fields)
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    group = parser.add_argument_group(title)
    schema = model.model_json_schema()["properties"]
    options: list[FieldOption] = []
    nested: list[tuple[str, FieldInfo, type[BaseModel]]] = []
    for name, info in model.model_fields.items():
        if only is not None and name not in only:
            continue
        inner = _model_in(info.annotation)
        if inner is not None:
            nested.append((name, info, inner))
            continue
        override = (overrides or {}).get(".".join((*path, name)), Override())
        options.append(_add_field(group, (*path, name), info, schema.get(name, {}).get("default"), override))
    for name, info, inner in nested:
        options += add_model_options(
            parser,
            inner,
            title=(nested_titles or {}).get(name) or info.title or name,
            overrides=overrides,
            path=(*path, name),
        )
    return options


def option_name(name: str, *, many: bool) -> str:
    """The option of a field by the rules: `min_duration_s` -> `--min-duration`, `agent_ids` ->
    `--agent`, `resolved_dispositions` -> `--resolved-disposition`."""
    name = name.removesuffix("_s")
    if many:
        name = name.removesuffix("_ids") if name.endswith("_ids") else _singular(name)
    return "--" + name.replace("_", "-")


def model_values(args: argparse.Namespace, options: list[FieldOption]) -> dict[str, Any]:
    """The values given on the command line, nested as the model takes them (the parts of a list
    option joined); an option not given is left out, so the model's default applies."""
    values: dict[str, Any] = {}
    for option in options:
        value = getattr(args, option.dest)
        if value is None:
            continue
        if option.many:  # one list per occurrence of the option
            value = [item for part in value for item in part]
        target = values
        for part in option.path[:-1]:
            target = target.setdefault(part, {})
        target[option.path[-1]] = value
    return values


def flag_of(options: list[FieldOption], path: tuple[str | int, ...]) -> str | None:
    """The option of a field path as a validation error locates it (list indexes skipped)."""
    fields = tuple(part for part in path if isinstance(part, str))
    return next((option.flag for option in options if option.path == fields), None)


def in_option_terms(message: str, options: list[FieldOption]) -> str:
    """A model's error message in the command line's words: each field followed by its value (a
    quote, a digit or a minus sign), named by its dotted path or its own name, becomes the option."""
    flags: dict[str, str] = {}
    for option in options:
        flags[".".join(option.path)] = option.flag
        flags.setdefault(option.path[-1], option.flag)
    for field, flag in sorted(flags.items(), key=lambda item: -len(item[0])):
        message = re.sub(rf"(?<![\w-]){re.escape(field)} (?=['\d-])", f"{flag} ", message)
    return message


def _add_field(
    group: argparse._ArgumentGroup, path: tuple[str, ...], info: FieldInfo, default: Any, override: Override
) -> FieldOption:
    name = path[-1]
    annotation = _bare(info.annotation)
    listed = get_origin(annotation) is list
    item = _bare(get_args(annotation)[0]) if listed else annotation
    repeatable = listed and override.type is None
    flag = override.flag or option_name(name, many=listed)
    dest = flag.removeprefix("--").replace("-", "_")
    kwargs: dict[str, Any] = {"dest": dest, "default": None}
    if name.endswith("_s"):
        kwargs["metavar"] = "SECONDS"
    elif item in METAVARS:
        kwargs["metavar"] = METAVARS[item]
    alternatives = _alternatives(item)
    if override.type is not None:
        kwargs["type"] = override.type
    elif listed:
        kwargs["type"] = _comma_separated(".".join(path), item, alternatives)
        kwargs["action"] = "append"
    elif item is bool:
        kwargs["action"] = argparse.BooleanOptionalAction
    elif get_origin(item) is Literal:  # shown by argparse, checked before anything runs
        kwargs["choices"] = list(get_args(item))
        if not all(isinstance(value, str) for value in kwargs["choices"]):  # Literal[15, 30]: 15, not "15"
            kwargs["type"] = _literal_reader(get_args(item))
    elif alternatives:  # a choice or a pattern (last_n_days:N): the model tells them apart
        kwargs["type"] = str
    elif item in SCALARS:
        kwargs["type"] = SCALARS[item]
    else:
        raise TypeError(f"field {'.'.join(path)}: no command-line form for {info.annotation!r}")
    if isinstance(info.default, timedelta):  # as the option takes it (24h), not as JSON has it (PT24H)
        from ziwo_reports.timewindows import duration_text

        default = duration_text(info.default)
    if override.help is not None:
        text = override.help
    else:
        text = _help(info, name, default, [] if "choices" in kwargs else alternatives, listed)
    group.add_argument(flag, help=text.replace("%", "%%"), **kwargs)  # argparse %-formats help
    return FieldOption(path=path, flag=flag, dest=dest, many=repeatable)


def _help(info: FieldInfo, name: str, default: Any, alternatives: list[str], many: bool) -> str:
    text = (info.description or info.title or name.replace("_", " ")).strip().removesuffix(".")
    if alternatives:
        text += f" ({'any' if many else 'one'} of: {', '.join(alternatives)})"
    if default not in (None, "", []):
        shown = ",".join(str(value) for value in default) if isinstance(default, list) else default
        text += f" (default {shown})"
    return text


def _comma_separated(field: str, item: Any, alternatives: list[str]) -> Callable[[str], list]:
    """A list option's reading: parts separated by commas, empty ones skipped; each part is then
    validated by the model (a Literal's choices too, which it names with the value)."""
    kind = item
    if alternatives:  # Literal values: read as their type (str, or int for Literal[15, 30])
        kinds = {type(value) for value in get_args(item)} if get_origin(item) is Literal else {str}
        kind = kinds.pop() if len(kinds) == 1 else str
    if kind not in ITEMS:
        raise TypeError(f"field {field}: no command-line form for a list of {item!r}")
    read, noun = ITEMS[kind]
    noun = "ids" if field.endswith("_ids") else noun

    def parse(text: str) -> list:
        try:
            return [read(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {noun}") from None

    return parse


def _literal_reader(values: tuple) -> Callable[[str], Any]:
    """The Literal value whose text was given (else the text, which argparse then refuses)."""
    by_text = {str(value): value for value in values}

    def read(text: str) -> Any:
        return by_text.get(text, text)

    return read


def _bare(annotation: Any) -> Any:
    """The annotation without its Annotated metadata and without None."""
    while get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return _bare(members[0])
        return Union[tuple(members)]  # noqa: UP007 (built from a tuple)
    return annotation


def _alternatives(annotation: Any) -> list[str]:
    """The values a Literal (or a union with Literals) allows, as text; a union's other members by
    their title (ReportSpec.rolling_date: the presets, and last_n_days:N)."""
    from pydantic.fields import FieldInfo

    if get_origin(annotation) is Literal:
        return [str(value) for value in get_args(annotation)]
    if get_origin(annotation) not in (Union, types.UnionType):
        return []
    found = [_alternatives(_bare(member)) for member in get_args(annotation)]
    if not any(found):
        return []
    texts = []
    for member, values in zip(get_args(annotation), found, strict=True):
        titles = [meta.title for meta in get_args(member)[1:] if isinstance(meta, FieldInfo) and meta.title]
        texts += values or titles or [getattr(_bare(member), "__name__", str(member))]
    return texts


def _model_in(annotation: Any) -> type[BaseModel] | None:
    from pydantic import BaseModel

    bare = _bare(annotation)
    return bare if isinstance(bare, type) and issubclass(bare, BaseModel) else None


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word
