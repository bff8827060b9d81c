//! Messages to an account's owner: every notice carries the account's anti-phishing code and a
//! "this wasn't me" freeze link. One place, so no sender forgets either.

use bulwark_identity::account::LoginIdentifier;
use bulwark_identity::codes::{self, Purpose};
use bulwark_notify::{Message, MessageKind, Recipient};
use bulwark_store::AccountRow;

use crate::error::Error;
use crate::service::Service;

/// Where a message to an identifier goes (email or SMS).
pub fn recipient(identifier: &LoginIdentifier) -> Recipient {
    match identifier {
        LoginIdentifier::Email(email) => Recipient::Email(email.as_str().to_string()),
        LoginIdentifier::Phone(phone) => Recipient::Sms(phone.as_str().to_string()),
    }
}

/// Where the account's notices go: its email, else its phone.
pub fn account_recipient(account: &AccountRow) -> Option<Recipient> {
    account
        .email
        .clone()
        .map(Recipient::Email)
        .or_else(|| account.phone.clone().map(Recipient::Sms))
}

/// Sends a message to an account's contact with its anti-phishing code and a "this wasn't me"
/// freeze link (a stored, hashed single-use token); failures are logged, never shown (the
/// caller's answer must not change).
pub async fn notify(
    state: &Service,
    user_id: i64,
    to: Recipient,
    kind: MessageKind,
    subject: &str,
    body: String,
) {
    let now_ms = state.accounts.now_ms();
    let anti_phishing_code = match state.store.get_account(user_id).await {
        Ok(account) => account.and_then(|a| a.anti_phishing_code),
        Err(_) => None,
    };
    let freeze_link = match freeze_token(state, user_id, now_ms).await {
        Ok(token) => format!("{}/account/freeze?token={token}", state.accounts.public_url),
        Err(error) => {
            tracing::warn!(
                "api v1: freeze link for {}: {}",
                kind.as_str(),
                error.message
            );
            return;
        }
    };
    let message = Message {
        to,
        kind,
        subject: subject.to_string(),
        body_text: body,
        anti_phishing_code,
        freeze_link: Some(freeze_link),
    };
    if let Err(error) = state.accounts.notifier.send(&message).await {
        tracing::warn!("api v1: sending {} failed: {error}", kind.as_str());
    }
}

async fn freeze_token(state: &Service, user_id: i64, now_ms: i64) -> crate::Result<String> {
    let issued = codes::issue_token(Purpose::FreezeAccount, now_ms)
        .map_err(|e| Error::internal("freeze token", e))?;
    state
        .store
        .insert_token(&bulwark_store::NewToken {
            token_hash: issued.record.token_hash.clone(),
            user_id,
            purpose: Purpose::FreezeAccount.as_str().into(),
            created_ms: now_ms,
            expires_ms: issued.record.expires_ms,
            data: None,
        })
        .await?;
    Ok(issued.token)
}
