"""Where files land: atomic writes, names from templates that data cannot escape, overwrite policies,
local folders and fsspec URLs (memory://, file://)."""

from __future__ import annotations

import dataclasses
import errno
import os
from datetime import UTC, datetime
from pathlib import Path

import fsspec
import pytest
from pydantic import ValidationError

from tests.file_reports import hostile_reports
from ziwo_reports.connectors.files import TargetExistsError, TemplateError, write_report_files
from ziwo_reports.connectors.files.csv_file import write_csv
from ziwo_reports.connectors.files.destination import OutsideDestinationError, open_destination
from ziwo_reports.connectors.files.excel import write_xlsx
from ziwo_reports.connectors.files.naming import name_fields, render_name

GENERATED = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


@pytest.fixture
def report():
    return hostile_reports()["agent-performance"]


@pytest.fixture
def memory():
    fs = fsspec.filesystem("memory")
    root = f"/files-{os.urandom(4).hex()}"
    yield fs, root
    if fs.exists(root):
        fs.rm(root, recursive=True)


class FillsUp:
    """A file on a disk that fills up after `after` bytes."""

    def __init__(self, file, after: int) -> None:
        self.file, self.left = file, after

    def write(self, data) -> int:
        self.left -= len(data)
        if self.left < 0:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.file.write(data)

    def __getattr__(self, name):
        return getattr(self.file, name)


def files_under(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


def test_default_names_and_every_format(tmp_path, report):
    written = write_report_files(
        report, formats=["xlsx", "csv", "parquet", "json"], destination=tmp_path, generated_at=GENERATED
    )
    names = [os.path.basename(w.path) for w in written]
    assert names == [
        f"agent-performance_gold_2026-11-10_Asia-Dubai.{ext}" for ext in ("xlsx", "csv", "parquet", "json")
    ]
    assert [w.bytes for w in written] == [os.path.getsize(w.path) for w in written]
    assert files_under(tmp_path) == sorted(names)  # no temporary file left


def test_a_writer_failing_midway_leaves_nothing(tmp_path, report):
    destination = open_destination(tmp_path)
    target = destination.target("report.csv")
    with pytest.raises(RuntimeError, match="disk on fire"), destination.atomic(target, "replace") as staged:
        write_csv(report, staged.file)
        raise RuntimeError("disk on fire")
    assert files_under(tmp_path) == []

    (tmp_path / "report.xlsx").write_bytes(b"yesterday's report")
    target = destination.target("report.xlsx")
    with pytest.raises(OSError, match="No space left"), destination.atomic(target, "replace") as staged:
        write_xlsx(report, FillsUp(staged.file, after=4096))
    assert files_under(tmp_path) == ["report.xlsx"]
    assert (tmp_path / "report.xlsx").read_bytes() == b"yesterday's report"  # the old file is untouched


def test_a_writer_failing_midway_leaves_nothing_on_fsspec(memory, report):
    fs, root = memory
    destination = open_destination(f"memory://{root}")
    target = destination.target("deep/report.csv")
    with pytest.raises(RuntimeError), destination.atomic(target, "replace") as staged:
        write_csv(report, staged.file)
        raise RuntimeError("connection lost")
    assert not fs.exists(root) or fs.find(root) == []


def test_fsspec_destination_writes_atomically_and_versions(memory, report):
    fs, root = memory
    options = {"destination": f"memory://{root}", "template": "{instance}/{report}.{ext}", "generated_at": GENERATED}
    first = write_report_files(report, formats=["xlsx", "csv"], **options)
    assert [w.path for w in first] == [f"memory://{root}/gold/agent-performance.{e}" for e in ("xlsx", "csv")]
    assert fs.cat(f"{root}/gold/agent-performance.csv").startswith(b"\xef\xbb\xbf")
    second = write_report_files(report, formats=["csv"], overwrite="version", **options)
    assert second[0].path.endswith("/gold/agent-performance_v2.csv") and second[0].bytes == first[1].bytes
    with pytest.raises(TargetExistsError, match=r"agent-performance\.csv exists and overwrite is 'never'"):
        write_report_files(report, formats=["csv"], overwrite="never", **options)
    assert sorted(p.rsplit("/", 1)[1] for p in fs.find(root)) == [
        "agent-performance.csv",
        "agent-performance.xlsx",
        "agent-performance_v2.csv",
    ]


def test_file_urls_are_local_folders(tmp_path, report):
    (written,) = write_report_files(report, formats=["json"], destination=f"file://{tmp_path}/out")
    assert written.path == str(tmp_path / "out" / "agent-performance_gold_2026-11-10_Asia-Dubai.json")


def test_overwrite_policies(tmp_path, report):
    def run(policy, formats=("csv",)):
        return write_report_files(report, formats=list(formats), destination=tmp_path, overwrite=policy)

    (first,) = run("replace")
    path = first.path
    with open(path, "wb") as old:
        old.write(b"old")
    run("replace")
    assert Path(path).read_bytes()[:3] == b"\xef\xbb\xbf"

    with open(path, "wb") as old:
        old.write(b"old")
    with pytest.raises(TargetExistsError, match=f"{path} exists and overwrite is 'never'"):
        run("never", formats=("xlsx", "csv"))  # checked before anything is written: no xlsx either
    assert files_under(tmp_path) == ["agent-performance_gold_2026-11-10_Asia-Dubai.csv"]
    assert Path(path).read_bytes() == b"old"

    versions = [os.path.basename(run("version")[0].path) for _ in range(2)]
    assert versions == [
        "agent-performance_gold_2026-11-10_Asia-Dubai_v2.csv",
        "agent-performance_gold_2026-11-10_Asia-Dubai_v3.csv",
    ]
    assert Path(path).read_bytes() == b"old"


def test_data_cannot_escape_the_folder(tmp_path, report):
    escaping = dataclasses.replace(report, spec=report.spec.model_copy(update={"instance": "../../etc"}))
    folder = tmp_path / "out"
    (written,) = write_report_files(escaping, formats=["csv"], destination=folder)
    assert os.path.dirname(written.path) == str(folder)
    assert os.path.basename(written.path) == "agent-performance__.._etc_2026-11-10_Asia-Dubai.csv"
    assert files_under(tmp_path) == ["out/agent-performance__.._etc_2026-11-10_Asia-Dubai.csv"]

    fields = name_fields(report, "csv", GENERATED)
    nasty = {**fields, "instance": "/abs\x00olute\\..\\x", "report": "..", "timezone": "Asia/Dubai"}
    assert render_name("{report}-{instance}-{timezone}", nasty, "csv") == "_-_abs_olute_.._x-Asia_Dubai.csv"
    assert render_name("{period_start:%Y/%m}/{report}", fields, "csv") == "2026_11/agent-performance.csv"
    assert render_name("{instance}/{period_end:%Y-%m-%d}.xlsx", fields, "csv") == "gold/2026-11-10.csv"


def test_templates_that_would_leave_the_folder_are_refused(tmp_path, report):
    for template in ("../{report}.{ext}", "/etc/{report}", "a/../../{report}", ".hidden/{report}", "a//b"):
        with pytest.raises(ValueError, match="must be a plain name"):  # TemplateError, inside FileOptions
            write_report_files(report, formats=["csv"], destination=tmp_path, template=template)
    with pytest.raises(OutsideDestinationError, match="leads outside"):
        open_destination(tmp_path).target("../x.csv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "link").symlink_to(elsewhere)
    with pytest.raises(OutsideDestinationError, match="leads outside"):
        write_report_files(report, formats=["csv"], destination=tmp_path / "out", template="link/{report}")
    assert files_under(elsewhere) == []


def test_an_unknown_template_field_is_named(tmp_path, report):
    with pytest.raises(ValidationError, match="unknown field 'agent' in file name template"):
        write_report_files(report, formats=["csv"], destination=tmp_path, template="{report}_{agent}.{ext}")
    with pytest.raises(TemplateError, match=r"unknown field 'report\.__class__'"):
        render_name("{report.__class__}", name_fields(report, "csv", GENERATED), "csv")
    # the format's extension ends every name, so two formats never share one
    assert render_name("{report}.txt", name_fields(report, "csv", GENERATED), "json") == "agent-performance.txt.json"
