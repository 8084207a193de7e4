"""Secure Reporter's starter table; SQL lives only in mysql_db*.py. The stand-in's example
report "Daily Direct Revenue" fills it; a user maps other reports to tables of their own."""

DIRECT_REVENUE_TABLE = "prog_sr_direct_revenue"

SECURE_REPORTER_TABLES = {
    DIRECT_REVENUE_TABLE: """CREATE TABLE prog_sr_direct_revenue (
  day date NOT NULL,
  advertiser_id int NOT NULL,
  advertiser varchar(255) NOT NULL DEFAULT '',
  bookings bigint NOT NULL DEFAULT 0,
  revenue decimal(18,4) NOT NULL DEFAULT 0,
  updated_at datetime(6) DEFAULT NULL,
  PRIMARY KEY (day, advertiser_id))""",
}
