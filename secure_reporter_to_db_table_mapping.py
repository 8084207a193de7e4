"""Which Secure Reporter reports secure-reporter-to-db.py loads, and into which table:
maintained by hand, kept in the repository (or where SECUREREPORTERMAPPINGFILE points).

Keys are the names given on the command line. Values: `report`, the report's slug (its
name in lower case, spaces as -; recommended, ids change when a report is replaced) or
its id; `db_table`, the table in prog_stats; optionally `params`, the report's bind
parameters. A parameter value may be literal or a date relative to the run, resolved in
UTC: today, yesterday, today-7d, today+1d, month-start, last-month-start.
--param NAME=VALUE overrides one for a run.

Read as data, never run: only a dictionary of plain values may stand here.
"""

SECURE_REPORTER_TO_DB_TABLE = {
    "Direct revenue": {"report": "daily-direct-revenue", "db_table": "prog_sr_direct_revenue",
                       "params": {"_from": "today-7d", "_to": "today"}},
}
