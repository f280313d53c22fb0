"""The file connector: a computed report as Excel, CSV, Parquet or JSON files in a local folder or
at any fsspec URL, named by a template, written atomically (docs: README, "Report files").

Its names load on first use: the options alone (a command's --help, a flow's form) need neither
pyarrow nor openpyxl, which the writers import."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_WHERE = {
    "DEFAULT_TEMPLATE": "naming",
    "TemplateError": "naming",
    "FileFormat": "options",
    "FileOptions": "options",
    "Overwrite": "options",
    "Thresholds": "options",
    "WrittenFile": "options",
    "OutsideDestinationError": "destination",
    "TargetExistsError": "destination",
    "write_report_files": "write",
}

__all__ = [
    "DEFAULT_TEMPLATE",
    "FileFormat",
    "FileOptions",
    "OutsideDestinationError",
    "Overwrite",
    "TargetExistsError",
    "TemplateError",
    "Thresholds",
    "WrittenFile",
    "write_report_files",
]

if TYPE_CHECKING:
    from ziwo_reports.connectors.files.destination import OutsideDestinationError, TargetExistsError
    from ziwo_reports.connectors.files.naming import DEFAULT_TEMPLATE, TemplateError
    from ziwo_reports.connectors.files.options import FileFormat, FileOptions, Overwrite, Thresholds, WrittenFile
    from ziwo_reports.connectors.files.write import write_report_files


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
