//! Control proofs: a signature by a reserve address's own key over a report's hash shows that
//! whoever published the report can spend from that address, so a balance borrowed for the day
//! or someone else's wallet cannot be counted as reserves. Each network signs the way its
//! wallets already do, so anyone can check a proof with ordinary tools:
//! - ERC20: EIP-191 `personal_sign` (`0x` + hex r ‖ s ‖ v, v = 27 or 28);
//! - TRC20: TRON's TIP-191 message signing (same layout, TRON's prefix);
//! - BTC: the Bitcoin signed-message scheme (base64 header ‖ r ‖ s, header 39–42 for a
//!   native SegWit address as BIP-137 writes it; 31–34 accepted too).
//!
//! The signed text names the report's seq and the SHA-256 of its exact bytes, so a proof cannot
//! be replayed for another report.

use std::collections::{BTreeMap, BTreeSet};

use base64::Engine;
use k256::ecdsa::{RecoveryId, Signature, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::address::from_public_key;
use crate::network::Network;
use crate::report::sha256_hex;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the private key is not a valid secp256k1 key")]
    BadKey,
    #[error("the signature is not {0}")]
    BadEncoding(&'static str),
    #[error("no public key can be recovered from the signature")]
    Unrecoverable,
    #[error("the signature was made by {signer}, not by {address}")]
    WrongSigner { signer: String, address: String },
    #[error("the report is not valid JSON with seq and reserves: {0}")]
    MalformedReport(String),
    #[error("the control proofs are not valid JSON: {0}")]
    MalformedProofs(String),
    #[error("the proofs are for report {proofs}, not report {report}")]
    OtherReport { proofs: u64, report: u64 },
    #[error("the proofs name report sha256 {claimed}, but the report's bytes hash to {actual}")]
    OtherBytes { claimed: String, actual: String },
    #[error("unknown network {0}")]
    UnknownNetwork(String),
    #[error("{network} address {address} is not among the report's reserves")]
    NotInReport { network: String, address: String },
    #[error("{network} address {address} is proven twice")]
    Duplicate { network: String, address: String },
    #[error("{network} address {address}: {reason}")]
    Invalid {
        network: String,
        address: String,
        reason: Box<ControlError>,
    },
}

/// How a network's wallets sign a text message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    #[serde(rename = "eip191")]
    Eip191,
    #[serde(rename = "tron-tip191")]
    Tron,
    #[serde(rename = "bitcoin-message")]
    Bitcoin,
}

impl Scheme {
    pub fn of(network: Network) -> Scheme {
        match network {
            Network::Btc => Scheme::Bitcoin,
            Network::Erc20 => Scheme::Eip191,
            Network::Trc20 => Scheme::Tron,
        }
    }

    pub fn id(self) -> &'static str {
        match self {
            Scheme::Eip191 => "eip191",
            Scheme::Tron => "tron-tip191",
            Scheme::Bitcoin => "bitcoin-message",
        }
    }

    /// The 32 bytes the network's wallets sign for `message`.
    fn prehash(self, message: &str) -> [u8; 32] {
        match self {
            Scheme::Eip191 => prefixed_keccak("\x19Ethereum Signed Message:\n", message),
            Scheme::Tron => prefixed_keccak("\x19TRON Signed Message:\n", message),
            Scheme::Bitcoin => {
                let mut data = Vec::with_capacity(message.len() + 40);
                push_var_str(&mut data, b"Bitcoin Signed Message:\n");
                push_var_str(&mut data, message.as_bytes());
                Sha256::digest(Sha256::digest(&data)).into()
            }
        }
    }
}

fn prefixed_keccak(prefix: &str, message: &str) -> [u8; 32] {
    let mut hasher = Keccak256::new();
    hasher.update(prefix.as_bytes());
    hasher.update(message.len().to_string().as_bytes());
    hasher.update(message.as_bytes());
    hasher.finalize().into()
}

/// Bitcoin's length-prefixed string (CompactSize length, then the bytes).
fn push_var_str(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = bytes.len() as u64;
    if len < 0xfd {
        out.push(len as u8);
    } else if len <= 0xffff {
        out.push(0xfd);
        out.extend_from_slice(&(len as u16).to_le_bytes());
    } else if len <= 0xffff_ffff {
        out.push(0xfe);
        out.extend_from_slice(&(len as u32).to_le_bytes());
    } else {
        out.push(0xff);
        out.extend_from_slice(&len.to_le_bytes());
    }
    out.extend_from_slice(bytes);
}

/// The text every reserve address signs for report `seq` whose exact bytes hash to `sha256`.
pub fn message(seq: u64, sha256: &str) -> String {
    format!("Bulwark proof of reserves: report {seq}, sha256 {sha256}")
}

/// Signs `message` with `secret` the way `network`'s wallets do (for the offline signer, the
/// server's online keys and tests).
pub fn sign(network: Network, secret: &[u8; 32], message: &str) -> Result<String, ControlError> {
    let key = SigningKey::from_slice(secret).map_err(|_| ControlError::BadKey)?;
    let scheme = Scheme::of(network);
    let (signature, recid) = key.sign_prehash_recoverable(&scheme.prehash(message));
    let (signature, recid) = match signature.normalize_s() {
        normalized if normalized != signature => (
            normalized,
            RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
        ),
        _ => (signature, recid),
    };
    let mut bytes = Vec::with_capacity(65);
    match scheme {
        Scheme::Bitcoin => {
            bytes.push(39 + recid.to_byte());
            bytes.extend_from_slice(&signature.to_bytes());
            Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
        Scheme::Eip191 | Scheme::Tron => {
            bytes.extend_from_slice(&signature.to_bytes());
            bytes.push(27 + recid.to_byte());
            Ok(format!("0x{}", hex::encode(bytes)))
        }
    }
}

/// The 64 signature bytes and the recovery id, read as `scheme` writes them.
fn decode(scheme: Scheme, signature: &str) -> Result<(Signature, RecoveryId), ControlError> {
    let (rs, recid) = match scheme {
        Scheme::Bitcoin => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(signature.trim())
                .map_err(|_| ControlError::BadEncoding("65 bytes of base64"))?;
            let (header, rs) = bytes
                .split_first()
                .filter(|(_, rs)| rs.len() == 64)
                .ok_or(ControlError::BadEncoding("65 bytes of base64"))?;
            let recid = match header {
                31..=34 => header - 31,
                39..=42 => header - 39,
                _ => {
                    return Err(ControlError::BadEncoding(
                        "for a compressed key (header 31-34 or 39-42)",
                    ));
                }
            };
            (rs.to_vec(), recid)
        }
        Scheme::Eip191 | Scheme::Tron => {
            let text = signature.trim();
            let text = text.strip_prefix("0x").unwrap_or(text);
            let bytes =
                hex::decode(text).map_err(|_| ControlError::BadEncoding("65 bytes of hex"))?;
            let (v, rs) = bytes
                .split_last()
                .filter(|(_, rs)| rs.len() == 64)
                .ok_or(ControlError::BadEncoding("65 bytes of hex"))?;
            let recid = match v {
                27 | 28 => v - 27,
                0 | 1 => *v,
                _ => return Err(ControlError::BadEncoding("with v 27 or 28")),
            };
            (rs.to_vec(), recid)
        }
    };
    let signature = Signature::from_slice(&rs).map_err(|_| ControlError::Unrecoverable)?;
    let recid = RecoveryId::from_byte(recid).ok_or(ControlError::Unrecoverable)?;
    Ok((signature, recid))
}

/// The address whose key made `signature` over `message` on `network`.
pub fn signer(network: Network, message: &str, signature: &str) -> Result<String, ControlError> {
    let scheme = Scheme::of(network);
    let (signature, recid) = decode(scheme, signature)?;
    let key = VerifyingKey::recover_from_prehash(&scheme.prehash(message), &signature, recid)
        .map_err(|_| ControlError::Unrecoverable)?;
    let point = key.to_sec1_point(true);
    let compressed: [u8; 33] = point
        .as_bytes()
        .try_into()
        .map_err(|_| ControlError::Unrecoverable)?;
    from_public_key(network, &compressed).map_err(|_| ControlError::Unrecoverable)
}

/// Checks that `signature` over `message` was made by the key of `address` on `network`.
pub fn verify(
    network: Network,
    address: &str,
    message: &str,
    signature: &str,
) -> Result<(), ControlError> {
    let signer = signer(network, message, signature)?;
    let same = match network {
        // Hex addresses are the same account whatever their EIP-55 casing.
        Network::Erc20 => signer.eq_ignore_ascii_case(address),
        Network::Btc | Network::Trc20 => signer == address,
    };
    if same {
        Ok(())
    } else {
        Err(ControlError::WrongSigner {
            signer,
            address: address.to_owned(),
        })
    }
}

/// One address's proof, as published and as the offline signer writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlProof {
    pub network: String,
    pub address: String,
    pub scheme: Scheme,
    pub signature: String,
}

/// A report's control proofs: `GET /transparency/v1/reports/{seq}/control`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlProofs {
    pub seq: u64,
    pub report_sha256: String,
    pub message: String,
    pub proofs: Vec<ControlProof>,
}

/// What the control proofs show for one asset of a report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AssetControl {
    pub addresses: usize,
    pub proven_addresses: usize,
    /// Reserves in the asset's smallest unit, and the part held at proven addresses (decimal
    /// strings in JSON, which loses precision past 2^53).
    #[serde(serialize_with = "decimal")]
    pub reserves: u128,
    #[serde(serialize_with = "decimal")]
    pub proven: u128,
}

fn decimal<S: serde::Serializer>(value: &u128, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

#[derive(Deserialize)]
struct ReportReserves {
    seq: u64,
    #[serde(default)]
    reserves: BTreeMap<String, AssetEntries>,
}

#[derive(Deserialize)]
struct AssetEntries {
    addresses: Vec<ReserveEntry>,
}

/// One reserve address of a report, as the report lists it under its asset.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ReserveEntry {
    pub network: String,
    /// `hot`, `cold` or `deposit`.
    #[serde(default)]
    pub wallet: String,
    pub address: String,
    /// In the asset's smallest unit, as a decimal string.
    pub balance: String,
}

/// A report's seq and its reserve addresses per asset, read from its exact bytes.
pub fn reserves_of(
    report: &[u8],
) -> Result<(u64, BTreeMap<String, Vec<ReserveEntry>>), ControlError> {
    let parsed: ReportReserves =
        serde_json::from_slice(report).map_err(|e| ControlError::MalformedReport(e.to_string()))?;
    let reserves = parsed
        .reserves
        .into_iter()
        .map(|(asset, entries)| (asset, entries.addresses))
        .collect();
    Ok((parsed.seq, reserves))
}

/// Addresses with a checked proof, by network id.
pub type Proven = BTreeMap<String, BTreeSet<String>>;

/// Per asset, how much of the reserves sits at `proven` addresses. Reads balances only:
/// whoever calls it has checked the proofs (`verify_proofs`, or the store that keeps nothing
/// unchecked).
pub fn coverage(
    reserves: &BTreeMap<String, Vec<ReserveEntry>>,
    proven: &Proven,
) -> Result<BTreeMap<String, AssetControl>, ControlError> {
    let mut out = BTreeMap::new();
    for (asset, entries) in reserves {
        let mut control = AssetControl::default();
        for entry in entries {
            let balance: u128 = entry.balance.parse().map_err(|_| {
                ControlError::MalformedReport(format!("{asset} balance {}", entry.balance))
            })?;
            control.addresses += 1;
            control.reserves = control.reserves.saturating_add(balance);
            let is_proven = proven
                .get(&entry.network)
                .is_some_and(|addresses| addresses.contains(&entry.address));
            if is_proven {
                control.proven_addresses += 1;
                control.proven = control.proven.saturating_add(balance);
            }
        }
        out.insert(asset.clone(), control);
    }
    Ok(out)
}

/// Checks every proof against the report's exact bytes: each names an address of the report's
/// reserves, signs the report's message, and recovers to that address. Answers, per asset, how
/// much of the reserves sits at proven addresses.
pub fn verify_proofs(
    report: &[u8],
    proofs: &ControlProofs,
) -> Result<BTreeMap<String, AssetControl>, ControlError> {
    let (seq, reserves) = reserves_of(report)?;
    if proofs.seq != seq {
        return Err(ControlError::OtherReport {
            proofs: proofs.seq,
            report: seq,
        });
    }
    let sha256 = sha256_hex(report);
    if !proofs.report_sha256.eq_ignore_ascii_case(&sha256) {
        return Err(ControlError::OtherBytes {
            claimed: proofs.report_sha256.clone(),
            actual: sha256,
        });
    }
    let message = message(seq, &sha256);
    let listed: BTreeSet<(&str, &str)> = reserves
        .values()
        .flatten()
        .map(|e| (e.network.as_str(), e.address.as_str()))
        .collect();
    let mut proven = Proven::new();
    for proof in &proofs.proofs {
        let network = Network::parse(&proof.network)
            .ok_or_else(|| ControlError::UnknownNetwork(proof.network.clone()))?;
        if !listed.contains(&(network.id(), proof.address.as_str())) {
            return Err(ControlError::NotInReport {
                network: network.id().to_owned(),
                address: proof.address.clone(),
            });
        }
        let invalid = |reason: ControlError| ControlError::Invalid {
            network: network.id().to_owned(),
            address: proof.address.clone(),
            reason: Box::new(reason),
        };
        if proof.scheme != Scheme::of(network) {
            return Err(invalid(ControlError::BadEncoding(
                "in the network's scheme",
            )));
        }
        verify(network, &proof.address, &message, &proof.signature).map_err(invalid)?;
        if !proven
            .entry(network.id().to_owned())
            .or_default()
            .insert(proof.address.clone())
        {
            return Err(ControlError::Duplicate {
                network: network.id().to_owned(),
                address: proof.address.clone(),
            });
        }
    }
    coverage(&reserves, &proven)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]

    use super::*;
    use proptest::prelude::*;

    /// The example of web3.js's `accounts.sign` (EIP-191), whose signature is deterministic
    /// (RFC 6979), so ours must match it byte for byte.
    const WEB3_KEY: &str = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";
    const WEB3_ADDRESS: &str = "0x2c7536E3605D9C16a7a3D7b1898e529396a65c23";
    const WEB3_SIGNATURE: &str = "0xb91467e570a6466aa9e9876cbcd013baba02900b8979d43fe208a4a4f339f5fd6007e74cd82e037b800186422fc2da167c747ef045e5d18a5f5d4300f8e1a0291c";

    fn key(hex_text: &str) -> [u8; 32] {
        hex::decode(hex_text).unwrap().try_into().unwrap()
    }

    #[test]
    fn eip191_matches_web3js() {
        let signature = sign(Network::Erc20, &key(WEB3_KEY), "Some data").unwrap();
        assert_eq!(signature, WEB3_SIGNATURE);
        verify(Network::Erc20, WEB3_ADDRESS, "Some data", &signature).unwrap();
        verify(
            Network::Erc20,
            &WEB3_ADDRESS.to_lowercase(),
            "Some data",
            &signature,
        )
        .unwrap();
    }

    #[test]
    fn bitcoin_signature_of_the_generator_key_recovers_bip173s_address() {
        // Private key 1's public key is the generator, whose P2WPKH address is BIP-173's example.
        let mut one = [0u8; 32];
        one[31] = 1;
        let signature = sign(Network::Btc, &one, "hello").unwrap();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&signature)
            .unwrap();
        assert_eq!(bytes.len(), 65);
        assert!((39..=42).contains(&bytes[0]));
        assert_eq!(
            signer(Network::Btc, "hello", &signature).unwrap(),
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4"
        );
    }

    #[test]
    fn the_three_schemes_sign_different_bytes() {
        let k = key(WEB3_KEY);
        let eth = sign(Network::Erc20, &k, "m").unwrap();
        let tron = sign(Network::Trc20, &k, "m").unwrap();
        assert_ne!(eth, tron);
        // A TRON signature does not verify as an Ethereum one for the same account.
        assert!(verify(Network::Erc20, WEB3_ADDRESS, "m", &tron).is_err());
        let tron_address = signer(Network::Trc20, "m", &tron).unwrap();
        assert!(tron_address.starts_with('T'));
    }

    #[test]
    fn malformed_signatures_are_refused_with_a_reason() {
        for bad in ["", "0x12", "zz", &format!("0x{}", "00".repeat(65))] {
            assert!(
                verify(Network::Erc20, WEB3_ADDRESS, "m", bad).is_err(),
                "{bad}"
            );
        }
        let mut wrong_v = hex::decode(&WEB3_SIGNATURE[2..]).unwrap();
        wrong_v[64] = 29;
        assert_eq!(
            verify(
                Network::Erc20,
                WEB3_ADDRESS,
                "Some data",
                &hex::encode(wrong_v)
            ),
            Err(ControlError::BadEncoding("with v 27 or 28"))
        );
        assert!(matches!(
            verify(Network::Btc, "bc1q", "m", "not base64!"),
            Err(ControlError::BadEncoding(_))
        ));
    }

    fn report_with(addresses: &[(&str, &str, &str)]) -> Vec<u8> {
        let entries: Vec<_> = addresses
            .iter()
            .map(|(n, a, b)| serde_json::json!({"network": n, "address": a, "balance": b}))
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "seq": 7,
            "prev_sha256": null,
            "reserves": {"ETH": {"addresses": entries}},
        }))
        .unwrap()
    }

    fn proofs_for(report: &[u8], proofs: Vec<ControlProof>) -> ControlProofs {
        let sha256 = sha256_hex(report);
        ControlProofs {
            seq: 7,
            message: message(7, &sha256),
            report_sha256: sha256,
            proofs,
        }
    }

    fn proof(secret: &[u8; 32], report: &[u8]) -> ControlProof {
        let text = message(7, &sha256_hex(report));
        let signature = sign(Network::Erc20, secret, &text).unwrap();
        ControlProof {
            network: "ERC20".into(),
            address: signer(Network::Erc20, &text, &signature).unwrap(),
            scheme: Scheme::Eip191,
            signature,
        }
    }

    #[test]
    fn proofs_count_the_reserves_at_proven_addresses() {
        let k = key(WEB3_KEY);
        let report = report_with(&[
            ("ERC20", WEB3_ADDRESS, "500"),
            ("ERC20", "0x0000000000000000000000000000000000000001", "300"),
        ]);
        let proofs = proofs_for(&report, vec![proof(&k, &report)]);
        let control = verify_proofs(&report, &proofs).unwrap();
        assert_eq!(
            control["ETH"],
            AssetControl {
                addresses: 2,
                proven_addresses: 1,
                reserves: 800,
                proven: 500
            }
        );

        // Another report's bytes, an address not in the report, a repeated proof.
        let other = report_with(&[("ERC20", WEB3_ADDRESS, "501")]);
        assert!(matches!(
            verify_proofs(&other, &proofs),
            Err(ControlError::OtherBytes { .. })
        ));
        let mut stranger = key(WEB3_KEY);
        stranger[0] ^= 1;
        let outside = proofs_for(&report, vec![proof(&stranger, &report)]);
        assert!(matches!(
            verify_proofs(&report, &outside),
            Err(ControlError::NotInReport { .. })
        ));
        let twice = proofs_for(&report, vec![proof(&k, &report), proof(&k, &report)]);
        assert!(matches!(
            verify_proofs(&report, &twice),
            Err(ControlError::Duplicate { .. })
        ));
    }

    proptest! {
        #[test]
        fn a_signature_proves_its_own_address_and_no_other(
            secret in proptest::array::uniform32(1u8..),
            text in "[ -~]{0,300}",
            flip in 0usize..64,
        ) {
            for network in Network::ALL {
                let signature = sign(network, &secret, &text).unwrap();
                let address = signer(network, &text, &signature).unwrap();
                prop_assert!(verify(network, &address, &text, &signature).is_ok());
                // The same signature over other text recovers some other key.
                let other = format!("{text}!");
                prop_assert!(verify(network, &address, &other, &signature).is_err());
                // A flipped bit of r or s never verifies for this address.
                let mut tampered = match network {
                    Network::Btc => base64::engine::general_purpose::STANDARD.decode(&signature).unwrap(),
                    _ => hex::decode(&signature[2..]).unwrap(),
                };
                let at = if network == Network::Btc { flip + 1 } else { flip };
                tampered[at] ^= 1;
                let tampered = match network {
                    Network::Btc => base64::engine::general_purpose::STANDARD.encode(tampered),
                    _ => hex::encode(tampered),
                };
                prop_assert!(verify(network, &address, &text, &tampered).is_err());
            }
        }
    }
}
