"""Which MySQL table each report's rows go into: maintained by hand, kept in the repository.

Keys are report names: the file names of the templates in the templates store
(~/INDEX-TEMPLATES), as given on the command line. Values: `db_table`, the table in
prog_stats; optionally `reportID`, the report the template was taken from (for reference
only); and optionally `replace`, the date column ("day", or "hour" for hourly reports) by
which the report's files replace their window: the publisher's rows of the days a file
covers are deleted and the file's rows loaded, in one transaction, so rows Index Exchange
no longer reports are gone (the importing user then needs DELETE on the table: run the
set-up script again to grant it). Without `replace`, rows are upserted by key and a row
Index Exchange drops stays. Many reports may share one table.

The programs read this file as data (it is never run): only a dictionary of plain
values may stand here, and a mistake is reported with its line. After adding a report
here, check its template against the table:
    index-exchange-to-db.py --check "Report name"
PROGSALESREPORTMAPPINGFILE may point at a copy kept elsewhere (outside the checkout).
"""

REPORT_TO_DB_TABLE = {
    "Generic Revenue Report": {"db_table": "prog_ix_stats", "reportID": 1965885},
    "Generic Revenue Report for today only": {"db_table": "prog_ix_stats", "reportID": 1965886},
    "Generic Revenue Report Last 7 days": {"db_table": "prog_ix_stats", "reportID": 1965887},
    "Generic Revenue Report Back dates": {"db_table": "prog_ix_stats"},
}

