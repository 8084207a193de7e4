"""report_to_db_table_mapping.py as a person edits it: every mistake is one line naming
the file, the line and what is wrong, exit 2; -h works whatever the file holds."""

import pytest

from importenv import REPORTS, ImportEnv

GOOD_ENTRY = '    "Generic Revenue Report": {"db_table": "prog_ix_stats", "reportID": 1965885},\n'


@pytest.fixture
def ix(sim, database, tmp_path, http):
    return ImportEnv(sim, database, tmp_path / "home", http)


def with_mapping(ix, tmp_path, text):
    path = tmp_path / "my_mapping.py"
    path.write_text(text)
    ix.env["PROGSALESREPORTMAPPINGFILE"] = str(path)
    return path


@pytest.mark.parametrize("body,message", [
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Broken": {"db_table": "x"\n}\n',
     "line 1: '{' was never closed (a Python syntax error)"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Other": "prog_ix_stats",\n}\n',
     "line 3: the entry 'Other' must be a dictionary such as {\"db_table\": \"prog_ix_stats\"}, not str"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Other": {"db_tabel": "prog_ix_stats"},\n}\n',
     "line 3: the entry 'Other' has an unknown key 'db_tabel' (did you mean 'db_table'?)"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Other": {"db_table": 42},\n}\n',
     "line 3: the entry 'Other': db_table must be a str, got 42"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Other": {"db_table": "a; DROP TABLE b"},\n}\n',
     "line 3: the entry 'Other': db_table 'a; DROP TABLE b' is not a table name"),
    ('import os\nREPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '    "Other": {"db_table": os.getenv("T")},\n}\n',
     "line 4: only plain values"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + GOOD_ENTRY + '}\n',
     "line 3: 'Generic Revenue Report' is in REPORT_TO_DB_TABLE twice (first on line 2)"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '}\nREPORT_TO_DB_TABLE["Other"] = {"db_table": "prog_ix_stats"}\n',
     "line 4: only the dictionary REPORT_TO_DB_TABLE = {...} is read, and this line is not part of it; put every "
     "entry inside the dictionary"),
    ('REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '}\nREPORT_TO_DB_TABLE = {}\n',
     "line 4: REPORT_TO_DB_TABLE is assigned a second time (first on line 1); keep one dictionary"),
])
def test_a_mistake_in_the_mapping_file_is_one_line(ix, sim, tmp_path, body, message):
    path = with_mapping(ix, tmp_path, body)
    assert ix.script("-h").returncode == 0, "-h works whatever the mapping file holds"
    result = ix.script("--check", REPORTS[0])
    assert result.returncode == 2
    assert f"{path}, {message}" in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert sim.stats()["calls"] == {}


def test_a_misspelled_report_name_suggests_the_entry(ix, sim, tmp_path):
    with_mapping(ix, tmp_path, 'REPORT_TO_DB_TABLE = {\n' + GOOD_ENTRY + '}\n')
    (ix.home / "INDEX-TEMPLATES" / "Generic Revenu Report").write_text(
        (ix.home / "INDEX-TEMPLATES" / REPORTS[0]).read_text())
    result = ix.script("--check", "Generic Revenu Report")
    assert result.returncode == 2
    assert "no entry 'Generic Revenu Report' in" in result.stderr
    assert "(did you mean 'Generic Revenue Report'?)" in result.stderr


def test_the_mapping_file_is_never_run(ix, sim, tmp_path):
    marker = tmp_path / "ran"
    with_mapping(ix, tmp_path, f'open({str(marker)!r}, "w").close()\nREPORT_TO_DB_TABLE = {{\n{GOOD_ENTRY}}}\n')
    result = ix.script("--check", REPORTS[0])
    assert result.returncode == 2 and "line 1: only the dictionary REPORT_TO_DB_TABLE" in result.stderr
    assert not marker.exists()
