"""Index Exchange authentication endpoints, one function each (docs/ix-api.md §1, §3).

Each builds the request, returns the parsed answer and raises the typed errors of
errors.py; none prints, exits or keeps state.
"""

from errors import ApiError
from httpclient import json_answer

LOGIN_PATH = "/api/authentication/v1/login"
REFRESH_PATH = "/api/authentication/v1/refresh"
CAL_TOKEN_PATH = "/auth/realms/eventlog/protocol/openid-connect/token"


def _token_fields(endpoint, data):
    """Check a token answer has what we rely on; return it."""
    if not isinstance(data, dict) or not isinstance(data.get("access_token"), str):
        raise ApiError(endpoint, 200, "answer has no access_token")
    try:
        data["expires_in"] = int(data.get("expires_in") or 3600)
    except (TypeError, ValueError):
        raise ApiError(endpoint, 200, f"expires_in is not a number: {data.get('expires_in')!r}") from None
    return data


def login(http, base_url, username, password):
    """{access_token, refresh_token, expires_in, token_type, ...} for a username and password."""
    endpoint = "reporting login"
    response = http.request("POST", base_url + LOGIN_PATH, endpoint,
                            json={"username": username, "password": password})
    data = json_answer(endpoint, response)
    try:
        auth = data["loginResponse"]["authResponse"]
    except (KeyError, TypeError):
        raise ApiError(endpoint, response.status_code, "answer has no loginResponse.authResponse") from None
    return _token_fields(endpoint, auth)


def refresh(http, base_url, refresh_token):
    """New tokens for a refresh token; the refresh token may rotate, so keep the new one."""
    endpoint = "reporting token refresh"
    response = http.request("POST", base_url + REFRESH_PATH, endpoint, json={"refreshToken": refresh_token})
    return _token_fields(endpoint, json_answer(endpoint, response))


def cal_token(http, identity_url, api_key):
    """{access_token, expires_in, ...} for a CAL API key (sent verbatim as HTTP Basic)."""
    endpoint = "CAL token"
    response = http.request("POST", identity_url + CAL_TOKEN_PATH, endpoint, basic=api_key,
                            data={"grant_type": "client_credentials"})
    return _token_fields(endpoint, json_answer(endpoint, response))
