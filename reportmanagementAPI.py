"""Index Exchange report specs, one function per endpoint (docs/ix-api.md §2).

`session` is an authenticationSupport.AuthorizedSession on the reporting API. Each
function returns parsed data or raises the typed errors of errors.py.
"""

from errors import ApiError
from httpclient import json_answer

BASE = "/api/reporting/agg/v1/report-specs"


def _spec_id(endpoint, response, data):
    value = data.get("reportSpecID") if isinstance(data, dict) else None
    if type(value) is not int:
        raise ApiError(endpoint, response.status_code, f"answer has no integer reportSpecID: {str(data)[:200]}")
    return value


def create_spec(session, spec):
    """Create a report spec; returns its reportSpecID."""
    endpoint = "create report spec"
    response = session.request("POST", BASE, endpoint, json=spec)
    return _spec_id(endpoint, response, json_answer(endpoint, response))


def update_spec(session, spec_id, spec):
    """Replace a spec's whole content; returns its reportSpecID."""
    endpoint = f"update report spec {spec_id}"
    response = session.request("PATCH", f"{BASE}/{int(spec_id)}", endpoint, json=spec)
    return _spec_id(endpoint, response, json_answer(endpoint, response))


def get_spec(session, spec_id):
    """The spec (its reportDefinition) of an active report."""
    endpoint = f"get report spec {spec_id}"
    data = json_answer(endpoint, session.request("GET", f"{BASE}/json/{int(spec_id)}", endpoint))
    if not isinstance(data, dict) or not isinstance(data.get("reportDefinition"), dict):
        raise ApiError(endpoint, 200, "answer has no reportDefinition")
    return data["reportDefinition"]


def list_active_specs(session, account_ids=None):
    """[{reportID, title, accounts, reportStatus}] of the active specs."""
    endpoint = "list active report specs"
    params = {"accountIDs": ",".join(str(int(a)) for a in account_ids)} if account_ids else None
    data = json_answer(endpoint, session.request("GET", f"{BASE}/info", endpoint, params=params))
    if not isinstance(data, list):
        raise ApiError(endpoint, 200, "answer is not a list")
    return [item for item in data if isinstance(item, dict) and type(item.get("reportID")) is int]


def deactivate_spec(session, spec_id):
    endpoint = f"deactivate report spec {spec_id}"
    session.request("PUT", f"{BASE}/{int(spec_id)}/deactivate", endpoint)
