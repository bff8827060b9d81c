"""KYC (user side), tier gating and restricted regions against the real binary: an L1
application with a PNG (JSON API and the multipart web form), specific refusals, an L0 user's
order refused with 30019 and accepted once the operator sets L1, sign-up and login refused from a
restricted country resolved through a trusted proxy's X-Forwarded-For, the header ignored from an
untrusted peer, and the country shown in the login activity. The GeoIP data is a tiny
tor-geoipdb-format fixture written here (no real GeoIP data is committed)."""

import base64
import hashlib
import hmac
import http.client
import json
import os
import re
import tempfile
import time
import urllib.error
import urllib.request
import uuid

import ccxt
import pytest

from conftest import Server
from test_accounts import PASSWORD, agreement, call, error_code, login, signup_verified
from test_bad_input import call as bm_call
from test_bad_input import order
from test_ccxt import client
from test_web import Browser, field, login_page

KP_IP = "192.0.3.9"        # 192.0.3.0/24 -> KP (restricted)
DE_IP = "198.51.100.7"     # 198.51.100.0/24 -> DE
KP_LOOPBACK = "127.0.0.3"  # a local source address the fixture places in KP
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + os.urandom(64)
GEOIP = """# tor-geoipdb format test fixture: start_int,end_int,CC
2130706435,2130706435,KP
3221226240,3221226495,KP
3325256704,3325256959,DE
"""


@pytest.fixture
def regional():
    with tempfile.TemporaryDirectory(prefix="bulwark-e2e-kyc-") as data_dir:
        geoip = os.path.join(data_dir, "geoip.txt")
        with open(geoip, "w") as f:
            f.write(GEOIP)
        srv = Server(data_dir, extra_args=[
            "--geoip-file", geoip,
            "--restricted-regions", "KP,US-NY",
            "--trusted-proxies", "127.0.0.1",
            "--kyc-l1-withdraw-usdt", "1500",
        ]).start()
        try:
            yield srv
        finally:
            srv.stop()


def raw(srv, method, path, body=None, headers=None, source=None):
    """One JSON request, optionally from another loopback source address (an untrusted peer)."""
    conn = http.client.HTTPConnection("127.0.0.1", srv.http_port, timeout=30,
                                      source_address=(source, 0) if source else None)
    data = json.dumps(body).encode() if body is not None else None
    h = {"Content-Type": "application/json"} if data is not None else {}
    h.update(headers or {})
    conn.request(method, path, body=data, headers=h)
    r = conn.getresponse()
    text = r.read()
    conn.close()
    try:
        return r.status, json.loads(text)
    except ValueError:
        return r.status, text.decode(errors="replace")


def signup_body(srv, identifier):
    return {"identifier": identifier, "password": PASSWORD, "agreement_version": agreement(srv)}


def session(srv, identifier):
    signup_verified(srv, identifier)
    status, body, _ = login(srv, identifier)
    assert status == 200 and body["step"] == "done", body
    return body["session_token"]


def l1_body(**kw):
    body = {"full_name": "Ada Lovelace", "date_of_birth": "1990-12-10", "nationality": "GB",
            "residence_country": "DE", "id_number": "C01X00T47",
            "id_document": base64.b64encode(PNG).decode()}
    body.update(kw)
    return body


def test_l1_application_with_a_png(regional):
    token = session(regional, "ada@example.com")
    status, body, _ = call(regional, "GET", "/api/v1/kyc", token=token)
    assert status == 200 and body["tier"] == "L0" and body["application"] is None, body
    assert body["permissions"]["trade"] is False and body["permissions"]["deposit"] is True
    assert body["limits"]["l1_withdraw_24h_usdt"] == "1500", body
    # Bad inputs: each its own code, nothing stored.
    for bad, code in [(l1_body(date_of_birth="1990-02-30"), "invalid_date_of_birth"),
                      (l1_body(date_of_birth="2015-01-01"), "underage"),
                      (l1_body(nationality="XX"), "invalid_country"),
                      (l1_body(id_document=base64.b64encode(b"GIF89a....").decode()), "unsupported_image"),
                      (l1_body(id_document="%%%"), "invalid_base64"),
                      (l1_body(residence_country="KP"), "region_restricted"),
                      (l1_body(residence_country="US", residence_subdivision="NY"), "region_restricted")]:
        result = call(regional, "POST", "/api/v1/kyc/l1", bad, token=token)
        assert error_code(result) == code, result
    status, body, _ = call(regional, "GET", "/api/v1/kyc", token=token)
    assert body["application"] is None and body["residence_country"] is None, body
    # A real submission is pending; a second one is refused while it is.
    status, body, _ = call(regional, "POST", "/api/v1/kyc/l1", l1_body(), token=token)
    assert status == 201 and body["state"] == "pending", body
    assert error_code(call(regional, "POST", "/api/v1/kyc/l1", l1_body(), token=token)) == "application_pending"
    assert error_code(call(regional, "POST", "/api/v1/kyc/l2",
                           {"proof_of_address": l1_body()["id_document"], "selfie": l1_body()["id_document"]},
                           token=token)) == "kyc_l1_required"
    status, body, _ = call(regional, "GET", "/api/v1/kyc", token=token)
    assert body["application"]["state"] == "pending" and body["application"]["tier_requested"] == "L1", body
    assert body["residence_country"] == "DE"
    # The document is encrypted at rest: the PNG bytes are not in the database file.
    with open(os.path.join(regional.data_dir, "bulwark.db"), "rb") as f:
        assert PNG[-32:] not in f.read()


def multipart(fields, files):
    boundary = "----bulwark" + uuid.uuid4().hex
    out = b""
    for name, value in fields.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n").encode()
    for name, (filename, content) in files.items():
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"; filename=\"{filename}\"\r\n"
                "Content-Type: image/png\r\n\r\n").encode() + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return f"multipart/form-data; boundary={boundary}", out


def test_kyc_web_page_uploads_the_form(regional):
    signup_verified(regional, "web-kyc@example.com")
    b = Browser(regional)
    status, page, _ = login_page(b, "web-kyc@example.com")
    status, page, _ = b.get("/kyc")
    assert status == 200 and 'id="kyc-tier">L0' in page and 'enctype="multipart/form-data"' in page, page
    assert 'href="/kyc"' in page
    csrf = field(page, "csrf")
    form = {"csrf": csrf, "full_name": "Grace Hopper", "date_of_birth": "1980-12-09", "nationality": "US",
            "residence_country": "DE", "residence_subdivision": "", "id_number": "X1234567"}

    def post(fields, files):
        content_type, body = multipart(fields, files)
        headers = {"Content-Type": content_type, "Sec-Fetch-Site": "same-origin",
                   "Cookie": "; ".join(f"{k}={v}" for k, v in b.cookies.items())}
        req = urllib.request.Request(regional.base + "/kyc/l1", data=body, method="POST", headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    status, page = post(dict(form, csrf="x" * 32), {"id_document": ("id.png", PNG)})
    assert status == 403, page
    status, page = post(form, {"id_document": ("id.gif", b"GIF89a-not-an-image")})
    assert status == 400 and "PNG or JPEG" in page and 'value="Grace Hopper"' in page, page
    status, page = post(form, {"id_document": ("id.png", PNG)})
    assert status == 200 and "waiting for review" in page, page
    assert 'id="kyc-application-state">pending' in page, page


def test_tier_gating_of_orders(regional):
    b = regional.base
    user, key = regional.funded_user("bot@example.com", {"USDT": "1000"}, kyc_tier="L0")
    status, body = bm_call(b, "/spot/v2/submit_order", order(), key=key)
    assert status == 403 and body["code"] == 30019 and "L1" in body["message"], body
    _, opened = bm_call(b, "/spot/v4/query/open-orders", {}, key=key)
    assert opened["data"] == [], "nothing was placed"
    # Unmodified ccxt sees BitMart's "no permission" code as PermissionDenied.
    with pytest.raises(ccxt.PermissionDenied, match="30019"):
        client(b, key).create_order("BTC/USDT", "limit", "buy", 0.01, 30000)
    answer = regional.admin("user", "kyc-tier", "--user", str(user), "--tier", "L1")
    assert answer["kyc_tier"] == "L1" and answer["previous"] == "L0", answer
    assert "user.kyc_tier" in str(regional.admin("audit", "--limit", "5"))
    status, body = bm_call(b, "/spot/v2/submit_order", order(), key=key)
    assert status == 200 and body["code"] == 1000, body
    # The same L1 user trading through the trusted proxy from a restricted country: refused.
    data = json.dumps(order(), separators=(",", ":"))
    ts = str(int(time.time() * 1000))
    sign = hmac.new(key["secret"].encode(), f"{ts}#{key['memo']}#{data}".encode(), hashlib.sha256).hexdigest()
    conn = http.client.HTTPConnection("127.0.0.1", regional.http_port, timeout=30)
    conn.request("POST", "/spot/v2/submit_order", body=data, headers={
        "Content-Type": "application/json", "X-BM-KEY": key["access_key"], "X-BM-TIMESTAMP": ts,
        "X-BM-SIGN": sign, "X-Forwarded-For": KP_IP})
    r = conn.getresponse()
    body = json.loads(r.read())
    assert r.status == 403 and body["code"] == 30020 and "KP" in body["message"], body
    with pytest.raises(RuntimeError):
        regional.admin("user", "kyc-tier", "--user", str(user), "--tier", "L9")


def test_restricted_country_signup_login_and_activity(regional):
    # Through the trusted proxy (127.0.0.1) the forwarded address counts.
    status, body = raw(regional, "POST", "/api/v1/signup", signup_body(regional, "kp@example.com"),
                       headers={"X-Forwarded-For": KP_IP})
    assert status == 403 and body["error"]["code"] == "region_restricted", body
    assert "not available in your region (KP)" in body["error"]["message"], body
    # The web sign-up page shows the same clear message.
    b = Browser(regional)
    _, page, _ = b.get("/signup")
    status, page, _ = b.post("/signup", {"identifier": "kp-web@example.com", "password": PASSWORD, "agree": "yes",
                                         "agreement_version": field(page, "agreement_version")},
                             headers={"X-Forwarded-For": KP_IP})
    assert "not available in your region (KP)" in page, page
    signup_verified(regional, "web-traveller@example.com")
    status, page, _ = b.post("/login", {"identifier": "web-traveller@example.com", "password": PASSWORD},
                             headers={"X-Forwarded-For": KP_IP})
    assert status == 403 and "not available in your region (KP)" in page, page
    # From an untrusted peer the header is ignored (the peer's own address counts) ...
    status, body = raw(regional, "POST", "/api/v1/signup", signup_body(regional, "fake@example.com"),
                       headers={"X-Forwarded-For": KP_IP}, source="127.0.0.2")
    assert status == 202, body
    # ... and a peer that itself is in a restricted country is refused whatever it claims.
    status, body = raw(regional, "POST", "/api/v1/signup", signup_body(regional, "kp2@example.com"),
                       headers={"X-Forwarded-For": DE_IP}, source=KP_LOOPBACK)
    assert status == 403 and body["error"]["code"] == "region_restricted", body
    # Login: refused from KP, fine from DE, and the activity shows the country.
    signup_verified(regional, "traveller@example.com")
    creds = {"identifier": "traveller@example.com", "password": PASSWORD}
    status, body = raw(regional, "POST", "/api/v1/login", creds, headers={"X-Forwarded-For": KP_IP})
    assert status == 403 and body["error"]["code"] == "region_restricted", body
    status, body = raw(regional, "POST", "/api/v1/login", creds, headers={"X-Forwarded-For": DE_IP})
    assert status == 200 and body["step"] == "done", body
    token = body["session_token"]
    status, body = raw(regional, "GET", "/api/v1/activity", headers={"Authorization": f"Bearer {token}"})
    assert status == 200, body
    logins = [row for row in json.dumps(body).split("},") if DE_IP in row]
    assert logins and '"country": "DE"' in logins[0], body
    # Logged in and then seen from KP: /kyc says trading is restricted.
    status, body = raw(regional, "GET", "/api/v1/kyc",
                       headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": KP_IP})
    assert status == 200 and body["region_restricted"] is True and body["request_country"] == "KP", body
    assert re.search(r"KP", body["restriction"]), body


def mmdb(entries):
    """A minimal MaxMind DB (IPv4 tree, 24-bit records) mapping (network, prefix, country)."""
    def ctrl(kind, size):
        return bytes([(kind << 5) | size]) if kind <= 7 else bytes([size, kind - 7])

    def string(text):
        return ctrl(2, len(text)) + text.encode()

    def uint(kind, value):
        raw_bytes = value.to_bytes(8, "big").lstrip(b"\0")
        return ctrl(kind, len(raw_bytes)) + raw_bytes

    def mapping(pairs):
        return ctrl(7, len(pairs)) + b"".join(string(k) + v for k, v in pairs)

    nodes, data = [[None, None]], b""
    for network, prefix, country in entries:
        offset = len(data)
        data += mapping([("country", mapping([("iso_code", string(country))]))])
        bits = int.from_bytes(bytes(int(p) for p in network.split(".")), "big")
        node = 0
        for depth in range(prefix):
            bit = (bits >> (31 - depth)) & 1
            if depth + 1 == prefix:
                nodes[node][bit] = ("data", offset)
            else:
                if not (nodes[node][bit] and nodes[node][bit][0] == "node"):
                    nodes.append([None, None])
                    nodes[node][bit] = ("node", len(nodes) - 1)
                node = nodes[node][bit][1]
    count = len(nodes)
    tree = b""
    for node in nodes:
        for rec in node:
            value = count if rec is None else (rec[1] if rec[0] == "node" else count + 16 + rec[1])
            tree += value.to_bytes(3, "big")
    metadata = mapping([
        ("binary_format_major_version", uint(5, 2)), ("binary_format_minor_version", uint(5, 0)),
        ("build_epoch", uint(9, 1_700_000_000)), ("database_type", string("Bulwark-Test-Country")),
        ("description", mapping([])), ("ip_version", uint(5, 4)), ("languages", ctrl(11, 0)),
        ("node_count", uint(6, count)), ("record_size", uint(5, 24))])
    return tree + bytes(16) + data + b"\xab\xcd\xefMaxMind.com" + metadata


def test_mmdb_geoip_file(tmp_path):
    """The same rules with a MaxMind-format file generated here."""
    data_dir = str(tmp_path)
    path = os.path.join(data_dir, "country.mmdb")
    with open(path, "wb") as f:
        f.write(mmdb([("192.0.3.0", 24, "KP"), ("198.51.100.0", 24, "DE")]))
    srv = Server(data_dir, extra_args=["--geoip-file", path, "--restricted-regions", "KP",
                                       "--trusted-proxies", "127.0.0.1"]).start()
    try:
        status, body = raw(srv, "POST", "/api/v1/signup", signup_body(srv, "mm-kp@example.com"),
                           headers={"X-Forwarded-For": KP_IP})
        assert status == 403 and body["error"]["code"] == "region_restricted", body
        status, body = raw(srv, "POST", "/api/v1/signup", signup_body(srv, "mm-de@example.com"),
                           headers={"X-Forwarded-For": DE_IP})
        assert status == 202, body
    finally:
        srv.stop()


def test_unreadable_geoip_file_stops_the_start(tmp_path):
    """A configured GeoIP file that cannot be read is an error, never "unknown everywhere"."""
    bad = tmp_path / "geoip.txt"
    bad.write_text("this is not a geoip file\n")
    srv = Server(str(tmp_path), extra_args=["--geoip-file", str(bad), "--restricted-regions", "KP"])
    with pytest.raises(RuntimeError, match="server exited"):
        srv.start()
    srv.stop()
    log = (tmp_path / "server.log").read_text()
    assert "geoip" in log.lower(), log
