"""The contacts table and what it credits the legs with, kept by the ingest load by load, always
equal those built from scratch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import run_ingest
from ziwo_reports.contacts import ContactsNotBuilt, rebuild_contacts
from ziwo_reports.report import compute_report
from ziwo_reports.report_model import make_spec
from ziwo_reports.warehouse import open_warehouse


def contacts(warehouse) -> list[tuple]:
    return warehouse.con.execute("SELECT * FROM contacts ORDER BY instance, contact_id").fetchall()


def credits(warehouse) -> list[tuple]:
    """What each leg is credited with by its contact (migration 004)."""
    return warehouse.con.execute(
        """SELECT instance, call_id, is_fcr_leg, is_first_handled_leg, is_last_handled_leg, contact_caller_known,
                  contact_ended_at, contact_next_repeat_start, contact_survey_score, contact_dispositions,
                  contact_next_queue_repeat_start, contact_next_agent_repeat_start
           FROM calls ORDER BY instance, call_id"""
    ).fetchall()


def kept(warehouse) -> tuple[list[tuple], list[tuple]]:
    return contacts(warehouse), credits(warehouse)


def rebuilt(warehouse, instance: str = "sim", country_code: str = "971") -> tuple[list[tuple], list[tuple]]:
    """The contacts and credits built from scratch from the legs held, leaving the warehouse as it was."""
    with pytest.raises(_Undo), warehouse.transaction():
        rebuild_contacts(warehouse, instance, country_code)
        rows = kept(warehouse)
        raise _Undo
    return rows


def check_credits_match_contacts(warehouse) -> None:
    """Every leg carries its contact's values, and exactly the contact's credited legs are flagged."""
    mismatched = warehouse.con.execute(
        """SELECT count(*) FROM calls AS leg JOIN contacts AS c USING (instance, contact_id)
           WHERE leg.is_fcr_leg IS DISTINCT FROM (leg.call_id = coalesce(c.fcr_leg, ''))
              OR leg.is_last_handled_leg IS DISTINCT FROM (leg.call_id = coalesce(c.last_handled_leg, ''))
              OR leg.is_first_handled_leg IS DISTINCT FROM (leg.call_id = coalesce(c.first_handled_leg, ''))
              OR leg.contact_caller_known IS DISTINCT FROM (c.national_number IS NOT NULL)
              OR leg.contact_next_repeat_start IS DISTINCT FROM c.next_repeat_start
              OR leg.contact_next_queue_repeat_start IS DISTINCT FROM c.next_queue_repeat_start
              OR leg.contact_next_agent_repeat_start IS DISTINCT FROM c.next_agent_repeat_start
              OR leg.contact_ended_at IS DISTINCT FROM c.ended_at
              OR leg.contact_survey_score IS DISTINCT FROM c.survey_score
              OR list_filter(string_split(leg.contact_dispositions, chr(31)), lambda d: d <> '')
                 IS DISTINCT FROM c.dispositions"""
    ).fetchone()[0]
    legs = warehouse.con.execute("SELECT count(*) FROM calls WHERE is_fcr_leg IS NOT NULL").fetchone()[0]
    assert mismatched == 0 and legs == warehouse.con.execute("SELECT count(*) FROM calls").fetchone()[0]


class _Undo(Exception):
    pass


def test_contacts_kept_load_by_load_equal_contacts_built_from_scratch(simulator, warehouse):
    sim = simulator(days=4, calls_per_day=400)
    run_ingest(sim, warehouse, flush_rows=150)  # many loads: contacts and callers span them
    held = contacts(warehouse)
    legs = warehouse.con.execute("SELECT count(DISTINCT contact_id) FROM calls").fetchone()[0]
    assert len(held) == legs > 1000 and (held, credits(warehouse)) == rebuilt(warehouse)
    check_credits_match_contacts(warehouse)
    assert warehouse.con.execute("SELECT count(*) FROM contacts WHERE next_repeat_start IS NOT NULL").fetchone()[0]
    # each kind of call back is the first of that kind: a call back that reached an agent reached a queue
    # (the simulator's agents answer from queues), and every one is a call back
    later = warehouse.con.execute(
        """SELECT count(*) FILTER (WHERE next_queue_repeat_start < next_repeat_start
                                      OR next_agent_repeat_start < next_queue_repeat_start),
                  count(*) FILTER (WHERE next_agent_repeat_start IS NOT NULL),
                  count(*) FILTER (WHERE next_queue_repeat_start IS DISTINCT FROM next_repeat_start)
           FROM contacts"""
    ).fetchone()
    assert later[0] == 0 and later[1] > 0 and later[2] > 0, later

    # A caller who called back (B after A) calls from a new number: A's call-back is gone, and the
    # new number's callers gain one. A survey arrives late. Then a full refresh drops a call Ziwo
    # stopped listing.
    now = sim.store.world.now
    a_id, b_id = warehouse.con.execute(
        """SELECT a.contact_id, b.contact_id FROM contacts AS a JOIN contacts AS b
           ON b.national_number = a.national_number AND b.repeat_start = a.next_repeat_start
           WHERE b.started_at > ? ORDER BY b.started_at LIMIT 1""",
        [now - timedelta(hours=40)],
    ).fetchone()
    new_number = warehouse.con.execute(
        "SELECT caller_number FROM calls WHERE call_id <> ? AND started_at > ? ORDER BY started_at LIMIT 1",
        [b_id, now - timedelta(hours=30)],
    ).fetchone()[0]
    sim.store.change_call(b_id, callerIDNumber=new_number)
    sim.store.change_call(sim.store.day(sim.last_day - timedelta(days=1))[60].call_id, surveyScore=2)
    run_ingest(sim, warehouse, lookback=timedelta(hours=48), flush_rows=150)
    assert kept(warehouse) == rebuilt(warehouse) and contacts(warehouse) != held
    check_credits_match_contacts(warehouse)
    next_of_a = warehouse.con.execute("SELECT next_repeat_start FROM contacts WHERE contact_id = ?", [a_id]).fetchone()
    assert next_of_a != dict((row[1], row[13]) for row in held)[a_id]

    sim.store.delete_call(sim.store.day(sim.first_day)[3].call_id)
    sim.store.set_now(sim.store.world.now + timedelta(hours=5))
    run_ingest(sim, warehouse, full_refresh=True, flush_rows=150)
    assert kept(warehouse) == rebuilt(warehouse)
    check_credits_match_contacts(warehouse)
    assert warehouse.one("duplicate_call_keys") == (0,)
    assert warehouse.con.execute(
        "SELECT count(*) FROM contacts WHERE contact_id NOT IN (SELECT contact_id FROM calls)"
    ).fetchone() == (0,)


def test_a_warehouse_without_contacts_is_refused_by_reports_and_built_by_the_next_ingest(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=300)
    run_ingest(sim, warehouse)
    built = contacts(warehouse)
    warehouse.con.execute("DELETE FROM contacts")  # as a warehouse made before contacts were kept
    spec = make_spec(instance="sim", rolling_date="yesterday", as_of=datetime(2026, 11, 20, 9, tzinfo=UTC))
    with pytest.raises(ContactsNotBuilt, match="calls of instance sim but no contacts: run `ziwo-reports ingest`"):
        compute_report(warehouse, spec)
    run_ingest(sim, warehouse)
    assert contacts(warehouse) == built


def test_a_new_country_code_builds_every_contact_again(simulator, warehouse):
    sim = simulator(days=2, calls_per_day=300)
    run_ingest(sim, warehouse)
    run_ingest(sim, warehouse, country_code="44")
    codes = warehouse.con.execute("SELECT DISTINCT country_code FROM contacts").fetchall()
    assert codes == [("44",)] and kept(warehouse) == rebuilt(warehouse, country_code="44")


#: The credit columns of `calls` each migration added.
CREDIT_COLUMNS = {
    4: [
        "is_fcr_leg", "is_first_handled_leg", "is_last_handled_leg", "contact_caller_known", "contact_ended_at",
        "contact_next_repeat_start", "contact_survey_score", "contact_dispositions",
    ],
    8: ["contact_next_queue_repeat_start", "contact_next_agent_repeat_start"],
}  # fmt: skip


@pytest.mark.parametrize("version", [4, 8])
def test_a_warehouse_from_before_leg_credits_is_upgraded_by_the_next_ingest(simulator, tmp_path, version):
    """A warehouse made before migration 004 (contacts, but no credits on the legs), or 008 (no
    next call back of each kind): opening it adds the columns and empties the contacts, reports
    ask for an ingest, and the ingest builds both."""
    sim = simulator(days=2, calls_per_day=300)
    path = tmp_path / "old.duckdb"
    with open_warehouse(path) as warehouse:
        run_ingest(sim, warehouse)
        before = contacts(warehouse)
        spec = make_spec(instance="sim", rolling_date="yesterday", as_of=sim.store.world.now)
        expected = compute_report(warehouse, spec).table
        assert sorted(credits_columns(warehouse)) == sorted(CREDIT_COLUMNS[4] + CREDIT_COLUMNS[8])
        columns = CREDIT_COLUMNS[version]
        for column in columns:
            warehouse.con.execute(f"ALTER TABLE calls DROP COLUMN {column}")
        if version == 8:
            for column in ("queue_repeat_start", "agent_repeat_start", "next_queue_repeat_start"):
                warehouse.con.execute(f"ALTER TABLE contacts DROP COLUMN {column}")
            warehouse.con.execute("ALTER TABLE contacts DROP COLUMN next_agent_repeat_start")
        warehouse.con.execute(f"DELETE FROM schema_migrations WHERE version = {version}")
    with open_warehouse(path) as warehouse:
        assert set(columns) <= set(credits_columns(warehouse)) and contacts(warehouse) == []
        with pytest.raises(ContactsNotBuilt, match="run `ziwo-reports ingest`"):
            compute_report(warehouse, spec)
        run_ingest(sim, warehouse)
        assert contacts(warehouse) == before and kept(warehouse) == rebuilt(warehouse)
        check_credits_match_contacts(warehouse)
        assert compute_report(warehouse, spec).table == expected


def credits_columns(warehouse) -> list[str]:
    return [
        name
        for (name,) in warehouse.con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE table_name = 'calls' "
            "AND (column_name LIKE 'is\\_%' ESCAPE '\\' OR column_name LIKE 'contact\\_%' ESCAPE '\\') "
            "AND column_name <> 'contact_id'"
        ).fetchall()
    ]
