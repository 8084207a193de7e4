"""The import-health record: one row in prog_ix_import_log per run of every cron program,
opened at its start and completed at its end, written by the importing user."""

import os
import signal
import socket
import time

import pytest

import mysql_db_health
from calenv import CalEnv
from errors import ConfigurationError
from importenv import REPORTS, ImportEnv


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def runs(env, program=None):
    return mysql_db_health.runs(env.database.admin, program)


def test_a_complete_run_is_one_finished_row_with_its_counts(ix, sim):
    summary = ix.run()
    [row] = runs(ix)
    assert row["program"] == "index-exchange-to-db.py" and row["host"] == socket.gethostname()
    assert row["finished_at"] is not None and row["finished_at"] >= row["started_at"]
    assert row["exit_code"] == 0 and row["problems"] is None
    assert (row["pairs"], row["files_loaded"], row["rows_inserted"], row["rows_updated"]) == \
        (8, 8, summary.rows_inserted, 0)
    assert row["cal_files"] is None, "counts a program does not have stay empty"


def test_a_run_with_pending_files_records_exit_1_and_its_problems(ix, sim):
    sim.configure(run_delay=10 ** 6)
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]], retries=0)
    [row] = runs(ix)
    assert row["exit_code"] == 1 and row["files_pending"] == 1
    assert "not ready after 0 s; collected next time" in row["problems"]


def test_a_configuration_error_after_connecting_is_recorded_with_exit_2(ix, sim):
    with pytest.raises(ConfigurationError):
        ix.run(reports=["No Such Template"])
    [row] = runs(ix)
    assert row["exit_code"] == 2 and "No Such Template" in row["problems"]
    assert sim.stats()["calls"] == {}


def test_the_script_records_its_command_line(ix, sim):
    result = ix.script("-r", "1", "-l", str(ix.publishers[0]), REPORTS[0])
    assert result.returncode == 0, result.stderr
    [row] = runs(ix)
    assert row["arguments"] == f"-r 1 -l {ix.publishers[0]} 'Generic Revenue Report'"


def test_a_killed_run_stays_visible_as_unfinished_until_the_next_run_records_it_died(ix, sim, tmp_path):
    sim.configure(run_delay=10 ** 6)
    process = ix.script("-r", "30", *REPORTS, wait=False)
    while sim.stats()["calls"].get("run_create", 0) < 1:
        assert process.poll() is None, process.stderr.read()
        time.sleep(0.02)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    [row] = runs(ix)
    assert row["finished_at"] is None and row["exit_code"] is None and row["pid"] == process.pid
    sim.configure(run_delay=0)
    ix.script("-r", "0", "-l", str(ix.publishers[0]), REPORTS[0])
    died, _ = runs(ix)
    assert died["run_id"] == row["run_id"] and died["exit_code"] == mysql_db_health.DIED == -1
    assert died["finished_at"] is not None, "never left 'not finished' (issue 23)"
    assert f"died: process {process.pid} on {socket.gethostname()} ended without completing this row" \
        in died["problems"]


def test_a_run_whose_database_went_away_is_recorded_by_the_next_run(ix, sim):
    """The end of a run the database would not take is kept on disk and recorded by the next
    run with its real exit code, not left open or taken for a death (issue 23)."""
    import importHealthSupport
    mysql_db_health.open_run(ix.database.db, "gone-run", "index-exchange-to-db.py", socket.gethostname(),
                             os.getpid(), "")
    importHealthSupport.remember_unrecorded(ix.settings, "gone-run", 1, {"files_pending": 3},
                                            "database unreachable, run stopped")
    ix.run(reports=REPORTS[:1], publisher_ids=[ix.publishers[0]])
    [gone] = [r for r in runs(ix) if r["run_id"] == "gone-run"]
    assert (gone["exit_code"], gone["files_pending"], gone["problems"]) == (1, 3, "database unreachable, run stopped")
    assert gone["finished_at"] is not None
    assert not os.listdir(os.path.join(ix.settings.settings_store(), importHealthSupport.UNRECORDED_FOLDER))


def test_a_missing_log_table_is_a_configuration_error(ix, sim):
    ix.database.admin.execute_script(["DROP TABLE prog_ix_import_log"])
    result = ix.script(REPORTS[0])
    assert result.returncode == 2
    assert "table prog_ix_import_log (the import-health record) does not exist: create it with " \
           "report-create-db-tables.py" in result.stderr
    assert sim.stats()["calls"] == {}


def test_cal_runs_are_recorded_too(sim, database, tmp_path, http):
    cal = CalEnv(sim, database, tmp_path / "home", http)
    summary = cal.run(mappings=False, impressions=True)
    [row] = runs(cal, "cal-downloads.py")
    assert row["exit_code"] == 0
    assert (row["cal_files"], row["cal_rows"]) == (summary.files_loaded, summary.rows_loaded) and row["cal_rows"] > 0


def test_long_multi_byte_problems_still_finish_the_row(ix):
    """Problems cut by bytes, not characters: 50,000 characters of 'é' are 100,000 bytes,
    more than the TEXT column holds, and the row stayed "not finished" (issue 22, item 10)."""
    from cronrun import CronRun, RunSummary

    class ProblemsSummary(RunSummary):
        complete = property(lambda self: not self.problems)

    class ManyProblems(CronRun):
        program = "many-problems"
        summary_class = ProblemsSummary

        def check(self, db):
            pass

        def steps(self, db):
            for n in range(50):
                self.summary.problem(f"problem {n}: " + "é" * 1000)

    class Options:
        def validated(self):
            return self

    summary = ManyProblems(ix.settings, Options(), http=ix.http).run()
    assert summary.exit_code == 1
    [row] = runs(ix, "many-problems")
    assert row["finished_at"] is not None and row["exit_code"] == 1
    assert row["problems"].startswith("problem 0: éé") and row["problems"].endswith("…")
    assert len(row["problems"].encode("utf-8")) <= mysql_db_health.PROBLEMS_BYTES


def test_a_log_table_of_an_older_version_is_named_then_upgraded_by_the_set_up(sim, database, tmp_path, http):
    import tableSetupSupport
    older = mysql_db_health.HEALTH_TABLES[mysql_db_health.IMPORT_LOG_TABLE].replace(
        "  pid int DEFAULT NULL,\n", "").replace("  rows_removed bigint DEFAULT NULL,\n", "")
    database.create(older)
    ix = ImportEnv(sim, database, tmp_path / "home", http)
    with pytest.raises(ConfigurationError, match="no pid, rows_removed column.*run report-create-db-tables.py again"):
        ix.run(reports=REPORTS[:1])
    result = tableSetupSupport.set_up_tables(database.admin, {})
    assert result.added_columns == ["prog_ix_import_log.pid", "prog_ix_import_log.rows_removed"]
    assert "added columns" in "\n".join(result.lines())
    assert ix.run(reports=REPORTS[:1]).complete
    assert tableSetupSupport.set_up_tables(database.admin, {}).added_columns == [], "run again: nothing to add"
