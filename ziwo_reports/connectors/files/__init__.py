"""The file connector: a computed report as Excel, CSV, Parquet or JSON files in a local folder or
at any fsspec URL, named by a template, written atomically (docs: README, "Report files")."""

from ziwo_reports.connectors.files.destination import OutsideDestinationError, TargetExistsError
from ziwo_reports.connectors.files.naming import DEFAULT_TEMPLATE, TemplateError
from ziwo_reports.connectors.files.options import FileFormat, FileOptions, Overwrite, Thresholds, WrittenFile
from ziwo_reports.connectors.files.write import write_report_files

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
