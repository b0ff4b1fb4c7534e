"""Shared set-up of the third-party client scenarios (pyhandle, b2handle).

The scenarios run the clients' own public methods unchanged against an idnode
started by the Rust test `conformance/tests/rest_python.rs` on loopback. They
read where the node is from the environment:

  IDNODE_URL          https://127.0.0.1:<port>  (HTTPS, same port as HTTP)
  IDNODE_HTTP_URL     http://127.0.0.1:<port>
  IDNODE_CA           the node's self-signed certificate (trusted explicitly)
  IDNODE_PREFIX       the node prefix, e.g. 88.118.8
  IDNODE_SECRET_FILE  the admin secret (HS_SECKEY at 300:0.NA/<prefix>)

Every URL must point at a loopback address: these scripts never talk to
anything else (no default public resolver is ever used).
"""

import ipaddress
import os
import sys
import traceback
from urllib.parse import urlsplit

# No proxy may see loopback traffic, whatever the environment says.
os.environ["NO_PROXY"] = "*"
os.environ["no_proxy"] = "*"
for var in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"):
    os.environ.pop(var, None)


def loopback_url(var):
    url = os.environ[var]
    host = urlsplit(url).hostname
    if host != "localhost" and not ipaddress.ip_address(host).is_loopback:
        sys.exit(f"refusing to use {var}={url}: not a loopback address")
    return url


URL = loopback_url("IDNODE_URL")
HTTP_URL = loopback_url("IDNODE_HTTP_URL")
CA = os.environ["IDNODE_CA"]
PREFIX = os.environ["IDNODE_PREFIX"]
with open(os.environ["IDNODE_SECRET_FILE"], encoding="utf-8") as f:
    SECRET = f.read().strip()
USERNAME = f"300:0.NA/{PREFIX}"
ENTERPRISE = f"{PREFIX}.1001"
DEMO = f"{ENTERPRISE}/LOT2026-000451"


class Scenario:
    """Runs named steps, prints one line each and a closing summary."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def step(self, title, fn):
        try:
            fn()
        except Exception:  # noqa: BLE001 - report every failure, keep going
            self.failed += 1
            print(f"FAIL {self.name}: {title}")
            traceback.print_exc()
        else:
            self.passed += 1
            print(f"ok   {self.name}: {title}")

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)


def expect_raises(exc_type, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except exc_type as e:
        return e
    raise AssertionError(f"{fn.__name__} did not raise {exc_type.__name__}")
