"""The CAL half's tables and the queries on them; SQL lives only in mysql_db*.py.

As docs/cal.md defines them, with its defects fixed (see CAL_TABLES), and the rows of
prog_ix_api_to_db_table_mapping, API keys and the download log.
"""

from mysql_db import now_text as _now_text

APIKEYS_TABLE = "prog_ix_apikeys"
API_TABLE_MAPPING_TABLE = "prog_ix_api_to_db_table_mapping"
CAL_DOWNLOAD_LOG_TABLE = "prog_ix_cal_download_log"

_LOG_COLUMNS = """auction_id varchar(36) NOT NULL DEFAULT '', publisher_id int NOT NULL,
  timestamp timestamp NULL DEFAULT NULL, country varchar(2) DEFAULT '',
  state varchar(16) DEFAULT '', dma int NOT NULL, zip_postal varchar(32) DEFAULT '',
  device_type varchar(255) DEFAULT '', operating_system varchar(255) DEFAULT '',
  browser varchar(16) DEFAULT '', partner_id int NOT NULL, site_id int NOT NULL,
  creative_type varchar(16) DEFAULT '', domain varchar(255) DEFAULT '',
  app_bundle varchar(255) DEFAULT '', inventory_channel varchar(255) DEFAULT '',
  supply_source varchar(255) DEFAULT '', slot_id {slot_type}, size varchar(255) DEFAULT '',
  event_type varchar(255) DEFAULT '', event_opportunity varchar(255) DEFAULT '',
  gross_revenue decimal(10,5) NOT NULL DEFAULT 0, net_revenue decimal(10,5) NOT NULL DEFAULT 0,
  dsp_id int NOT NULL, trading_desk_id int NOT NULL, campaign_id int NOT NULL,
  campaign_name varchar(255) DEFAULT '', brand_id int NOT NULL, brand_name varchar(255) DEFAULT '',
  creative_id int NOT NULL, creative_name varchar(255) DEFAULT '', deal_id varchar(255) NOT NULL,
  internal_deal_id int NOT NULL, cookie_match_status varchar(255) DEFAULT '',
  a_domain varchar(255) DEFAULT '', pub_rev_share decimal(10,5) NOT NULL DEFAULT 0,
  billing_term_id int NOT NULL{billing_default}, p_ids varchar(255) DEFAULT '',
  discount_amount decimal(10,5) NOT NULL DEFAULT 0, video_placement_type varchar(255) DEFAULT '',
  other text"""

# As docs/cal.md defines them, with the defects it points out fixed:
# - the bid log is keyed by what identifies a bid, not by auction alone (which kept one
#   bid of each auction);
# - campaigns are keyed with creative_id and publisher_id (the original kept one creative
#   per campaign); sites and deals, being per publisher, carry publisher_id in their key;
# - `other` is TEXT, so columns the table lacks are never truncated;
# - exchange rates have a date column and a key on existing columns;
# - the download log also keeps the md5 it loaded, so a changed file is loaded again even
#   when its status no longer says "updated".
CAL_TABLES = {
    APIKEYS_TABLE: ("auth", """CREATE TABLE prog_ix_apikeys (
  publisher_id int NOT NULL, api_key varchar(255) NOT NULL, PRIMARY KEY (publisher_id))"""),
    API_TABLE_MAPPING_TABLE: ("api", """CREATE TABLE prog_ix_api_to_db_table_mapping (
  api varchar(60) NOT NULL, data_table varchar(60) NOT NULL,
  download_log_table varchar(60), frequency varchar(1) NOT NULL, PRIMARY KEY (api))"""),
    CAL_DOWNLOAD_LOG_TABLE: ("log", """CREATE TABLE prog_ix_cal_download_log (
  fileid int NOT NULL, hour datetime NOT NULL, downloadURL varchar(255) NOT NULL,
  publisher_id int NOT NULL, origin varchar(255) NOT NULL, md5sum varchar(32) DEFAULT NULL,
  loaded_at datetime DEFAULT NULL, rows_loaded bigint DEFAULT NULL,
  PRIMARY KEY (fileid, publisher_id))"""),
    "prog_ix_impression_log": ("log", "CREATE TABLE prog_ix_impression_log (\n  " + _LOG_COLUMNS.format(
        slot_type="int NOT NULL", billing_default="") + ",\n  PRIMARY KEY (auction_id))"),
    "prog_ix_bid_log": ("log", "CREATE TABLE prog_ix_bid_log (\n  " + _LOG_COLUMNS.format(
        slot_type="varchar(255) DEFAULT ''", billing_default=" DEFAULT -9999") +
        ",\n  PRIMARY KEY (auction_id, publisher_id, dsp_id, trading_desk_id, creative_id, deal_id))"),
    "prog_ix_buyer_mapping": ("mapping", """CREATE TABLE prog_ix_buyer_mapping (
  dsp_id int NOT NULL, trading_desk_id int NOT NULL, buyer_name varchar(255) NOT NULL,
  PRIMARY KEY (dsp_id, trading_desk_id))"""),
    "prog_ix_dsp_mapping": ("mapping", """CREATE TABLE prog_ix_dsp_mapping (
  dsp_id int NOT NULL, dsp_name varchar(255) NOT NULL, PRIMARY KEY (dsp_id))"""),
    "prog_ix_partner_mapping": ("mapping", """CREATE TABLE prog_ix_partner_mapping (
  partner_id int NOT NULL, partner_name varchar(255) NOT NULL, PRIMARY KEY (partner_id))"""),
    "prog_ix_site_mapping": ("mapping", """CREATE TABLE prog_ix_site_mapping (
  site_id int NOT NULL, site_name varchar(255) NOT NULL, publisher_id int NOT NULL,
  PRIMARY KEY (publisher_id, site_id))"""),
    "prog_ix_creatives": ("mapping", """CREATE TABLE prog_ix_creatives (
  creative_id int NOT NULL, creative_name varchar(255) NOT NULL, PRIMARY KEY (creative_id))"""),
    "prog_ix_campaign_mapping": ("mapping", """CREATE TABLE prog_ix_campaign_mapping (
  brand_id int NOT NULL, brand_name varchar(255) NOT NULL, campaign_id int NOT NULL,
  campaign_name varchar(255) NOT NULL, creative_id int NOT NULL, publisher_id int NOT NULL,
  PRIMARY KEY (publisher_id, brand_id, campaign_id, creative_id))"""),
    "prog_ix_deal_mapping": ("mapping", """CREATE TABLE prog_ix_deal_mapping (
  deal_id varchar(255) NOT NULL, internal_deal_id int NOT NULL, deal_name varchar(255) NOT NULL,
  dsp_id int NOT NULL, deal_type int NOT NULL, auction_type varchar(255) NOT NULL,
  rate float NOT NULL, section_id varchar(255) NOT NULL, status char(1) NOT NULL,
  start_date date NOT NULL, end_date date NOT NULL, priority int NOT NULL,
  publisher_id int NOT NULL, PRIMARY KEY (internal_deal_id, publisher_id))"""),
    "prog_ix_exchange_rates": ("mapping", """CREATE TABLE prog_ix_exchange_rates (
  base char(3) NOT NULL, currency char(3) NOT NULL, date date NOT NULL, rate decimal(20,10) NOT NULL,
  PRIMARY KEY (base, currency, date))"""),
}

# api -> (data table, frequency): the rows of prog_ix_api_to_db_table_mapping.
CAL_API_TABLES = {
    "impressions_log": ("prog_ix_impression_log", "H"), "bid_log": ("prog_ix_bid_log", "H"),
    "buyers": ("prog_ix_buyer_mapping", "D"), "dsps": ("prog_ix_dsp_mapping", "D"),
    "partners": ("prog_ix_partner_mapping", "D"), "sites": ("prog_ix_site_mapping", "D"),
    "campaigns": ("prog_ix_campaign_mapping", "D"), "creatives": ("prog_ix_creatives", "D"),
    "deals": ("prog_ix_deal_mapping", "D"), "exchange_rates": ("prog_ix_exchange_rates", "D"),
}


def fill_api_table_mapping(db):
    db.load_rows(API_TABLE_MAPPING_TABLE, ["api", "data_table", "download_log_table", "frequency"],
                 [[api, table, CAL_DOWNLOAD_LOG_TABLE if frequency == "H" else None, frequency]
                  for api, (table, frequency) in CAL_API_TABLES.items()])


def api_tables(db):
    """{api: data table} from prog_ix_api_to_db_table_mapping."""
    return {api: table for api, table in db.fetch_all(f"SELECT api, data_table FROM {API_TABLE_MAPPING_TABLE}")}


def api_keys(db):
    """[(publisher_id, api_key)] of prog_ix_apikeys, the placeholder publisher 0 left out."""
    return [(int(p), key) for p, key in db.fetch_all(
        f"SELECT publisher_id, api_key FROM {APIKEYS_TABLE} WHERE publisher_id <> 0 ORDER BY publisher_id")]


def all_api_keys(db):
    return [(int(p), key) for p, key in db.fetch_all(
        f"SELECT publisher_id, api_key FROM {APIKEYS_TABLE} ORDER BY publisher_id")]


def set_api_keys(db, pairs):
    db.load_rows(APIKEYS_TABLE, ["publisher_id", "api_key"], [[str(p), k] for p, k in pairs])


def delete_api_keys(db, publisher_ids):
    """Deletes (needs DELETE, which the importing user has not); returns how many went."""
    deleted = 0
    with db.transaction():
        for publisher_id in publisher_ids:
            deleted += db.execute(f"DELETE FROM {APIKEYS_TABLE} WHERE publisher_id = %s", (int(publisher_id),))
    return deleted


def cal_loaded_files(db, publisher_id):
    """{fileid: md5sum} of the CAL files loaded for a publisher."""
    return {int(f): m for f, m in db.fetch_all(
        f"SELECT fileid, md5sum FROM {CAL_DOWNLOAD_LOG_TABLE} WHERE publisher_id = %s", (int(publisher_id),))}


def record_cal_file(db, file_id, hour, url, publisher_id, origin, md5sum, rows):
    db.load_rows(CAL_DOWNLOAD_LOG_TABLE, ["fileid", "hour", "downloadURL", "publisher_id", "origin", "md5sum",
                                          "loaded_at", "rows_loaded"],
                 [[str(file_id), hour, url[:255], str(publisher_id), origin, md5sum, _now_text(), str(rows)]])
