"""Index Exchange CAL (client audit log) endpoints, one function each (docs/ix-api.md §3).

`session` is an authenticationSupport.AuthorizedSession on the API host with a CalTokens
source (the token itself comes from authenticationAPI.cal_token).
"""

from errors import ApiError, ForeignDownloadURLError
from httpclient import json_answer, same_origin

CAL = "/api/cal/v1"
MAPPINGS = ("buyers", "dsps", "partners", "campaigns", "deals", "sites")


def _available(endpoint, response):
    data = json_answer(endpoint, response)
    entries = data.get("availableDownloads") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ApiError(endpoint, response.status_code, "answer has no availableDownloads list")
    return [e for e in entries if isinstance(e, dict)]


def list_impression_files(session):
    endpoint = "list CAL impression files"
    return _available(endpoint, session.request("GET", f"{CAL}/downloads", endpoint))


def list_bid_files(session):
    """Bid-event entries; each may carry `parts`, each part its own file."""
    endpoint = "list CAL bid files"
    return _available(endpoint, session.request("GET", f"{CAL}/downloads/bidevents", endpoint))


def download_file(session, url, fileobj):
    """The raw gzip bytes of a log file into `fileobj`; only from the configured API host."""
    if not same_origin(url, session.base_url):
        raise ForeignDownloadURLError(f"downloadURL {url} is not on {session.base_url}; not followed")
    return session.download(url, f"download CAL file {url.rstrip('/').rsplit('/', 1)[-1]}", fileobj)


def get_mapping(session, name):
    if name not in MAPPINGS:
        raise ValueError(f"unknown CAL mapping {name!r}")
    endpoint = f"get CAL mapping {name}"
    data = json_answer(endpoint, session.request("GET", f"{CAL}/mappings/{name}", endpoint))
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ApiError(endpoint, 200, "answer has no data list")
    return [item for item in items if isinstance(item, dict)]


def get_exchange_rates(session, date=None, currency=None):
    endpoint = "get CAL exchange rates"
    params = {k: v for k, v in (("date", date), ("currency", currency)) if v}
    data = json_answer(endpoint, session.request("GET", f"{CAL}/exchange-rates", endpoint, params=params or None))
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise ApiError(endpoint, 200, "answer has no data list")
    return [item for item in items if isinstance(item, dict)]
