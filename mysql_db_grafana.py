"""The SQL of the Grafana dashboards (dashboards.py lays them out): read-only queries on the
suite's tables with Grafana's MySQL macros ($__timeFilter, $__timeGroupAlias, ...) and
dashboard variables ($publisher, $site). SQL lives only in mysql_db*.py.

"Today" and "the last 7 days" are taken from the end of the dashboard's range
($__timeTo()), not from the server's clock, so a panel shows the same for the same range.
Each query returns what its panel's format needs: a `time` column for time series.
"""

# --- variables --------------------------------------------------------------------------------

PUBLISHER_VARIABLE = ("SELECT publisher_id AS __value, CONCAT(publisher_id, ' ', COALESCE(publisher, '')) AS __text "
                      "FROM prog_ix_publishers ORDER BY publisher_id")
SITE_VARIABLE = ("SELECT DISTINCT site_id AS __value, CONCAT(site_id, ' ', site_name) AS __text FROM prog_ix_stats "
                 "WHERE publisher_id IN ($publisher) ORDER BY site_id")

_STATS_FILTER = "publisher_id IN ($publisher) AND site_id IN ($site)"

# --- revenue (prog_ix_stats: day, publisher_id, site_id, site_name, impressions,
#     ad_spend, publisher_payment) -----------------------------------------------------------

REVENUE = {
    "revenue_by_day": f"""SELECT $__timeGroupAlias(day, '1d'), SUM(publisher_payment) AS revenue, SUM(ad_spend) AS ad_spend
FROM prog_ix_stats WHERE $__timeFilter(day) AND {_STATS_FILTER}
GROUP BY 1 ORDER BY 1""",
    "impressions_by_day": f"""SELECT $__timeGroupAlias(day, '1d'), SUM(impressions) AS impressions
FROM prog_ix_stats WHERE $__timeFilter(day) AND {_STATS_FILTER}
GROUP BY 1 ORDER BY 1""",
    "ecpm_by_day": f"""SELECT $__timeGroupAlias(day, '1d'),
  SUM(publisher_payment) * 1000 / NULLIF(SUM(impressions), 0) AS ecpm
FROM prog_ix_stats WHERE $__timeFilter(day) AND {_STATS_FILTER}
GROUP BY 1 ORDER BY 1""",
    "by_publisher": """SELECT s.publisher_id, COALESCE(p.publisher, '') AS publisher, SUM(s.impressions) AS impressions,
  SUM(s.publisher_payment) AS revenue, SUM(s.publisher_payment) * 1000 / NULLIF(SUM(s.impressions), 0) AS ecpm
FROM prog_ix_stats s LEFT JOIN prog_ix_publishers p ON p.publisher_id = s.publisher_id
WHERE $__timeFilter(s.day) AND s.publisher_id IN ($publisher) AND s.site_id IN ($site)
GROUP BY s.publisher_id, p.publisher ORDER BY revenue DESC""",
    "by_site": f"""SELECT publisher_id, site_id, MAX(site_name) AS site_name, SUM(impressions) AS impressions,
  SUM(publisher_payment) AS revenue, SUM(publisher_payment) * 1000 / NULLIF(SUM(impressions), 0) AS ecpm
FROM prog_ix_stats WHERE $__timeFilter(day) AND {_STATS_FILTER}
GROUP BY publisher_id, site_id ORDER BY revenue DESC""",
    # The "today only" report's rows: the day the range ends on.
    "today": f"""SELECT SUM(publisher_payment) AS revenue_today, SUM(impressions) AS impressions_today
FROM prog_ix_stats WHERE day >= DATE($__timeTo()) AND day < DATE($__timeTo()) + INTERVAL 1 DAY AND {_STATS_FILTER}""",
    # The 7 whole days before the range's last day, against the 7 before them.
    "last_7_vs_previous_7": f"""SELECT
  SUM(CASE WHEN day >= DATE($__timeTo()) - INTERVAL 7 DAY THEN publisher_payment ELSE 0 END) AS last_7_days,
  SUM(CASE WHEN day < DATE($__timeTo()) - INTERVAL 7 DAY THEN publisher_payment ELSE 0 END) AS previous_7_days,
  100 * (SUM(CASE WHEN day >= DATE($__timeTo()) - INTERVAL 7 DAY THEN publisher_payment ELSE 0 END)
    / NULLIF(SUM(CASE WHEN day < DATE($__timeTo()) - INTERVAL 7 DAY THEN publisher_payment ELSE 0 END), 0) - 1)
    AS change_percent
FROM prog_ix_stats WHERE day >= DATE($__timeTo()) - INTERVAL 14 DAY AND day < DATE($__timeTo()) AND {_STATS_FILTER}""",
}

# --- CAL (the impression and bid logs, with the mappings' names) -----------------------------

_IMPRESSIONS = "prog_ix_impression_log WHERE $__timeFilter(timestamp) AND publisher_id IN ($publisher)"
_BIDS = "prog_ix_bid_log WHERE $__timeFilter(timestamp) AND publisher_id IN ($publisher)"

CAL = {
    "impressions_by_hour": f"""SELECT $__timeGroupAlias(timestamp, '1h'), COUNT(*) AS impressions
FROM {_IMPRESSIONS} GROUP BY 1 ORDER BY 1""",
    "bids_by_hour": f"""SELECT $__timeGroupAlias(timestamp, '1h'), COUNT(*) AS bids
FROM {_BIDS} GROUP BY 1 ORDER BY 1""",
    "by_dsp": f"""SELECT t.dsp_id, COALESCE(MAX(d.dsp_name), '') AS dsp, SUM(t.impressions) AS impressions,
  SUM(t.bids) AS bids, SUM(t.revenue) AS revenue
FROM (SELECT dsp_id, COUNT(*) AS impressions, 0 AS bids, SUM(net_revenue) AS revenue FROM {_IMPRESSIONS} GROUP BY dsp_id
      UNION ALL SELECT dsp_id, 0, COUNT(*), 0 FROM {_BIDS} GROUP BY dsp_id) t
LEFT JOIN prog_ix_dsp_mapping d ON d.dsp_id = t.dsp_id
GROUP BY t.dsp_id ORDER BY impressions DESC""",
    # Impressions bought outside any deal have an empty deal_id: one bucket, named so.
    "by_deal": f"""SELECT CASE WHEN i.deal_id = '' THEN '(no deal)' ELSE i.deal_id END AS deal_id,
  CASE WHEN i.deal_id = '' THEN 'open auction, no deal' ELSE COALESCE(MAX(m.deal_name), '') END AS deal,
  COUNT(*) AS impressions,
  SUM(i.net_revenue) AS revenue
FROM (SELECT deal_id, publisher_id, net_revenue FROM {_IMPRESSIONS}) i
LEFT JOIN prog_ix_deal_mapping m ON m.deal_id = i.deal_id AND m.publisher_id = i.publisher_id
GROUP BY i.deal_id ORDER BY impressions DESC""",
    "by_site": f"""SELECT i.publisher_id, i.site_id, COALESCE(MAX(m.site_name), '') AS site, COUNT(*) AS impressions,
  SUM(i.net_revenue) AS revenue
FROM (SELECT site_id, publisher_id, net_revenue FROM {_IMPRESSIONS}) i
LEFT JOIN prog_ix_site_mapping m ON m.site_id = i.site_id AND m.publisher_id = i.publisher_id
GROUP BY i.publisher_id, i.site_id ORDER BY impressions DESC""",
    "bids_per_auction": f"""SELECT COUNT(*) / NULLIF(COUNT(DISTINCT auction_id), 0) AS bids_per_auction FROM {_BIDS}""",
    # Impressions over the auctions that had bids, in the range.
    "win_rate": f"""SELECT 100 * (SELECT COUNT(*) FROM {_IMPRESSIONS})
  / NULLIF((SELECT COUNT(DISTINCT auction_id) FROM {_BIDS}), 0) AS win_rate_percent""",
    # Index Exchange masks values (-1); the suite stores non-integers as -9999.
    "masked_values": f"""SELECT 'dma' AS field, SUM(dma IN (-1, -9999)) AS masked, COUNT(*) AS of_rows FROM {_IMPRESSIONS}
UNION ALL SELECT 'site_id', SUM(site_id IN (-1, -9999)), COUNT(*) FROM {_IMPRESSIONS}
UNION ALL SELECT 'dsp_id', SUM(dsp_id IN (-1, -9999)), COUNT(*) FROM {_IMPRESSIONS}
UNION ALL SELECT 'campaign_id', SUM(campaign_id IN (-1, -9999)), COUNT(*) FROM {_IMPRESSIONS}
UNION ALL SELECT 'creative_id', SUM(creative_id IN (-1, -9999)), COUNT(*) FROM {_IMPRESSIONS}
UNION ALL SELECT 'zip_postal', SUM(zip_postal = 'XXXX'), COUNT(*) FROM {_IMPRESSIONS}""",
}

# --- import health (the suite's bookkeeping and prog_ix_import_log) --------------------------

HEALTH = {
    "last_load_per_pair": """SELECT publisher_id, report_name, MAX(loaded_at) AS last_loaded,
  TIMESTAMPDIFF(HOUR, MAX(loaded_at), $__timeTo()) AS age_hours
FROM prog_ix_report_runs WHERE status = 'loaded' GROUP BY publisher_id, report_name ORDER BY age_hours DESC""",
    "files_by_status": """SELECT
  SUM(status = 'pending' AND (last_error IS NULL OR last_error LIKE 'not ready%')) AS waiting,
  SUM(status = 'pending' AND last_error IS NOT NULL AND last_error NOT LIKE 'not ready%') AS failed,
  SUM(status = 'expired') AS expired,
  (SELECT COUNT(*) FROM prog_ix_report_queue WHERE status = 'queued') AS queued_pairs
FROM prog_ix_report_runs""",
    "problem_files": """SELECT file_id, publisher_id, report_name, status, attempts, requested_at, last_error
FROM prog_ix_report_runs WHERE status IN ('pending', 'expired') ORDER BY requested_at""",
    "rows_per_run": """SELECT UNIX_TIMESTAMP(started_at) AS time,
  COALESCE(rows_inserted, 0) + COALESCE(rows_updated, 0) + COALESCE(cal_rows, 0) AS rows_loaded, program AS metric
FROM prog_ix_import_log WHERE $__timeFilter(started_at) ORDER BY started_at""",
    "runs_not_finished_or_failed": """SELECT started_at, program, host, arguments, exit_code,
  CASE WHEN finished_at IS NULL THEN 'did not finish' ELSE 'failed' END AS outcome, problems
FROM prog_ix_import_log
WHERE $__timeFilter(started_at) AND (finished_at IS NULL OR exit_code <> 0) ORDER BY started_at DESC""",
    "cal_files_per_hour": """SELECT $__timeGroupAlias(hour, '1h'), COUNT(*) AS cal_files
FROM prog_ix_cal_download_log WHERE $__timeFilter(hour) GROUP BY 1 ORDER BY 1""",
    # Hours (older than CAL's usual 5 h delay) without an impression file, for each
    # publisher from its first file in the range on (no gap is counted before it starts).
    "cal_hours_missing": """WITH RECURSIVE hours AS (
  SELECT FROM_UNIXTIME(UNIX_TIMESTAMP($__timeFrom()) DIV 3600 * 3600) AS h
  UNION ALL SELECT h + INTERVAL 1 HOUR FROM hours WHERE h + INTERVAL 1 HOUR < $__timeTo() - INTERVAL 5 HOUR)
SELECT p.publisher_id, COUNT(l.fileid IS NULL OR NULL) AS hours_missing
FROM (SELECT publisher_id, MIN(hour) AS first_hour FROM prog_ix_cal_download_log
      WHERE origin = 'impressions_log' AND $__timeFilter(hour) GROUP BY publisher_id) p
JOIN hours ON hours.h >= p.first_hour
LEFT JOIN prog_ix_cal_download_log l ON l.hour = hours.h AND l.publisher_id = p.publisher_id
  AND l.origin = 'impressions_log'
GROUP BY p.publisher_id ORDER BY p.publisher_id""",
    # Daily data for yesterday lands ~12-13 UTC: before 13:00 the newest complete day is the
    # day before yesterday. CAL data arrives within ~5 h.
    "data_age": """SELECT 'reports (prog_ix_stats, daily)' AS source, MAX(day) AS newest,
  DATE($__timeTo()) - INTERVAL IF(HOUR($__timeTo()) >= 13, 1, 2) DAY AS expected,
  GREATEST(0, DATEDIFF(DATE($__timeTo()) - INTERVAL IF(HOUR($__timeTo()) >= 13, 1, 2) DAY, MAX(day)) * 24)
    AS hours_behind
FROM prog_ix_stats
UNION ALL SELECT 'CAL (prog_ix_cal_download_log, hourly)', MAX(hour),
  FROM_UNIXTIME(UNIX_TIMESTAMP($__timeTo()) DIV 3600 * 3600) - INTERVAL 5 HOUR,
  GREATEST(0, TIMESTAMPDIFF(HOUR, MAX(hour), FROM_UNIXTIME(UNIX_TIMESTAMP($__timeTo()) DIV 3600 * 3600)
    - INTERVAL 5 HOUR))
FROM prog_ix_cal_download_log""",
}

# The tables Grafana's user may read: everything it charts, never the API keys.
GRAFANA_TABLES = ("prog_sr_direct_revenue", "prog_ix_publishers", "prog_ix_stats", "prog_ix_report_runs", "prog_ix_report_queue",
                  "prog_ix_import_log", "prog_ix_impression_log", "prog_ix_bid_log", "prog_ix_cal_download_log",
                  "prog_ix_dsp_mapping", "prog_ix_deal_mapping", "prog_ix_site_mapping", "prog_ix_buyer_mapping",
                  "prog_ix_partner_mapping", "prog_ix_campaign_mapping", "prog_ix_creatives", "prog_ix_exchange_rates")


# --- alert rules (grafana/provisioning/alerting/), each value one row per thing alerted on -

# Hours a program may go without a successful run before a person is told: its cron
# schedule's longest gap, plus margin (the README's crontab: CAL hourly; the main program
# on Tuesdays, Thursdays and Fridays, so Friday 20:00 to Tuesday 08:00 is 84 h;
# CxReports weekly). Edit to fit your crontab.
SUCCESS_WITHIN_HOURS = {"cal-downloads.py": 3, "index-exchange-to-db.py": 90, "secure-reporter-to-db.py": 26,
                        "cxreports-send.py": 170}
_WITHIN = "CASE program " + " ".join(f"WHEN '{p}' THEN {h}" for p, h in SUCCESS_WITHIN_HOURS.items()) + " ELSE 26 END"

ALERTS = {
    # Hours past its allowance since each program's last successful run (> 0: alert).
    "no_success": f"""SELECT program,
  TIMESTAMPDIFF(MINUTE, COALESCE(MAX(CASE WHEN exit_code = 0 THEN started_at END), MIN(started_at)),
    UTC_TIMESTAMP()) / 60 - {_WITHIN} AS hours_overdue
FROM prog_ix_import_log GROUP BY program""",
    # Report files pending for more than a day (> 0: alert).
    "files_pending": """SELECT COUNT(*) AS files_pending_over_24h FROM prog_ix_report_runs
WHERE status = 'pending' AND requested_at < UTC_TIMESTAMP() - INTERVAL 24 HOUR""",
    # Hours without a CAL impression file, per publisher, over the rule's range (> 0: alert).
    "cal_hours_missing": HEALTH["cal_hours_missing"],
}
