"""A bare HTTP helper for the simulator's own tests: raw requests, no retries, no suite
code, so that these tests check the simulator and nothing else."""

import requests

REPORTING = "/api/reporting/agg/v1"
CAL = "/api/cal/v1"
CAL_TOKEN = "/auth/realms/eventlog/protocol/openid-connect/token"


class RawClient:
    def __init__(self, sim):
        self.sim = sim
        self.base = sim.base_url
        self.session = requests.Session()
        self.token = None

    def login(self, username=None, password=None):
        world = self.sim.world
        response = self.session.post(self.base + "/api/authentication/v1/login", json={
            "username": username or world.username, "password": password or world.password}, timeout=10)
        if response.status_code == 200:
            self.auth = response.json()["loginResponse"]["authResponse"]
            self.token = self.auth["access_token"]
        return response

    def call(self, method, path, token=None, **kwargs):
        headers = kwargs.pop("headers", {})
        if token is None:
            token = self.token
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return self.session.request(method, self.base + path, headers=headers, timeout=10, **kwargs)

    def template(self, spec_id=1965885):
        return self.call("GET", f"{REPORTING}/report-specs/json/{spec_id}").json()["reportDefinition"]

    def create_spec(self, spec):
        return self.call("POST", f"{REPORTING}/report-specs", json=spec)

    def run(self, spec_id):
        return self.call("POST", f"{REPORTING}/report-runs", json={"reportID": spec_id})

    def files(self, **params):
        return self.call("GET", f"{REPORTING}/report-files/list", params=params)

    def download(self, file_id):
        return self.call("GET", f"{REPORTING}/report-files/download/{file_id}")

    def cal_token(self, publisher_id=None, api_key=None):
        key = api_key if api_key is not None else self.sim.world.api_keys[publisher_id]
        response = self.session.post(self.base + CAL_TOKEN, headers={"Authorization": f"Basic {key}"},
                                     data={"grant_type": "client_credentials"}, timeout=10)
        if response.status_code == 200:
            self.token = response.json()["access_token"]
        return response


def spec_for(client, account, title="Test report", **changes):
    """A valid spec for `account`, from the first template, with changes applied."""
    spec = client.template()
    spec.update(accounts=[account], reportTitle=title)
    spec.update(changes)
    return spec
