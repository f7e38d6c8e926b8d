"""Applications (issue 13) for the e2e tests: one made through the API by an
admin, and the HTTP Basic header of its client credentials."""

import base64

from conftest import note_secret, uniq


def make_app(srv, admin, **body):
    """POST /api/applications as admin; the secret (shown once) is noted so
    the end-of-run log check looks for it."""
    body.setdefault("name", uniq("app"))
    r = srv.post("/api/applications", token=admin["token"], json=body)
    assert r.status_code == 200, r.text
    a = r.json()
    note_secret(a["clientSecret"])
    return a


def basic_auth(client_id, secret):
    """Headers carrying client credentials by HTTP Basic (RFC 6749 §2.3.1)."""
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def client_auth(app, secret=None):
    """basic_auth of an application as make_app or the CLI printed it."""
    return basic_auth(app["clientId"], secret or app["clientSecret"])
