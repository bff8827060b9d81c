//! Demo liquidity accounts: the users `bulwark serve --demo` trades as. They are ordinary users
//! made by the same operator actions as any bot's (create with KYC L1, mint a trading key,
//! credit deposits), under emails on the reserved `demo.invalid` domain so they are plainly
//! marked and can never receive mail. Provisioning again after a restart finds the same users,
//! revokes their previous keys and credits nothing twice (deposit references are idempotent).

use bulwark_accounts::Error;
use serde_json::{Value, json};

use crate::Operator;
use crate::ops::{
    NewDeposit, NewKey, NewUser, audit_action, create_api_key, create_user, credit_deposit,
};

/// The email domain of demo users (`.invalid` is reserved and never resolves).
pub const DEMO_EMAIL_DOMAIN: &str = "demo.invalid";

/// A demo user and the trading key it uses on the public API this run.
#[derive(Debug, Clone)]
pub struct DemoAccount {
    pub user_id: i64,
    pub access_key: String,
    pub secret: String,
    pub memo: String,
}

fn text(value: &Value, field: &str) -> String {
    value
        .get(field)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

impl Operator {
    /// The demo user `name@demo.invalid`, created on first use, with a fresh read+trade key
    /// (earlier keys revoked) and `deposits` (asset, amount) credited once ever.
    pub async fn demo_account(
        &self,
        name: &str,
        deposits: &[(&str, &str)],
    ) -> Result<DemoAccount, Error> {
        let email = format!("{name}@{DEMO_EMAIL_DOMAIN}");
        let existing = self
            .store()
            .find_user_by_email(&email)
            .await
            .map_err(crate::internal)?;
        let user_id = match existing {
            Some(user) => user.id,
            None => {
                let created = create_user(
                    self,
                    NewUser {
                        email: email.clone(),
                        kyc_tier: Some("L1".into()),
                    },
                )
                .await?;
                created.get("user_id").and_then(Value::as_i64).unwrap_or(0)
            }
        };
        for key in self
            .store()
            .list_api_keys(user_id)
            .await
            .map_err(crate::internal)?
        {
            if key.revoked == 0 {
                self.store()
                    .revoke_api_key(user_id, key.id)
                    .await
                    .map_err(crate::internal)?;
                audit_action(
                    self,
                    "apikey.revoke",
                    &json!({"user_id": user_id, "access_key": key.access_key, "reason": "demo restart"}),
                )
                .await?;
            }
        }
        let key = create_api_key(
            self,
            NewKey {
                user_id,
                scopes: "read,trade".into(),
                ip: String::new(),
                memo: Some("demo".into()),
            },
        )
        .await?;
        for (asset, amount) in deposits {
            credit_deposit(
                self,
                NewDeposit {
                    user_id,
                    asset: (*asset).to_owned(),
                    amount: (*amount).to_owned(),
                    reference: format!("demo-seed-{name}-{asset}"),
                },
            )
            .await?;
        }
        Ok(DemoAccount {
            user_id,
            access_key: text(&key, "access_key"),
            secret: text(&key, "secret"),
            memo: text(&key, "memo"),
        })
    }
}
