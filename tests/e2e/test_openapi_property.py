"""A property test over the account API's OpenAPI document (`GET /api/v1/openapi.json`), run
against the real binary: for every documented operation, requests generated from its request
schema — conforming ones and mutated ones (a required field dropped, a wrong type, an unknown
field, an oversized or odd string, not JSON at all), with no credentials, with a signed-in
user's token, a forged one and a staff member's with every role, and with odd path
parameters. Whatever is sent, the server
never answers 5xx, a success is a JSON object, and every error matches the document's `Error`
schema with a code the operation documents (or one every route may give: rate limits, unknown
objects). The seed is printed so a failure can be replayed (`BULWARK_PROPERTY_SEED`)."""

import json
import os
import random
import re
import string
import urllib.error
import urllib.request

from test_accounts import acct, call, login, signup_verified  # noqa: F401
from test_admin import staff_account

CASES_PER_OPERATION = int(os.environ.get("BULWARK_PROPERTY_CASES", "8"))
# Codes any route may answer whatever it documents: budgets, and the router's own refusals.
EVERY_ROUTE = {"rate_limited", "too_many_requests", "not_found", "method_not_allowed", "busy"}

PATTERN_SAMPLES = {
    "^[0-9]{6}$": lambda rng: "".join(rng.choice(string.digits) for _ in range(6)),
    "^[A-Z]{2}$": lambda rng: rng.choice(["US", "DE", "FR", "GB", "SG", "ZZ"]),
    "^[A-Za-z0-9_-]{1,30}$": lambda rng: "k" + "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(0, 20))),
    "^[A-Za-z0-9 -]{4,32}$": lambda rng: "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(rng.randint(4, 32))),
    "^[A-Za-z0-9_]{4,20}$": lambda rng: "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(4, 20))),
}
ODD_STRINGS = ["", " ", "\u0000", "é\u202e\u200b", "😀" * 40, "a" * 5_000, "-1", "1e309", "null",
               "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd", "+15555550123",
               "someone@example.com"]


def resolve(schema, components):
    while isinstance(schema, dict) and "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[1]]
    return schema


def generate(schema, components, rng, depth=0):
    """A value that conforms to `schema` (as far as its declared shape goes)."""
    schema = resolve(schema, components)
    if "enum" in schema:
        return rng.choice(schema["enum"])
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        out = {}
        for name, sub in props.items():
            if name in required or rng.random() < 0.4:
                out[name] = generate(sub, components, rng, depth + 1)
        return out
    if kind == "array":
        return [generate(schema.get("items", {}), components, rng, depth + 1)
                for _ in range(rng.randint(0, 3))]
    if kind == "integer":
        return rng.choice([0, 1, 7, 2**31, 2**53, -1])
    if kind == "boolean":
        return rng.random() < 0.5
    pattern = schema.get("pattern")
    if pattern in PATTERN_SAMPLES:
        return PATTERN_SAMPLES[pattern](rng)
    if schema.get("format") == "date":
        return rng.choice(["1990-01-31", "2030-02-30", "1899-12-31"])
    if schema.get("contentEncoding") == "base64":
        return rng.choice(["", "aGVsbG8=", "iVBORw0KGgo=", "!!not base64!!"])
    return rng.choice(ODD_STRINGS[:4] + ["Str0ng-enough-passw0rd!", "someone@example.com", "x" * 12])


def mutate(body, schema, components, rng):
    """A body the schema does not allow, as raw bytes."""
    schema = resolve(schema, components)
    choice = rng.randrange(8)
    if choice == 0 and isinstance(body, dict) and schema.get("required"):
        body = dict(body)
        body.pop(rng.choice(schema["required"]), None)
    elif choice == 1 and isinstance(body, dict) and body:
        body = dict(body)
        body[rng.choice(list(body))] = rng.choice([None, 12, -3.5, [], {}, True, ["x"]])
    elif choice == 2 and isinstance(body, dict):
        body = dict(body, unexpected_field=rng.choice(["x", 1, None]))
    elif choice == 3 and isinstance(body, dict) and body:
        body = dict(body)
        body[rng.choice(list(body))] = rng.choice(ODD_STRINGS)
    elif choice == 4:
        return rng.choice([b"", b"{", b"[1,2", b"\xff\xfe", b"null", b"[]", b"42", b'"text"'])
    elif choice == 5:
        body = rng.choice([[], "body", 1, None, [body]])
    elif choice == 6:
        return json.dumps({"k": "v" * 70_000}).encode()
    return json.dumps(body).encode()


def path_for(template, rng):
    def value(match):
        name = match.group(1)
        if name in ("id", "document_id"):
            return str(rng.choice([1, 2, 0, -1, 999_999_999, "abc", "1.5"]))
        if name == "action":
            return rng.choice(["approve", "reject", "acknowledge", "explode", "%20"])
        return rng.choice(["x", "0" * 64, "%2e%2e", "token-" + str(rng.randint(0, 9))])
    return re.sub(r"\{([a-z_]+)\}", value, template)


def send(srv, method, path, raw, token, content_type="application/json"):
    headers = {"Content-Type": content_type} if raw is not None else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(srv.base + path, data=raw, method=method.upper(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read()


def error_matches_schema(body):
    """The document's Error schema: exactly {"error": {code, message[, retry_after_s][, challenge]}}."""
    if not isinstance(body, dict) or set(body) != {"error"} or not isinstance(body["error"], dict):
        return False
    error = body["error"]
    if not {"code", "message"} <= set(error) <= {"code", "message", "retry_after_s", "challenge"}:
        return False
    return (isinstance(error["code"], str) and isinstance(error["message"], str)
            and isinstance(error.get("retry_after_s", 0), int)
            and isinstance(error.get("challenge", {}), dict))


def documented_codes(operation):
    text = operation["responses"]["default"]["description"]
    return {c.strip() for c in text.split(":", 1)[1].split(",") if c.strip()} if ":" in text else set()


def test_generated_requests_never_get_a_5xx_and_every_answer_matches_the_document(acct):
    srv = acct
    seed = int(os.environ.get("BULWARK_PROPERTY_SEED", random.randrange(2**32)))
    rng = random.Random(seed)
    print(f"BULWARK_PROPERTY_SEED={seed}")
    status, document, _ = call(srv, "GET", "/api/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    components = document["components"]["schemas"]
    signup_verified(srv, "property@example.com")
    status, answer, _ = login(srv, "property@example.com")
    assert status == 200 and answer.get("session_token"), answer
    # A staff member with every role reaches past the staff checks into the handlers.
    _, staff_token, _ = staff_account(srv, "property-staff@example.com", "admin")
    tokens = [None, answer["session_token"], "forged-" + "0" * 40, staff_token]

    failures, sent = [], 0
    for template, methods in sorted(document["paths"].items()):
        for method, operation in sorted(methods.items()):
            if template.endswith("/logout") or template.endswith("/sessions/revoke-others"):
                continue  # would end the session the other cases use
            codes = documented_codes(operation) | EVERY_ROUTE
            schema = operation.get("requestBody", {}).get("content", {}).get(
                "application/json", {}).get("schema")
            for case in range(CASES_PER_OPERATION):
                path = path_for(template, rng)
                raw = None
                if schema is not None:
                    body = generate(schema, components, rng)
                    raw = json.dumps(body).encode() if case % 2 == 0 else mutate(body, schema, components, rng)
                elif method == "post":
                    raw = b"{}"
                token = tokens[case % len(tokens)]
                status, content_type, payload = send(srv, method, path, raw, token)
                sent += 1
                where = f"{method.upper()} {path} (case {case}, token {'yes' if token else 'no'}, body {raw[:80] if raw else raw!r})"
                if status >= 500:
                    failures.append(f"{where}: {status} {payload[:200]!r}")
                    continue
                if "json" not in content_type:
                    failures.append(f"{where}: {status} with Content-Type {content_type!r}")
                    continue
                try:
                    parsed = json.loads(payload)
                except ValueError:
                    failures.append(f"{where}: {status} body is not JSON")
                    continue
                if 200 <= status < 300:
                    if not isinstance(parsed, dict):
                        failures.append(f"{where}: success body is not an object")
                elif not error_matches_schema(parsed):
                    failures.append(f"{where}: {status} error does not match the Error schema: {parsed}")
                elif parsed["error"]["code"] not in codes:
                    failures.append(f"{where}: {status} code {parsed['error']['code']!r} is not documented for it")
    print(f"{sent} requests")
    assert not failures, f"seed {seed}: {len(failures)} of {sent} answers broke the document:\n" + "\n".join(failures[:40])
