//! Deposit keys. Every deposit address is derived (BIP-32, non-hardened) from one account's
//! extended *public* key, so the online system can hand out any number of addresses while the
//! seed that can spend from them stays offline; the private side of the same derivation exists
//! for the offline signer and for tests.

use std::fmt;
use std::str::FromStr;

use bip32::{ChildNumber, ExtendedKey, Prefix, XPrv, XPub};
use zeroize::Zeroizing;

use crate::address::{self, InvalidPublicKey};
use crate::network::Network;

/// Seed lengths the BIP-32 implementation accepts (128, 256 and 512 bits).
const SEED_LENGTHS: [usize; 3] = [16, 32, 64];
/// What `generate` makes: 256 bits, BIP-32's recommended strength.
const GENERATED_SEED_LEN: usize = 32;

/// Why a key could not be read or an address derived; the messages are for the operator who
/// configures the keys.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum KeyError {
    #[error(
        "this is an extended private key; only the account's extended public key (xpub…) \
         belongs on the online system"
    )]
    PrivateKeyGiven,
    #[error(
        "not a valid extended public key: expected a base58 xpub… string with a correct checksum"
    )]
    InvalidXpub,
    #[error("only mainnet xpub… extended public keys are accepted (not tpub, ypub or zpub)")]
    UnsupportedPrefix,
    #[error(
        "{level} {value} is out of range: deposit addresses use non-hardened indices below 2^31"
    )]
    IndexOutOfRange { level: &'static str, value: u32 },
    #[error("a master seed must be 16, 32 or 64 bytes long, not {0}")]
    SeedLength(usize),
    #[error("the master seed is not valid hex")]
    SeedHex,
    #[error("the operating system's random number generator failed")]
    Random,
    #[error("key derivation failed: {0}")]
    Derivation(#[from] bip32::Error),
    #[error(transparent)]
    PublicKey(#[from] InvalidPublicKey),
}

/// SLIP-44 coin types: each network's account lives under its own hardened branch, so a leaked
/// key of one network's account exposes nothing of another's.
const fn coin_type(network: Network) -> u32 {
    match network {
        Network::Btc => 0,
        Network::Erc20 => 60,
        Network::Trc20 => 195,
    }
}

/// Indices that the public side can derive; hardened ones need the private key by design.
fn non_hardened(level: &'static str, value: u32) -> Result<ChildNumber, KeyError> {
    if value >= ChildNumber::HARDENED_FLAG {
        Err(KeyError::IndexOutOfRange { level, value })
    } else {
        Ok(ChildNumber(value))
    }
}

/// BIP-44's account path `m/44'/coin'/0'`, all hardened.
fn account_path(network: Network) -> Result<[ChildNumber; 3], KeyError> {
    Ok([
        ChildNumber::new(44, true)?,
        ChildNumber::new(coin_type(network), true)?,
        ChildNumber::new(0, true)?,
    ])
}

/// The branch/index pair below an account, shared by the public and private sides so both
/// derive exactly the same key.
fn branch_and_index(branch: u32, index: u32) -> Result<[ChildNumber; 2], KeyError> {
    Ok([
        non_hardened("branch", branch)?,
        non_hardened("index", index)?,
    ])
}

/// One network's account public key (`m/44'/coin'/0'`): all the online system needs to give
/// every user their own deposit addresses without ever holding a spending key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterPublicKey {
    xpub: XPub,
}

impl MasterPublicKey {
    /// Reads the standard `xpub…` form. A private key is refused outright rather than quietly
    /// reduced to its public half, so a secret pasted into the wrong place is noticed.
    pub fn parse(s: &str) -> Result<Self, KeyError> {
        let key = ExtendedKey::from_str(s).map_err(|_| KeyError::InvalidXpub)?;
        if key.prefix.is_private() {
            return Err(KeyError::PrivateKeyGiven);
        }
        if key.prefix != Prefix::XPUB {
            return Err(KeyError::UnsupportedPrefix);
        }
        let xpub = XPub::try_from(key).map_err(|_| KeyError::InvalidXpub)?;
        Ok(Self { xpub })
    }

    /// The deposit address at `branch/index` below this account; the same inputs always give
    /// the same address, so addresses need no storage to be recomputed or audited.
    pub fn address(&self, network: Network, branch: u32, index: u32) -> Result<String, KeyError> {
        let child = branch_and_index(branch, index)?
            .into_iter()
            .try_fold(self.xpub.clone(), |key, n| key.derive_child(n))?;
        Ok(address::from_public_key(network, &child.to_bytes())?)
    }
}

impl fmt::Display for MasterPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.xpub.to_string(Prefix::XPUB))
    }
}

impl FromStr for MasterPublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, KeyError> {
        Self::parse(s)
    }
}

/// The offline secret every custody key descends from. It is wiped from memory when dropped and
/// never printed, so it cannot leak through a log line or a core dump of a long-lived process.
pub struct MasterSeed {
    bytes: Zeroizing<Vec<u8>>,
}

impl MasterSeed {
    /// A fresh 256-bit seed from the operating system's generator.
    pub fn generate() -> Result<Self, KeyError> {
        let mut bytes = Zeroizing::new(vec![0u8; GENERATED_SEED_LEN]);
        getrandom::fill(&mut bytes).map_err(|_| KeyError::Random)?;
        Ok(Self { bytes })
    }

    /// Accepts 16, 32 or 64 bytes: the lengths BIP-32's test vectors and wallets use, and the
    /// ones the `bip32` crate derives from.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        if !SEED_LENGTHS.contains(&bytes.len()) {
            return Err(KeyError::SeedLength(bytes.len()));
        }
        Ok(Self {
            bytes: Zeroizing::new(bytes.to_vec()),
        })
    }

    /// Reads the seed as the operator keeps it (hex; surrounding whitespace ignored). The error
    /// never repeats the input, since the input is the secret.
    pub fn from_hex(s: &str) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(hex::decode(s.trim()).map_err(|_| KeyError::SeedHex)?);
        Self::from_bytes(&bytes)
    }

    /// The seed in the form `from_hex` reads, for writing it to offline storage.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes.as_slice())
    }

    /// The public key to configure online for `network`'s account (`m/44'/coin'/0'`); hardened
    /// so that it reveals nothing about other networks' accounts.
    pub fn account_public_key(&self, network: Network) -> Result<MasterPublicKey, KeyError> {
        Ok(MasterPublicKey {
            xpub: self.account(network)?.public_key(),
        })
    }

    /// The spending key behind `MasterPublicKey::address(network, branch, index)`, for signing
    /// sweeps offline (and in tests).
    pub fn private_key(
        &self,
        network: Network,
        branch: u32,
        index: u32,
    ) -> Result<[u8; 32], KeyError> {
        let mut path = account_path(network)?.to_vec();
        path.extend(branch_and_index(branch, index)?);
        Ok(self.derive(&path)?.to_bytes())
    }

    fn account(&self, network: Network) -> Result<XPrv, KeyError> {
        self.derive(&account_path(network)?)
    }

    fn derive(&self, path: &[ChildNumber]) -> Result<XPrv, KeyError> {
        Ok(path
            .iter()
            .try_fold(XPrv::new(self.bytes.as_slice())?, |key, &n| {
                key.derive_child(n)
            })?)
    }
}

impl fmt::Debug for MasterSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterSeed(…)")
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
    use k256::elliptic_curve::sec1::ToSec1Point;

    // BIP-32 test vector 1, checked against the text of bip-0032.mediawiki.
    const V1_SEED: &str = "000102030405060708090a0b0c0d0e0f";
    const V1_M: &str = "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8";
    const V1_M_0H: &str = "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw";
    const V1_M_0H_1: &str = "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ";
    const V1_M_0H_1_2H: &str = "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5";
    const V1_M_0H_1_2H_2_1000000000: &str = "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy";
    const V1_M_XPRV: &str = "xprv9s21ZrQH143K3QTDL4LXw2F7HEK3wJUD2nW2nRk4stbPy6cq3jPPqjiChkVvvNKmPGJxWUtg6LnF5kejMRNNU3TGtRBeJgk33yuGBxrMPHi";

    fn h(i: u32) -> ChildNumber {
        ChildNumber::new(i, true).unwrap()
    }

    fn public(xprv: &XPrv) -> MasterPublicKey {
        MasterPublicKey {
            xpub: xprv.public_key(),
        }
    }

    /// The address for a private key, computed with k256 alone (not through bip32).
    fn address_of_secret(network: Network, secret: &[u8; 32]) -> String {
        let point = k256::SecretKey::from_slice(secret)
            .unwrap()
            .public_key()
            .to_sec1_point(true);
        let compressed: [u8; 33] = point.as_bytes().try_into().unwrap();
        address::from_public_key(network, &compressed).unwrap()
    }

    fn test_seed() -> MasterSeed {
        MasterSeed::from_hex(&"5a".repeat(32)).unwrap()
    }

    #[test]
    fn bip32_vector_1() {
        let seed = MasterSeed::from_hex(V1_SEED).unwrap();
        assert_eq!(public(&seed.derive(&[]).unwrap()).to_string(), V1_M);
        let m_0h = public(&seed.derive(&[h(0)]).unwrap());
        assert_eq!(m_0h.to_string(), V1_M_0H);
        assert_eq!(m_0h, MasterPublicKey::parse(V1_M_0H).unwrap());

        // m/0H/1: private derivation and public derivation from m/0H agree with the vector.
        let m_0h_1 = public(&seed.derive(&[h(0), ChildNumber(1)]).unwrap());
        assert_eq!(m_0h_1.to_string(), V1_M_0H_1);
        let from_public = m_0h.xpub.derive_child(ChildNumber(1)).unwrap();
        assert_eq!(from_public.to_string(Prefix::XPUB), V1_M_0H_1);

        // `address` walks branch then index: m/0H/1/2H → /2/1000000000.
        let parent = MasterPublicKey::parse(V1_M_0H_1_2H).unwrap();
        let leaf = MasterPublicKey::parse(V1_M_0H_1_2H_2_1000000000).unwrap();
        for n in Network::ALL {
            assert_eq!(
                parent.address(n, 2, 1_000_000_000).unwrap(),
                address::from_public_key(n, &leaf.xpub.to_bytes()).unwrap()
            );
        }
    }

    #[test]
    fn public_side_matches_private_side() {
        let seed = test_seed();
        for n in Network::ALL {
            let account = seed.account_public_key(n).unwrap();
            for (branch, index) in [(0, 0), (0, 1), (1, 0), (1, 7), (0, (1 << 31) - 1)] {
                let from_public = account.address(n, branch, index).unwrap();
                let secret = seed.private_key(n, branch, index).unwrap();
                assert_eq!(
                    from_public,
                    address_of_secret(n, &secret),
                    "{n} {branch}/{index}"
                );
                assert_eq!(address::validate(n, &from_public), Ok(()), "{from_public}");
            }
        }
    }

    #[test]
    fn addresses_differ_by_index_branch_and_network() {
        let seed = test_seed();
        let mut seen = std::collections::HashSet::new();
        for n in Network::ALL {
            let account = seed.account_public_key(n).unwrap();
            for branch in 0..2 {
                for index in 0..5 {
                    let a = account.address(n, branch, index).unwrap();
                    assert!(seen.insert(a.to_lowercase()), "{a} repeated");
                }
            }
        }
        // Each network has its own account, not just its own encoding of one key.
        let btc = seed.account_public_key(Network::Btc).unwrap();
        let eth = seed.account_public_key(Network::Erc20).unwrap();
        let trx = seed.account_public_key(Network::Trc20).unwrap();
        assert_ne!(btc, eth);
        assert_ne!(eth, trx);
    }

    #[test]
    fn account_key_is_bip44_path() {
        let seed = test_seed();
        for (n, coin) in [
            (Network::Btc, 0),
            (Network::Erc20, 60),
            (Network::Trc20, 195),
        ] {
            let expected = public(&seed.derive(&[h(44), h(coin), h(0)]).unwrap());
            let account = seed.account_public_key(n).unwrap();
            assert_eq!(account, expected);
            assert_eq!(account.xpub.attrs().depth, 3);
        }
    }

    #[test]
    fn hardened_indices_are_refused() {
        let seed = test_seed();
        let account = seed.account_public_key(Network::Btc).unwrap();
        assert_eq!(
            account.address(Network::Btc, 1 << 31, 0),
            Err(KeyError::IndexOutOfRange {
                level: "branch",
                value: 1 << 31
            })
        );
        let err = account.address(Network::Btc, 0, u32::MAX).unwrap_err();
        assert_eq!(
            err,
            KeyError::IndexOutOfRange {
                level: "index",
                value: u32::MAX
            }
        );
        assert!(err.to_string().contains("below 2^31"), "{err}");
        assert!(seed.private_key(Network::Btc, 0, 1 << 31).is_err());
    }

    #[test]
    fn parse_round_trips_and_refuses_secrets_and_other_prefixes() {
        let key = MasterPublicKey::parse(V1_M_0H_1).unwrap();
        assert_eq!(key.to_string(), V1_M_0H_1);
        assert_eq!(V1_M_0H_1.parse::<MasterPublicKey>().unwrap(), key);

        let err = MasterPublicKey::parse(V1_M_XPRV).unwrap_err();
        assert_eq!(err, KeyError::PrivateKeyGiven);
        assert!(!err.to_string().contains(V1_M_XPRV));

        let tpub = key.xpub.to_string(Prefix::TPUB);
        assert_eq!(
            MasterPublicKey::parse(&tpub),
            Err(KeyError::UnsupportedPrefix)
        );

        let mut typo = V1_M_0H_1.to_string();
        typo.replace_range(20..21, "z");
        for bad in ["", "xpub", "not a key", typo.as_str()] {
            assert_eq!(
                MasterPublicKey::parse(bad),
                Err(KeyError::InvalidXpub),
                "{bad}"
            );
        }
    }

    #[test]
    fn seed_hex_round_trip_lengths_and_debug() {
        let seed = MasterSeed::generate().unwrap();
        let hex_seed = seed.to_hex();
        assert_eq!(hex_seed.len(), 64);
        let again = MasterSeed::from_hex(&format!("{hex_seed}\n")).unwrap();
        assert_eq!(again.to_hex(), hex_seed);
        assert_ne!(MasterSeed::generate().unwrap().to_hex(), hex_seed);

        let debug = format!("{seed:?}");
        assert_eq!(debug, "MasterSeed(…)");
        assert!(!debug.contains(&hex_seed[..8]));

        for len in [16, 32, 64] {
            assert!(MasterSeed::from_bytes(&vec![7; len]).is_ok());
        }
        for len in [0, 15, 20, 33, 65] {
            assert_eq!(
                MasterSeed::from_bytes(&vec![7; len]).unwrap_err(),
                KeyError::SeedLength(len)
            );
        }
        assert_eq!(MasterSeed::from_hex("zz").unwrap_err(), KeyError::SeedHex);
    }
}
