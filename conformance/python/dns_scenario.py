"""dnspython against the node's DNS front (conformance/tests/dns.rs):
NAPTR over UDP, TCP, DNS over TLS and DNS over QUIC (dnspython's aioquic
client), NXDOMAIN with SOA, REFUSED, TC over UDP. Loopback only: every
query names 127.0.0.1 and the node's ports explicitly."""

import os
import ssl
import sys

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdatatype

HOST = "127.0.0.1"
PORT = int(os.environ["DNS_PORT"])
DOT = int(os.environ["DOT_PORT"])
DOQ = int(os.environ["DOQ_PORT"])
NAMES = os.environ["DNS_NAMES"].split(",")
URL = os.environ["DNS_URL"]
BIG = os.environ["DNS_BIG"]
MISS = os.environ["DNS_MISS"]

passed = failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {what}")
    else:
        failed += 1
        print(f"FAIL {what} {detail}")


def urls(resp):
    out = []
    for rrset in resp.answer:
        if rrset.rdtype == dns.rdatatype.NAPTR:
            for rr in rrset:
                out.append(rr.regexp.decode())
    return out


def insecure():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def doq(q):
    # RFC 9250 sends message id 0; dnspython does so itself. The node's
    # certificate is self-signed: verification is off (loopback only).
    return dns.query.quic(q, HOST, port=DOQ, timeout=10, verify=False)


transports = {
    "udp": lambda q: dns.query.udp(q, HOST, port=PORT, timeout=5),
    "tcp": lambda q: dns.query.tcp(q, HOST, port=PORT, timeout=5),
    "tls": lambda q: dns.query.tls(q, HOST, port=DOT, timeout=10, ssl_context=insecure()),
    "quic": doq,
}

want = f"!^.*$!{URL}!"
for tname, send in transports.items():
    for name in NAMES:
        r = send(dns.message.make_query(name, "NAPTR"))
        check(f"{tname} NAPTR {name}", r.rcode() == dns.rcode.NOERROR and urls(r) == [want]
              and bool(r.flags & dns.flags.AA), f"{dns.rcode.to_text(r.rcode())} {urls(r)}")
    r = send(dns.message.make_query(MISS, "NAPTR"))
    soa = any(rr.rdtype == dns.rdatatype.SOA for rr in r.authority)
    check(f"{tname} NXDOMAIN {MISS}", r.rcode() == dns.rcode.NXDOMAIN and soa, dns.rcode.to_text(r.rcode()))
    r = send(dns.message.make_query("example.com.", "NAPTR"))
    check(f"{tname} REFUSED example.com", r.rcode() == dns.rcode.REFUSED, dns.rcode.to_text(r.rcode()))

# TC: no EDNS (512 bytes) on UDP; the full answer with EDNS 1232 and over TCP.
r = dns.query.udp(dns.message.make_query(BIG, "NAPTR", use_edns=False), HOST, port=PORT, timeout=5, ignore_trailing=True)
check("udp TC without EDNS", bool(r.flags & dns.flags.TC) and not r.answer)
r = dns.query.udp(dns.message.make_query(BIG, "NAPTR", use_edns=0, payload=1232), HOST, port=PORT, timeout=5)
check("udp EDNS 1232 fits", not (r.flags & dns.flags.TC) and len(urls(r)) == 8, str(len(urls(r))))
r = dns.query.tcp(dns.message.make_query(BIG, "NAPTR", use_edns=False), HOST, port=PORT, timeout=5)
check("tcp full answer", len(urls(r)) == 8, str(len(urls(r))))

print(f"dnspython: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
