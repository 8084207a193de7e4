"""The reportID database: shelve, atomic generations, locks."""

import os
import subprocess
import sys
import threading

import pytest

import reportid_db
from errors import ConfigurationError


def record(publisher_id, name, report_id):
    return {"publisher_id": publisher_id, "report_name": name, "reportID": report_id, "fingerprint": "f"}


def test_empty_then_put_get_remove(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    assert db.all() == {} and db.get(1, "A") is None
    db.put(record(1, "A", 100))
    db.put(record(2, "A", 200))
    assert db.get(1, "A")["reportID"] == 100
    assert db.remove_report_ids([100]) == 1
    assert db.get(1, "A") is None and db.get(2, "A")["reportID"] == 200


def test_it_is_a_shelve_file(tmp_path):
    import dbm.dumb
    import shelve
    db = reportid_db.ReportIdDB(tmp_path)
    db.put(record(7, "Report, with comma", 70))
    db.close()      # the records saved during a run are folded into the shelf
    current = os.path.realpath(os.path.join(db.folder, "current"))
    with shelve.Shelf(dbm.dumb.open(os.path.join(current, "reportids"), "r")) as shelf:
        assert shelf["7\tReport, with comma"]["reportID"] == 70


def test_half_written_generation_left_by_a_kill_is_ignored_and_cleaned(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    db.put(record(1, "A", 100))
    junk = os.path.join(db.folder, "gen-999999")
    os.makedirs(junk)
    with open(os.path.join(junk, "reportids.dat"), "wb") as f:
        f.write(b"\x00half")
    assert db.get(1, "A")["reportID"] == 100
    db.put(record(2, "B", 200))
    db.close()
    assert not os.path.exists(junk)
    assert len(db.all()) == 2


def put_killed_at_its_rename(tmp_path, publisher_id, name, report_id):
    """Exit code of a process killed putting a record, right before its atomic rename."""
    code = ("import os, reportid_db\n"
            "db = reportid_db.ReportIdDB(%r)\n"
            "os.replace = lambda *a: os._exit(9)\n"
            "db.put({'publisher_id': %d, 'report_name': %r, 'reportID': %d})\n") % (
        str(tmp_path), publisher_id, name, report_id)
    return subprocess.run([sys.executable, "-c", code], cwd=os.path.dirname(os.path.dirname(__file__))).returncode


def test_kill_during_write_leaves_the_old_or_the_new(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    db.put(record(1, "A", 100))
    # A process killed right after writing its new generation, before switching to it.
    assert put_killed_at_its_rename(tmp_path, 2, "B", 200) == 9
    assert set(db.all()) == {"1\tA"}
    db.put(record(3, "C", 300))
    assert set(db.all()) == {"1\tA", "3\tC"}


def test_a_save_writes_one_record_not_the_whole_shelf(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    db.replace_all([record(n, "A", n) for n in range(1, 301)])
    current = os.path.realpath(os.path.join(db.folder, "current"))
    shelf_files = {name: os.stat(os.path.join(current, name)).st_mtime_ns for name in os.listdir(current)}
    db.put(record(7, "A", 700))
    db.put(record(400, "B", 400))
    assert os.path.realpath(os.path.join(db.folder, "current")) == current, "no new generation per save"
    assert {name: os.stat(os.path.join(current, name)).st_mtime_ns
            for name in shelf_files} == shelf_files, "the shelf is not rewritten"
    assert len(os.listdir(os.path.join(current, "records"))) == 2
    assert db.get(7, "A")["reportID"] == 700 and db.get(400, "B")["reportID"] == 400
    assert db.get(8, "A")["reportID"] == 8 and len(db.all()) == 301
    assert db.remove_report_ids([700]) == 1 and db.get(7, "A") is None
    # Folded into one shelf when the program closes the database: the seed's shape at rest.
    db.put(record(9, "A", 900))
    db.close()
    folded = os.path.realpath(os.path.join(db.folder, "current"))
    assert folded != current and not os.path.exists(os.path.join(folded, "records"))
    again = reportid_db.ReportIdDB(tmp_path)
    assert len(again.all()) == 300 and again.get(9, "A")["reportID"] == 900


def test_many_saves_are_folded_as_they_go(tmp_path, monkeypatch):
    monkeypatch.setattr(reportid_db, "FOLD_AT", 5)
    db = reportid_db.ReportIdDB(tmp_path)
    for n in range(1, 13):
        db.put(record(n, "A", n))
        records = os.path.join(os.path.realpath(os.path.join(db.folder, "current")), "records")
        assert not os.path.exists(records) or len(os.listdir(records)) <= 5
    assert sorted(r["reportID"] for r in db.all().values()) == list(range(1, 13))


def test_kill_while_saving_a_record_leaves_the_old_one(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    db.put(record(1, "A", 100))
    assert put_killed_at_its_rename(tmp_path, 1, "A", 111) == 9
    assert db.get(1, "A")["reportID"] == 100 and len(db.all()) == 1
    db.close()
    assert db.get(1, "A")["reportID"] == 100


def test_threads_and_processes_do_not_lose_writes(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    threads = [threading.Thread(target=lambda n=n: db.put(record(n, "A", n))) for n in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(db.all()) == 20


def test_damaged_database_is_an_error_not_empty(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    db.put(record(1, "A", 100))
    db.close()
    current = os.path.realpath(os.path.join(db.folder, "current"))
    with open(os.path.join(current, "reportids.dir"), "w") as f:
        f.write("garbage that is not a dumb dbm index")
    with pytest.raises(ConfigurationError, match="json-to-ix-reportid-db.py"):
        db.all()


def test_pair_lock_excludes_other_threads(tmp_path):
    db = reportid_db.ReportIdDB(tmp_path)
    order = []
    with db.pair_lock(1, "A"):
        other = threading.Thread(target=lambda: db.pair_lock(1, "A").__enter__() or order.append("other"))
        other.start()
        other.join(timeout=0.3)
        assert other.is_alive(), "the second holder must wait"
        order.append("first")
    other.join(timeout=5)
    assert order == ["first", "other"]


def test_validate_records():
    good = {"reports": [record(1, "A", 100)]}
    assert reportid_db.validate_records(good, "x.json")[0]["reportID"] == 100
    for bad, reason in [([], "object"), ({"reports": [{"publisher_id": 1}]}, "needs the keys"),
                        ({"reports": [dict(record(1, "A", 1), reportID="1")]}, "reportID must be an integer"),
                        ({"reports": [record(1, "A", 1), record(1, "A", 2)]}, "twice")]:
        with pytest.raises(ConfigurationError, match=reason):
            reportid_db.validate_records(bad, "x.json")
