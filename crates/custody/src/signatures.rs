//! M-of-N operator approval of fund movements: refilling a hot wallet from cold, and releasing
//! a withdrawal above the large threshold. Operators make ed25519 keys offline
//! (`bulwark operator keygen`), register the public half, and sign the movement's canonical
//! description (`bulwark operator sign FILE`). The server checks each signature with
//! `verify_strict` against a registered, unrevoked key, counts distinct keys, and refuses
//! expired movements, signatures over anything else, and unknown keys. No single person, and
//! no compromised server process without the keys, can move cold funds.

use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use serde_json::json;

use crate::error::{CustodyError, CustodyResult};
use crate::network::Network;
use crate::service::{Custody, Wallet};
use bulwark_store::{MovementRow, NewMovement, OperatorKeyRow};

/// First line of every signed description: a signature over anything else (another protocol,
/// another version of this one) can never verify as a movement approval.
pub const DOMAIN: &str = "bulwark fund movement v1";

/// Longest operator key name.
pub const KEY_NAME_CHARS_MAX: usize = 64;

/// The exact text operators sign for movement `id`: every field that decides where money
/// goes, one per line, in a fixed order (`amount` as the asset's decimal text).
pub fn describe(id: i64, movement: &NewMovement, amount: &str) -> String {
    let or_dash = |v: Option<i64>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    format!(
        "{DOMAIN}\nmovement: {id}\naction: {}\nasset: {}\nnetwork: {}\namount: {amount}\n\
         destination: {}\nwithdrawal: {}\nuser: {}\nclaim: {}\nnonce: {}\n\
         expires_at_ms: {}\n",
        movement.action,
        movement.asset,
        movement.network,
        movement.destination,
        or_dash(movement.withdrawal_id),
        or_dash(movement.user_id),
        or_dash(movement.claim_id),
        movement.nonce,
        movement.expires_ms
    )
}

/// A new operator key pair: the secret (hex, for the offline file) and the public key (hex,
/// to register).
pub fn keygen() -> CustodyResult<(String, String)> {
    let mut secret = [0_u8; 32];
    getrandom::fill(&mut secret).map_err(|e| CustodyError::Internal(format!("random key: {e}")))?;
    let key = SigningKey::from_bytes(&secret);
    let public = hex::encode(key.verifying_key().to_bytes());
    let secret_hex = hex::encode(secret);
    secret.fill(0);
    Ok((secret_hex, public))
}

/// Signs a description with a secret key in hex; answers (public key, signature) in hex.
pub fn sign(secret_hex: &str, description: &str) -> CustodyResult<(String, String)> {
    let secret: [u8; 32] = hex::decode(secret_hex.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| {
            CustodyError::NotPermitted("the key file must hold 32 bytes in hex".into())
        })?;
    let key = SigningKey::from_bytes(&secret);
    let signature = key.sign(description.as_bytes());
    Ok((
        hex::encode(key.verifying_key().to_bytes()),
        hex::encode(signature.to_bytes()),
    ))
}

fn public_key(hex_text: &str) -> CustodyResult<VerifyingKey> {
    let bytes: [u8; 32] = hex::decode(hex_text.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| CustodyError::NotPermitted("a public key is 32 bytes in hex".into()))?;
    VerifyingKey::from_bytes(&bytes)
        .map_err(|_| CustodyError::NotPermitted("not a valid ed25519 public key".into()))
}

/// What a proposed movement moves, and to whom.
struct Target<'a> {
    action: &'a str,
    asset: &'a str,
    network: &'a str,
    amount: i64,
    destination: &'a str,
    withdrawal_id: Option<i64>,
    user_id: Option<i64>,
    claim_id: Option<i64>,
}

/// What signing a movement did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignOutcome {
    pub movement: MovementRow,
    pub signatures: i64,
}

impl Custody {
    /// Registers an operator's public key (hex).
    pub async fn register_operator_key(
        &self,
        name: &str,
        public_hex: &str,
    ) -> CustodyResult<OperatorKeyRow> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > KEY_NAME_CHARS_MAX {
            return Err(CustodyError::NotPermitted(format!(
                "a key name of 1 to {KEY_NAME_CHARS_MAX} characters is required"
            )));
        }
        let key = public_key(public_hex)?;
        let id = self
            .store()
            .insert_operator_key(name, &key.to_bytes(), self.now_ms())
            .await
            .map_err(|e| match e {
                bulwark_store::StoreError::Conflict(what) => {
                    CustodyError::NotPermitted(format!("this {what} is already registered"))
                }
                other => other.into(),
            })?;
        self.store()
            .operator_keys()
            .await?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(CustodyError::NotFound)
    }

    pub async fn operator_keys(&self) -> CustodyResult<Vec<OperatorKeyRow>> {
        Ok(self.store().operator_keys().await?)
    }

    pub async fn revoke_operator_key(&self, id: i64) -> CustodyResult<()> {
        if self.store().revoke_operator_key(id, self.now_ms()).await? {
            Ok(())
        } else {
            Err(CustodyError::NotFound)
        }
    }

    /// Proposes moving `amount` of a coin from its cold wallet to its hot wallet.
    pub async fn propose_refill(
        &self,
        asset: &str,
        network: Option<&str>,
        amount_text: &str,
    ) -> CustodyResult<MovementRow> {
        let coin = self.coin(asset, network)?.clone();
        let amount = bulwark_types::parse_units(amount_text.trim(), coin.scale)
            .map_err(|e| CustodyError::InvalidAmount(e.to_string()))?;
        if amount <= 0 {
            return Err(CustodyError::InvalidAmount("must be positive".into()));
        }
        let hot = self.wallet_address(coin.network, Wallet::Hot)?;
        self.propose(Target {
            action: "refill_hot",
            asset: &coin.asset,
            network: coin.network.id(),
            amount,
            destination: &hot,
            withdrawal_id: None,
            user_id: None,
            claim_id: None,
        })
        .await
    }

    /// Proposes releasing a large withdrawal (after its staff approvals).
    pub(crate) async fn propose_release(
        &self,
        withdrawal: &bulwark_store::WithdrawalRow,
    ) -> CustodyResult<MovementRow> {
        if let Some(pending) = self.store().movement_for_withdrawal(withdrawal.id).await? {
            if self.now_ms() < pending.expires_ms {
                return Ok(pending);
            }
            // Expired unsigned: a fresh proposal with a new nonce and expiry.
            self.store()
                .finish_movement(pending.id, "expired", None, self.now_ms())
                .await?;
        }
        let movement = self
            .propose(Target {
                action: "release_withdrawal",
                asset: &withdrawal.asset,
                network: &withdrawal.network,
                amount: withdrawal.amount - withdrawal.fee,
                destination: &withdrawal.address,
                withdrawal_id: Some(withdrawal.id),
                user_id: None,
                claim_id: None,
            })
            .await?;
        self.store()
            .append_audit(
                "system",
                "movement.propose",
                &json!({"movement_id": movement.id, "action": movement.action,
                        "withdrawal_id": withdrawal.id, "required": movement.required})
                .to_string(),
                self.now_ms(),
            )
            .await?;
        Ok(movement)
    }

    async fn propose(&self, target: Target<'_>) -> CustodyResult<MovementRow> {
        let mut nonce = [0_u8; 16];
        getrandom::fill(&mut nonce).map_err(|e| CustodyError::Internal(format!("nonce: {e}")))?;
        let now_ms = self.now_ms();
        let ttl_ms = i64::try_from(self.inner.config.movement_ttl_s.saturating_mul(1_000))
            .unwrap_or(i64::MAX);
        let new = NewMovement {
            action: target.action.to_owned(),
            asset: target.asset.to_owned(),
            network: target.network.to_owned(),
            amount: target.amount,
            destination: target.destination.to_owned(),
            withdrawal_id: target.withdrawal_id,
            user_id: target.user_id,
            claim_id: target.claim_id,
            nonce: hex::encode(nonce),
            expires_ms: now_ms.saturating_add(ttl_ms),
            required: i64::from(self.inner.config.operator_signatures.max(1)),
            created_ms: now_ms,
        };
        let amount_text = self.format(target.asset, target.amount);
        let row = self
            .store()
            .insert_movement(&new, |id| describe(id, &new, &amount_text))
            .await?;
        tracing::info!(
            "custody: movement {} ({}) proposed: needs {} operator signatures",
            row.id,
            target.action,
            row.required
        );
        Ok(row)
    }

    /// Proposes paying `amount` of `asset` from the Safeguard fund to a user for a claim; it
    /// executes (an engine payout, once per claim) after the operators' signatures.
    pub async fn propose_safeguard_payout(
        &self,
        user_id: i64,
        asset: &str,
        amount_text: &str,
        claim_id: i64,
    ) -> CustodyResult<MovementRow> {
        let catalog = self.inner.trading.sequencer.catalog();
        let (_, spec) = catalog
            .asset(asset)
            .ok_or_else(|| CustodyError::UnknownCoin {
                asset: asset.to_owned(),
                network: "-".into(),
            })?;
        let amount = bulwark_types::parse_units(amount_text.trim(), spec.scale)
            .map_err(|e| CustodyError::InvalidAmount(e.to_string()))?;
        if amount <= 0 {
            return Err(CustodyError::InvalidAmount("must be positive".into()));
        }
        if claim_id <= 0 {
            return Err(CustodyError::NotPermitted(
                "a claim id is a positive number".into(),
            ));
        }
        if self.store().get_user(user_id).await?.is_none() {
            return Err(CustodyError::NotFound);
        }
        let destination = format!("user:{user_id}");
        self.propose(Target {
            action: "safeguard_payout",
            asset,
            network: "ledger",
            amount,
            destination: &destination,
            withdrawal_id: None,
            user_id: Some(user_id),
            claim_id: Some(claim_id),
        })
        .await
    }

    pub async fn movements(&self, limit: i64) -> CustodyResult<Vec<MovementRow>> {
        Ok(self.store().movements(limit).await?)
    }

    pub async fn movement(&self, id: i64) -> CustodyResult<MovementRow> {
        self.store()
            .get_movement(id)
            .await?
            .ok_or(CustodyError::NotFound)
    }

    /// Adds one operator's signature; once enough distinct registered keys signed, the movement
    /// executes. Refused: expired or finished movements, unknown or revoked keys, and
    /// signatures that do not verify strictly over this movement's exact description.
    pub async fn sign_movement(
        &self,
        id: i64,
        public_hex: &str,
        signature_hex: &str,
    ) -> CustodyResult<SignOutcome> {
        let movement = self.movement(id).await?;
        if movement.state != "pending" {
            return Err(CustodyError::WrongState {
                state: movement.state,
                action: "signed",
            });
        }
        let now_ms = self.now_ms();
        if now_ms >= movement.expires_ms {
            self.store()
                .finish_movement(id, "expired", None, now_ms)
                .await?;
            return Err(CustodyError::NotPermitted(format!(
                "movement {id} has expired"
            )));
        }
        let key = public_key(public_hex)?;
        let registered = self
            .store()
            .operator_keys()
            .await?
            .into_iter()
            .find(|k| k.public_key == key.to_bytes() && k.revoked_ms.is_none())
            .ok_or_else(|| {
                CustodyError::NotPermitted("this key is not a registered operator key".into())
            })?;
        let signature: [u8; 64] = hex::decode(signature_hex.trim())
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| CustodyError::NotPermitted("a signature is 64 bytes in hex".into()))?;
        let signature = Signature::from_bytes(&signature);
        key.verify_strict(movement.description.as_bytes(), &signature)
            .map_err(|_| {
                CustodyError::NotPermitted(format!(
                    "the signature does not match movement {id}'s description"
                ))
            })?;
        let count = self
            .store()
            .add_movement_signature(id, registered.id, &signature.to_bytes(), now_ms)
            .await?;
        self.store()
            .append_audit(
                &format!("operator-key:{}", registered.name),
                "movement.sign",
                &json!({"movement_id": id, "signatures": count, "required": movement.required})
                    .to_string(),
                now_ms,
            )
            .await?;
        if count >= movement.required {
            if self.inner.config.crash_after_signatures {
                tracing::error!(
                    "fault injection: aborting after movement {id} collected its signatures"
                );
                std::process::abort();
            }
            self.execute(&movement).await?;
        }
        Ok(SignOutcome {
            movement: self.movement(id).await?,
            signatures: count,
        })
    }

    /// Executes the movements that collected their signatures but never ran (the process
    /// stopped in between). Safe to repeat: a chain payment is sent once per reference, a
    /// payout once per claim, a release once per withdrawal, and a movement finishes once.
    pub(crate) async fn resume_signed_movements(&self) {
        let movements = match self.store().signed_pending_movements().await {
            Ok(movements) => movements,
            Err(error) => {
                tracing::error!("custody: reading signed movements: {error}");
                return;
            }
        };
        for movement in movements {
            tracing::info!(
                "custody: movement {} was signed but not executed; executing it now",
                movement.id
            );
            if let Err(error) = self.execute(&movement).await {
                tracing::error!("custody: movement {}: {error}", movement.id);
            }
        }
    }

    async fn execute(&self, movement: &MovementRow) -> CustodyResult<()> {
        let now_ms = self.now_ms();
        match movement.action.as_str() {
            "refill_hot" => {
                let network = Network::parse(&movement.network).ok_or_else(|| {
                    CustodyError::Internal(format!("network {}", movement.network))
                })?;
                let cold = self.wallet_address(network, Wallet::Cold)?;
                let sent = self
                    .chain(network)?
                    .send(crate::chain::Payment {
                        from: cold,
                        to: movement.destination.clone(),
                        asset: movement.asset.clone(),
                        amount: movement.amount,
                        reference: format!("movement:{}", movement.id),
                    })
                    .await;
                match sent {
                    Ok(txid) => {
                        self.store()
                            .finish_movement(movement.id, "executed", Some(&txid), now_ms)
                            .await?;
                    }
                    Err(error) => {
                        self.store()
                            .finish_movement(movement.id, "failed", None, now_ms)
                            .await?;
                        return Err(CustodyError::NotPermitted(format!(
                            "the refill failed: {error}"
                        )));
                    }
                }
            }
            "release_withdrawal" => {
                let id = movement
                    .withdrawal_id
                    .ok_or_else(|| CustodyError::Internal("release without a withdrawal".into()))?;
                let row = self
                    .store()
                    .get_withdrawal(id)
                    .await?
                    .ok_or(CustodyError::NotFound)?;
                let note = format!("{} operator signatures", movement.required);
                self.release_after_signatures(&row, &note).await?;
                self.store()
                    .finish_movement(movement.id, "executed", None, now_ms)
                    .await?;
            }
            "safeguard_payout" => {
                let (Some(user), Some(claim)) = (movement.user_id, movement.claim_id) else {
                    return Err(CustodyError::Internal(
                        "payout without user or claim".into(),
                    ));
                };
                let catalog = self.inner.trading.sequencer.catalog();
                let (asset, _) = catalog.asset(&movement.asset).ok_or_else(|| {
                    CustodyError::Internal(format!("{} is not listed", movement.asset))
                })?;
                let command = bulwark_engine::Command::SafeguardPayout {
                    user: bulwark_types::UserId(
                        u64::try_from(user)
                            .map_err(|_| CustodyError::Internal("negative user".into()))?,
                    ),
                    asset,
                    amount: movement.amount,
                    claim_id: u64::try_from(claim)
                        .map_err(|_| CustodyError::Internal("negative claim".into()))?,
                };
                let receipt = self
                    .submit(&format!("safeguard-payout:{claim}"), command)
                    .await?;
                if let Err(reject) = receipt.outcome {
                    self.store()
                        .finish_movement(movement.id, "failed", None, now_ms)
                        .await?;
                    return Err(CustodyError::NotPermitted(format!(
                        "the payout failed: {reject}"
                    )));
                }
                self.store()
                    .finish_movement(movement.id, "executed", None, now_ms)
                    .await?;
            }
            other => {
                return Err(CustodyError::Internal(format!(
                    "unknown movement action {other}"
                )));
            }
        }
        tracing::info!("custody: movement {} executed", movement.id);
        self.wake();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    fn refill() -> NewMovement {
        NewMovement {
            action: "refill_hot".into(),
            asset: "BTC".into(),
            network: "BTC".into(),
            amount: 50_000_000,
            destination: "bc1qhot".into(),
            withdrawal_id: None,
            user_id: None,
            claim_id: None,
            nonce: "abc".into(),
            expires_ms: 99,
            required: 2,
            created_ms: 1,
        }
    }

    #[test]
    fn signatures_verify_only_over_the_exact_description() {
        let (secret, public) = keygen().unwrap();
        let text = describe(7, &refill(), "0.5");
        assert!(text.starts_with(DOMAIN) && text.contains("amount: 0.5\n"));
        let (signed_by, signature) = sign(&secret, &text).unwrap();
        assert_eq!(signed_by, public);
        let key = public_key(&public).unwrap();
        let signature = Signature::from_bytes(&hex::decode(signature).unwrap().try_into().unwrap());
        assert!(key.verify_strict(text.as_bytes(), &signature).is_ok());
        // Any altered field (amount, destination) no longer verifies.
        let altered = text.replace("amount: 0.5", "amount: 5");
        assert!(key.verify_strict(altered.as_bytes(), &signature).is_err());
        let (_, other_public) = keygen().unwrap();
        assert!(
            public_key(&other_public)
                .unwrap()
                .verify_strict(text.as_bytes(), &signature)
                .is_err()
        );
        assert!(sign("zz", &text).is_err());
        assert!(public_key("00").is_err());
    }
}
