//! Proving control of reserve addresses. A key held online (a real node's hot wallet) signs a
//! report's message as soon as the report is published; every other hot and deposit address
//! descends from the offline master seed, so custody answers where each one sits in the key
//! tree (a signing request for staff) and the offline signer turns the request into proofs
//! without ever going online. Cold wallets are left out on purpose, by the request and by the
//! signer: bringing their key out for every report would defeat keeping it cold.

use bulwark_por::control::{self, ControlProof, ControlProofs, Scheme};
use serde::{Deserialize, Serialize};

use crate::error::{CustodyError, CustodyResult};
use crate::keys::{KeyError, MasterSeed};
use crate::network::Network;
use crate::service::{COLD_BRANCH, Custody, HOT_BRANCH, Wallet};

/// One address the offline seed must sign for, with where its key sits below the network's
/// account (`m/44'/coin'/0'/branch/index`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlTarget {
    pub network: String,
    /// `hot` or `deposit`.
    pub wallet: String,
    pub address: String,
    pub branch: u32,
    pub index: u32,
}

/// What staff carry to the offline signer for one report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    pub seq: u64,
    pub report_sha256: String,
    pub message: String,
    pub targets: Vec<ControlTarget>,
}

#[derive(Debug, thiserror::Error)]
pub enum SignControlError {
    #[error("the request's message is not the one for report {seq} and sha256 {sha256}")]
    WrongMessage { seq: u64, sha256: String },
    #[error("unknown network {0} in the request")]
    UnknownNetwork(String),
    #[error(
        "{network} address {address} is a cold wallet (wallet {wallet:?}, branch {branch}); cold keys never sign control proofs"
    )]
    ColdKey {
        network: String,
        address: String,
        wallet: String,
        branch: u32,
    },
    #[error(
        "this seed does not hold {network} address {address} (branch {branch}, index {index} derives {derived})"
    )]
    NotThisSeed {
        network: String,
        address: String,
        branch: u32,
        index: u32,
        derived: String,
    },
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Control(#[from] control::ControlError),
}

/// The offline signer: one proof per target, each made with the key the seed derives at the
/// target's path, after checking that this key really is the target's address (a request for an
/// address the seed does not hold is refused whole rather than half signed).
pub fn sign_request(
    seed: &MasterSeed,
    request: &ControlRequest,
) -> Result<ControlProofs, SignControlError> {
    let message = control::message(request.seq, &request.report_sha256);
    if message != request.message {
        return Err(SignControlError::WrongMessage {
            seq: request.seq,
            sha256: request.report_sha256.clone(),
        });
    }
    let mut proofs = Vec::with_capacity(request.targets.len());
    for target in &request.targets {
        let network = Network::parse(&target.network)
            .ok_or_else(|| SignControlError::UnknownNetwork(target.network.clone()))?;
        // A request is data from the online side: the signer itself keeps the cold key cold.
        if !matches!(target.wallet.as_str(), "hot" | "deposit") || target.branch == COLD_BRANCH {
            return Err(SignControlError::ColdKey {
                network: target.network.clone(),
                address: target.address.clone(),
                wallet: target.wallet.clone(),
                branch: target.branch,
            });
        }
        let derived =
            seed.account_public_key(network)?
                .address(network, target.branch, target.index)?;
        if derived != target.address {
            return Err(SignControlError::NotThisSeed {
                network: target.network.clone(),
                address: target.address.clone(),
                branch: target.branch,
                index: target.index,
                derived,
            });
        }
        let secret =
            zeroize::Zeroizing::new(seed.private_key(network, target.branch, target.index)?);
        proofs.push(ControlProof {
            network: network.id().to_owned(),
            address: target.address.clone(),
            scheme: Scheme::of(network),
            signature: control::sign(network, &secret, &message)?,
        });
    }
    Ok(ControlProofs {
        seq: request.seq,
        report_sha256: request.report_sha256.clone(),
        message,
        proofs,
    })
}

impl Custody {
    /// A proof for `address` made right now by a key custody holds online, if it holds one.
    pub fn sign_online(
        &self,
        network: Network,
        address: &str,
        message: &str,
    ) -> CustodyResult<Option<String>> {
        self.chain(network)?
            .sign_message(address, message)
            .transpose()
            .map_err(|e| CustodyError::Internal(format!("signing a control proof: {e}")))
    }

    /// Where the offline seed holds the key of a reserve address (`wallet` as the report names
    /// it): `None` for cold wallets (see the module doc) and addresses the seed does not derive.
    pub async fn key_path(
        &self,
        network: Network,
        wallet: &str,
        address: &str,
    ) -> CustodyResult<Option<(u32, u32)>> {
        let path = match Wallet::parse(wallet) {
            Some(Wallet::Hot) => Some((HOT_BRANCH, 0)),
            Some(Wallet::Cold) => None,
            None => match self
                .store()
                .deposit_address_owner(network.id(), address)
                .await?
            {
                Some((user, asset)) => match u32::try_from(user) {
                    Ok(index) => Some((self.deposit_branch(&asset)?, index)),
                    Err(_) => None,
                },
                None => None,
            },
        };
        // Only a path that derives this very address is worth carrying to the signer (a real
        // node's hot wallet has its own key, not one from the seed).
        Ok(match path {
            Some((branch, index)) if branch != COLD_BRANCH => self
                .derive(network, branch, index)
                .ok()
                .filter(|derived| derived == address)
                .map(|_| (branch, index)),
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;

    #[test]
    fn the_offline_signer_proves_what_its_seed_derives_and_refuses_the_rest() {
        let seed = MasterSeed::from_hex(&"3c".repeat(32)).unwrap();
        let address = |network: Network, branch, index| {
            seed.account_public_key(network)
                .unwrap()
                .address(network, branch, index)
                .unwrap()
        };
        let sha256 = "ab".repeat(32);
        let mut request = ControlRequest {
            seq: 4,
            report_sha256: sha256.clone(),
            message: control::message(4, &sha256),
            targets: Network::ALL
                .into_iter()
                .map(|network| ControlTarget {
                    network: network.id().to_owned(),
                    wallet: "deposit".into(),
                    address: address(network, 102, 7),
                    branch: 102,
                    index: 7,
                })
                .collect(),
        };
        let proofs = sign_request(&seed, &request).unwrap();
        assert_eq!(proofs.proofs.len(), 3);
        for (proof, target) in proofs.proofs.iter().zip(&request.targets) {
            let network = Network::parse(&proof.network).unwrap();
            control::verify(network, &target.address, &proofs.message, &proof.signature).unwrap();
        }

        // The cold wallet's path is refused even when the seed derives it.
        let mut cold = request.clone();
        cold.targets.push(ControlTarget {
            network: "BTC".into(),
            wallet: "hot".into(),
            address: address(Network::Btc, COLD_BRANCH, 0),
            branch: COLD_BRANCH,
            index: 0,
        });
        assert!(matches!(
            sign_request(&seed, &cold),
            Err(SignControlError::ColdKey { .. })
        ));

        // Another seed's address, or a message for another report, is refused whole.
        let stranger = MasterSeed::from_hex(&"3d".repeat(32)).unwrap();
        assert!(matches!(
            sign_request(&stranger, &request),
            Err(SignControlError::NotThisSeed { .. })
        ));
        request.message = control::message(5, &sha256);
        assert!(matches!(
            sign_request(&seed, &request),
            Err(SignControlError::WrongMessage { .. })
        ));
    }
}
