"""Deterministic data for the Index Exchange simulator.

Everything here is a pure function of a seed (and of the arguments): the same seed gives
the same publishers, sites, mappings, API keys, report rows and CAL log files, so tests
can assert on exact content and a user's sandbox looks the same every time.

Nothing in this module knows about HTTP; ixsimulator.py serves what this module makes.
"""

import base64
import csv
import datetime as dt
import gzip
import hashlib
import io
import math
import random
import uuid
import zipfile

CAL_IMPRESSION_COLUMNS = [
    "auction_id", "timestamp", "country", "state", "dma", "zip_postal", "device_type",
    "operating_system", "browser", "partner_id", "site_id", "creative_type", "domain",
    "app_bundle", "inventory_channel", "supply_source", "slot_id", "size", "event_type",
    "event_opportunity", "gross_revenue", "net_revenue", "dsp_id", "trading_desk_id",
    "campaign_id", "campaign_name", "brand_id", "brand_name", "creative_id", "creative_name",
    "deal_id", "internal_deal_id", "cookie_match_status", "a_domain", "pub_rev_share",
    "billing_term_id", "p_ids", "discount_amount", "video_placement_type",
]

# Site names chosen to exercise CSV quoting and encodings: commas, double quotes and
# non-ASCII letters all occur in real publisher site names.
SITE_NAMES = [
    "Nyheter Idag", "Göteborgs-Posten Online", 'Café "Le Monde"', "Sport, Fritid & Hälsa",
    "Dagens Ekonomi", "Smaka på Stockholm", 'Tech, "Gadgets" & More', "Väder 24",
    "Bil & Motor", "Mat, Vin, Resor", "Økonomi Nyt", "Résumé Weekly", "Ålands Radio",
    "Straße & Verkehr", "Crónica Diaria", "Hemma, Hus och Trädgård",
]
PUBLISHER_NAMES = [
    "Nordic News Group", "Svensk Media AB", "Göta Förlag", "Baltic Digital",
    "Fjord Publishing", "Malmö Lokal", "Kungsholmen Kurir", "Västkust Media",
]
PARTNER_NAMES = ["Prebid Server", "Header Tag", "Open Wrapper", "AMP Bridge", "CTV Gateway", "App SDK"]
DSP_NAMES = ["The Trade Desk", "DV360", "Amazon DSP", "Xandr Invest", "MediaMath", "Adform"]
BRAND_NAMES = ["Volvo", "IKEA", "Spotify", "H&M", "Oatly", "Ericsson", "Klarna", "Scania"]
SIZES = ["300x250", "728x90", "160x600", "320x50", "970x250", "300x600"]
COUNTRIES = ["SE", "NO", "DK", "FI", "DE", "GB", "US"]
DEVICE_TYPES = ["desktop", "mobile", "tablet", "connected tv"]
CREATIVE_TYPES = ["banner", "video", "native"]
CURRENCIES = {"EUR": 0.93, "GBP": 0.79, "SEK": 10.6, "NOK": 10.8, "DKK": 6.9, "CAD": 1.36, "JPY": 151.2}

# How many distinct values an unknown dimension field cycles through.
UNKNOWN_DIMENSION_VALUES = 4


def stable_rng(*parts):
    """A random.Random seeded from the parts, identical across processes and runs."""
    return random.Random(":".join(str(p) for p in parts))


def decimal_string(rng, low, high, places):
    """A plain decimal string such as Index Exchange writes money and rates."""
    value = rng.uniform(low, high)
    return f"{value:.{places}f}"


MAX_PUBLISHERS = 5000      # the scale the several-hosts benchmark and the README's paper figures reach


class World:
    """The fixed part of a simulated Index Exchange: accounts, keys and mappings."""

    def __init__(self, seed=1, publishers=4, username="sandbox@example.com",
                 password="sandbox-password"):
        if not 1 <= publishers <= MAX_PUBLISHERS:
            raise ValueError(f"publishers must be between 1 and {MAX_PUBLISHERS}, got {publishers}")
        self.seed = seed
        self.username = username
        self.password = password
        rng = stable_rng(seed, "world")
        first = 180000 + rng.randrange(100) * 10
        self.publisher_ids = [first + 7 * i for i in range(publishers)]
        self.publisher_names = {
            pid: PUBLISHER_NAMES[i % len(PUBLISHER_NAMES)] + ("" if i < len(PUBLISHER_NAMES) else f" {i}")
            for i, pid in enumerate(self.publisher_ids)
        }
        # An account that exists on the exchange but that the sandbox user may not see:
        # objects of it answer 403.
        self.hidden_publisher_id = 999001
        self.api_keys = {pid: self._api_key(pid) for pid in self.publisher_ids}
        self.partners = [{"partner_id": 2001 + i, "partner_name": name} for i, name in enumerate(PARTNER_NAMES)]
        self.dsps = [{"dsp_id": 31 + i, "dsp_name": name} for i, name in enumerate(DSP_NAMES)]
        self.buyers = [
            {"dsp_id": d["dsp_id"], "trading_desk_id": d["dsp_id"] * 100 + k,
             "buyer_name": f"{d['dsp_name']} desk {k}"}
            for d in self.dsps for k in (1, 2)
        ]
        self.sites = {}
        self.campaigns = {}
        self.deals = {}
        creative_id = 7000001
        for index, pid in enumerate(self.publisher_ids):
            prng = stable_rng(seed, "publisher", pid)
            names = prng.sample(SITE_NAMES, 5)
            self.sites[pid] = [
                {"site_id": 500000 + index * 100 + k, "site_name": name,
                 "domain": f"www.{_slug(name)}.example"}
                for k, name in enumerate(names)
            ]
            campaigns = []
            for b, brand in enumerate(prng.sample(BRAND_NAMES, 3)):
                brand_id = 9100 + BRAND_NAMES.index(brand)
                for c in range(prng.randint(1, 2)):
                    creatives = []
                    for _ in range(prng.randint(1, 3)):
                        creatives.append({"creative_id": creative_id,
                                          "creative_name": f"{brand} {prng.choice(SIZES)} v{creative_id % 7}"})
                        creative_id += 1
                    campaigns.append({
                        "brand_id": brand_id, "brand_name": brand,
                        "campaign_id": 880000 + index * 100 + b * 10 + c,
                        "campaign_name": f"{brand} {['Spring', 'Autumn'][c]} Campaign, {pid}",
                        "creatives": creatives,
                    })
            self.campaigns[pid] = campaigns
            deals = []
            for k in range(4):
                start = dt.date(2026, 1, 1) + dt.timedelta(days=prng.randrange(200))
                deals.append({
                    "deal_id": f"IX-{pid}-{k:03d}", "internal_deal_id": 660000 + index * 100 + k,
                    "deal_name": f"{self.publisher_names[pid]} premium deal {k}",
                    "dsp_id": prng.choice(self.dsps)["dsp_id"], "deal_type": k % 2,
                    "auction_type": ["first", "second", "fixed"][k % 3],
                    "rate": round(prng.uniform(0.5, 25.0), 2),
                    "section_id": sorted(prng.sample(range(100, 200), prng.randint(1, 3))),
                    "status": ["A", "A", "D", "N"][k],
                    "start_date": start.isoformat(),
                    "end_date": (start + dt.timedelta(days=180)).isoformat(),
                    "priority": prng.randint(1, 10),
                })
            self.deals[pid] = deals

    def _api_key(self, publisher_id):
        secret = hashlib.sha256(f"{self.seed}:cal-secret:{publisher_id}".encode()).hexdigest()[:32]
        return base64.b64encode(f"sim-client-{publisher_id}:{secret}".encode()).decode()

    def publisher_for_api_key(self, api_key):
        for pid, key in self.api_keys.items():
            if key == api_key:
                return pid
        return None

    def mapping(self, name, publisher_id):
        """The items of one CAL mapping as the API returns them."""
        if name == "buyers":
            return [dict(b) for b in self.buyers]
        if name == "dsps":
            return [dict(d) for d in self.dsps]
        if name == "partners":
            return [dict(p) for p in self.partners]
        if name == "sites":
            return [{"site_id": s["site_id"], "site_name": s["site_name"]} for s in self.sites[publisher_id]]
        if name == "deals":
            return [dict(d, section_id=list(d["section_id"])) for d in self.deals[publisher_id]]
        if name == "campaigns":
            return [dict(c, creatives=[dict(x) for x in c["creatives"]]) for c in self.campaigns[publisher_id]]
        raise KeyError(name)

    def exchange_rates(self, date, currency=None):
        """Deterministic USD-based rates for one date."""
        rows = []
        for code, base_rate in CURRENCIES.items():
            if currency and code != currency:
                continue
            rng = stable_rng(self.seed, "fx", code, date.isoformat())
            rows.append({"base": "USD", "currency": code, "date": date.isoformat(),
                         "rate": round(base_rate * rng.uniform(0.98, 1.02), 6)})
        return rows

    def template_specs(self):
        """Report specs that the sandbox user 'defined in the GUI' before the suite ran."""
        fields = ["day", "site_id", "site_name", "domain", "impressions", "ad_spend",
                  "publisher_payment", "ecpm"]
        first = self.publisher_ids[0]
        specs = []
        for title, date_range in [
            ("Generic Revenue Report", {"previous": {"days": 1}}),
            ("Generic Revenue Report for today only", {"current": "day"}),
            ("Generic Revenue Report Last 7 days", {"previous": {"days": 7}}),
        ]:
            specs.append({"reportTitle": title, "accounts": [first], "fileType": "csv",
                          "regionSetting": "standard",
                          "querySpec": {"fields": list(fields), "filters": []},
                          "dateRange": date_range})
        specs.append({"reportTitle": "Hidden account report", "accounts": [self.hidden_publisher_id],
                      "fileType": "csv", "regionSetting": "standard",
                      "querySpec": {"fields": ["day", "impressions"], "filters": []},
                      "dateRange": {"previous": {"days": 1}}})
        return specs


def _slug(name):
    ascii_only = name.encode("ascii", "ignore").decode().lower()
    return "".join(ch if ch.isalnum() else "-" for ch in ascii_only).strip("-").replace("--", "-") or "site"


# ---------------------------------------------------------------------------------------
# Report files

def resolve_date_range(date_range, today):
    """The [from, to) dates of a spec's dateRange; `to` is exclusive as in the API."""
    if "from" in date_range:
        return dt.date.fromisoformat(date_range["from"]), dt.date.fromisoformat(date_range["to"])
    if "current" in date_range:
        if date_range["current"] == "day":
            return today, today + dt.timedelta(days=1)
        return today.replace(day=1), today + dt.timedelta(days=1)
    previous = date_range["previous"]
    days = previous["days"] if "days" in previous else 7 * previous["weeks"]
    return today - dt.timedelta(days=days), today


_METRIC_INT_HINTS = ("impressions", "request", "count", "clicks", "views", "bids")
_METRIC_DECIMAL_HINTS = ("revenue", "spend", "payment", "cost", "ecpm", "cpm", "rate", "price", "amount")


class _Dimension:
    """One group of report fields that vary together (site_id, site_name and domain)."""

    def __init__(self, fields, values):
        self.fields = fields      # names in this group that the report asked for
        self.values = values      # list of dicts: field -> value


def _dimension_groups(fields, world, account):
    """Split the requested non-time, non-metric fields into groups of related fields."""
    wanted = set(fields)
    groups = []
    sites = world.sites.get(account) or world.sites[world.publisher_ids[0]]

    def group(names, values):
        present = [n for n in names if n in wanted]
        if present:
            groups.append(_Dimension(present, values))
            wanted.difference_update(present)

    group(["site_id", "site_name", "domain"], sites)
    group(["partner_id", "partner_name"], world.partners)
    group(["dsp_name"], world.dsps)
    deals = world.deals.get(account) or []
    group(["deal_id", "deal_name"], [{"deal_id": d["deal_id"], "deal_name": d["deal_name"]} for d in deals]
          + [{"deal_id": "omitted", "deal_name": "omitted"}])
    group(["size"], [{"size": s} for s in SIZES])
    group(["creative_type"], [{"creative_type": c} for c in CREATIVE_TYPES])
    group(["country"], [{"country": c} for c in COUNTRIES])
    group(["device_type"], [{"device_type": d} for d in DEVICE_TYPES])
    for name in fields:
        if name in wanted and not _is_metric(name) and name not in ("day", "hour", "month"):
            if name.endswith("_id"):
                values = [{name: 100 + k} for k in range(UNKNOWN_DIMENSION_VALUES)]
            else:
                values = [{name: f"{name.replace('_', ' ')} {k}"} for k in range(UNKNOWN_DIMENSION_VALUES)]
            group([name], values)
    return groups


def _is_metric(name):
    return any(h in name for h in _METRIC_INT_HINTS + _METRIC_DECIMAL_HINTS)


def _metric_value(name, rng):
    if name == "ecpm":
        return decimal_string(rng, 0.2, 9.0, rng.choice([4, 12, 26]))
    if any(h in name for h in _METRIC_DECIMAL_HINTS):
        return decimal_string(rng, 0.0, 2500.0, rng.choice([2, 6, 14, 26]))
    return str(rng.randint(0, 250000))


def _periods(fields, start, end):
    """The time buckets of a report: one per hour, day or month asked for, else one."""
    if "hour" in fields:
        day = start
        while day < end:
            for h in range(24):
                yield {"hour": f"{day.isoformat()} {h:02d}:00:00", "day": f"{day.isoformat()} 00:00:00",
                       "month": f"{day.replace(day=1).isoformat()} 00:00:00"}
            day += dt.timedelta(days=1)
    elif "day" in fields:
        day = start
        while day < end:
            yield {"day": f"{day.isoformat()} 00:00:00", "month": f"{day.replace(day=1).isoformat()} 00:00:00"}
            day += dt.timedelta(days=1)
    elif "month" in fields:
        month = start.replace(day=1)
        while month < end:
            yield {"month": f"{month.isoformat()} 00:00:00"}
            month = (month + dt.timedelta(days=32)).replace(day=1)
    elif start < end:
        yield {}


def report_rows(world, spec, today, rows_per_period, restatement=0):
    """Yield the data rows (lists of strings) of a report run of `spec`.

    Within one time bucket every row has a distinct combination of dimension values, so
    the rows of a report can be keyed by (time, dimensions) without collisions.

    With `restatement` N > 0, the days before `today` are as Index Exchange restates them
    the N-th time (invalid traffic taken out, late arrivals counted): other values, the
    first combination of each period gone (a site whose traffic was all removed) and one
    combination more (a row added). Today's rows are as first published.
    """
    fields = spec["querySpec"]["fields"]
    account = spec["accounts"][0]
    start, end = resolve_date_range(spec["dateRange"], today)
    # Days after today have no data yet: a report of the future is the header alone.
    end = min(end, today + dt.timedelta(days=1))
    groups = _dimension_groups(fields, world, account)
    combinations = math.prod(len(g.values) for g in groups)
    per_period = min(rows_per_period, combinations)
    # Walk the combinations with a stride coprime to their count: a permutation, so rows
    # stay distinct, and consecutive rows differ in every dimension.
    stride = 7919
    while math.gcd(stride, combinations) != 1:
        stride += 2
    for period in _periods(fields, start, end):
        when = period.get("hour") or period.get("day") or period.get("month") or f"{start}/{end}"
        restated = restatement and str(when)[:10] < today.isoformat()
        rng = stable_rng(world.seed, "report", account, ",".join(fields), when, *(["restated", restatement]
                                                                                  if restated else []))
        chosen = range(per_period)
        if restated and combinations > 1:
            chosen = range(1, min(per_period + 1, combinations))
        for i in chosen:
            combination = (i * stride) % combinations
            values = dict(period)
            for g in groups:
                combination, index = divmod(combination, len(g.values))
                values.update(g.values[index])
            row = []
            for name in fields:
                if name in values:
                    row.append(str(values[name]))
                elif name in ("day", "hour", "month"):
                    row.append(f"{start.isoformat()} 00:00:00")
                else:
                    row.append(_metric_value(name, rng))
            yield row


def report_csv_bytes(world, spec, today, rows_per_period, restatement=0):
    """The whole report file as UTF-8 CSV bytes (header, rows, `\\n` line ends)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(spec["querySpec"]["fields"])
    for row in report_rows(world, spec, today, rows_per_period, restatement):
        writer.writerow(row)
    return out.getvalue().encode("utf-8")


def pack_report(csv_bytes, file_type, inner_name):
    """Wrap CSV bytes as the spec's fileType says: csv, csv.gz or csv.zip."""
    if file_type == "csv":
        return csv_bytes
    if file_type == "csv.gz":
        return gzip.compress(csv_bytes, mtime=0)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        info = zipfile.ZipInfo(inner_name, date_time=(2026, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        archive.writestr(info, csv_bytes)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------
# CAL log files

MASKED = "XXXX"


def cal_rows(world, publisher_id, kind, hour, file_id, version, rows_per_file, late_rows,
             extra_columns=()):
    """Rows (lists of strings) of one CAL file at one version.

    Version 0 is the file as first published; each later version appends `late_rows`
    rows of late data, so an `updated` file holds everything the earlier one did.
    Bid files hold several bids (rows) per auction.
    """
    for chunk in range(version + 1):
        rng = stable_rng(world.seed, "cal", file_id, chunk)
        auctions = rows_per_file if chunk == 0 else late_rows
        for _ in range(auctions):
            base = _cal_auction(world, publisher_id, kind, hour, rng)
            bids = rng.randint(1, 5) if kind == "bid" else 1
            dsps = rng.sample(world.buyers, bids)
            for b, buyer in enumerate(dsps):
                row = dict(base)
                row["dsp_id"] = str(buyer["dsp_id"])
                row["trading_desk_id"] = str(buyer["trading_desk_id"])
                if kind == "bid":
                    row["event_opportunity"] = "won" if b == 0 else "lost"
                    row["gross_revenue"] = decimal_string(rng, 0.0001, 0.02, 5)
                    row["net_revenue"] = decimal_string(rng, 0.0001, 0.015, 5)
                for extra in extra_columns:
                    row[extra] = f"{extra}-{rng.randint(1, 9)}"
                yield [row[c] for c in CAL_IMPRESSION_COLUMNS] + [row[e] for e in extra_columns]


def _cal_auction(world, publisher_id, kind, hour, rng):
    site = rng.choice(world.sites[publisher_id])
    campaign = rng.choice(world.campaigns[publisher_id])
    creative = rng.choice(campaign["creatives"])
    with_deal = rng.random() < 0.3
    deal = rng.choice(world.deals[publisher_id]) if with_deal else None
    stamp = hour + dt.timedelta(seconds=rng.randrange(3600))
    row = {
        "auction_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "timestamp": stamp.strftime("%Y-%m-%d %H:%M:%S"),
        "country": rng.choice(COUNTRIES),
        "state": rng.choice(["AB", "ON", "CA", "NY", "Stockholm", "Skåne", ""]),
        "dma": str(rng.randint(500, 881)),
        "zip_postal": rng.choice(["11122", "41103", "10001", "M5V", "211 45"]),
        "device_type": rng.choice(DEVICE_TYPES),
        "operating_system": rng.choice(["Windows", "iOS", "Android", "macOS", "Linux"]),
        "browser": rng.choice(["Chrome", "Safari", "Firefox", "Edge"]),
        "partner_id": str(rng.choice(world.partners)["partner_id"]),
        "site_id": str(site["site_id"]),
        "creative_type": rng.choice(CREATIVE_TYPES),
        "domain": site["domain"],
        "app_bundle": rng.choice(["", "", "com.example.news", "se.example.weather"]),
        "inventory_channel": rng.choice(["web", "app", "ctv"]),
        "supply_source": rng.choice(["direct", "reseller"]),
        "slot_id": str(rng.randint(1, 40)),
        "size": rng.choice(SIZES),
        "event_type": "impression" if kind == "impression" else "bid",
        "event_opportunity": "served",
        "gross_revenue": decimal_string(rng, 0.0001, 0.02, 5),
        "net_revenue": decimal_string(rng, 0.0001, 0.015, 5),
        "dsp_id": "", "trading_desk_id": "",
        "campaign_id": str(campaign["campaign_id"]), "campaign_name": campaign["campaign_name"],
        "brand_id": str(campaign["brand_id"]), "brand_name": campaign["brand_name"],
        "creative_id": str(creative["creative_id"]), "creative_name": creative["creative_name"],
        "deal_id": deal["deal_id"] if deal else "",
        "internal_deal_id": str(deal["internal_deal_id"]) if deal else "0",
        "cookie_match_status": rng.choice(["matched", "unmatched"]),
        "a_domain": f"{_slug(campaign['brand_name'])}.example",
        "pub_rev_share": "0.80000",
        "billing_term_id": str(rng.randint(1, 3)),
        "p_ids": rng.choice(["", "1", "1,4", "2,3,7"]),
        "discount_amount": decimal_string(rng, 0, 0.001, 5),
        "video_placement_type": rng.choice(["", "", "instream", "outstream"]),
    }
    # Index Exchange masks some values for privacy: -1 for ids, XXXX for text. A masked
    # dma is the case that puts a non-integer into an integer column.
    if rng.random() < 0.08:
        row["dma"] = MASKED
        row["zip_postal"] = MASKED
    if rng.random() < 0.05:
        row["a_domain"] = MASKED
        row["campaign_id"] = "-1"
        row["campaign_name"] = MASKED
    return row


def cal_file_bytes(world, publisher_id, kind, hour, file_id, version, rows_per_file, late_rows,
                   extra_columns=()):
    """One CAL file: gzip of a CSV with header, as served. mtime=0 keeps the md5 stable."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CAL_IMPRESSION_COLUMNS + list(extra_columns))
    for row in cal_rows(world, publisher_id, kind, hour, file_id, version, rows_per_file, late_rows,
                        extra_columns):
        writer.writerow(row)
    return gzip.compress(out.getvalue().encode("utf-8"), mtime=0)
