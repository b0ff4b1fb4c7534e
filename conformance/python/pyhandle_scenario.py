"""pyhandle's REST client, unchanged, against idnode (see common.py)."""

import uuid

from common import CA, DEMO, ENTERPRISE, HTTP_URL, PREFIX, SECRET, URL, USERNAME, Scenario, expect_raises
from pyhandle.client.resthandleclient import RESTHandleClient
from pyhandle.handleclient import PyHandleClient
from pyhandle.handleexceptions import (
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)

s = Scenario("pyhandle")
state = {}
run = uuid.uuid4().hex[:8]
HANDLE = f"{PREFIX}/pyhandle-{run}"
ENT_HANDLE = f"{ENTERPRISE}/pyhandle-{run}"


def read_access():
    reader = RESTHandleClient.instantiate_for_read_access(URL, HTTPS_verify=CA)
    rec = reader.retrieve_handle_record_json(DEMO)
    assert rec["handle"] == DEMO and rec["responseCode"] == 1, rec
    types = [v["type"] for v in rec["values"]]
    assert "URL" in types and "HS_ADMIN" in types, types
    assert reader.retrieve_handle_record(DEMO)["URL"].startswith("https://www.example.com/p/")
    assert reader.get_value_from_handle(DEMO, "model") == "CP-200"
    assert reader.get_value_from_handle(DEMO, "NOSUCHTYPE") is None
    assert reader.retrieve_handle_record_json(f"{PREFIX}/does-not-exist-{run}") is None
    expect_raises(HandleNotFoundException, reader.get_value_from_handle, f"{PREFIX}/nope-{run}", "URL")
    # Index filters go through as ?index=.
    rec = reader.retrieve_handle_record_json(DEMO, indices=[1])
    assert [v["index"] for v in rec["values"]] == [1], rec
    # A read-only client cannot write.
    expect_raises(HandleAuthenticationError, reader.register_handle, HANDLE, "http://example.org/x")


def instantiate():
    # The documented entry point returns a RESTHandleClient; it checks that the
    # username handle exists (GET /api/handles/0.NA/<prefix> must echo it).
    client = PyHandleClient("rest").instantiate_with_username_and_password(URL, USERNAME, SECRET, HTTPS_verify=CA)
    assert isinstance(client, RESTHandleClient)
    state["c"] = client


def register():
    c = state["c"]
    got = c.register_handle(HANDLE, "http://example.org/data/1", checksum="md5:abc", overwrite=False)
    assert got == HANDLE, got
    rec = c.retrieve_handle_record(HANDLE)
    assert rec["URL"] == "http://example.org/data/1" and rec["CHECKSUM"] == "md5:abc", rec
    assert "HS_ADMIN" in rec, rec
    expect_raises(HandleAlreadyExistsException, c.register_handle, HANDLE, "http://example.org/other", overwrite=False)
    # overwrite=True replaces the record (PUT without index, overwrite=true).
    assert c.register_handle(HANDLE, "http://example.org/data/2", overwrite=True) == HANDLE
    rec = c.retrieve_handle_record(HANDLE)
    assert rec["URL"] == "http://example.org/data/2" and "CHECKSUM" not in rec, rec


def register_json():
    c = state["c"]
    h = HANDLE + "-json"
    entries = [{"index": 1, "type": "URL", "data": "http://example.org/j"}, {"index": 2, "type": "EMAIL", "data": {"format": "string", "value": "a@example.org"}, "ttl": 3600}]
    assert c.register_handle_json(h, entries, overwrite=False) == h
    rec = c.retrieve_handle_record_json(h)
    by_index = {v["index"]: v for v in rec["values"]}
    assert by_index[2]["ttl"] == 3600 and by_index[2]["data"]["value"] == "a@example.org", rec
    assert by_index[1]["ttl"] == 86400 and "timestamp" in by_index[1], rec
    c.delete_handle(h)


def modify():
    c = state["c"]
    assert c.modify_handle_value(HANDLE, URL="http://example.org/data/3") == HANDLE
    assert c.get_value_from_handle(HANDLE, "URL") == "http://example.org/data/3"
    # A key that does not exist yet is added with a new index.
    c.modify_handle_value(HANDLE, NEWKEY="new value", ttl=120)
    rec = c.retrieve_handle_record_json(HANDLE)
    new = [v for v in rec["values"] if v["type"] == "NEWKEY"]
    assert len(new) == 1 and new[0]["data"]["value"] == "new value" and new[0]["ttl"] == 120, rec
    assert not 100 <= new[0]["index"] < 200, new
    # add_handle_value: overwrite=false on an index that is new -> 201.
    c.add_handle_value(HANDLE, ADDED="x")
    assert c.get_value_from_handle(HANDLE, "ADDED") == "x"


def delete_value():
    c = state["c"]
    assert c.delete_handle_value(HANDLE, "NEWKEY") == HANDLE
    assert c.get_value_from_handle(HANDLE, "NEWKEY") is None
    c.delete_handle_value(HANDLE, ["ADDED"])
    assert c.get_value_from_handle(HANDLE, "ADDED") is None
    # Deleting a key that is not there sends nothing and returns None.
    assert c.delete_handle_value(HANDLE, "NOTTHERE") is None


def generate():
    c = state["c"]
    h = c.generate_and_register_handle(PREFIX, "http://example.org/generated", checksum="sha1:00")
    assert h.startswith(PREFIX + "/"), h
    assert c.get_value_from_handle(h, "CHECKSUM") == "sha1:00"
    assert c.delete_handle(h) == h
    assert c.retrieve_handle_record_json(h) is None


def enterprise_prefix():
    # The node administrator administers enterprise prefixes below the node prefix.
    c = state["c"]
    assert c.register_handle(ENT_HANDLE, "http://example.org/ent") == ENT_HANDLE
    c.modify_handle_value(ENT_HANDLE, URL="http://example.org/ent2")
    assert c.get_value_from_handle(ENT_HANDLE, "URL") == "http://example.org/ent2"
    c.delete_handle(ENT_HANDLE)


def delete():
    c = state["c"]
    assert c.delete_handle(HANDLE) == HANDLE
    assert c.retrieve_handle_record_json(HANDLE) is None
    expect_raises(HandleNotFoundException, c.delete_handle, HANDLE)


def wrong_password():
    bad = RESTHandleClient.instantiate_with_username_and_password(URL, USERNAME, "not-the-secret", HTTPS_verify=CA)
    expect_raises(HandleAuthenticationError, bad.register_handle, HANDLE + "-bad", "http://example.org/bad")
    assert bad.retrieve_handle_record_json(HANDLE + "-bad") is None


def plain_http_refused():
    # Credentials over plain HTTP are refused (403, responseCode 402).
    plain = RESTHandleClient.instantiate_with_username_and_password(HTTP_URL, USERNAME, SECRET)
    expect_raises(HandleAuthenticationError, plain.register_handle, HANDLE + "-http", "http://example.org/http")
    assert plain.retrieve_handle_record_json(HANDLE + "-http") is None


s.step("instantiate_for_read_access + retrieve/get_value", read_access)
s.step("instantiate_with_username_and_password", instantiate)
s.step("register_handle (201, 409, overwrite=True)", register)
s.step("register_handle_json (ttl, timestamp)", register_json)
s.step("modify_handle_value (+ new key, add_handle_value)", modify)
s.step("delete_handle_value", delete_value)
s.step("generate_and_register_handle + delete", generate)
s.step("enterprise prefix under the node prefix", enterprise_prefix)
s.step("delete_handle", delete)
s.step("wrong password -> HandleAuthenticationError", wrong_password)
s.step("credentials over plain HTTP refused", plain_http_refused)
s.finish()
