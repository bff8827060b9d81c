//! Deposit and withdrawal addresses in each network's own format. Coins sent to a mistyped or
//! wrong-network address are gone for good, so every address a user gives us is checked against
//! the network's real checksum before anything is sent to it, and every address we hand out is
//! produced by the same encoders that the checks accept.

use bech32::{hrp, segwit};
use ripemd::Ripemd160;
use sha2::{Digest, Sha256};
use sha3::Keccak256;

use crate::network::Network;

/// Longer input than any supported format is refused before decoding, so a pasted paragraph
/// gets a plain answer rather than a decoder's.
pub const MAX_LEN: usize = 128;

/// TRON's mainnet address version byte: what makes a TRON address start with `T`.
const TRON_PREFIX: u8 = 0x41;
/// Bitcoin mainnet base58check version bytes: P2PKH (`1…`) and P2SH (`3…`).
const BTC_P2PKH: u8 = 0x00;
const BTC_P2SH: u8 = 0x05;
/// Bitcoin testnet base58check version bytes (`m…`/`n…` and `2…`).
const BTC_TEST_P2PKH: u8 = 0x6f;
const BTC_TEST_P2SH: u8 = 0xc4;

/// Why an address was refused; the message is shown to the user as is, so it says what is wrong
/// in their terms.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("address is empty")]
    Empty,
    #[error("not a valid {network} address: {reason}")]
    Format {
        network: Network,
        reason: &'static str,
    },
    /// Separate from `Format` because it almost always means a typo in an otherwise
    /// well-formed address, which is worth telling the user.
    #[error("not a valid {network} address: checksum does not match")]
    BadChecksum { network: Network },
}

/// A public key that is not a point on secp256k1 has no address: nobody could ever sign for it.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
#[error("not a valid compressed secp256k1 public key")]
pub struct InvalidPublicKey;

fn format(network: Network, reason: &'static str) -> AddressError {
    AddressError::Format { network, reason }
}

/// Checks `address` is well formed for `network` with a matching checksum, so a withdrawal can
/// never be sent to a typo or to another chain's address.
pub fn validate(network: Network, address: &str) -> Result<(), AddressError> {
    if address.is_empty() {
        return Err(AddressError::Empty);
    }
    if address.chars().any(char::is_whitespace) {
        return Err(format(network, "it contains spaces or other whitespace"));
    }
    if address.len() > MAX_LEN {
        return Err(format(network, "it is longer than 128 characters"));
    }
    if !address.is_ascii() {
        return Err(format(
            network,
            "it contains characters that never appear in an address",
        ));
    }
    match network {
        Network::Btc => validate_btc(address),
        Network::Erc20 => validate_erc20(address),
        Network::Trc20 => validate_trc20(address),
    }
}

fn starts_with_ignore_case(s: &str, prefix: &str) -> bool {
    s.get(..prefix.len())
        .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
}

fn validate_btc(address: &str) -> Result<(), AddressError> {
    const NET: Network = Network::Btc;
    if starts_with_ignore_case(address, "bc1") {
        return validate_segwit(address);
    }
    if starts_with_ignore_case(address, "tb1") || starts_with_ignore_case(address, "bcrt1") {
        return Err(format(
            NET,
            "it is a testnet address; only Bitcoin mainnet addresses are accepted",
        ));
    }
    let payload = decode_base58check(NET, address)?;
    match payload.split_first() {
        Some((&(BTC_P2PKH | BTC_P2SH), hash)) if hash.len() == 20 => Ok(()),
        Some((&(BTC_TEST_P2PKH | BTC_TEST_P2SH), _)) => Err(format(
            NET,
            "it is a testnet address; only Bitcoin mainnet addresses are accepted",
        )),
        Some((&TRON_PREFIX, _)) => Err(format(NET, "it is a TRON address, not a Bitcoin address")),
        _ => Err(format(
            NET,
            "it is not a Bitcoin address; expected one starting with bc1, 1 or 3",
        )),
    }
}

/// BIP-173/BIP-350 rules (checksum variant per witness version, program lengths, padding, single
/// case) are the `bech32` crate's; only the network (HRP) is ours to check.
fn validate_segwit(address: &str) -> Result<(), AddressError> {
    use bech32::primitives::decode::{
        CharError, ChecksumError, SegwitHrpstringError as E, UncheckedHrpstringError as U,
    };
    const NET: Network = Network::Btc;
    // "bc1", a version, a 2-byte program (4 characters) and a 6-character checksum. Checked
    // first because a shorter string's "checksum" is all there is, and a checksum error would
    // mislead.
    const MIN_LEN: usize = 14;
    if address.len() < MIN_LEN {
        return Err(format(NET, "it is too short for a bc1 address"));
    }
    match segwit::decode(address) {
        Ok((hrp, _version, _program)) if hrp.is_valid_on_mainnet() => Ok(()),
        Ok(_) => Err(format(
            NET,
            "it is not a Bitcoin mainnet address (those start with bc1)",
        )),
        Err(err) => Err(match err.0 {
            E::Checksum(ChecksumError::InvalidResidue(_)) => {
                AddressError::BadChecksum { network: NET }
            }
            E::Unchecked(U::Char(CharError::MixedCase)) => {
                format(NET, "it mixes upper and lower case letters")
            }
            E::Unchecked(U::Char(CharError::InvalidChar(_))) => format(
                NET,
                "it contains characters that never appear in a bc1 address (1, b, i, o)",
            ),
            E::TooLong(_) | E::Checksum(_) => {
                format(NET, "it has the wrong length for a bc1 address")
            }
            _ => format(NET, "it is not a well-formed bc1 (SegWit) address"),
        }),
    }
}

/// Decodes base58check and returns the payload with its version byte, mapping the codec's errors
/// to ones a user can act on.
fn decode_base58check(network: Network, address: &str) -> Result<Vec<u8>, AddressError> {
    use bs58::decode::Error as E;
    bs58::decode(address)
        .with_check(None)
        .into_vec()
        .map_err(|err| match err {
            E::InvalidChecksum { .. } => AddressError::BadChecksum { network },
            E::InvalidCharacter { .. } | E::NonAsciiCharacter { .. } => format(
                network,
                "it contains characters that never appear in this kind of address (0, O, I, l)",
            ),
            E::NoChecksum => format(network, "it is too short"),
            _ => format(network, "it is not a well-formed base58check address"),
        })
}

fn validate_erc20(address: &str) -> Result<(), AddressError> {
    const NET: Network = Network::Erc20;
    let Some(hex) = address.strip_prefix("0x") else {
        return Err(format(NET, "it must start with 0x"));
    };
    if hex.len() != 40 {
        return Err(format(
            NET,
            "it must have exactly 40 hexadecimal digits after 0x",
        ));
    }
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format(
            NET,
            "it contains characters other than hexadecimal digits (0-9, a-f)",
        ));
    }
    let has_lower = hex.bytes().any(|b| b.is_ascii_lowercase());
    let has_upper = hex.bytes().any(|b| b.is_ascii_uppercase());
    // Single-case hex carries no checksum (EIP-55); mixed case is a checksum and must match.
    if has_lower && has_upper && eip55(&hex.to_ascii_lowercase()) != hex {
        return Err(AddressError::BadChecksum { network: NET });
    }
    Ok(())
}

fn validate_trc20(address: &str) -> Result<(), AddressError> {
    const NET: Network = Network::Trc20;
    let payload = decode_base58check(NET, address)?;
    match payload.split_first() {
        Some((&TRON_PREFIX, account)) if account.len() == 20 => Ok(()),
        Some((&TRON_PREFIX, _)) => Err(format(NET, "it has the wrong length for a TRON address")),
        _ => Err(format(
            NET,
            "it is not a TRON mainnet address (those start with T)",
        )),
    }
}

fn keccak256(data: &[u8]) -> [u8; 32] {
    Keccak256::digest(data).into()
}

fn hash160(data: &[u8]) -> [u8; 20] {
    Ripemd160::digest(Sha256::digest(data)).into()
}

/// Applies EIP-55 casing to 40 lowercase hex digits: a letter is upper case where the matching
/// nibble of keccak256(lowercase hex) is 8 or more.
fn eip55(lower_hex: &str) -> String {
    let hash = keccak256(lower_hex.as_bytes());
    let nibbles = hash.iter().flat_map(|b| [b >> 4, b & 0x0f]);
    lower_hex
        .chars()
        .zip(nibbles)
        .map(|(c, n)| if n >= 8 { c.to_ascii_uppercase() } else { c })
        .collect()
}

/// Native SegWit v0 (`bc1q…`) is what we hand out for Bitcoin: cheapest to spend from and
/// protected by bech32's error-detecting checksum.
pub fn btc_p2wpkh(hash160: &[u8; 20]) -> String {
    let mut out = String::with_capacity(42);
    // A 20-byte v0 program is always a valid segwit address, and writing to a String cannot
    // fail, so neither of the checks this skips can trigger.
    let _ = segwit::encode_lower_to_fmt_unchecked(&mut out, hrp::BC, segwit::VERSION_0, hash160);
    out
}

/// Ethereum addresses are handed out with the EIP-55 checksum so wallets that check it catch a
/// mistyped copy.
pub fn eth_checksummed(addr: &[u8; 20]) -> String {
    format!("0x{}", eip55(&hex::encode(addr)))
}

/// TRON uses the same 20-byte account id as Ethereum, shown as base58check with version 0x41.
pub fn tron(addr: &[u8; 20]) -> String {
    let payload: Vec<u8> = std::iter::once(TRON_PREFIX)
        .chain(addr.iter().copied())
        .collect();
    bs58::encode(payload).with_check().into_string()
}

/// The address that pays to `compressed_sec1` on `network`, so deposit addresses follow from a
/// public key alone and no private key is needed online.
pub fn from_public_key(
    network: Network,
    compressed_sec1: &[u8; 33],
) -> Result<String, InvalidPublicKey> {
    let key = k256::PublicKey::from_sec1_bytes(compressed_sec1).map_err(|_| InvalidPublicKey)?;
    Ok(match network {
        Network::Btc => btc_p2wpkh(&hash160(compressed_sec1)),
        Network::Erc20 => eth_checksummed(&account_id(&key)),
        Network::Trc20 => tron(&account_id(&key)),
    })
}

/// Ethereum's (and TRON's) account id: the last 20 bytes of keccak256 of the 64-byte
/// uncompressed point (x ‖ y, without the SEC1 tag byte).
fn account_id(key: &k256::PublicKey) -> [u8; 20] {
    use k256::elliptic_curve::sec1::ToSec1Point;
    let point = key.to_sec1_point(false);
    let xy = point.as_bytes().get(1..).unwrap_or_default();
    let hash = keccak256(xy);
    let mut id = [0u8; 20];
    for (dst, src) in id.iter_mut().zip(hash.iter().skip(12)) {
        *dst = *src;
    }
    id
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
    use proptest::prelude::*;

    const BIP173_P2WPKH: &str = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
    const EIP55_VECTORS: [&str; 4] = [
        "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
        "0xfB6916095ca1df60bB79Ce92cE3Ea74c37c5d359",
        "0xdbF03B407c01E7cD3CBea99509d93f8DDDC8C6FB",
        "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb",
    ];
    const USDT_TRC20: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";
    /// The public key of private key 1 (the generator point), used by BIP-173's own example.
    const G: &str = "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";

    fn bytes20(hex_str: &str) -> [u8; 20] {
        hex::decode(hex_str).unwrap().try_into().unwrap()
    }

    /// Replaces the character at `i` with `with`.
    fn replace_at(s: &str, i: usize, with: char) -> String {
        s.chars()
            .enumerate()
            .map(|(j, c)| if j == i { with } else { c })
            .collect()
    }

    fn format_err(network: Network) -> impl Fn(&Result<(), AddressError>) -> bool {
        move |r| matches!(r, Err(AddressError::Format { network: n, .. }) if *n == network)
    }

    #[test]
    fn bip173_segwit_vector_is_valid_and_is_what_we_encode() {
        assert_eq!(validate(Network::Btc, BIP173_P2WPKH), Ok(()));
        assert_eq!(
            validate(Network::Btc, &BIP173_P2WPKH.to_uppercase()),
            Ok(())
        );
        let hash = bytes20("751e76e8199196d454941c45d1b3a323f1433bd6");
        assert_eq!(btc_p2wpkh(&hash), BIP173_P2WPKH);
    }

    #[test]
    fn bip350_vectors() {
        for valid in [
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqzk5jj0",
            "bc1pw508d6qejxtdg4y5r3zarvary0c5xw7kw508d6qejxtdg4y5r3zarvary0c5xw7kt5nd6y",
            "BC1SW50QGDZ25J",
            "bc1zw508d6qejxtdg4y5r3zarvaryvaxxpcs",
        ] {
            assert_eq!(validate(Network::Btc, valid), Ok(()), "{valid}");
        }
        // Bech32 where bech32m is required, and the reverse.
        for wrong_variant in [
            "bc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vqh2y7hd",
            "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kemeawh",
        ] {
            assert_eq!(
                validate(Network::Btc, wrong_variant),
                Err(AddressError::BadChecksum {
                    network: Network::Btc
                }),
                "{wrong_variant}"
            );
        }
        for malformed in [
            "bc1pw5dgrnzv",                                                   // 1-byte program
            "BC1QR508D6QEJXTDG4Y5R3ZARVARYV98GJ9P",                           // 16-byte v0 program
            "bc1gmk9yu",                                                      // no data
            "BC130XLXVLHEMJA6C4DQV22UAPCTQUPFHLXM9H8Z3K2E72Q4K9HCZ7VQ7ZWS8R", // version 17
        ] {
            assert!(
                format_err(Network::Btc)(&validate(Network::Btc, malformed)),
                "{malformed}"
            );
        }
    }

    #[test]
    fn btc_rejects_typos_testnet_and_mixed_case() {
        // 'v' → 'w' in the checksum part (both are bech32 characters).
        let typo = BIP173_P2WPKH.replace("kv8f3t4", "kw8f3t4");
        assert_eq!(
            validate(Network::Btc, &typo),
            Err(AddressError::BadChecksum {
                network: Network::Btc
            })
        );
        let testnet = "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7";
        let err = validate(Network::Btc, testnet).unwrap_err();
        assert!(err.to_string().contains("testnet"), "{err}");
        let mixed = "bc1qW508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
        let err = validate(Network::Btc, mixed).unwrap_err();
        assert!(err.to_string().contains("upper and lower case"), "{err}");
        // Another chain's bech32 prefix.
        assert!(format_err(Network::Btc)(&validate(
            Network::Btc,
            "ltc1qw508d6qejxtdg4y5r3zarvary0c5xw7kgmn4n9"
        )));
        assert!(format_err(Network::Btc)(&validate(
            Network::Btc,
            "tc1p0xlxvlhemja6c4dqv22uapctqupfhlxm9h8z3k2e72q4k9hcz7vq5zuyut"
        )));
    }

    #[test]
    fn btc_legacy_base58check() {
        assert_eq!(
            validate(Network::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"),
            Ok(())
        );
        assert_eq!(
            validate(Network::Btc, "3J98t1WpEZ73CNmQviecrnyiWrnqRhWNLy"),
            Ok(())
        );
        assert_eq!(
            validate(Network::Btc, "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3"),
            Err(AddressError::BadChecksum {
                network: Network::Btc
            })
        );
        let err = validate(Network::Btc, "mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn").unwrap_err();
        assert!(err.to_string().contains("testnet"), "{err}");
        let err = validate(Network::Btc, USDT_TRC20).unwrap_err();
        assert!(err.to_string().contains("TRON"), "{err}");
    }

    #[test]
    fn eip55_vectors() {
        for v in EIP55_VECTORS {
            assert_eq!(validate(Network::Erc20, v), Ok(()), "{v}");
            assert_eq!(eth_checksummed(&bytes20(&v[2..])), v);
            assert_eq!(validate(Network::Erc20, &v.to_lowercase()), Ok(()));
            assert_eq!(
                validate(Network::Erc20, &format!("0x{}", v[2..].to_uppercase())),
                Ok(())
            );
            // Flip the case of the first letter after 0x.
            let i = v[2..].find(|c: char| c.is_ascii_alphabetic()).unwrap() + 2;
            let c = v.as_bytes()[i] as char;
            let flipped = if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            };
            assert_eq!(
                validate(Network::Erc20, &replace_at(v, i, flipped)),
                Err(AddressError::BadChecksum {
                    network: Network::Erc20
                })
            );
        }
    }

    #[test]
    fn erc20_format_errors() {
        let v = EIP55_VECTORS[0];
        for bad in [
            v[2..].to_string(),       // no 0x
            v[..41].to_string(),      // 39 digits
            format!("{v}0"),          // 41 digits
            replace_at(v, 5, 'g'),    // not hex
            format!("0X{}", &v[2..]), // capital X
        ] {
            assert!(
                format_err(Network::Erc20)(&validate(Network::Erc20, &bad)),
                "{bad}"
            );
        }
    }

    #[test]
    fn tron_vectors() {
        assert_eq!(validate(Network::Trc20, USDT_TRC20), Ok(()));
        let raw = hex::decode("41a614f803b6fd780986a42c78ec9c7f77e6ded13c").unwrap();
        assert_eq!(raw[0], TRON_PREFIX);
        assert_eq!(tron(&raw[1..].try_into().unwrap()), USDT_TRC20);
        let typo = replace_at(USDT_TRC20, 10, 'y');
        assert_eq!(
            validate(Network::Trc20, &typo),
            Err(AddressError::BadChecksum {
                network: Network::Trc20
            })
        );
        assert_eq!(
            AddressError::BadChecksum {
                network: Network::Trc20
            }
            .to_string(),
            "not a valid TRC20 address: checksum does not match"
        );
        // A Bitcoin legacy address is valid base58check but not a TRON address.
        assert!(format_err(Network::Trc20)(&validate(
            Network::Trc20,
            "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2"
        )));
        assert!(format_err(Network::Trc20)(&validate(
            Network::Trc20,
            "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj0t"
        )));
    }

    #[test]
    fn generic_input_errors() {
        for n in Network::ALL {
            assert_eq!(validate(n, ""), Err(AddressError::Empty));
            assert!(format_err(n)(&validate(n, &format!(" {USDT_TRC20}"))));
            assert!(format_err(n)(&validate(n, &format!("{BIP173_P2WPKH}\n"))));
            assert!(format_err(n)(&validate(n, "bc1q w508")));
            assert!(format_err(n)(&validate(n, &"1".repeat(MAX_LEN + 1))));
            assert!(format_err(n)(&validate(n, "Tё")));
        }
        let err = validate(Network::Erc20, "0x 12").unwrap_err();
        assert_eq!(
            err.to_string(),
            "not a valid ERC20 address: it contains spaces or other whitespace"
        );
    }

    #[test]
    fn addresses_of_private_key_one() {
        let g: [u8; 33] = hex::decode(G).unwrap().try_into().unwrap();
        assert_eq!(from_public_key(Network::Btc, &g).unwrap(), BIP173_P2WPKH);
        assert_eq!(
            from_public_key(Network::Erc20, &g).unwrap(),
            "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
        );
        assert_eq!(
            from_public_key(Network::Trc20, &g).unwrap(),
            "TMVQGm1qAQYVdetCeGRRkTWYYrLXuHK2HC"
        );
        let mut bad_tag = g;
        bad_tag[0] = 0x09;
        let mut x_out_of_field = [0xff; 33];
        x_out_of_field[0] = 0x02;
        for n in Network::ALL {
            assert_eq!(from_public_key(n, &bad_tag), Err(InvalidPublicKey));
            assert_eq!(from_public_key(n, &x_out_of_field), Err(InvalidPublicKey));
        }
    }

    fn encode(network: Network, bytes: &[u8; 20]) -> String {
        match network {
            Network::Btc => btc_p2wpkh(bytes),
            Network::Erc20 => eth_checksummed(bytes),
            Network::Trc20 => tron(bytes),
        }
    }

    proptest! {
        #[test]
        fn encoders_pass_only_their_own_network(bytes in any::<[u8; 20]>()) {
            for made_for in Network::ALL {
                let address = encode(made_for, &bytes);
                for checked_as in Network::ALL {
                    let result = validate(checked_as, &address);
                    if checked_as == made_for {
                        prop_assert_eq!(result, Ok(()), "{}", address);
                    } else {
                        prop_assert!(result.is_err(), "{} accepted as {}", address, checked_as);
                    }
                }
            }
        }
    }
}
