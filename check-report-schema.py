#!/usr/bin/env python3
"""Check that each named report's template fits the table report_to_db_table_mapping.py
maps it to: a column for every field and for publisher_id, of a fitting type, and a
primary key under which a rerun overwrites rather than adds. With --create-table, print
a CREATE TABLE that fits the template instead. Sends nothing to Index Exchange.

Exit 0 when every report fits, 1 when something does not, 2 when a template, mapping
entry or table is missing.
"""

import sys

import cli
import mysql_db
import mappingfile
import readwrite
import reportSchemaSupport
import settings as settings_module


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("reports", nargs="+", metavar="REPORT")
    parser.add_argument("--create-table", action="store_true", help="print a CREATE TABLE fitting each template")
    return parser


def main(args):
    settings = settings_module.load_settings()
    mapping = mappingfile.report_mapping(settings)
    reports = {name: (mapping.entry(name)["db_table"], readwrite.read_template(settings, name)["querySpec"]["fields"])
               for name in args.reports}
    db = mysql_db.connect(settings)
    unfit = missing = 0
    try:
        if args.create_table:
            # With the engine's own table options: utf8mb4 and, on MySQL, a collation that
            # keeps every distinct key apart.
            for name, (table, fields) in reports.items():
                print(f"-- {name}\n{reportSchemaSupport.create_table_sql(table, fields)}{db.table_options};\n")
            return cli.EXIT_OK
        for name, (table, fields) in reports.items():
            if not db.table_exists(table):
                missing += 1
                print(f"{name} -> {table}: the table does not exist (or this user may not see it); "
                      f"--create-table prints one that fits")
                continue
            problems = reportSchemaSupport.check_report(db, table, fields)
            if problems:
                unfit += 1
                print(f"{name} -> {table}: {len(problems)} problem(s)")
                for problem in problems:
                    print(f"  {problem}")
            else:
                print(f"{name} -> {table}: fits ({len(fields)} fields)")
    finally:
        db.close()
    return cli.EXIT_USAGE if missing else cli.EXIT_FAILED if unfit else cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
