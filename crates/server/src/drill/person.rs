//! A person of the drill: one browser-like client of the account API (its own device cookie,
//! its own source address on the loopback network) that signs up with the emailed code, logs
//! in (solving the proof-of-work challenge when asked, answering the TOTP step when enrolled)
//! and calls the JSON API with its session.

use std::net::IpAddr;
use std::time::Duration;

use anyhow::{Context, bail};
use bulwark_identity::totp::{TotpSecret, code_at};
use serde_json::{Value, json};

use super::exchange::Exchange;

/// Every drill person's password (the drill's accounts live only in its own data directory).
const PASSWORD: &str = "drill-Correct-Horse-Battery-7";

/// Most proof-of-work attempts before giving up (the difficulty is far below this).
const POW_ATTEMPTS: u64 = 1 << 28;

pub struct Person {
    pub email: String,
    pub user_id: i64,
    pub token: String,
    http: reqwest::Client,
    device: Option<String>,
    totp: Option<TotpSecret>,
}

impl Person {
    fn client(from: IpAddr) -> anyhow::Result<reqwest::Client> {
        Ok(reqwest::Client::builder()
            .local_address(from)
            .timeout(Duration::from_secs(60))
            .build()?)
    }

    /// Signs up `email` from 127.0.0.1 with the emailed verification code and logs in.
    pub async fn sign_up(ex: &Exchange, email: &str) -> anyhow::Result<Person> {
        let mut person = Person {
            email: email.to_owned(),
            user_id: 0,
            token: String::new(),
            http: Person::client(IpAddr::from([127, 0, 0, 1]))?,
            device: None,
            totp: None,
        };
        let agreements = ex.admin("GET", "/admin/v1/agreements", None).await?;
        let version = agreements
            .get("versions")
            .and_then(Value::as_array)
            .and_then(|list| {
                list.iter()
                    .find(|a| a.get("current").and_then(Value::as_bool) == Some(true))
            })
            .and_then(|a| a.get("version"))
            .and_then(Value::as_str)
            .context("no current user agreement")?
            .to_owned();
        let (status, body) = person
            .call(ex, "POST", "/api/v1/signup",
                  Some(json!({"identifier": email, "password": PASSWORD, "agreement_version": version})))
            .await?;
        if status != 202 {
            bail!("sign-up of {email}: {status} {body}");
        }
        let signup_token = text(&body, "signup_token")?;
        let code = ex
            .wait_for("the verification email", || async {
                Ok(ex
                    .outbox("")?
                    .iter()
                    .rev()
                    .filter(|t| t.contains(email))
                    .find_map(|t| six_digits_after(t, "verification code is ")))
            })
            .await?;
        let (status, body) = person
            .call(
                ex,
                "POST",
                "/api/v1/verify",
                Some(json!({"identifier": email, "code": code, "signup_token": signup_token})),
            )
            .await?;
        if status != 200 {
            bail!("verification of {email}: {status} {body}");
        }
        person.login(ex).await?;
        let (_, me) = person.call(ex, "GET", "/api/v1/me", None).await?;
        person.user_id = me
            .get("user_id")
            .and_then(Value::as_i64)
            .context("GET /api/v1/me answered no user_id")?;
        Ok(person)
    }

    /// From now on this person's requests come from `from` (same device cookie: in the drill,
    /// malware that copied the browser's cookies).
    pub fn move_to(&mut self, from: IpAddr) -> anyhow::Result<()> {
        self.http = Person::client(from)?;
        Ok(())
    }

    /// Password step (with the proof of work when challenged), then TOTP when enrolled.
    pub async fn login(&mut self, ex: &Exchange) -> anyhow::Result<()> {
        let mut body = json!({"identifier": self.email, "password": PASSWORD});
        let (mut status, mut answer) = self
            .call(ex, "POST", "/api/v1/login", Some(body.clone()))
            .await?;
        if status == 401 && answer.pointer("/error/code") == Some(&json!("challenge_required")) {
            let token = answer
                .pointer("/error/challenge/token")
                .and_then(Value::as_str)
                .context("a challenge without a token")?;
            let nonce = bulwark_identity::pow::solve(token, POW_ATTEMPTS)
                .context("the proof-of-work challenge was not solved")?;
            body = json!({"identifier": self.email, "password": PASSWORD, "pow_token": token, "pow_nonce": nonce});

            (status, answer) = self.call(ex, "POST", "/api/v1/login", Some(body)).await?;
        }
        if status != 200 {
            bail!("login of {}: {status} {answer}", self.email);
        }
        if answer.get("step") == Some(&json!("second_factor_required")) {
            let secret = self
                .totp
                .as_ref()
                .context("a second factor asked of a person without one")?;
            let pre_auth = text(&answer, "pre_auth_token")?;
            let code = code_at(secret, ex.now_ms())?;
            (status, answer) = self
                .call(
                    ex,
                    "POST",
                    "/api/v1/login/2fa",
                    Some(json!({"pre_auth_token": pre_auth, "totp_code": code})),
                )
                .await?;
            if status != 200 {
                bail!("TOTP step of {}: {status} {answer}", self.email);
            }
        }
        if answer.get("step") != Some(&json!("done")) {
            bail!("login of {} did not finish: {answer}", self.email);
        }
        self.token = text(&answer, "session_token")?;
        Ok(())
    }

    /// Turns on TOTP and logs in again through it (staff need a TOTP session). The clock moves
    /// to the next 30-second step so the enrolment code is not replayed.
    pub async fn enrol_totp(&mut self, ex: &mut Exchange) -> anyhow::Result<()> {
        let (status, setup) = self
            .call(ex, "POST", "/api/v1/2fa/totp/setup", None)
            .await?;
        if status != 200 {
            bail!("TOTP setup of {}: {status} {setup}", self.email);
        }
        let secret = TotpSecret::from_base32(&text(&setup, "secret")?)?;
        let code = code_at(&secret, ex.now_ms())?;
        let (status, body) = self
            .call(
                ex,
                "POST",
                "/api/v1/2fa/totp/confirm",
                Some(json!({"code": code})),
            )
            .await?;
        if status != 200 {
            bail!("TOTP confirmation of {}: {status} {body}", self.email);
        }
        self.totp = Some(secret);
        ex.advance_clock(30_000)?;
        self.login(ex).await
    }

    /// One JSON call of the account API with this person's session and device.
    pub async fn call(
        &mut self,
        ex: &Exchange,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<(u16, Value)> {
        let url = format!("{}{path}", ex.base);
        let mut request = match method {
            "GET" => self.http.get(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        if !self.token.is_empty() {
            request = request.bearer_auth(&self.token);
        }
        if let Some(device) = &self.device {
            request = request.header("cookie", format!("__Host-bulwark_device={device}"));
        }
        let answer = request
            .send()
            .await
            .with_context(|| format!("calling {url}"))?;
        for cookie in answer.headers().get_all("set-cookie") {
            if let Some(value) = cookie
                .to_str()
                .ok()
                .and_then(|c| c.strip_prefix("__Host-bulwark_device="))
                .and_then(|c| c.split(';').next())
            {
                self.device = Some(value.to_owned());
            }
        }
        let status = answer.status().as_u16();
        Ok((status, answer.json().await.unwrap_or(Value::Null)))
    }

    /// A call that must answer 200; its body.
    pub async fn ok(
        &mut self,
        ex: &Exchange,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> anyhow::Result<Value> {
        let (status, answer) = self.call(ex, method, path, body).await?;
        if status != 200 {
            bail!("{} {method} {path}: {status} {answer}", self.email);
        }
        Ok(answer)
    }
}

/// A string field of a JSON answer.
pub fn text(value: &Value, field: &str) -> anyhow::Result<String> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("no {field} in {value}"))
}

/// The six digits that follow `marker` in `text`.
fn six_digits_after(text: &str, marker: &str) -> Option<String> {
    let start = text.find(marker)? + marker.len();
    let digits: String = text.get(start..)?.chars().take(6).collect();
    (digits.len() == 6 && digits.chars().all(|c| c.is_ascii_digit())).then_some(digits)
}
