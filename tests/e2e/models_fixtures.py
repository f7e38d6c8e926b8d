"""Issue-3 helpers: a config declaring a few models, servers started with it,
the actors every ACL test needs (anonymous, two users, an admin), and
assertions on the model API's bodies.

Test modules import what they use, e.g.
    from models_fixtures import mserver, actors, MODELS, ...
(pytest picks up fixtures imported into a test module).
"""

import json
from urllib.parse import quote

import pytest

from conftest import Server, assert_error, assert_validation, uniq_email

ALLOW_AUTH = {"principalType": "ROLE", "principalId": "$authenticated", "permission": "ALLOW"}

# Widget exactly as in issue 3.
WIDGET = {
    "plural": "widgets",
    "properties": {"name": {"type": "string", "required": True},
                   "price": {"type": "number", "index": True},
                   "tags": {"type": "array"},
                   "ownerId": {"type": "number"}},
    "relations": {"owner": {"type": "belongsTo", "model": "User", "foreignKey": "ownerId"}},
    "acls": [
        {"principalType": "ROLE", "principalId": "$everyone", "permission": "DENY"},
        {"principalType": "ROLE", "principalId": "$authenticated", "accessType": "READ", "permission": "ALLOW"},
        {"principalType": "ROLE", "principalId": "$authenticated", "property": "create", "permission": "ALLOW"},
        {"principalType": "ROLE", "principalId": "$owner", "accessType": "WRITE", "permission": "ALLOW"},
    ],
}

MODELS = {
    "Widget": WIDGET,
    # hasMany / belongsTo between two declared models; any signed-in user may do anything
    "Gadget": {
        "properties": {"name": {"type": "string", "required": True}, "color": "string"},
        "relations": {"parts": {"type": "hasMany", "model": "Part", "foreignKey": "gadgetId"}},
        "acls": [ALLOW_AUTH],
    },
    "Part": {
        "properties": {"name": {"type": "string", "required": True}, "qty": "number",
                       "gadgetId": {"type": "number", "index": True}},
        "relations": {"gadget": {"type": "belongsTo", "model": "Gadget", "foreignKey": "gadgetId"}},
        "acls": [ALLOW_AUTH],
    },
    # a hasMany whose target is owned by a user: relation creates fill the owner key
    "Board": {
        "properties": {"name": {"type": "string", "required": True}},
        "relations": {"pins": {"type": "hasMany", "model": "Pin", "foreignKey": "boardId"}},
        "acls": [ALLOW_AUTH],
    },
    "Pin": {
        "properties": {"text": "string", "boardId": "number", "ownerId": "number"},
        "relations": {"board": {"type": "belongsTo", "model": "Board", "foreignKey": "boardId"},
                      "owner": {"type": "belongsTo", "model": "User", "foreignKey": "ownerId"}},
        "acls": [ALLOW_AUTH],
    },
    # public reads: anonymous callers may read, signed-in ones may create
    "Note": {
        "plural": "notes",
        "properties": {"title": {"type": "string", "required": True}, "body": "string"},
        "acls": [
            {"principalType": "ROLE", "principalId": "$everyone", "accessType": "READ", "permission": "ALLOW"},
            {"principalType": "ROLE", "principalId": "$authenticated", "property": "create", "permission": "ALLOW"},
        ],
    },
    # every type, unique, default, date; fully public (filter and injection tests)
    "Thing": {
        "plural": "things",
        "properties": {
            "name": {"type": "string", "required": True},
            "price": {"type": "number", "index": True},
            "qty": {"type": "number"},
            "active": {"type": "boolean"},
            "tags": {"type": "array"},
            "meta": {"type": "object"},
            "made": {"type": "date"},
            "code": {"type": "string", "unique": True},
            "status": {"type": "string", "default": "new"},
            "extra": {"type": "any"},
        },
        "acls": [{"principalType": "ROLE", "principalId": "$everyone", "permission": "ALLOW"}],
    },
    # no rules at all: the configured default decides
    "Secret": {"properties": {"label": "string"}},
    # no rules: for dynamic ACL tests
    "Memo": {"properties": {"text": "string"}},
    # custom roles: editors may do anything, auditors may read
    "Doc": {
        "properties": {"title": "string"},
        "acls": [
            {"principalType": "ROLE", "principalId": "editor", "permission": "ALLOW"},
            {"principalType": "ROLE", "principalId": "auditor", "accessType": "READ", "permission": "ALLOW"},
        ],
    },
}

MODELS_CONFIG = {"models": MODELS}


def jq(obj):
    """Compact JSON for a query-string value."""
    return json.dumps(obj, separators=(",", ":"))


def fparams(filter_obj, name="filter"):
    return {name: jq(filter_obj)}


def bracket(obj, prefix="filter"):
    """The bracket (qs) form of a filter: a list of (key, value) pairs.
    Lists become [0],[1]...; booleans "true"/"false"; numbers str()."""
    out = []

    def walk(v, key):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{key}[{k}]")
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{key}[{i}]")
        elif isinstance(v, bool):
            out.append((key, "true" if v else "false"))
        elif v is None:
            raise ValueError("no null in the bracket form")
        else:
            out.append((key, str(v)))

    walk(obj, prefix)
    return out


def qs(pairs):
    """A query string from (key, value) pairs, brackets left readable."""
    return "&".join(f"{quote(k, safe='[]')}={quote(str(v), safe='')}" for k, v in pairs)


def assert_model_validation(r, model, expected):
    """422 ValidationError for `model`. expected: {field: code or None (any code)}."""
    return assert_validation(r, expected, model=model)


def assert_bad_filter(r, *names):
    """400 INVALID_FILTER whose message names each of `names` (case-blind)."""
    err = assert_error(r, 400, "INVALID_FILTER")
    for n in names:
        assert n.lower() in err["message"].lower(), f"{n!r} not in message {err['message']!r}"
    return err


def assert_denied(r, anonymous=False, status=401):
    if anonymous or status == 401:
        return assert_error(r, 401, "AUTHORIZATION_REQUIRED")
    return assert_error(r, 403, "ACCESS_DENIED")


def ok(r, status=200):
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text[:800]}"
    if status != 204 and r.request.method != "HEAD":
        assert r.headers.get("Content-Type", "").startswith("application/json"), dict(r.headers)
        return r.json()
    return None


def make_admin(srv, prefix="admin"):
    a = srv.add_user(email=uniq_email(prefix), password="admin-pw", roles=["admin"])
    a["token"] = srv.token_for(a)
    return a


class Actors:
    """anon (token None), alice (owner), bob (another user), admin."""

    def __init__(self, srv):
        self.anon = None
        self.alice = srv.new_user_token()
        self.bob = srv.new_user_token()
        self.admin = make_admin(srv)

    def token(self, who):
        return None if who == "anon" else getattr(self, who)["token"]


def start_models_server(tmp_path_factory, extra=None):
    cfg = json.loads(json.dumps(MODELS_CONFIG))
    if extra:
        from conftest import deep_merge
        cfg = deep_merge(cfg, extra)
    return Server(tmp_path_factory.mktemp("msrv"), cfg).start()


@pytest.fixture(scope="module")
def mserver(tmp_path_factory):
    """One server per test module, declaring MODELS."""
    srv = start_models_server(tmp_path_factory)
    yield srv
    srv.stop()
    srv.drop_database()


@pytest.fixture(scope="module")
def actors(mserver):
    return Actors(mserver)
