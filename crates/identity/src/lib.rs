//! Identity domain for Bulwark: the rules for accounts, passwords, second factors, one-time codes,
//! sessions, lockout, regions and KYC tiers (messages to users live in `bulwark-notify`).
//!
//! This crate deliberately knows nothing about HTTP or SQL: the store persists the values it
//! returns and the web layer calls its functions. Everything that depends on time takes the time as
//! a parameter (`now_ms`, Unix milliseconds) or through [`clock::Clock`], so every rule can be tested
//! without sleeping.

pub mod account;
mod bounded;
pub mod clock;
pub mod codes;
pub mod geoip;
pub mod ip_bucket;
pub mod kyc;
pub mod lockout;
pub mod password;
pub mod pow;
pub mod qr_login;
pub mod random;
pub mod regions;
pub mod session;
pub mod totp;
pub mod withdraw_lock;

pub use clock::{Clock, SystemClock, TestClock};
