"""Which MySQL table each report's rows go into: maintained by hand, kept in the repository.

Keys are report names: the file names of the templates in the templates store
(~/INDEX-TEMPLATES), as given on the command line. Values: `db_table`, the table in
prog_stats, and optionally `reportID`, the report the template was taken from (for
reference only). Many reports may share one table.

After adding a report here, check its template against the table:
    index-exchange-to-db.py --check "Report name"
"""

REPORT_TO_DB_TABLE = {
    "Generic Revenue Report": {"db_table": "prog_ix_stats", "reportID": 1965885},
    "Generic Revenue Report for today only": {"db_table": "prog_ix_stats", "reportID": 1965886},
    "Generic Revenue Report Last 7 days": {"db_table": "prog_ix_stats", "reportID": 1965887},
    "Generic Revenue Report Back dates": {"db_table": "prog_ix_stats"},
}


def table_for_report(report_name):
    """The table for a report name, or None when the mapping has no entry for it."""
    entry = REPORT_TO_DB_TABLE.get(report_name)
    return entry.get("db_table") if entry else None
