//! One notifier for every message to a user: email through SMTP, SMS through an HTTP gateway, and
//! by default (nothing configured) an outbox folder holding one RFC 5322 `.eml` (or `.sms.txt`)
//! file per message plus a console line.
//!
//! Every message is rendered by [`render_text`], which puts the user's anti-phishing code on the
//! first line (`Anti-phishing code: XXXX`) when one is set (F1) and ends with the "this wasn't me"
//! freeze link (G5). Emails without a freeze link are refused, so no template can forget it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::Deserialize;

use bulwark_identity::clock::Clock;

/// The fixed first line, followed by the code.
pub const ANTI_PHISHING_PREFIX: &str = "Anti-phishing code: ";
/// The fixed line before the freeze link.
pub const FREEZE_PREFIX: &str = "This wasn't me - freeze my account: ";
/// Default SMTP / gateway timeout.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// Why a message could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("invalid sender or recipient address {address:?}: {reason}")]
    Address { address: String, reason: String },
    #[error("email messages must carry a \"this wasn't me\" freeze link")]
    MissingFreezeLink,
    #[error("could not build the email: {0}")]
    Build(String),
    #[error("could not write to the outbox {path}: {source}")]
    Outbox {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("SMTP configuration is invalid: {0}")]
    SmtpConfig(String),
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
    #[error("SMS gateway request failed: {0}")]
    SmsGateway(String),
    #[error("SMS gateway answered with HTTP status {status}")]
    SmsGatewayStatus { status: u16 },
}

/// Who receives a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    Email(String),
    /// E.164 phone number.
    Sms(String),
}

/// What a message is about (file names, logs, tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    VerifyEmail,
    VerifyPhone,
    LoginCode,
    NewDeviceConfirm,
    NewDeviceLogin,
    IncompleteLogin,
    PasswordReset,
    PasswordChanged,
    SecondFactorEnabled,
    SecondFactorDisabled,
    RecoveryCodesRegenerated,
    AntiPhishingChanged,
    EmailChanged,
    PhoneChanged,
    ApiKeyCreated,
    ApiKeyDeleted,
    AccountLocked,
    SecondFactorLocked,
    AccountFrozen,
    SecondFactorResetRequested,
    SecondFactorResetCompleted,
    KycDecision,
    WithdrawalRequested,
    WhitelistChanged,
    IncidentNotice,
    /// A decision on a Safeguard claim that moved the user's money (a clawback).
    ClaimUpdate,
}

impl MessageKind {
    pub const ALL: [Self; 26] = [
        Self::VerifyEmail,
        Self::VerifyPhone,
        Self::LoginCode,
        Self::NewDeviceConfirm,
        Self::NewDeviceLogin,
        Self::IncompleteLogin,
        Self::PasswordReset,
        Self::PasswordChanged,
        Self::SecondFactorEnabled,
        Self::SecondFactorDisabled,
        Self::RecoveryCodesRegenerated,
        Self::AntiPhishingChanged,
        Self::EmailChanged,
        Self::PhoneChanged,
        Self::ApiKeyCreated,
        Self::ApiKeyDeleted,
        Self::AccountLocked,
        Self::SecondFactorLocked,
        Self::AccountFrozen,
        Self::SecondFactorResetRequested,
        Self::SecondFactorResetCompleted,
        Self::KycDecision,
        Self::WithdrawalRequested,
        Self::WhitelistChanged,
        Self::IncidentNotice,
        Self::ClaimUpdate,
    ];

    /// Stable name (file names, logs).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::VerifyPhone => "verify_phone",
            Self::LoginCode => "login_code",
            Self::NewDeviceConfirm => "new_device_confirm",
            Self::NewDeviceLogin => "new_device_login",
            Self::IncompleteLogin => "incomplete_login",
            Self::PasswordReset => "password_reset",
            Self::PasswordChanged => "password_changed",
            Self::SecondFactorEnabled => "second_factor_enabled",
            Self::SecondFactorDisabled => "second_factor_disabled",
            Self::RecoveryCodesRegenerated => "recovery_codes_regenerated",
            Self::AntiPhishingChanged => "anti_phishing_changed",
            Self::EmailChanged => "email_changed",
            Self::PhoneChanged => "phone_changed",
            Self::ApiKeyCreated => "api_key_created",
            Self::ApiKeyDeleted => "api_key_deleted",
            Self::AccountLocked => "account_locked",
            Self::SecondFactorLocked => "second_factor_locked",
            Self::AccountFrozen => "account_frozen",
            Self::SecondFactorResetRequested => "second_factor_reset_requested",
            Self::SecondFactorResetCompleted => "second_factor_reset_completed",
            Self::KycDecision => "kyc_decision",
            Self::WithdrawalRequested => "withdrawal_requested",
            Self::WhitelistChanged => "whitelist_changed",
            Self::IncidentNotice => "incident_notice",
            Self::ClaimUpdate => "claim_update",
        }
    }
}

/// A message to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub to: Recipient,
    pub kind: MessageKind,
    pub subject: String,
    pub body_text: String,
    pub anti_phishing_code: Option<String>,
    pub freeze_link: Option<String>,
}

/// The text every channel sends: anti-phishing line first (when set), the body, then the freeze
/// link (when given).
pub fn render_text(message: &Message) -> String {
    let mut out = String::new();
    if let Some(code) = &message.anti_phishing_code {
        out.push_str(ANTI_PHISHING_PREFIX);
        out.push_str(code);
        out.push_str("\n\n");
    }
    // Bodies may be written with CRLF or LF; one line ending keeps the outbox copy 8-bit and
    // readable (CRLF is applied when the message is encoded).
    out.push_str(&message.body_text.trim_end().replace("\r\n", "\n"));
    out.push('\n');
    if let Some(link) = &message.freeze_link {
        out.push('\n');
        out.push_str(FREEZE_PREFIX);
        out.push_str(link);
        out.push('\n');
    }
    out
}

/// SMTP transport security.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain text; only for a relay on localhost or a test server.
    None,
    /// STARTTLS required (port 587 by default).
    StartTls,
    /// TLS from the first byte (port 465 by default).
    Implicit,
}

/// SMTP server settings.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct SmtpConfig {
    pub host: String,
    pub port: Option<u16>,
    pub tls: SmtpTls,
    pub username: Option<String>,
    pub password: Option<String>,
    pub timeout_ms: Option<u64>,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// HTTP SMS gateway: `POST url` with JSON `{"to": "+…", "text": "…"}`.
#[derive(Clone, PartialEq, Eq, Deserialize)]
pub struct SmsGatewayConfig {
    pub url: String,
    pub bearer_token: Option<String>,
    pub timeout_ms: Option<u64>,
}

impl std::fmt::Debug for SmsGatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsGatewayConfig")
            .field("url", &self.url)
            .field(
                "bearer_token",
                &self.bearer_token.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// Notifier configuration: anything not configured goes to the outbox.
#[derive(Debug, Clone, Deserialize)]
pub struct NotifierConfig {
    /// Sender mailbox, e.g. `Bulwark <no-reply@example.com>`.
    pub from: String,
    /// Outbox folder (`DATA/outbox/`).
    pub outbox_dir: PathBuf,
    #[serde(default)]
    pub smtp: Option<SmtpConfig>,
    #[serde(default)]
    pub sms_gateway: Option<SmsGatewayConfig>,
}

/// Where a message went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Outbox(PathBuf),
    Smtp,
    SmsGateway,
}

struct SmsGateway {
    client: reqwest::Client,
    config: SmsGatewayConfig,
}

/// Sends messages through the configured channels.
pub struct Notifier {
    from: Mailbox,
    outbox_dir: PathBuf,
    smtp: Option<AsyncSmtpTransport<Tokio1Executor>>,
    sms: Option<SmsGateway>,
    clock: Arc<dyn Clock>,
    seq: AtomicU64,
}

impl std::fmt::Debug for Notifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifier")
            .field("from", &self.from.to_string())
            .field("outbox_dir", &self.outbox_dir)
            .field("smtp", &self.smtp.is_some())
            .field(
                "sms_gateway",
                &self.sms.as_ref().map(|s| s.config.url.clone()),
            )
            .finish()
    }
}

fn mailbox(address: &str) -> Result<Mailbox, NotifyError> {
    address
        .parse::<Mailbox>()
        .map_err(|e| NotifyError::Address {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

fn build_smtp(config: &SmtpConfig) -> Result<AsyncSmtpTransport<Tokio1Executor>, NotifyError> {
    type Smtp = AsyncSmtpTransport<Tokio1Executor>;
    let mut builder = match config.tls {
        SmtpTls::None => Smtp::builder_dangerous(config.host.as_str()),
        SmtpTls::StartTls => Smtp::starttls_relay(&config.host)
            .map_err(|e| NotifyError::SmtpConfig(e.to_string()))?,
        SmtpTls::Implicit => {
            Smtp::relay(&config.host).map_err(|e| NotifyError::SmtpConfig(e.to_string()))?
        }
    };
    if let Some(port) = config.port {
        builder = builder.port(port);
    }
    if let (Some(user), Some(pass)) = (&config.username, &config.password) {
        builder = builder.credentials(Credentials::new(user.clone(), pass.clone()));
    }
    let timeout = Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
    Ok(builder.timeout(Some(timeout)).build())
}

fn build_sms(config: &SmsGatewayConfig) -> Result<SmsGateway, NotifyError> {
    let timeout = Duration::from_millis(config.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS));
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(|e| NotifyError::SmsGateway(e.to_string()))?;
    Ok(SmsGateway {
        client,
        config: config.clone(),
    })
}

/// "a***@example.com" / "+44******0958": enough to recognise a recipient in logs, no more.
fn masked(recipient: &Recipient) -> String {
    match recipient {
        Recipient::Email(address) => match address.split_once('@') {
            Some((local, domain)) => {
                format!(
                    "{}***@{domain}",
                    local.chars().next().map(String::from).unwrap_or_default()
                )
            }
            None => "***".to_string(),
        },
        Recipient::Sms(number) => {
            let chars: Vec<char> = number.chars().collect();
            let keep = chars.len().saturating_sub(4);
            chars
                .iter()
                .enumerate()
                .map(|(i, c)| if i == 0 || i >= keep { *c } else { '*' })
                .collect()
        }
    }
}

/// Longest line an RFC 5322 message may carry, excluding CRLF.
const MAX_LINE_BYTES: usize = 998;

/// The text with CRLF line endings when it is valid as an 8bit body (no NUL or bare CR, lines
/// at most 998 bytes); `None` otherwise.
fn eight_bit_body(text: &str) -> Option<Vec<u8>> {
    let lines: Vec<&str> = text.split('\n').collect();
    let valid = lines
        .iter()
        .all(|l| l.len() <= MAX_LINE_BYTES && !l.contains('\r') && !l.contains('\0'));
    valid.then(|| lines.join("\r\n").into_bytes())
}

impl Notifier {
    pub fn new(config: &NotifierConfig, clock: Arc<dyn Clock>) -> Result<Self, NotifyError> {
        Ok(Self {
            from: mailbox(&config.from)?,
            outbox_dir: config.outbox_dir.clone(),
            smtp: config.smtp.as_ref().map(build_smtp).transpose()?,
            sms: config.sms_gateway.as_ref().map(build_sms).transpose()?,
            clock,
            seq: AtomicU64::new(0),
        })
    }

    /// Send one message through its channel.
    pub async fn send(&self, message: &Message) -> Result<Delivery, NotifyError> {
        match &message.to {
            Recipient::Email(address) => self.send_email(message, address).await,
            Recipient::Sms(number) => self.send_sms(message, number).await,
        }
    }

    fn build_email(
        &self,
        message: &Message,
        address: &str,
        for_outbox: bool,
    ) -> Result<lettre::Message, NotifyError> {
        if message.freeze_link.is_none() {
            return Err(NotifyError::MissingFreezeLink);
        }
        let text = render_text(message);
        // The outbox keeps bodies readable (8bit) so people and tests can copy codes and links;
        // SMTP gets lettre's safest encoding (quoted-printable when lines are long).
        let body = match (for_outbox, eight_bit_body(&text)) {
            (true, Some(crlf)) => {
                Body::dangerous_pre_encoded(crlf, ContentTransferEncoding::EightBit)
            }
            _ => Body::new(text),
        };
        lettre::Message::builder()
            .from(self.from.clone())
            .to(mailbox(address)?)
            .subject(message.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(body)
            .map_err(|e| NotifyError::Build(e.to_string()))
    }

    async fn send_email(&self, message: &Message, address: &str) -> Result<Delivery, NotifyError> {
        match &self.smtp {
            Some(smtp) => {
                let email = self.build_email(message, address, false)?;
                smtp.send(email)
                    .await
                    .map_err(|e| NotifyError::Smtp(e.to_string()))?;
                tracing::info!(kind = message.kind.as_str(), to = %masked(&message.to), "email sent via SMTP");
                Ok(Delivery::Smtp)
            }
            None => {
                let email = self.build_email(message, address, true)?;
                self.write_outbox(message, "eml", &email.formatted()).await
            }
        }
    }

    async fn send_sms(&self, message: &Message, number: &str) -> Result<Delivery, NotifyError> {
        let text = render_text(message);
        match &self.sms {
            Some(gateway) => {
                let mut request = gateway
                    .client
                    .post(&gateway.config.url)
                    .json(&serde_json::json!({ "to": number, "text": text }));
                if let Some(token) = &gateway.config.bearer_token {
                    request = request.bearer_auth(token);
                }
                let response = request
                    .send()
                    .await
                    .map_err(|e| NotifyError::SmsGateway(e.to_string()))?;
                if !response.status().is_success() {
                    return Err(NotifyError::SmsGatewayStatus {
                        status: response.status().as_u16(),
                    });
                }
                tracing::info!(kind = message.kind.as_str(), to = %masked(&message.to), "SMS sent via gateway");
                Ok(Delivery::SmsGateway)
            }
            None => {
                let file = format!("To: {number}\nKind: {}\n\n{text}", message.kind.as_str());
                self.write_outbox(message, "sms.txt", file.as_bytes()).await
            }
        }
    }

    async fn write_outbox(
        &self,
        message: &Message,
        extension: &str,
        bytes: &[u8],
    ) -> Result<Delivery, NotifyError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| NotifyError::Outbox { path, source }
        };
        tokio::fs::create_dir_all(&self.outbox_dir)
            .await
            .map_err(io(&self.outbox_dir))?;
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let name = format!(
            "{:013}-{seq:06}-{}.{extension}",
            self.clock.now_ms().max(0),
            message.kind.as_str()
        );
        let path = self.outbox_dir.join(&name);
        // Write then rename, so a reader never sees half a message.
        let tmp = self.outbox_dir.join(format!(".{name}.tmp"));
        tokio::fs::write(&tmp, bytes).await.map_err(io(&tmp))?;
        tokio::fs::rename(&tmp, &path).await.map_err(io(&path))?;
        tracing::info!(
            kind = message.kind.as_str(),
            to = %masked(&message.to),
            file = %path.display(),
            "notification written to outbox"
        );
        Ok(Delivery::Outbox(path))
    }
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )]
    use super::*;
    use bulwark_identity::clock::TestClock;
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    use tokio::net::TcpListener;

    const FREEZE: &str =
        "http://127.0.0.1:8080/freeze?t=abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

    fn message(to: Recipient, kind: MessageKind, code: Option<&str>) -> Message {
        Message {
            to,
            kind,
            subject: format!("Bulwark: {}", kind.as_str()),
            body_text: format!(
                "Your code is 123456.\nThis message is about {}.\n",
                kind.as_str()
            ),
            anti_phishing_code: code.map(String::from),
            freeze_link: Some(FREEZE.into()),
        }
    }

    fn outbox_notifier(dir: &Path) -> Notifier {
        let config = NotifierConfig {
            from: "Bulwark <no-reply@bulwark.test>".into(),
            outbox_dir: dir.join("outbox"),
            smtp: None,
            sms_gateway: None,
        };
        Notifier::new(&config, Arc::new(TestClock::new(1_700_000_000_000))).unwrap()
    }

    fn eml_body(raw: &str) -> String {
        let (headers, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(
            headers.contains("Content-Transfer-Encoding: 8bit") || headers.contains("7bit"),
            "{headers}"
        );
        body.replace("\r\n", "\n")
    }

    #[test]
    fn render_layout() {
        let m = message(
            Recipient::Email("a@b.test".into()),
            MessageKind::LoginCode,
            Some("Blue_42"),
        );
        let text = render_text(&m);
        assert!(text.starts_with("Anti-phishing code: Blue_42\n\nYour code is 123456."));
        assert!(text.ends_with(&format!("\n{FREEZE_PREFIX}{FREEZE}\n")));
        let plain = render_text(&Message {
            anti_phishing_code: None,
            freeze_link: None,
            ..m
        });
        assert!(plain.starts_with("Your code is"));
    }

    #[tokio::test]
    async fn every_kind_renders_the_code_first_in_email_and_sms() {
        let dir = tempfile::tempdir().unwrap();
        let n = outbox_notifier(dir.path());
        for kind in MessageKind::ALL {
            for to in [
                Recipient::Email("alice@example.com".into()),
                Recipient::Sms("+442079460958".into()),
            ] {
                let m = message(to.clone(), kind, Some("Blue_42"));
                let Delivery::Outbox(path) = n.send(&m).await.unwrap() else {
                    panic!("not outbox")
                };
                let raw = std::fs::read_to_string(&path).unwrap();
                let body = match to {
                    Recipient::Email(_) => {
                        assert!(
                            path.to_string_lossy()
                                .ends_with(&format!("-{}.eml", kind.as_str()))
                        );
                        assert!(raw.contains("To: alice@example.com\r\n"));
                        assert!(raw.contains(&format!("Subject: Bulwark: {}\r\n", kind.as_str())));
                        eml_body(&raw)
                    }
                    Recipient::Sms(_) => {
                        assert!(path.to_string_lossy().ends_with(".sms.txt"));
                        raw.split_once("\n\n").unwrap().1.to_string()
                    }
                };
                assert_eq!(
                    body.lines().next(),
                    Some("Anti-phishing code: Blue_42"),
                    "{kind:?} {to:?}"
                );
                assert!(
                    body.contains(&format!("{FREEZE_PREFIX}{FREEZE}")),
                    "{kind:?}"
                );
                assert!(body.contains("Your code is 123456."));
            }
        }
        let files = std::fs::read_dir(dir.path().join("outbox"))
            .unwrap()
            .count();
        assert_eq!(files, MessageKind::ALL.len() * 2);
    }

    #[tokio::test]
    async fn email_without_freeze_link_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let n = outbox_notifier(dir.path());
        let mut m = message(
            Recipient::Email("a@example.com".into()),
            MessageKind::VerifyEmail,
            None,
        );
        m.freeze_link = None;
        assert!(matches!(
            n.send(&m).await,
            Err(NotifyError::MissingFreezeLink)
        ));
        let bad = message(
            Recipient::Email("not an address".into()),
            MessageKind::VerifyEmail,
            None,
        );
        assert!(matches!(
            n.send(&bad).await,
            Err(NotifyError::Address { .. })
        ));
    }

    #[test]
    fn masking_hides_most_of_the_recipient() {
        assert_eq!(
            masked(&Recipient::Email("alice@example.com".into())),
            "a***@example.com"
        );
        assert_eq!(
            masked(&Recipient::Sms("+442079460958".into())),
            "+********0958"
        );
        let cfg = SmtpConfig {
            host: "h".into(),
            port: None,
            tls: SmtpTls::StartTls,
            username: Some("u".into()),
            password: Some("hunter2".into()),
            timeout_ms: None,
        };
        assert!(!format!("{cfg:?}").contains("hunter2"));
    }

    /// A minimal SMTP server: accepts one message and returns its DATA.
    async fn fake_smtp(listener: TcpListener) -> String {
        let (socket, _) = listener.accept().await.unwrap();
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 fake ESMTP\r\n").await.unwrap();
        let mut data = String::new();
        let mut in_data = false;
        while let Some(line) = lines.next_line().await.unwrap() {
            if in_data {
                if line == "." {
                    write.write_all(b"250 queued\r\n").await.unwrap();
                    break;
                } else {
                    data.push_str(&line);
                    data.push('\n');
                }
                continue;
            }
            let upper = line.to_ascii_uppercase();
            let reply: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250 fake\r\n"
            } else if upper.starts_with("DATA") {
                in_data = true;
                b"354 go ahead\r\n"
            } else if upper.starts_with("QUIT") {
                write.write_all(b"221 bye\r\n").await.unwrap();
                break;
            } else {
                b"250 ok\r\n"
            };
            write.write_all(reply).await.unwrap();
        }
        data
    }

    #[tokio::test]
    async fn smtp_delivery_carries_the_rendered_body() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(fake_smtp(listener));
        let config = NotifierConfig {
            from: "Bulwark <no-reply@bulwark.test>".into(),
            outbox_dir: PathBuf::from("/nonexistent"),
            smtp: Some(SmtpConfig {
                host: "127.0.0.1".into(),
                port: Some(port),
                tls: SmtpTls::None,
                username: None,
                password: None,
                timeout_ms: Some(5_000),
            }),
            sms_gateway: None,
        };
        let n = Notifier::new(&config, Arc::new(TestClock::new(0))).unwrap();
        let m = message(
            Recipient::Email("bob@example.com".into()),
            MessageKind::PasswordReset,
            Some("Code_7"),
        );
        assert_eq!(n.send(&m).await.unwrap(), Delivery::Smtp);
        let data = server.await.unwrap();
        assert!(data.contains("Subject: Bulwark: password_reset"), "{data}");
        assert!(data.contains("Anti-phishing code: Code_7"), "{data}");
    }

    /// A minimal HTTP server: answers one request with `status` and returns the request body.
    async fn fake_gateway(listener: TcpListener, status: u16) -> (String, String) {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let (head, body) = loop {
            let n = socket.read(&mut chunk).await.unwrap();
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf).to_string();
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break (head.to_string(), body.to_string());
                }
            }
            assert!(n > 0, "connection closed early");
        };
        let response =
            format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        socket.write_all(response.as_bytes()).await.unwrap();
        (head, body)
    }

    fn gateway_notifier(port: u16) -> Notifier {
        let config = NotifierConfig {
            from: "no-reply@bulwark.test".into(),
            outbox_dir: PathBuf::from("/nonexistent"),
            smtp: None,
            sms_gateway: Some(SmsGatewayConfig {
                url: format!("http://127.0.0.1:{port}/send"),
                bearer_token: Some("tok".into()),
                timeout_ms: Some(5_000),
            }),
        };
        Notifier::new(&config, Arc::new(TestClock::new(0))).unwrap()
    }

    #[tokio::test]
    async fn sms_gateway_gets_json() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(fake_gateway(listener, 200));
        let n = gateway_notifier(port);
        let m = message(
            Recipient::Sms("+442079460958".into()),
            MessageKind::LoginCode,
            Some("Code_7"),
        );
        assert_eq!(n.send(&m).await.unwrap(), Delivery::SmsGateway);
        let (head, body) = server.await.unwrap();
        assert!(head.starts_with("POST /send "));
        assert!(
            head.to_ascii_lowercase()
                .contains("authorization: bearer tok")
        );
        let json: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(json["to"], "+442079460958");
        assert!(
            json["text"]
                .as_str()
                .unwrap()
                .starts_with("Anti-phishing code: Code_7\n")
        );
    }

    #[tokio::test]
    async fn sms_gateway_error_status_is_reported() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(fake_gateway(listener, 503));
        let n = gateway_notifier(port);
        let m = message(
            Recipient::Sms("+442079460958".into()),
            MessageKind::LoginCode,
            None,
        );
        assert!(matches!(
            n.send(&m).await,
            Err(NotifyError::SmsGatewayStatus { status: 503 })
        ));
        server.await.unwrap();
    }

    #[test]
    fn config_deserialises() {
        let cfg: NotifierConfig = serde_json::from_str(
            r#"{"from":"Bulwark <a@b.test>","outbox_dir":"data/outbox",
                "smtp":{"host":"smtp.example.com","port":587,"tls":"start-tls","username":"u","password":"p"}}"#,
        )
        .unwrap();
        assert_eq!(cfg.smtp.unwrap().tls, SmtpTls::StartTls);
        assert!(cfg.sms_gateway.is_none());
    }
}
