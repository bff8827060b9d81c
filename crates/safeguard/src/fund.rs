//! Top-ups of the Safeguard fund beyond its share of fees: from the platform's fee revenue (an
//! internal ledger move), or treasury coins sent into custody from outside, which custody must
//! find on chain, paid to one of its wallets and confirmed, before the ledger counts them (so
//! the fund never grows by coins that are not there). A treasury transaction tops up once.

use bulwark_custody::CustodyError;
use bulwark_custody::treasury::TreasuryTransfer;
use bulwark_engine::{Command, Reject, TopUpSource};
use bulwark_store::TopUpRow;
use serde::Deserialize;

use crate::error::{SafeguardError, SafeguardResult, invalid};
use crate::service::Safeguard;

/// Longest note on a top-up.
const NOTE_MAX: usize = 500;

/// What the operator (or treasury staff) asks for.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TopUp {
    pub asset: String,
    pub amount: String,
    /// `fee_revenue` or `treasury`.
    pub from: String,
    /// Treasury: the network and transaction that brought the coins into custody.
    #[serde(default)]
    pub network: Option<String>,
    #[serde(default)]
    pub txid: Option<String>,
    #[serde(default)]
    pub note: String,
}

fn required(field: &'static str, value: Option<&String>) -> SafeguardResult<String> {
    value
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            invalid(
                "missing_field",
                format!("a treasury top-up names its {field}"),
            )
        })
}

impl Safeguard {
    /// Tops up the fund now; answers the record. Everything is checked before the ledger moves.
    pub async fn top_up(&self, actor: &str, t: TopUp) -> SafeguardResult<TopUpRow> {
        let (asset, units) = self.amount_of(&t.asset, &t.amount)?;
        let note = t.note.trim().to_owned();
        if note.chars().count() > NOTE_MAX || note.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_text",
                format!("note must be at most {NOTE_MAX} characters of plain text"),
            ));
        }
        let now_ms = self.now_ms();
        let (source, reference, network, txid) = match t.from.as_str() {
            "fee_revenue" => {
                // Each request is its own move (two in one millisecond must not share a
                // command id, or the second would get the first's answer).
                let mut nonce = [0_u8; 16];
                crate::report::random(&mut nonce)?;
                (
                    TopUpSource::FeeRevenue,
                    format!("fee_revenue:{}", hex::encode(nonce)),
                    None,
                    None,
                )
            }
            "treasury" => {
                let network = required("network", t.network.as_ref())?.to_ascii_uppercase();
                let txid = required("txid", t.txid.as_ref())?;
                let reference = format!("treasury:{network}:{txid}");
                if self.store().top_up_recorded(&reference).await? {
                    return Err(invalid(
                        "duplicate_top_up",
                        format!("transaction {txid} on {network} already topped up the fund"),
                    ));
                }
                self.check_arrival(&asset, &network, &txid, units).await?;
                (
                    TopUpSource::External {
                        reference: reference.clone(),
                    },
                    reference,
                    Some(network),
                    Some(txid),
                )
            }
            other => {
                return Err(invalid(
                    "invalid_source",
                    format!("from must be fee_revenue or treasury, not {other:?}"),
                ));
            }
        };
        let (asset_id, _) = self
            .trading()
            .sequencer
            .catalog()
            .asset(&asset)
            .ok_or_else(|| SafeguardError::UnknownAsset(asset.clone()))?;
        let (seq, outcome) = self
            .submit(
                &format!("safeguard-topup:{reference}"),
                Command::SafeguardTopUp {
                    asset: asset_id,
                    amount: units,
                    from: source,
                },
            )
            .await?;
        match outcome {
            Ok(_) => {}
            Err(Reject::InsufficientFunds { available, .. }) => {
                return Err(invalid(
                    "revenue_insufficient",
                    format!(
                        "fee revenue holds {} {asset}",
                        bulwark_types::format_units(available, self.scale_of(&asset))
                    ),
                ));
            }
            Err(reject) => return Err(invalid("top_up_refused", reject.to_string())),
        }
        let mut row = TopUpRow {
            id: 0,
            asset,
            amount: units,
            source: t.from.clone(),
            reference,
            network,
            txid,
            note,
            actor: actor.to_owned(),
            journal_seq: i64::try_from(seq).unwrap_or(i64::MAX),
            at_ms: now_ms,
        };
        // A retry after the engine applied it finds the reference recorded: same top-up.
        if let Some(id) = self.store().insert_top_up(&row).await? {
            row.id = id;
        }
        let params = serde_json::json!({"asset": row.asset, "amount": row.amount.to_string(),
            "from": row.source, "reference": row.reference, "seq": row.journal_seq})
        .to_string();
        self.store()
            .append_audit(actor, "safeguard.top_up", &params, now_ms)
            .await?;
        Ok(row)
    }

    /// Custody must find the transaction mined and confirmed, paying exactly `units` of the
    /// asset to one of its wallets.
    async fn check_arrival(
        &self,
        asset: &str,
        network: &str,
        txid: &str,
        units: i64,
    ) -> SafeguardResult<()> {
        let found = match self.custody().treasury_transfer(asset, network, txid).await {
            Ok(found) => found,
            Err(CustodyError::UnknownCoin { .. }) => {
                return Err(invalid(
                    "unknown_coin",
                    format!("{asset} is not carried on network {network}"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let scale = self.scale_of(asset);
        match found {
            TreasuryTransfer::NotMined => Err(invalid(
                "transaction_not_found",
                format!("no mined transaction {txid} on {network}"),
            )),
            TreasuryTransfer::Unconfirmed {
                confirmations,
                needed,
            } => Err(invalid(
                "not_confirmed",
                format!("transaction {txid} has {confirmations} of {needed} confirmations"),
            )),
            TreasuryTransfer::NotToCustody => Err(invalid(
                "not_to_custody",
                format!("transaction {txid} pays no {asset} to a custody wallet"),
            )),
            TreasuryTransfer::Arrived { amount } if amount != units => Err(invalid(
                "amount_mismatch",
                format!(
                    "transaction {txid} paid {} {asset} into custody, not {}",
                    bulwark_types::format_units(amount, scale),
                    bulwark_types::format_units(units, scale)
                ),
            )),
            TreasuryTransfer::Arrived { .. } => Ok(()),
        }
    }

    /// Every top-up, oldest first.
    pub async fn top_ups(&self) -> SafeguardResult<Vec<TopUpRow>> {
        Ok(self.store().top_ups().await?)
    }
}
