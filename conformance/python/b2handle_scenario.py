"""b2handle's EUDATHandleClient, unchanged, against idnode (see common.py).

b2handle 1.1.2 declares Python < 3.8 but runs on 3.11 (it is installed with
--ignore-requires-python; see scripts/test).
"""

import uuid
import warnings

warnings.simplefilter("ignore", SyntaxWarning)

from b2handle.handleclient import EUDATHandleClient  # noqa: E402
from b2handle.handleexceptions import (  # noqa: E402
    HandleAlreadyExistsException,
    HandleAuthenticationError,
    HandleNotFoundException,
)
from common import CA, DEMO, PREFIX, SECRET, URL, USERNAME, Scenario, expect_raises  # noqa: E402

s = Scenario("b2handle")
state = {}
run = uuid.uuid4().hex[:8]
HANDLE = f"{PREFIX}/b2handle-{run}"


def read_access():
    reader = EUDATHandleClient.instantiate_for_read_access(URL, HTTPS_verify=CA)
    rec = reader.retrieve_handle_record_json(DEMO)
    assert rec["handle"] == DEMO, rec
    assert reader.retrieve_handle_record(DEMO)["model"] == "CP-200"
    assert reader.get_value_from_handle(DEMO, "batch") == "LOT2026-000451"
    assert reader.retrieve_handle_record_json(f"{PREFIX}/missing-{run}") is None
    expect_raises(HandleNotFoundException, reader.get_value_from_handle, f"{PREFIX}/missing-{run}", "URL")


def instantiate():
    state["c"] = EUDATHandleClient.instantiate_with_username_and_password(URL, USERNAME, SECRET, HTTPS_verify=CA)


def register():
    c = state["c"]
    assert c.register_handle(HANDLE, "http://example.org/b2/1", checksum="c1", EXTRA="e") == HANDLE
    rec = c.retrieve_handle_record(HANDLE)
    assert rec["URL"] == "http://example.org/b2/1" and rec["CHECKSUM"] == "c1" and rec["EXTRA"] == "e", rec
    expect_raises(HandleAlreadyExistsException, c.register_handle, HANDLE, "http://example.org/b2/x")


def modify():
    c = state["c"]
    c.modify_handle_value(HANDLE, URL="http://example.org/b2/2", NEWKEY="n")
    assert c.get_value_from_handle(HANDLE, "URL") == "http://example.org/b2/2"
    assert c.get_value_from_handle(HANDLE, "NEWKEY") == "n"


def locations():
    # 10320/LOC handling: whole-record PUTs with overwrite=true.
    c = state["c"]
    assert c.is_10320LOC_empty(HANDLE)
    c.add_additional_URL(HANDLE, "http://mirror.example.org/a", "http://mirror.example.org/b")
    assert c.is_URL_contained_in_10320LOC(HANDLE, "http://mirror.example.org/a")
    c.remove_additional_URL(HANDLE, "http://mirror.example.org/a")
    assert not c.is_URL_contained_in_10320LOC(HANDLE, "http://mirror.example.org/a")
    assert c.is_URL_contained_in_10320LOC(HANDLE, "http://mirror.example.org/b")


def delete_value():
    c = state["c"]
    c.delete_handle_value(HANDLE, "NEWKEY")
    assert c.get_value_from_handle(HANDLE, "NEWKEY") is None


def generate():
    c = state["c"]
    h = c.generate_and_register_handle(PREFIX, "http://example.org/b2/gen")
    assert h.startswith(PREFIX + "/")
    assert c.get_value_from_handle(h, "URL") == "http://example.org/b2/gen"
    c.delete_handle(h)
    assert c.retrieve_handle_record_json(h) is None


def delete():
    c = state["c"]
    c.delete_handle(HANDLE)
    assert c.retrieve_handle_record_json(HANDLE) is None
    expect_raises(HandleNotFoundException, c.delete_handle, HANDLE)


def wrong_password():
    bad = EUDATHandleClient.instantiate_with_username_and_password(URL, USERNAME, "wrong", HTTPS_verify=CA)
    expect_raises(HandleAuthenticationError, bad.register_handle, HANDLE + "-bad", "http://example.org/bad")


s.step("instantiate_for_read_access + retrieve/get_value", read_access)
s.step("instantiate_with_username_and_password", instantiate)
s.step("register_handle (+ already exists)", register)
s.step("modify_handle_value (+ new key)", modify)
s.step("10320/LOC add/remove_additional_URL", locations)
s.step("delete_handle_value", delete_value)
s.step("generate_and_register_handle + delete_handle", generate)
s.step("delete_handle", delete)
s.step("wrong password -> HandleAuthenticationError", wrong_password)
s.finish()
