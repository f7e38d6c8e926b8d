"""Issue 3: LoopBack's query language on a declared model — every where
operator in both query forms (JSON and bracket), order, limit, skip/offset,
fields; bad filters → 400 INVALID_FILTER; injection through every filter field
leaves the data intact."""

import pytest

from conftest import assert_error
from models_fixtures import (actors, assert_bad_filter, bracket, fparams, mserver, ok, qs)  # noqa: F401

# Thing is public ($everyone ALLOW *). The data set, loaded once per module.
ROWS = [
    {"name": "apple", "price": 10, "qty": 1, "active": True, "tags": ["red", "fruit"], "meta": {"k": 1},
     "made": "2024-01-01T00:00:00.000Z", "code": "A1"},
    {"name": "banana", "price": 20, "qty": 2, "active": False, "tags": ["yellow", "fruit"], "meta": {"k": 2},
     "made": "2024-02-01T00:00:00.000Z", "code": "B2"},
    {"name": "cherry", "price": 30, "qty": 3, "active": True, "tags": ["red"],
     "made": "2024-03-01T00:00:00.000Z", "code": "C3"},
    {"name": "Date", "price": 40, "qty": 4, "active": False, "tags": [],
     "made": "2024-04-01T00:00:00.000Z", "code": "D4"},
    {"name": "elderberry", "price": 50, "qty": 5, "active": True,
     "made": "2024-05-01T00:00:00.000Z", "code": "E5"},
    {"name": "fig", "price": None, "qty": 6, "active": False, "code": "F6"},
    {"name": "grape", "price": 60, "qty": 7, "active": True,
     "made": "2024-07-01T00:00:00.000Z", "code": "G7"},
]
ALL = [r["name"] for r in ROWS]


def but(*names):
    return [n for n in ALL if n not in names]


@pytest.fixture(scope="module")
def data(mserver):
    made = []
    for row in ROWS:
        made.append(ok(mserver.post("/api/things", json={k: v for k, v in row.items() if v is not None})))
    return made


def find(srv, flt=None, path="/api/things", **kw):
    params = fparams(flt) if flt is not None else None
    return ok(srv.get(path, params=params, **kw))


def find_br(srv, flt, path="/api/things", **kw):
    return ok(srv.get(path + "?" + qs(bracket(flt)), **kw))


def names(rows):
    return [r["name"] for r in rows]


def snapshot(srv):
    return find(srv, {"order": "id ASC"})


# --- where: every operator, both forms ----------------------------------------------------

WHERE_CASES = [
    ("eq-string", {"name": "apple"}, ["apple"]),
    ("eq-number", {"price": 30}, ["cherry"]),
    ("eq-boolean", {"active": True}, ["apple", "cherry", "elderberry", "grape"]),
    ("eq-boolean-false", {"active": False}, ["banana", "Date", "fig"]),
    ("eq-explicit", {"name": {"eq": "banana"}}, ["banana"]),
    ("eq-date", {"made": "2024-03-01T00:00:00.000Z"}, ["cherry"]),
    ("neq", {"name": {"neq": "apple"}}, but("apple")),
    ("gt", {"price": {"gt": 30}}, ["Date", "elderberry", "grape"]),
    ("gte", {"price": {"gte": 30}}, ["cherry", "Date", "elderberry", "grape"]),
    ("lt", {"price": {"lt": 30}}, ["apple", "banana"]),
    ("lte", {"price": {"lte": 30}}, ["apple", "banana", "cherry"]),
    ("gt-fraction", {"price": {"gt": 29.5}}, ["cherry", "Date", "elderberry", "grape"]),
    ("between", {"price": {"between": [20, 40]}}, ["banana", "cherry", "Date"]),
    ("between-date", {"made": {"between": ["2024-01-15T00:00:00.000Z", "2024-03-15T00:00:00.000Z"]}},
     ["banana", "cherry"]),
    ("gt-date", {"made": {"gt": "2024-02-15T00:00:00.000Z"}}, ["cherry", "Date", "elderberry", "grape"]),
    # filter dates are normalised as stored ones are
    ("eq-date-no-ms", {"made": "2024-03-01T00:00:00Z"}, ["cherry"]),
    ("eq-date-offset", {"made": "2024-03-01T02:00:00+02:00"}, ["cherry"]),
    ("gt-date-only", {"made": {"gt": "2024-02-15"}}, ["cherry", "Date", "elderberry", "grape"]),
    ("lte-date-no-ms", {"made": {"lte": "2024-02-01T00:00:00Z"}}, ["apple", "banana"]),
    ("inq", {"name": {"inq": ["apple", "cherry", "nope"]}}, ["apple", "cherry"]),
    ("inq-number", {"price": {"inq": [10, 50]}}, ["apple", "elderberry"]),
    ("nin", {"name": {"nin": ["apple", "cherry"]}}, but("apple", "cherry")),
    ("nin-number", {"qty": {"nin": [1, 2, 3]}}, ["Date", "elderberry", "fig", "grape"]),
    ("like-contains", {"name": {"like": "%err%"}}, ["cherry", "elderberry"]),
    ("like-prefix", {"name": {"like": "b%"}}, ["banana"]),
    ("like-underscore", {"name": {"like": "f_g"}}, ["fig"]),
    ("nlike", {"name": {"nlike": "%e"}}, ["banana", "cherry", "elderberry", "fig"]),
    ("ilike", {"name": {"ilike": "da%"}}, ["Date"]),
    ("ilike-upper", {"name": {"ilike": "%ERR%"}}, ["cherry", "elderberry"]),
    ("nilike", {"name": {"nilike": "%A%"}}, ["cherry", "elderberry", "fig"]),
    ("regexp", {"name": {"regexp": "^[ab]"}}, ["apple", "banana"]),
    ("regexp-middle", {"name": {"regexp": "rr"}}, ["cherry", "elderberry"]),
    ("regexp-icase", {"name": {"regexp": "/^d/i"}}, ["Date"]),
    ("regexp-case", {"name": {"regexp": "^d"}}, []),
    ("regexp-slashes", {"name": {"regexp": "/e$/"}}, ["apple", "Date", "grape"]),
    ("implicit-and", {"active": True, "price": {"gt": 15}}, ["cherry", "elderberry", "grape"]),
    ("and", {"and": [{"price": {"gte": 20}}, {"price": {"lte": 40}}]}, ["banana", "cherry", "Date"]),
    ("or", {"or": [{"name": "apple"}, {"price": {"gt": 45}}]}, ["apple", "elderberry", "grape"]),
    ("nested", {"or": [{"and": [{"active": False}, {"price": {"lt": 25}}]},
                       {"and": [{"active": True}, {"or": [{"name": "grape"}, {"price": 30}]}]}]},
     ["banana", "cherry", "grape"]),
    ("and-with-prop", {"qty": {"lt": 6}, "or": [{"name": {"like": "a%"}}, {"name": {"like": "e%"}}]},
     ["apple", "elderberry"]),
    ("deep-and-or", {"and": [{"or": [{"and": [{"or": [{"qty": 1}, {"qty": 7}]}]}]}]}, ["apple", "grape"]),
    ("none", {"name": "no-such-thing"}, []),
    ("empty-where", {}, ALL),
]


@pytest.mark.parametrize("where,expected", [c[1:] for c in WHERE_CASES], ids=[c[0] for c in WHERE_CASES])
def test_where_json_and_bracket(mserver, data, where, expected):
    flt = {"where": where, "order": "id ASC"}
    got = find(mserver, flt)
    assert names(got) == expected
    if where:
        assert find_br(mserver, flt) == got  # the bracket form gives the very same rows
    # count with where= (JSON and bracket)
    assert ok(mserver.get("/api/things/count", params=fparams(where, "where"))) == {"count": len(expected)}
    if where:
        assert ok(mserver.get("/api/things/count?" + qs(bracket(where, "where")))) == {"count": len(expected)}


def test_dates_with_offsets_are_converted_to_utc(mserver, data):
    """docs/models.md and docs/filters.md: a date with an offset is the same
    instant in UTC, stored and compared as such."""
    made = ok(mserver.post("/api/things", json={"name": "tz-probe", "made": "2024-08-01T10:00:00+02:00",
                                                "code": "TZ1"}))
    try:
        assert made["made"] == "2024-08-01T08:00:00.000Z", made
        for value in ("2024-08-01T08:00:00Z", "2024-08-01T03:00:00-05:00", "2024-08-01T10:00:00.000+02:00"):
            assert names(find(mserver, {"where": {"made": value}})) == ["tz-probe"], value
        assert names(find(mserver, {"where": {"made": {"gt": "2024-08-01T09:59:59+02:00"}}})) == ["tz-probe"]
        assert names(find(mserver, {"where": {"made": {"gt": "2024-08-01T10:00:00+02:00"}}})) == []
    finally:
        r = mserver.delete(f"/api/things/{made['id']}")
        assert r.status_code == 200, r.text


def test_where_null(mserver, data):
    assert names(find(mserver, {"where": {"price": None}})) == ["fig"]
    assert names(find(mserver, {"where": {"price": {"neq": None}}, "order": "id ASC"})) == but("fig")
    assert names(find(mserver, {"where": {"made": None}})) == ["fig"]


def test_like_is_case_sensitive(mserver, data):
    """like vs ilike: like keeps case (as LoopBack's SQL connectors document)."""
    assert names(find(mserver, {"where": {"name": {"like": "d%"}}})) == []
    assert names(find(mserver, {"where": {"name": {"like": "D%"}}})) == ["Date"]


def test_bracket_repeated_keys_make_a_list(mserver, data):
    r = ok(mserver.get("/api/things?filter[where][name][inq]=apple&filter[where][name][inq]=fig"
                       "&filter[order]=id%20ASC"))
    assert names(r) == ["apple", "fig"]


def test_bracket_coerces_numbers_and_booleans(mserver, data):
    r = ok(mserver.get("/api/things?filter[where][price][gt]=45&filter[where][active]=true&filter[order]=id%20ASC"))
    assert names(r) == ["elderberry", "grape"]
    r = ok(mserver.get("/api/things?filter[where][price]=30"))
    assert names(r) == ["cherry"]


def test_json_filter_numeric_strings_coerced(mserver, data):
    """A numeric string for a number property is coerced (LoopBack does)."""
    assert names(find(mserver, {"where": {"price": {"gt": "45"}}, "order": "id ASC"})) == ["elderberry", "grape"]


def test_where_on_id(mserver, data):
    ids = [t["id"] for t in data]
    assert names(find(mserver, {"where": {"id": ids[2]}})) == ["cherry"]
    assert names(find(mserver, {"where": {"id": {"inq": ids[:2]}}, "order": "id ASC"})) == ["apple", "banana"]


# --- order / limit / skip / offset ---------------------------------------------------------

PRICED = {"price": {"neq": None}}


@pytest.mark.parametrize("order,expected", [
    ("price ASC", ["apple", "banana", "cherry", "Date", "elderberry", "grape"]),
    ("price DESC", ["grape", "elderberry", "Date", "cherry", "banana", "apple"]),
    ("price", ["apple", "banana", "cherry", "Date", "elderberry", "grape"]),
    ("made DESC", ["grape", "elderberry", "Date", "cherry", "banana", "apple"]),
    (["active DESC", "price ASC"], ["apple", "cherry", "elderberry", "grape", "banana", "Date"]),
    (["active ASC", "qty DESC"], ["Date", "banana", "grape", "elderberry", "cherry", "apple"]),
    (["active DESC", "qty DESC"], ["grape", "elderberry", "cherry", "apple", "Date", "banana"]),
])
def test_order(mserver, data, order, expected):
    flt = {"where": PRICED, "order": order}
    assert names(find(mserver, flt)) == expected
    # bracket: filter[order]=... or filter[order][0]=...&filter[order][1]=...
    flt_br = {"where": {"price": {"gt": 0}}, "order": order}
    assert names(find_br(mserver, flt_br)) == expected


def test_order_comma_string(mserver, data):
    """LoopBack also takes "a DESC, b ASC" in one string."""
    r = mserver.get("/api/things", params=fparams({"where": PRICED, "order": "active DESC, price ASC"}))
    assert names(ok(r)) == ["apple", "cherry", "elderberry", "grape", "banana", "Date"]


@pytest.mark.parametrize("flt,expected", [
    ({"limit": 2}, ["apple", "banana"]),
    ({"limit": 2, "skip": 2}, ["cherry", "Date"]),
    ({"limit": 2, "offset": 2}, ["cherry", "Date"]),
    ({"skip": 4}, ["elderberry", "grape"]),
    ({"offset": 5}, ["grape"]),
    ({"skip": 6}, []),
    ({"skip": 100, "limit": 5}, []),
    ({"limit": 100}, ["apple", "banana", "cherry", "Date", "elderberry", "grape"]),
    ({"limit": 1, "skip": 0}, ["apple"]),
])
def test_limit_skip_offset(mserver, data, flt, expected):
    full = dict(flt, where={"price": {"gt": 0}}, order="price ASC")
    assert names(find(mserver, full)) == expected
    assert names(find_br(mserver, full)) == expected


def test_limit_with_order_desc_and_where_bracket(mserver, data):
    r = ok(mserver.get("/api/things?filter[where][price][gt]=20&filter[order]=price%20DESC&filter[limit]=2"))
    assert names(r) == ["grape", "elderberry"]


def test_find_one_follows_order_and_skip(mserver, data):
    r = ok(mserver.get("/api/things/findOne", params=fparams({"where": PRICED, "order": "price DESC", "skip": 1})))
    assert r["name"] == "elderberry"
    r = ok(mserver.get("/api/things/findOne?" + qs(bracket({"where": {"price": {"gt": 0}}, "order": "price ASC"}))))
    assert r["name"] == "apple"
    assert_error(mserver.get("/api/things/findOne", params=fparams({"where": {"name": "zzz"}})), 404,
                 "MODEL_NOT_FOUND")


# --- fields ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fields,keys", [
    ({"name": True, "price": True}, {"name", "price"}),
    ({"name": True}, {"name"}),
    ({"id": True, "name": True}, {"id", "name"}),
    (["name", "price"], {"name", "price"}),
    (["id"], {"id"}),
])
def test_fields_include_list(mserver, data, fields, keys):
    flt = {"where": {"name": "apple"}, "fields": fields}
    rows = find(mserver, flt)
    assert len(rows) == 1 and set(rows[0]) == keys
    for k in keys:
        assert rows[0][k] == (data[0][k])
    assert find_br(mserver, flt) == rows


def test_fields_exclude_list(mserver, data):
    flt = {"where": {"name": "apple"}, "fields": {"tags": False, "meta": False}}
    rows = find(mserver, flt)
    assert len(rows) == 1
    expected = {k: v for k, v in data[0].items() if k not in ("tags", "meta")}
    assert rows[0] == expected
    assert find_br(mserver, flt) == rows


def test_fields_exclude_id(mserver, data):
    rows = find(mserver, {"where": {"name": "apple"}, "fields": {"id": False}})
    assert rows == [{k: v for k, v in data[0].items() if k != "id"}]


def test_fields_with_order_on_excluded_property(mserver, data):
    rows = find(mserver, {"where": PRICED, "order": "price DESC", "fields": ["name"], "limit": 2})
    assert rows == [{"name": "grape"}, {"name": "elderberry"}]


def test_all_filter_parts_together(mserver, data):
    flt = {"where": {"or": [{"active": True}, {"qty": {"gte": 4}}]}, "order": ["qty DESC"], "limit": 3,
           "skip": 1, "fields": ["name", "qty"]}
    expected = [{"name": "fig", "qty": 6}, {"name": "elderberry", "qty": 5}, {"name": "Date", "qty": 4}]
    assert find(mserver, flt) == expected
    assert find_br(mserver, flt) == expected


# --- bad filters: 400 INVALID_FILTER naming the problem -----------------------------------------

BAD = [
    ("unknown-op", {"where": {"price": {"foo": 1}}}, ["foo"]),
    ("unknown-prop", {"where": {"nope": 1}}, ["nope"]),
    ("unknown-prop-in-or", {"where": {"or": [{"name": "a"}, {"nosuch": 1}]}}, ["nosuch"]),
    ("wrong-type-gt", {"where": {"price": {"gt": "abc"}}}, ["price"]),
    ("wrong-type-eq", {"where": {"price": "cheap"}}, ["price"]),
    ("wrong-type-bool", {"where": {"active": "maybe"}}, ["active"]),
    ("wrong-type-date", {"where": {"made": {"gt": "not a date"}}}, ["made"]),
    ("wrong-type-object", {"where": {"price": {"gt": {"a": 1}}}}, ["price"]),
    ("between-one", {"where": {"price": {"between": [1]}}}, ["between"]),
    ("between-three", {"where": {"price": {"between": [1, 2, 3]}}}, ["between"]),
    ("between-not-list", {"where": {"price": {"between": 5}}}, ["between"]),
    ("between-wrong-type", {"where": {"price": {"between": ["a", "b"]}}}, ["price"]),
    ("inq-not-list", {"where": {"qty": {"inq": 5}}}, ["inq"]),
    ("nin-not-list", {"where": {"qty": {"nin": {"a": 1}}}}, ["nin"]),
    ("inq-wrong-type", {"where": {"qty": {"inq": [1, "two"]}}}, ["qty"]),
    ("like-not-string", {"where": {"name": {"like": 5}}}, ["like"]),
    ("regexp-not-string", {"where": {"name": {"regexp": 5}}}, ["regexp"]),
    ("and-not-list", {"where": {"and": {"name": "a"}}}, ["and"]),
    ("or-not-list", {"where": {"or": "x"}}, ["or"]),
    ("where-not-object", {"where": [1, 2]}, ["where"]),
    ("order-unknown-prop", {"order": "nope DESC"}, ["nope"]),
    ("order-bad-direction", {"order": "price SIDEWAYS"}, ["SIDEWAYS"]),
    ("order-not-string", {"order": 5}, ["order"]),
    ("fields-unknown", {"fields": ["nope"]}, ["nope"]),
    ("fields-unknown-object", {"fields": {"nope": True}}, ["nope"]),
    ("include-unknown", {"include": "nope"}, ["nope"]),
    ("limit-too-big", {"limit": 10001}, ["limit"]),
    ("limit-negative", {"limit": -1}, ["limit"]),
    ("limit-not-number", {"limit": "ten"}, ["limit"]),
    ("limit-fraction", {"limit": 1.5}, ["limit"]),
    ("skip-negative", {"skip": -1}, ["skip"]),
    ("offset-negative", {"offset": -5}, ["offset"]),
    ("skip-not-number", {"skip": "x"}, ["skip"]),
    ("too-deep", {"where": {"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [{"and": [
        {"and": [{"and": [{"name": "a"}]}]}]}]}]}]}]}]}]}]}}, []),
    ("too-many-nodes", {"where": {"or": [{"qty": i} for i in range(300)]}}, []),
    ("inq-too-long", {"where": {"qty": {"inq": list(range(1001))}}}, []),
    ("regexp-invalid", {"where": {"name": {"regexp": "(unclosed"}}}, []),
]


@pytest.mark.parametrize("flt,mentions", [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_filter_400(mserver, data, flt, mentions):
    assert_bad_filter(mserver.get("/api/things", params=fparams(flt)), *mentions)


@pytest.mark.parametrize("raw", ['{"where":', "{where:{}}", "[1,2]", '"a string"', "nul", "{\"limit\":1}}"])
def test_unparseable_or_non_object_filter_400(mserver, data, raw):
    assert_bad_filter(mserver.get("/api/things", params={"filter": raw}))


def test_large_filter_within_limits(mserver, data):
    """A filter of some 20 kB (1000 values) is fine."""
    vals = [f"value-{i:05d}-padding" for i in range(999)] + ["apple"]
    assert names(find(mserver, {"where": {"name": {"inq": vals}}})) == ["apple"]


def test_huge_filter_refused_cleanly(mserver, data):
    """docs/api.md: a request line over the HTTP library's 32 KiB is 414."""
    r = mserver.get("/api/things", params=fparams({"where": {"name": {"like": "x" * 300_000}}}))
    assert r.status_code == 414, r.status_code
    assert "Request too big" in r.text
    assert names(snapshot(mserver)) == ALL  # and the server is fine


def test_bad_where_on_count_and_update(mserver, data):
    before = snapshot(mserver)
    assert_bad_filter(mserver.get("/api/things/count", params=fparams({"nope": 1}, "where")), "nope")
    assert_bad_filter(mserver.get("/api/things/count", params={"where": "{oops"}))
    assert_bad_filter(mserver.post("/api/things/update", params=fparams({"price": {"bad": 1}}, "where"),
                                   json={"status": "x"}), "bad")
    assert snapshot(mserver) == before


def test_bad_bracket_filter_400(mserver, data):
    assert_bad_filter(mserver.get("/api/things?filter[where][nope]=1"), "nope")
    assert_bad_filter(mserver.get("/api/things?filter[where][price][gt]=abc"), "price")
    assert_bad_filter(mserver.get("/api/things?filter[limit]=abc"), "limit")


def test_limits_are_inclusive(mserver, data):
    # exactly at the limits: accepted
    assert len(find(mserver, {"limit": 10000})) == len(ALL)
    assert len(find(mserver, {"where": {"qty": {"inq": list(range(1000))}}})) == len(ALL)
    depth8 = {"name": "apple"}
    for _ in range(7):
        depth8 = {"and": [depth8]}
    assert names(find(mserver, {"where": depth8})) == ["apple"]


def test_bad_filter_on_find_by_id_and_relation(mserver, data):
    assert_bad_filter(mserver.get(f"/api/things/{data[0]['id']}", params=fparams({"fields": ["nope"]})), "nope")


# --- injection: every filter field; the data stays intact ---------------------------------------

INJ_400 = [
    ("where-key", {"where": {"name' OR 1=1 --": "x"}}),
    ("where-key-paren", {"where": {"1=1) OR (1": 1}}),
    ("where-key-quote", {"where": {"\"name\"": "apple"}}),
    ("where-key-sql-fn", {"where": {"lower(name)": "apple"}}),
    ("where-op-key", {"where": {"price": {"gt) OR 1=1 --": 1}}}),
    ("where-number-value", {"where": {"price": "1 OR 1=1"}}),
    ("where-number-value-op", {"where": {"price": {"gt": "0) OR (1=1"}}}),
    ("where-bool-value", {"where": {"active": "1 OR 1"}}),
    ("where-and-string", {"where": {"and": "1=1"}}),
    ("order-drop", {"order": "name; DROP TABLE m_thing"}),
    ("order-subselect", {"order": "price DESC, (SELECT 1)"}),
    ("order-case", {"order": "(CASE WHEN 1 THEN name END)"}),
    ("order-list", {"order": ["name", "1; DELETE FROM m_thing"]}),
    ("order-limit", {"order": "name ASC LIMIT 1"}),
    ("order-number", {"order": "1"}),
    ("order-collate", {"order": "name COLLATE NOCASE"}),
    ("fields-key", {"fields": {"name FROM m_thing; --": True}}),
    ("fields-star", {"fields": ["*"]}),
    ("fields-select", {"fields": ["name", "(SELECT password FROM users)"]}),
    ("include-drop", {"include": "owner; DROP TABLE users"}),
    ("include-object", {"include": {"x') --": True}}),
    ("limit-stmt", {"limit": "1; DELETE FROM m_thing"}),
    ("limit-or", {"limit": "1 OR 1=1"}),
    ("skip-stmt", {"skip": "0; DELETE FROM m_thing"}),
    ("offset-union", {"offset": "0 UNION SELECT * FROM users"}),
]

INJ_EMPTY = [
    ("value-quote", {"where": {"name": "x' OR '1'='1"}}),
    ("value-drop", {"where": {"name": "'; DROP TABLE m_thing; --"}}),
    ("value-comment", {"where": {"name": "apple'--"}}),
    ("value-like", {"where": {"name": {"like": "x' OR 1=1 --"}}}),
    ("value-ilike", {"where": {"name": {"ilike": "x%' OR 'a'='a"}}}),
    ("value-inq", {"where": {"name": {"inq": ["a') OR 1=1 --", "b"]}}}),
    ("value-nin-all", {"where": {"and": [{"name": {"nin": ["') OR 1=1 --"]}}, {"name": "nobody"}]}}),
    ("value-date", {"where": {"code": "A1' OR code != '"}}),
    ("value-union", {"where": {"name": "x' UNION SELECT email,password FROM users --"}}),
    ("value-between", {"where": {"code": {"between": ["Z' OR '1'='1", "Z"]}}}),
]


@pytest.mark.parametrize("flt", [c[1] for c in INJ_400], ids=[c[0] for c in INJ_400])
def test_injection_rejected(mserver, data, flt):
    before = snapshot(mserver)
    assert_bad_filter(mserver.get("/api/things", params=fparams(flt)))
    # and the same through the bracket form where it can be written
    try:
        pairs = bracket(flt)
    except ValueError:
        pairs = None
    if pairs:
        assert_bad_filter(mserver.get("/api/things?" + qs(pairs)))
    assert snapshot(mserver) == before


@pytest.mark.parametrize("flt", [c[1] for c in INJ_EMPTY], ids=[c[0] for c in INJ_EMPTY])
def test_injection_in_values_is_data(mserver, data, flt):
    before = snapshot(mserver)
    r = mserver.get("/api/things", params=fparams(flt))
    assert ok(r) == []
    assert ok(mserver.get("/api/things/count", params=fparams(flt["where"], "where"))) == {"count": 0}
    assert snapshot(mserver) == before


def test_nul_in_a_filter_value_is_refused(mserver, data):
    """docs/filters.md: the filter is JSON, and \\u0000 is malformed JSON there too."""
    before = snapshot(mserver)
    r = mserver.get("/api/things", params=fparams({"where": {"name": "apple\u0000' OR 1=1"}}))
    assert_bad_filter(r)
    assert snapshot(mserver) == before


def test_injection_regexp(mserver, data):
    before = snapshot(mserver)
    # a valid pattern that matches no name
    r = mserver.get("/api/things", params=fparams({"where": {"name": {"regexp": "x' OR '1'='1"}}}))
    assert ok(r) == []
    # an unmatched ")" is not a JavaScript regular expression: refused, never SQL
    for pat in ("') OR 1=1 --", ".*'); DROP TABLE m_thing; --"):
        r = mserver.get("/api/things", params=fparams({"where": {"name": {"regexp": pat}}}))
        assert_bad_filter(r)
    assert snapshot(mserver) == before


def test_injection_through_update_all_where(mserver, data):
    before = snapshot(mserver)
    r = ok(mserver.post("/api/things/update", params=fparams({"name": "x' OR '1'='1"}, "where"),
                        json={"status": "pwned"}))
    assert r == {"count": 0}
    r = mserver.post("/api/things/update", params=fparams({"name' OR 1=1 --": "x"}, "where"),
                     json={"status": "pwned"})
    assert_bad_filter(r)
    r = mserver.post("/api/things/update?where[name][like]=%25'%20OR%201=1%20--", json={"status": "pwned"})
    assert ok(r) == {"count": 0}
    assert snapshot(mserver) == before


def test_injection_through_body_values_is_data(mserver, data):
    t = ok(mserver.post("/api/things", json={"name": "x'); DROP TABLE m_thing; --", "code": "'||'"}))
    got = ok(mserver.get(f"/api/things/{t['id']}"))
    assert got["name"] == "x'); DROP TABLE m_thing; --" and got["code"] == "'||'"
    assert ok(mserver.delete(f"/api/things/{t['id']}")) == {"count": 1}
    assert names(snapshot(mserver)) == ALL


@pytest.mark.parametrize("seg", ["1 OR 1=1", "1;DROP TABLE m_thing", "1'--", "0x1", "-1", "1e3", "99999999999999999999999"])
def test_injection_through_id_path(mserver, data, seg):
    before = snapshot(mserver)
    from urllib.parse import quote
    p = "/api/things/" + quote(seg, safe="")
    # docs/models.md: not a canonical number, so no row: 404 on every route
    for r in (mserver.get(p), mserver.delete(p), mserver.patch(p, json={"status": "pwned"})):
        assert_error(r, 404, "MODEL_NOT_FOUND", message=f'Unknown "Thing" id "{seg}".')
    assert snapshot(mserver) == before


def test_data_intact_after_everything(mserver, data):
    rows = snapshot(mserver)
    assert names(rows) == ALL
    for got, want in zip(rows, data):
        assert got == want
