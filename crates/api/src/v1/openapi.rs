//! The OpenAPI 3.1 document of /api/v1, built from one typed route table so the document and
//! the router cannot silently drift (a test checks every documented route answers).

use axum::Json;
use serde_json::{Map, Value, json};

pub use super::route_doc::RouteDoc;
use super::route_doc::{object, string};

const BAD_INPUT: &[&str] = &[
    "unsupported_content_type",
    "body_too_large",
    "invalid_utf8",
    "malformed_json",
    "field_too_long",
    "csrf_rejected",
];

/// Every route of the account API.
pub const ROUTES: &[RouteDoc] = &[
    RouteDoc {
        method: "get",
        path: "/api/v1/openapi.json",
        summary: "This document",
        authenticated: false,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/signup",
        summary: "Sign up with email or E.164 phone, password and the current agreement version; a 6-digit code is sent for this sign-up and the answer carries its signup_token (same answer whether or not the identifier is taken). Until verified, every sign-up of an address is a separate attempt with its own password and code",
        authenticated: false,
        request: Some("SignupRequest"),
        errors: &[
            "invalid_email",
            "invalid_phone",
            "invalid_identifier",
            "weak_password",
            "agreement_not_accepted",
            "invalid_display_name",
            "rate_limited",
            "busy",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/verify",
        summary: "Verify the identifier with the code sent for one sign-up, naming that sign-up by its signup_token or its password; the account takes that sign-up's password and every other sign-up of the address ends",
        authenticated: false,
        request: Some("VerifyRequest"),
        errors: &[
            "malformed_code",
            "invalid_code",
            "signup_attempt_required",
            "try_later",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login",
        summary: "Password step; answers step done (session), second_factor_required (pre-auth token), confirmation_required (new device or country: confirmation token, code and link emailed) or verification_required",
        authenticated: false,
        request: Some("LoginRequest"),
        errors: &[
            "invalid_identifier",
            "invalid_credentials",
            "try_later",
            "challenge_required",
            "account_frozen",
            "rate_limited",
            "busy",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/2fa/send",
        summary: "Between the two login steps: send a 6-digit login code by an enrolled email or SMS factor (10 min, 5 tries, a new code voids the old, at most one a minute)",
        authenticated: false,
        request: Some("SendCodeRequest"),
        errors: &[
            "invalid_token",
            "invalid_method",
            "method_not_enabled",
            "resend_too_soon",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/recovery-codes",
        summary: "Ten new recovery codes (shown once); every old one stops working. Needs a recent password and the authenticator code",
        authenticated: true,
        request: Some("RegenerateRequest"),
        errors: &[
            "reauth_required",
            "totp_not_enabled",
            "second_factor_required",
            "invalid_code",
            "code_replayed",
            "try_later",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/{method}/send",
        summary: "Send a confirmation code to the verified email (method email) or phone (method sms) before turning login codes on; needs a recent password",
        authenticated: true,
        request: None,
        errors: &[
            "invalid_method",
            "reauth_required",
            "contact_not_verified",
            "resend_too_soon",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/{method}/enable",
        summary: "Turn email or SMS login codes on with the confirmation code (security change: withdrawals pause 24 h)",
        authenticated: true,
        request: Some("ConfirmRequest"),
        errors: &[
            "invalid_method",
            "reauth_required",
            "malformed_code",
            "invalid_code",
            "already_enabled",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/{method}/disable",
        summary: "Turn email or SMS login codes off; needs a recent password and the authenticator code when TOTP is on",
        authenticated: true,
        request: Some("DisableFactorRequest"),
        errors: &[
            "invalid_method",
            "reauth_required",
            "second_factor_required",
            "invalid_code",
            "code_replayed",
            "not_enabled",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/agreement",
        summary: "Accept the current user agreement after the operator published a new version (GET /api/v1/me says agreement_outdated and current_agreement_version)",
        authenticated: true,
        request: Some("AcceptAgreementRequest"),
        errors: &["agreement_not_current"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/confirm",
        summary: "A login from a new device or country answered step confirmation_required with a confirmation_token: send it with the emailed code, or without a code to ask whether the emailed link was used; once confirmed the call answers step done with a session (once)",
        authenticated: false,
        request: Some("ConfirmLoginRequest"),
        errors: &[
            "invalid_token",
            "confirmation_expired",
            "malformed_code",
            "invalid_code",
            "try_later",
            "account_frozen",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/confirm/link/check",
        summary: "What an emailed confirmation link is about (IP, country, browser, state); changes nothing",
        authenticated: false,
        request: Some("LinkRequest"),
        errors: &["invalid_link", "rate_limited"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/confirm/link",
        summary: "The owner confirms a waiting login from the emailed link",
        authenticated: false,
        request: Some("LinkRequest"),
        errors: &[
            "invalid_link",
            "already_confirmed",
            "confirmation_expired",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/qr",
        summary: "Start a QR login: answers id, nonce (in the QR code), short_code (to type), poll_secret (keep private), approve_url, qr_svg and expires_at_ms (120 s)",
        authenticated: false,
        request: None,
        errors: &["rate_limited"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/qr/poll",
        summary: "The waiting browser polls with id and poll_secret: state pending, denied, expired or redeemed; once approved the same call redeems it (once) and answers step done with a session",
        authenticated: false,
        request: Some("QrPollRequest"),
        errors: &[
            "qr_wrong_secret",
            "qr_expired",
            "qr_already_redeemed",
            "account_frozen",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/qr/lookup",
        summary: "A logged-in device looks up a QR login by scanned nonce or typed short code and sees the requester's IP, country and user agent",
        authenticated: true,
        request: Some("QrFindRequest"),
        errors: &[
            "qr_not_found",
            "malformed_short_code",
            "missing_field",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/qr/decide",
        summary: "Approve (the waiting browser becomes logged in as the caller) or deny a QR login named by nonce or short code",
        authenticated: true,
        request: Some("QrDecideRequest"),
        errors: &[
            "qr_not_found",
            "malformed_short_code",
            "missing_field",
            "invalid_decision",
            "qr_expired",
            "qr_already_decided",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/login/2fa",
        summary: "Second step with the pre-auth token and a TOTP or recovery code",
        authenticated: false,
        request: Some("SecondFactorRequest"),
        errors: &[
            "invalid_token",
            "missing_second_factor",
            "malformed_code",
            "malformed_recovery_code",
            "invalid_code",
            "code_replayed",
            "try_later",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/reauth",
        summary: "Confirm the password to allow security changes for 10 minutes (issues a new session token)",
        authenticated: true,
        request: Some("ReauthRequest"),
        errors: &["invalid_credentials", "try_later", "reset_required"],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/me",
        summary: "The logged-in account",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/logout",
        summary: "End this session",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/logout-all",
        summary: "End every session of the account",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/sessions",
        summary: "Live sessions of the account",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "delete",
        path: "/api/v1/sessions/{id}",
        summary: "Revoke one of your sessions",
        authenticated: true,
        request: None,
        errors: &["invalid_session_id", "session_not_found"],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/devices",
        summary: "Known devices (browsers with the device cookie) of the account",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "delete",
        path: "/api/v1/devices/{id}",
        summary: "Forget one of your devices and end its sessions",
        authenticated: true,
        request: None,
        errors: &["invalid_device_id", "device_not_found"],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/activity",
        summary: "Login attempts and security events of the last 90 days (page with ?before_id=)",
        authenticated: true,
        request: None,
        errors: &["invalid_query"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/totp/setup",
        summary: "Start TOTP enrolment: secret, otpauth URI and SVG QR code (needs reauth within 10 minutes)",
        authenticated: true,
        request: None,
        errors: &["reauth_required", "totp_already_enabled"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/totp/confirm",
        summary: "Confirm with a code: enables TOTP, returns 10 recovery codes once, locks withdrawals 24 h",
        authenticated: true,
        request: Some("ConfirmRequest"),
        errors: &[
            "reauth_required",
            "totp_not_pending",
            "totp_already_enabled",
            "malformed_code",
            "invalid_code",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/password/forgot",
        summary: "Send a single-use 30-minute password reset link and code to an email or phone (same 202 for unknown addresses)",
        authenticated: false,
        request: Some("ForgotRequest"),
        errors: &[
            "invalid_email",
            "invalid_phone",
            "invalid_identifier",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/password/reset",
        summary: "Set a new password with the reset token (plus a TOTP or recovery code when TOTP is on); ends every session, locks withdrawals 24 h",
        authenticated: false,
        request: Some("ResetRequest"),
        errors: &[
            "invalid_token",
            "weak_password",
            "second_factor_required",
            "malformed_code",
            "malformed_recovery_code",
            "invalid_code",
            "code_replayed",
            "try_later",
            "rate_limited",
            "busy",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/password/change",
        summary: "Change the password (current + new, reauth within 10 minutes); ends your other sessions, locks withdrawals 24 h",
        authenticated: true,
        request: Some("ChangePasswordRequest"),
        errors: &[
            "reauth_required",
            "invalid_credentials",
            "try_later",
            "reset_required",
            "weak_password",
            "busy",
        ],
    },
    RouteDoc {
        method: "put",
        path: "/api/v1/anti-phishing",
        summary: "Set the anti-phishing code shown first in every email (reauth; TOTP or recovery code when enrolled); locks withdrawals 24 h",
        authenticated: true,
        request: Some("AntiPhishingRequest"),
        errors: &[
            "invalid_anti_phishing_code",
            "reauth_required",
            "second_factor_required",
            "malformed_code",
            "invalid_code",
            "code_replayed",
            "try_later",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/freeze",
        summary: "Freeze your account: every session ends, every API key is revoked, open orders are cancelled; only staff can unfreeze",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/kyc",
        summary: "KYC status: tier (L0 deposit and view only, L1 trade and withdraw up to a daily limit, L2 higher limit), residence, whether the region is restricted, permissions, withdrawal limits in USDT per 24 h, the latest application (state, reason) and which level can be applied for",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/kyc/l1",
        summary: "Apply for L1: full name, date of birth (YYYY-MM-DD, 18+), nationality and residence (ISO 3166-1 alpha-2, optional ISO 3166-2 subdivision), ID number and the ID document image as base64 PNG/JPEG (at most 5 MiB decoded; bodies up to 15 MiB on this route). Sealed at rest; 201 with the pending application",
        authenticated: true,
        request: Some("KycL1Request"),
        errors: &[
            "invalid_full_name",
            "invalid_date_of_birth",
            "implausible_date_of_birth",
            "underage",
            "invalid_country",
            "invalid_subdivision",
            "invalid_id_number",
            "invalid_base64",
            "unsupported_image",
            "image_too_large",
            "empty_image",
            "region_restricted",
            "already_verified",
            "application_pending",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/kyc/l2",
        summary: "Apply for L2 (needs L1): proof of address and a selfie, each base64 PNG/JPEG of at most 5 MiB decoded. Sealed at rest; 201 with the pending application",
        authenticated: true,
        request: Some("KycL2Request"),
        errors: &[
            "invalid_base64",
            "unsupported_image",
            "image_too_large",
            "empty_image",
            "kyc_l1_required",
            "region_restricted",
            "already_verified",
            "application_pending",
        ],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/freeze/{token}",
        summary: "Check a \"this wasn't me\" freeze link from a message (changes nothing)",
        authenticated: false,
        request: None,
        errors: &["invalid_token", "rate_limited"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/freeze/{token}",
        summary: "Freeze the account with the single-use link from a message; no login needed",
        authenticated: false,
        request: None,
        errors: &["invalid_token", "rate_limited"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/api-keys",
        summary: "Create an API key (reauth; TOTP or recovery code when enrolled): memo, scopes read/trade/withdraw (withdraw needs an IP allowlist and locks withdrawals 24 h), up to 20 IPs; the secret is shown once; at most 20 keys",
        authenticated: true,
        request: Some("CreateKeyRequest"),
        errors: &[
            "invalid_memo",
            "invalid_scopes",
            "invalid_ip",
            "too_many_ips",
            "ip_required",
            "too_many_api_keys",
            "reauth_required",
            "second_factor_required",
            "invalid_code",
            "code_replayed",
            "try_later",
        ],
    },
    RouteDoc {
        method: "get",
        path: "/api/v1/api-keys",
        summary: "Your live API keys (never the secret), with last use and whether idle expiry stopped them",
        authenticated: true,
        request: None,
        errors: &[],
    },
    RouteDoc {
        method: "patch",
        path: "/api/v1/api-keys/{id}",
        summary: "Replace a key's IP allowlist (reauth; TOTP or recovery code when enrolled)",
        authenticated: true,
        request: Some("EditKeyRequest"),
        errors: &[
            "invalid_api_key_id",
            "api_key_not_found",
            "invalid_ip",
            "too_many_ips",
            "ip_required",
            "reauth_required",
            "second_factor_required",
            "invalid_code",
        ],
    },
    RouteDoc {
        method: "delete",
        path: "/api/v1/api-keys/{id}",
        summary: "Delete (revoke) one of your API keys",
        authenticated: true,
        request: None,
        errors: &["invalid_api_key_id", "api_key_not_found"],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/reset-request/codes",
        summary: "Lost second factor, step 1: identifier + password; sends a 6-digit code to the email and to the phone of the account",
        authenticated: false,
        request: Some("TwofaCodesRequest"),
        errors: &[
            "invalid_identifier",
            "invalid_credentials",
            "try_later",
            "rate_limited",
            "busy",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/reset-request",
        summary: "Lost second factor, step 2: password, email_code and phone_code (every contact of the account) and a KYC note; effective after staff approval and 48 h, cancellable meanwhile",
        authenticated: false,
        request: Some("TwofaResetRequest"),
        errors: &[
            "invalid_identifier",
            "invalid_credentials",
            "codes_required",
            "invalid_code",
            "totp_not_enabled",
            "reset_already_requested",
            "try_later",
            "rate_limited",
        ],
    },
    RouteDoc {
        method: "post",
        path: "/api/v1/2fa/reset-request/cancel",
        summary: "Cancel the open 2FA reset request: from any logged-in session (no body) or with the emailed token ({token})",
        authenticated: false,
        request: None,
        // The body is optional, so its parse errors are listed here rather than through a schema.
        errors: &[
            "invalid_token",
            "no_open_request",
            "not_authenticated",
            "malformed_json",
            "unsupported_content_type",
            "body_too_large",
            "invalid_utf8",
            "field_too_long",
        ],
    },
];

fn schemas() -> Value {
    json!({
        "Error": object(&["error"], json!({"error": object(&["code", "message"], json!({
            "code": string(), "message": string(),
            "retry_after_s": {"type": "integer"},
            "challenge": {"type": "object", "description": "present with challenge_required"},
        }))})),
        "SignupRequest": object(&["identifier", "password", "agreement_version"], json!({
            "identifier": {"type": "string", "maxLength": 254, "description": "email, or phone in E.164 (+ then digits)"},
            "password": {"type": "string", "description": "12 to 128 characters"},
            "agreement_version": string(),
            "display_name": string(),
        })),
        "VerifyRequest": object(&["identifier", "code"], json!({
            "identifier": string(), "code": {"type": "string", "pattern": "^[0-9]{6}$"},
            "signup_token": string(), "password": string(),
        })),
        "LoginRequest": object(&["identifier", "password"], json!({
            "identifier": string(), "password": string(), "pow_token": string(), "pow_nonce": string(),
        })),
        "SecondFactorRequest": object(&["pre_auth_token"], json!({
            "pre_auth_token": string(), "totp_code": string(), "recovery_code": string(),
            "email_code": string(), "sms_code": string(),
        })),
        "RegenerateRequest": object(&["totp_code"], json!({"totp_code": string()})),
        "SendCodeRequest": object(&["pre_auth_token", "method"], json!({
            "pre_auth_token": string(), "method": {"enum": ["email", "sms"]},
        })),
        "DisableFactorRequest": object(&[], json!({"totp_code": string(), "recovery_code": string()})),
        "AcceptAgreementRequest": object(&["version"], json!({"version": string()})),
        "ConfirmLoginRequest": object(&["confirmation_token"], json!({
            "confirmation_token": string(), "code": string(),
        })),
        "LinkRequest": object(&["token"], json!({"token": string()})),
        "QrPollRequest": object(&["id", "poll_secret"], json!({
            "id": {"type": "integer"}, "poll_secret": string(),
        })),
        "QrFindRequest": object(&[], json!({"nonce": string(), "short_code": string()})),
        "QrDecideRequest": object(&["decision"], json!({
            "nonce": string(), "short_code": string(),
            "decision": {"enum": ["approve", "deny"]},
        })),
        "ReauthRequest": object(&["password"], json!({"password": string()})),
        "ConfirmRequest": object(&["code"], json!({"code": string()})),
        "CreateKeyRequest": object(&["memo"], json!({
            "memo": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,30}$"},
            "scopes": {"type": "array", "items": {"enum": ["read", "trade", "withdraw"]}, "description": "default [\"read\"]"},
            "ip_allowlist": {"type": "array", "maxItems": 20, "items": string()},
            "totp_code": string(), "recovery_code": string(),
        })),
        "EditKeyRequest": object(&["ip_allowlist"], json!({
            "ip_allowlist": {"type": "array", "maxItems": 20, "items": string()},
            "totp_code": string(), "recovery_code": string(),
        })),
        "TwofaCodesRequest": object(&["identifier", "password"], json!({"identifier": string(), "password": string()})),
        "TwofaResetRequest": object(&["identifier", "password", "kyc_note"], json!({
            "identifier": string(), "password": string(), "email_code": string(), "phone_code": string(),
            "kyc_note": {"type": "string", "maxLength": 1000},
        })),
        "ForgotRequest": object(&["identifier"], json!({"identifier": string()})),
        "ResetRequest": object(&["token", "new_password"], json!({
            "token": string(), "new_password": string(), "totp_code": string(), "recovery_code": string(),
        })),
        "ChangePasswordRequest": object(&["current_password", "new_password"], json!({
            "current_password": string(), "new_password": string(),
        })),
        "KycL1Request": object(&["full_name", "date_of_birth", "nationality", "residence_country", "id_number", "id_document"], json!({
            "full_name": {"type": "string", "maxLength": 100},
            "date_of_birth": {"type": "string", "format": "date", "description": "YYYY-MM-DD; at least 18 years old"},
            "nationality": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
            "residence_country": {"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"},
            "residence_subdivision": {"type": "string", "description": "ISO 3166-2, e.g. US-NY (optional)"},
            "id_number": {"type": "string", "pattern": "^[A-Za-z0-9 -]{4,32}$"},
            "id_document": {"type": "string", "contentEncoding": "base64", "contentMediaType": "image/png", "description": "the ID document image, standard base64 of a PNG or JPEG file (detected by its bytes), at most 5 MiB decoded"},
        })),
        "KycL2Request": object(&["proof_of_address", "selfie"], json!({
            "proof_of_address": {"type": "string", "contentEncoding": "base64", "description": "standard base64 of a PNG or JPEG file, at most 5 MiB decoded"},
            "selfie": {"type": "string", "contentEncoding": "base64", "description": "standard base64 of a PNG or JPEG file, at most 5 MiB decoded"},
        })),
        "AntiPhishingRequest": object(&["code"], json!({
            "code": {"type": "string", "pattern": "^[A-Za-z0-9_]{4,20}$"}, "totp_code": string(), "recovery_code": string(),
        })),
    })
}

/// Whether a request schema carries a step-up code (`totp_code` or `recovery_code`).
fn steps_up(schema: &str) -> bool {
    schemas()
        .pointer(&format!("/{schema}/properties"))
        .and_then(Value::as_object)
        .is_some_and(|p| p.contains_key("totp_code") || p.contains_key("recovery_code"))
}

fn operation(route: &RouteDoc) -> Value {
    let mut errors: Vec<&str> = route.errors.to_vec();
    if route.request.is_some() {
        errors.extend_from_slice(BAD_INPUT);
    }
    if route.method == "post"
        && super::guard::refused_from_restricted_country(route.path)
        && !errors.contains(&"region_restricted")
    {
        errors.push("region_restricted");
    }
    if route.authenticated {
        errors.extend_from_slice(&["not_authenticated", "invalid_session", "session_expired"]);
    }
    // A step-up code in the body is checked for its shape before anything else.
    if route.request.is_some_and(steps_up) {
        for code in ["malformed_code", "malformed_recovery_code"] {
            if !errors.contains(&code) {
                errors.push(code);
            }
        }
    }
    // Path parameters that do not parse, and actions a route does not know.
    if route.path.contains("{id}") && !errors.contains(&"invalid_id") {
        errors.push("invalid_id");
    }
    if route.path.contains("{action}") && !errors.contains(&"unknown_action") {
        errors.push("unknown_action");
    }
    let mut op = json!({
        "summary": route.summary,
        "operationId": format!("{}_{}", route.method, route.path.trim_start_matches("/api/v1/").replace(['/', '{', '}', '-', '.'], "_")),
        "responses": {
            "200": {"description": "Success", "content": {"application/json": {"schema": {"type": "object"}}}},
            "default": {"description": format!("Error; codes: {}", errors.join(", ")), "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
        },
    });
    if let Some(object) = op.as_object_mut() {
        if let Some(schema) = route.request {
            object.insert("requestBody".into(), json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{schema}")}}}}));
        }
        if route.authenticated {
            object.insert(
                "security".into(),
                json!([{"session_cookie": []}, {"bearer": []}]),
            );
        }
        if route.path.contains("{id}") {
            object.insert("parameters".into(), json!([{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}]));
        }
        if route.path.contains("{token}") {
            object.insert("parameters".into(), json!([{"name": "token", "in": "path", "required": true, "schema": {"type": "string"}}]));
        }
        if route.path.contains("{action}") {
            object.insert("parameters".into(), json!([
                {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                {"name": "action", "in": "path", "required": true, "schema": {"type": "string"}},
            ]));
        }
        if route.path.contains("{document_id}") {
            object.insert("parameters".into(), json!([
                {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
                {"name": "document_id", "in": "path", "required": true, "schema": {"type": "integer"}},
            ]));
        }
    }
    op
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for route in ROUTES
        .iter()
        .chain(super::admin::ROUTES)
        .chain(super::withdrawals_admin::ROUTES)
        .chain(super::transparency::ROUTES)
        .chain(super::claims::ROUTES)
    {
        let entry = paths.entry(route.path).or_insert_with(|| json!({}));
        if let Some(methods) = entry.as_object_mut() {
            methods.insert(route.method.into(), operation(route));
        }
    }
    let mut schemas = schemas();
    if let Some(all) = schemas.as_object_mut() {
        for more in [
            super::admin::schemas(),
            super::claims::schemas(),
            super::transparency::schemas(),
        ] {
            if let Value::Object(more) = more {
                all.extend(more);
            }
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Bulwark account API", "version": "1", "description": "Native JSON API for accounts, login and security settings. Errors are {\"error\":{\"code\",\"message\"}}. Cookie-authenticated state-changing requests must be same-origin; bearer-token requests are exempt."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "session_cookie": {"type": "apiKey", "in": "cookie", "name": super::sessions::SESSION_COOKIE},
                "bearer": {"type": "http", "scheme": "bearer"},
            },
        },
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn serve() -> Json<Value> {
    Json(document())
}
