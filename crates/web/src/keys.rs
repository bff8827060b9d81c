//! The API keys page (`/security/api-keys`): list the account's keys, create one (password
//! re-authentication and, with TOTP on, an authenticator or recovery code; the secret is shown
//! once), replace a key's IP allow-list, delete a key. Every action is one call of
//! `bulwark_accounts::api_keys`, the service behind `/api/v1/api-keys` too, so the page and the
//! JSON API apply the same rules (withdraw scope only with an IP allow-list, at most 20 keys,
//! idle keys without allow-list stop after 90 days).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use bulwark_accounts::api_keys::{self, CreateKeyRequest, EditKeyRequest};
use bulwark_accounts::keys::IDLE_EXPIRY_MS;
use serde::Deserialize;
use serde_json::Value;

use crate::auth::{CsrfForm, PageForm, csrf_ok, who_and_me};
use crate::caller::{self, Answer, Caller};
use crate::json::{strings, text};
use crate::pages::{self, Flash, Who};
use crate::security::expired_form;
use crate::{WebState, csrf_token};

/// One key as the list shows it.
pub struct KeyRow {
    pub id: i64,
    pub access_key: String,
    pub memo: String,
    pub scopes: String,
    /// Comma-separated for the table.
    pub ips: String,
    /// One per line, for the edit form.
    pub ips_lines: String,
    pub created: String,
    pub last_used: String,
    /// Human status: active, or stopped/stops after 90 idle days without allow-list.
    pub status: String,
    pub expired: bool,
}

/// A key just created: its secret is shown on this one page only.
pub struct NewKey {
    pub access_key: String,
    pub secret: String,
    pub memo: String,
    pub withdrawals_after: String,
}

/// What the create form had, kept when it is shown again after an error.
#[derive(Default)]
pub struct Draft {
    pub memo: String,
    pub read: bool,
    pub trade: bool,
    pub withdraw: bool,
    pub ips: String,
}

#[derive(Template)]
#[template(path = "api_keys.html")]
pub struct KeysPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub totp_enabled: bool,
    pub keys: Vec<KeyRow>,
    pub created: Option<NewKey>,
    pub draft: Draft,
    /// The key whose edit form the error belongs to (0: the create form or none).
    pub error_key: i64,
}

/// The status line of a key from the list answer.
fn status(row: &Value, ips_empty: bool) -> (String, bool) {
    if row.get("expired").and_then(Value::as_bool) == Some(true) {
        let message = "Stopped: unused for 90 days without an IP allow-list";
        return (message.into(), true);
    }
    if !ips_empty {
        return ("Active".into(), false);
    }
    let created = row.get("created_ms").and_then(Value::as_i64).unwrap_or(0);
    let last = row
        .get("last_used_ms")
        .and_then(Value::as_i64)
        .unwrap_or(0)
        .max(created);
    let until = pages::utc_time(last.saturating_add(IDLE_EXPIRY_MS));
    (
        format!("Active; stops if unused until {until} UTC (no IP allow-list)"),
        false,
    )
}

/// The table rows from the key list.
fn key_rows(body: &Value) -> Vec<KeyRow> {
    body.get("api_keys")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|row| {
                    let ips = strings(row, "ip_allowlist");
                    let (status, expired) = status(row, ips.is_empty());
                    KeyRow {
                        id: row.get("id").and_then(Value::as_i64).unwrap_or_default(),
                        access_key: text(row, "access_key"),
                        memo: text(row, "memo"),
                        scopes: strings(row, "scopes").join(", "),
                        ips: ips.join(", "),
                        ips_lines: ips.join("\n"),
                        created: row
                            .get("created_ms")
                            .and_then(Value::as_i64)
                            .map(pages::utc_time)
                            .unwrap_or_default(),
                        last_used: row
                            .get("last_used_ms")
                            .and_then(Value::as_i64)
                            .map_or_else(|| "never".into(), pages::utc_time),
                        status,
                        expired,
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// What a POST adds to the page.
#[derive(Default)]
struct Extra {
    created: Option<NewKey>,
    draft: Draft,
    error_key: i64,
}

/// Renders the keys page, or sends the browser to the login page without a session.
async fn view(
    state: &WebState,
    caller: &Caller,
    status: StatusCode,
    flash: Flash,
    extra: Extra,
) -> Response {
    let (Some((who, me)), Some(token)) = (who_and_me(state, caller).await, caller.session_token())
    else {
        return pages::see_other("/login");
    };
    let list = caller
        .signed_in(state, StatusCode::OK, async |authed| {
            api_keys::list(&state.v1, &authed).await
        })
        .await;
    let mut flash = flash;
    if !list.is_ok() && flash.error.is_empty() {
        flash.error = list.error_message();
    }
    let page = KeysPage {
        who: Some(who),
        notice: flash.notice,
        error: flash.error,
        csrf: csrf_token(&token),
        totp_enabled: me.body.get("totp_enabled").and_then(Value::as_bool) == Some(true),
        keys: key_rows(&list.body),
        created: extra.created,
        draft: extra.draft,
        error_key: extra.error_key,
    };
    pages::render(status, &page)
}

pub async fn page(State(state): State<WebState>, caller: Caller) -> Response {
    let extra = Extra {
        draft: Draft {
            read: true,
            ..Draft::default()
        },
        ..Extra::default()
    };
    view(&state, &caller, StatusCode::OK, Flash::default(), extra).await
}

/// The IP allow-list textarea: one entry per line (commas and spaces also separate).
pub fn parse_ip_lines(text: &str) -> Vec<String> {
    text.split(|c: char| c == '\n' || c == '\r' || c == ',' || c.is_whitespace())
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(str::to_string)
        .collect()
}

/// The second factor typed in the one code field, as (authenticator code, recovery code):
/// six digits are an authenticator code, anything else a recovery code.
/// Which second factor a single code field holds, by its shape: six digits are an
/// authenticator code, anything else a recovery code (every page with one field reads it so).
pub(crate) fn second_factor(code: &str) -> (Option<String>, Option<String>) {
    let code = code.trim();
    if code.is_empty() {
        return (None, None);
    }
    let six_digits = code.len() == 6 && code.chars().all(|c| c.is_ascii_digit());
    if six_digits {
        (Some(code.to_string()), None)
    } else {
        (None, Some(code.to_string()))
    }
}

/// Re-authenticates with `password` when one was typed; the page with the API's error otherwise.
async fn reauth(
    state: &WebState,
    caller: &mut Caller,
    password: &str,
    on_error: impl FnOnce() -> Extra,
) -> Result<Vec<HeaderValue>, Response> {
    if password.is_empty() {
        return Ok(Vec::new());
    }
    match caller::reauth(state, caller, password).await {
        Ok(cookies) => Ok(cookies),
        Err(refused) => {
            let flash = Flash::error(refused.error_message());
            Err(view(state, caller, refused.status, flash, on_error()).await)
        }
    }
}

/// The message for an API error, with a hint when the password is needed.
fn error_flash(answer: &Answer) -> Flash {
    if answer.error_code() == "reauth_required" {
        return Flash::error("Confirm your password to change API keys.");
    }
    Flash::error(answer.error_message())
}

#[derive(Deserialize)]
pub struct CreateForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    memo: String,
    #[serde(default)]
    scope_read: Option<String>,
    #[serde(default)]
    scope_trade: Option<String>,
    #[serde(default)]
    scope_withdraw: Option<String>,
    #[serde(default)]
    ip_allowlist: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Creates a key and shows its secret once.
pub async fn create(
    State(state): State<WebState>,
    mut caller: Caller,
    PageForm(form): PageForm<CreateForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let draft = || Draft {
        memo: form.memo.clone(),
        read: form.scope_read.is_some(),
        trade: form.scope_trade.is_some(),
        withdraw: form.scope_withdraw.is_some(),
        ips: form.ip_allowlist.clone(),
    };
    let on_error = || Extra {
        draft: draft(),
        ..Extra::default()
    };
    let cookies = match reauth(&state, &mut caller, &form.password, on_error).await {
        Ok(cookies) => cookies,
        Err(page) => return page,
    };
    let scopes = [
        ("read", &form.scope_read),
        ("trade", &form.scope_trade),
        ("withdraw", &form.scope_withdraw),
    ]
    .into_iter()
    .filter(|(_, ticked)| ticked.is_some())
    .map(|(name, _)| name.to_string())
    .collect();
    let (totp_code, recovery_code) = second_factor(&form.code);
    let request = CreateKeyRequest {
        memo: form.memo.trim().to_string(),
        scopes,
        ip_allowlist: parse_ip_lines(&form.ip_allowlist),
        totp_code,
        recovery_code,
    };
    let answer = caller
        .signed_in(&state, StatusCode::CREATED, async |authed| {
            api_keys::create(&state.v1, &authed, request).await
        })
        .await;
    let response = if answer.is_ok() {
        let withdrawals_after = answer
            .body
            .get("withdrawals_allowed_after_ms")
            .and_then(Value::as_i64)
            .map(pages::utc_time)
            .unwrap_or_default();
        let extra = Extra {
            created: Some(NewKey {
                access_key: answer.text("/access_key"),
                secret: answer.text("/secret"),
                memo: answer.text("/memo"),
                withdrawals_after,
            }),
            draft: Draft {
                read: true,
                ..Draft::default()
            },
            ..Extra::default()
        };
        let flash = Flash::notice("The API key was created.");
        view(&state, &caller, StatusCode::OK, flash, extra).await
    } else {
        let status = answer.status;
        view(&state, &caller, status, error_flash(&answer), on_error()).await
    };
    pages::with_cookies(response, &cookies)
}

#[derive(Deserialize)]
pub struct EditForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    ip_allowlist: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

/// Replaces a key's IP allow-list.
pub async fn edit(
    State(state): State<WebState>,
    mut caller: Caller,
    Path(id): Path<i64>,
    PageForm(form): PageForm<EditForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let on_error = || Extra {
        error_key: id,
        draft: Draft {
            read: true,
            ..Draft::default()
        },
        ..Extra::default()
    };
    let cookies = match reauth(&state, &mut caller, &form.password, on_error).await {
        Ok(cookies) => cookies,
        Err(page) => return page,
    };
    let (totp_code, recovery_code) = second_factor(&form.code);
    let request = EditKeyRequest {
        ip_allowlist: parse_ip_lines(&form.ip_allowlist),
        totp_code,
        recovery_code,
    };
    let answer = caller
        .signed_in(&state, StatusCode::OK, async |authed| {
            api_keys::edit(&state.v1, &authed, id.to_string(), request).await
        })
        .await;
    let response = if answer.is_ok() {
        let flash = Flash::notice("The key's IP allow-list was saved.");
        view(&state, &caller, StatusCode::OK, flash, on_error()).await
    } else {
        let status = answer.status;
        view(&state, &caller, status, error_flash(&answer), on_error()).await
    };
    pages::with_cookies(response, &cookies)
}

/// Deletes a key.
pub async fn delete(
    State(state): State<WebState>,
    caller: Caller,
    Path(id): Path<i64>,
    PageForm(form): PageForm<CsrfForm>,
) -> Response {
    if !csrf_ok(&caller, &form.csrf) {
        return expired_form();
    }
    let answer = caller
        .signed_in(&state, StatusCode::OK, async |authed| {
            api_keys::delete(&state.v1, &authed, id.to_string()).await
        })
        .await;
    let (status, flash) = if answer.is_ok() {
        (StatusCode::OK, Flash::notice("The API key was deleted."))
    } else {
        (answer.status, error_flash(&answer))
    };
    let extra = Extra {
        draft: Draft {
            read: true,
            ..Draft::default()
        },
        ..Extra::default()
    };
    view(&state, &caller, status, flash, extra).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
    use super::*;

    #[test]
    fn ip_lines_split_on_lines_commas_and_spaces() {
        assert_eq!(
            parse_ip_lines("1.2.3.4\r\n 10.0.0.0/8,\n\n::1 2001:db8::/32"),
            vec!["1.2.3.4", "10.0.0.0/8", "::1", "2001:db8::/32"]
        );
        assert!(parse_ip_lines(" \n ").is_empty());
    }

    #[test]
    fn second_factor_field_by_shape() {
        assert_eq!(second_factor(" 123456 "), (Some("123456".into()), None));
        assert_eq!(
            second_factor("ABCD-EFGH-IJKL-MNOP"),
            (None, Some("ABCD-EFGH-IJKL-MNOP".into()))
        );
        assert_eq!(second_factor("12345"), (None, Some("12345".into())));
        assert_eq!(second_factor("  "), (None, None));
    }

    #[test]
    fn rows_show_status_and_never_a_secret() {
        let body = serde_json::json!({"api_keys": [
            {"id": 3, "access_key": "ak", "memo": "bot", "scopes": ["read", "trade"],
             "ip_allowlist": [], "created_ms": 0, "last_used_ms": null, "expired": false},
            {"id": 4, "access_key": "ak2", "memo": "w", "scopes": ["read", "withdraw"],
             "ip_allowlist": ["1.2.3.4", "10.0.0.0/8"], "created_ms": 0,
             "last_used_ms": 86_400_000, "expired": false},
            {"id": 5, "access_key": "ak3", "memo": "old", "scopes": ["read"],
             "ip_allowlist": [], "created_ms": 0, "last_used_ms": null, "expired": true}
        ]});
        let rows = key_rows(&body);
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[0].scopes, "read, trade");
        assert_eq!(rows[0].last_used, "never");
        assert!(
            rows[0].status.contains("1970-04-01 00:00"),
            "{}",
            rows[0].status
        );
        assert_eq!(rows[1].ips, "1.2.3.4, 10.0.0.0/8");
        assert_eq!(rows[1].ips_lines, "1.2.3.4\n10.0.0.0/8");
        assert_eq!(rows[1].status, "Active");
        assert!(rows[2].expired && rows[2].status.starts_with("Stopped"));
    }

    #[test]
    fn secret_is_rendered_only_when_just_created() {
        let page = KeysPage {
            who: None,
            notice: String::new(),
            error: String::new(),
            csrf: "c".into(),
            totp_enabled: true,
            keys: Vec::new(),
            created: Some(NewKey {
                access_key: "ak".into(),
                secret: "s3cr3t<".into(),
                memo: "bot".into(),
                withdrawals_after: String::new(),
            }),
            draft: Draft::default(),
            error_key: 0,
        };
        let html = page.render().unwrap();
        assert!(html.contains("s3cr3t") && !html.contains("s3cr3t<"));
        assert!(html.contains("id=\"new-key-secret\"") && html.contains("name=\"code\""));
        let page = KeysPage {
            created: None,
            totp_enabled: false,
            ..page
        };
        let html = page.render().unwrap();
        assert!(!html.contains("s3cr3t") && !html.contains("name=\"code\""));
    }
}
