#!/usr/bin/env python3
"""Add or replace publishers' CAL API keys in prog_ix_apikeys:
    add-api-key.py PUBLISHERID KEY [PUBLISHERID KEY]...
With no arguments, list the table with the keys masked. Keys are never printed in full."""

import sys

import cli
import mysql_db
import settings as settings_module
from errors import ConfigurationError
from utility import format_table, mask_secret


def build_parser():
    parser = cli.make_parser(__doc__)
    parser.add_argument("pairs", nargs="*", metavar="ID KEY")
    return parser


def list_keys(db):
    rows = mysql_db.all_api_keys(db)
    print(format_table(["publisher_id", "api_key"], [(p, mask_secret(k, keep=4)) for p, k in rows]))
    print(f"{len(rows)} keys")


def main(args):
    if len(args.pairs) % 2:
        raise ConfigurationError("give publisher ids and keys in pairs: ID KEY [ID KEY]...")
    pairs = []
    for publisher, key in zip(args.pairs[::2], args.pairs[1::2]):
        if not publisher.isdigit():
            raise ConfigurationError(f"publisher id must be a whole number, got {publisher!r}")
        if not key.strip() or len(key) > 255:
            raise ConfigurationError(f"publisher {publisher}: the key must be 1 to 255 characters")
        pairs.append((int(publisher), key.strip()))
    db = mysql_db.connect(settings_module.load_settings())
    try:
        if pairs:
            mysql_db.set_api_keys(db, pairs)
            for publisher, key in pairs:
                print(f"publisher {publisher}: key {mask_secret(key, keep=4)} stored")
        else:
            list_keys(db)
    finally:
        db.close()
    return cli.EXIT_OK


if __name__ == "__main__":
    sys.exit(cli.run(main, build_parser()))
