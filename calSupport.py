"""CAL files and mappings as the suite loads them: which files to fetch, fetched and
checked, and rows shaped for their tables (publisher_id added, non-integers in integer
columns as -9999, columns the table lacks kept in `other`)."""

import base64
import binascii
import contextlib
import dataclasses
import itertools
import logging
import os
import re
import threading
import urllib.parse

import calAPI
import loadingSupport
import mysql_db_cal
import mysql_db_reporting
import readwrite
from errors import ConfigurationError, ReportFileError
from mysql_db import is_integer_text
from utility import only_known

log = logging.getLogger("cal")

SENTINEL = "-9999"


@dataclasses.dataclass
class CalFile:
    file_id: int
    publisher_id: int
    origin: str          # impressions_log or bid_log
    hour: str            # YYYY-MM-DD HH:00:00, UTC
    url: str
    md5: str
    status: str


def file_id_of(url):
    """A CAL file's id: the last path segment of its downloadURL."""
    last = urllib.parse.urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1]
    return int(last) if last.isdigit() else None


def _hour(text):
    match = re.match(r"(\d{4}-\d{2}-\d{2})T(\d{2}):", text or "")
    return f"{match.group(1)} {match.group(2)}:00:00" if match else None


def files_of(entries, origin, publisher_id):
    """The files of a listing, bid parts as files of their own; unusable entries are
    logged and left out."""
    files = []
    for entry in entries:
        hour = _hour(entry.get("hour"))
        for part in entry.get("parts") or [entry]:
            url = part.get("downloadURL") if isinstance(part, dict) else None
            file_id = file_id_of(url) if isinstance(url, str) else None
            if hour is None or file_id is None:
                log.warning("publisher %s: %s entry without a usable hour or downloadURL: %s", publisher_id,
                            origin, str(part)[:200])
                continue
            # One of Index Exchange's pages spells the status field downloadStats.
            status = part.get("downloadStatus") or part.get("downloadStats") or "new"
            files.append(CalFile(file_id, publisher_id, origin, hour, url, part.get("md5sum") or "", status))
    return files


def list_files(session, publisher_id, impressions, bids):
    """The CAL files Index Exchange lists for this key: impression files and/or every part
    of the bid files, as CalFiles."""
    files = []
    if impressions:
        files += files_of(calAPI.list_impression_files(session), "impressions_log", publisher_id)
    if bids:
        files += files_of(calAPI.list_bid_files(session), "bid_log", publisher_id)
    return files


def fetch_mapping(session, name):
    """A mapping's items (buyers, dsps, partners, sites, campaigns, deals, exchange_rates)."""
    if name == "exchange_rates":
        return calAPI.get_exchange_rates(session)
    return calAPI.get_mapping(session, name)


def needs_loading(cal_file, loaded):
    """Not loaded yet, marked updated since, or changed (another md5) since it was loaded."""
    if cal_file.file_id not in loaded:
        return True
    return cal_file.status == "updated" or (cal_file.md5 and loaded[cal_file.file_id] != cal_file.md5)


def fetch(session, cal_file, path):
    return readwrite.fetch_verified(
        lambda target: calAPI.download_file(session, cal_file.url, target), path, cal_file.md5,
        f"CAL file {cal_file.file_id}")


class Shaped:
    """How a CAL file's columns go into its table: its own columns as they are
    (non-integers in integer columns as -9999, counted in `sentinels`), the rest as
    name=value pairs in `other`. `header` is what is loaded, `extra_columns` the file's
    columns the table lacks."""

    def __init__(self, header, columns):
        by_name = {c.name.lower(): c for c in columns}
        self._has_other = "other" in by_name
        self._keep = [i for i, h in enumerate(header)
                      if h.lower() in by_name and h.lower() not in ("publisher_id", "other")]
        self._rest = [i for i in range(len(header)) if i not in self._keep]
        self._integer_positions = [n for n, i in enumerate(self._keep) if by_name[header[i].lower()].is_integer]
        self._extra_names = [header[i] for i in self._rest]
        self._width = len(header)
        self.header = [header[i] for i in self._keep] + (["other"] if self._has_other else [])
        self.extra_columns = [header[i] for i in self._rest if header[i].lower() != "publisher_id"]
        self.sentinels = 0
        if self.extra_columns and not self._has_other:
            log.warning("table has no `other` column: %s dropped", ", ".join(self.extra_columns))

    def rows(self, rows, where="CAL file"):
        """The file's rows shaped for the table. A row whose field count is not the
        header's is a ReportFileError naming it."""
        keep, rest, width = self._keep, self._rest, self._width
        for number, row in enumerate(rows, 1):
            if len(row) != width:
                raise ReportFileError(f"{where}, row {number}: {len(row)} fields, the header has {width}; "
                                      f"nothing of it was loaded")
            out = [row[i] for i in keep]
            for n in self._integer_positions:
                if not is_integer_text(out[n]):
                    out[n] = SENTINEL
                    self.sentinels += 1
            if self._has_other:
                pairs = [(name, row[i]) for name, i in zip(self._extra_names, rest) if name.lower() != "publisher_id"]
                out.append(urllib.parse.urlencode(pairs) if pairs else None)
            yield out


class CalFileShape(loadingSupport.FileShape):
    """A CAL file as the suite loads it (see loadingSupport): rows shaped by Shaped,
    publisher_id added; a new file goes to the bulk path (as it is when it has only the
    table's columns, else streamed); booked in the download log."""

    def __init__(self, table, cal_file):
        super().__init__(f"CAL file {cal_file.file_id}", table, {"publisher_id": cal_file.publisher_id})
        self.cal_file = cal_file
        self.shaped = None

    def rows(self, db, header, rows):
        self.shaped = Shaped(header, db.table_columns(self.table))
        return self.shaped.header, self.shaped.rows(rows, self.name)

    def bulk_load(self, db, path, header, load_header):
        result, shaped = _bulk_load(db, path, header, self.table, db.table_columns(self.table), self.constants,
                                    self.cal_file, self.shaped)
        self.shaped = shaped
        return result

    def book(self, db, result):
        f = self.cal_file
        mysql_db_cal.record_cal_file(db, f.file_id, f.hour, f.url, f.publisher_id, f.origin, f.md5, result.rows)


def load_file(db, path, table, cal_file):
    """Load a downloaded CAL file into `table` and record it in the download log, in one
    transaction (loadingSupport's policy: run again from the file if the server ends it,
    a file lacking a column of the table's key refused whole). Returns (LoadResult, Shaped).

    An hourly file's keys are new: it goes to LOAD DATA LOCAL when the database allows it
    (kept only if the server had no warning at all). A file whose first rows' keys are in
    the table already (an `updated` file loaded again), or that the server warned about,
    is upserted, which names a row and column at fault."""
    shape = CalFileShape(table, cal_file)
    result = loadingSupport.load_file(db, path, shape)
    return result, shape.shaped


def _bulk_load(db, path, header, table, columns, constants, cal_file, peeked):
    """(LoadResult, Shaped) of a new file through the bulk path, or (None, `peeked`) when
    it needs the upsert path. A file of the table's own columns is loaded as it is;
    one with columns for `other` is shaped here and streamed."""
    if not peeked.extra_columns:
        result = _bulk_load_unpacked(db, path, header, table, constants, cal_file)
        if result is not None:
            peeked.sentinels = result.sentinels
            return result, peeked
    result, streamed = _bulk_load_streamed(db, path, table, columns, constants, cal_file)
    return (result, streamed) if result is not None else (None, peeked)


def _bulk_load_unpacked(db, path, header, table, constants, cal_file):
    """LoadResult of the file unpacked and loaded as it is, the shaping (-9999) done by
    the statement; None when that cannot be (the text NULL in the file, or the server
    warned). Only for files whose every column is the table's: `other` stays NULL, as
    the upsert path leaves it."""
    unpacked = os.path.join(db.bulk_load_folder,
                            f".cal-{cal_file.file_id}-{os.getpid()}-{threading.get_ident()}.csv")
    try:
        if not readwrite.unpack_to(path, unpacked):
            return None
        skip = [h for h in header if h.lower() in ("publisher_id", "other")]
        return db.bulk_load_csv(table, unpacked, header, constants, skip=skip, integer_sentinel=SENTINEL)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(unpacked)


def _bulk_load_streamed(db, path, table, columns, constants, cal_file):
    """(LoadResult, Shaped) of the file streamed into the bulk path, or (None, None) when
    it needs the upsert path. The file is read a second time, so the rows peeked at
    first need not be kept."""
    with readwrite.open_report_rows(path, f"CAL file {cal_file.file_id}") as (header, rows):
        shaped = Shaped(header, columns)
        stream = shaped.rows(rows, f"CAL file {cal_file.file_id}")
        first = next(stream, None)
        if first is None:
            return None, None
        load_header, load_rows = shaped.header, itertools.chain([first], stream)
        if "other" in shaped.header and not shaped.extra_columns:
            # `other` is NULL in every row: left out, it takes its default (NULL).
            load_header = shaped.header[:-1]
            load_rows = (row[:-1] for row in load_rows)
        result = db.bulk_load_rows(table, load_header, load_rows, constants=constants)
    return result, shaped if result is not None else None


# --- mappings -----------------------------------------------------------------------------

MAPPING_COLUMNS = {
    "buyers": ["dsp_id", "trading_desk_id", "buyer_name"],
    "dsps": ["dsp_id", "dsp_name"],
    "partners": ["partner_id", "partner_name"],
    "sites": ["site_id", "site_name"],
    "deals": ["deal_id", "internal_deal_id", "deal_name", "dsp_id", "deal_type", "auction_type", "rate",
              "section_id", "status", "start_date", "end_date", "priority"],
    "campaigns": ["brand_id", "brand_name", "campaign_id", "campaign_name", "creative_id"],
    "exchange_rates": ["base", "currency", "date", "rate"],
}


def _text(value):
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        # A deal's section_id list is stored comma-joined.
        return ",".join(_text(v) for v in value)
    return str(value)


def mapping_rows(name, items):
    """(rows for the mapping's table, rows for prog_ix_creatives) from an API mapping."""
    creatives = []
    rows = []
    for item in items:
        if name == "campaigns":
            listed = item.get("creatives") or [{"creative_id": 0, "creative_name": ""}]
            for creative in listed:
                rows.append([_text(item.get(c)) for c in MAPPING_COLUMNS[name][:4]] + [_text(creative.get("creative_id"))])
                if creative.get("creative_id"):
                    creatives.append([_text(creative.get("creative_id")), _text(creative.get("creative_name")) or ""])
        else:
            rows.append([_text(item.get(c)) for c in MAPPING_COLUMNS[name]])
    return rows, creatives


# --- API keys -----------------------------------------------------------------------------

def check_publishers_known(db, publisher_ids):
    """ConfigurationError unless every id is in prog_ix_publishers."""
    if not db.table_exists(mysql_db_reporting.PUBLISHERS_TABLE):
        raise ConfigurationError(f"table {mysql_db_reporting.PUBLISHERS_TABLE} does not exist: create it with "
                                 f"report-create-db-tables.py and add the publishers first")
    only_known(mysql_db_reporting.publishers(db), publisher_ids, "publisher id",
               f"{mysql_db_reporting.PUBLISHERS_TABLE} (add it there first)")


def api_key_problem(key):
    """Why `key` is not a CAL API key, or None: Index Exchange issues it as the HTTP Basic
    credential of a client, base64 of "client id:secret", at most 255 characters."""
    if not key or len(key) > 255:
        return "it must be 1 to 255 characters"
    if any(c.isspace() for c in key):
        return "it holds a space or line break"
    try:
        client, colon, secret = base64.b64decode(key, validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "it is not base64"
    if not (client and colon and secret):
        return "it does not decode to client id:secret"
    return None


def store_api_keys(db, pairs):
    """Add or replace (publisher_id, key) pairs; every key is checked first (nothing is
    stored when one is not a key), and never shown in the message."""
    pairs = [(p, k.strip()) for p, k in pairs]
    for publisher, key in pairs:
        problem = api_key_problem(key)
        if problem:
            raise ConfigurationError(f"publisher {publisher}: that is not a CAL API key ({problem}; a key is base64 "
                                     f"of client id:secret, as Index Exchange issues it); nothing was stored")
    mysql_db_cal.set_api_keys(db, pairs)
