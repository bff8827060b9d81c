//! The accounts service: every use case of a person's account (sign-up, login with its second
//! factors and device confirmation, sessions, recovery, KYC, freeze, regions, staff operations)
//! decided in one place, so the JSON API, the web pages and the operator API are adapters that
//! parse, call one function here and map its typed result.
//!
//! Rules come from `bulwark-identity` (pure), rows from `bulwark-store`, messages go through
//! `bulwark-notify`, and the engine is reached only through the sequencer's `CommandBus`.
//! Errors are [`Error`]s: a transport-neutral [`Kind`], a stable snake_case code and a message
//! for people; each adapter maps a kind to its own status in one place.

#![forbid(unsafe_code)]

pub mod access;
pub mod activity;
pub mod admin;
pub mod api_keys;
pub mod attempts;
pub mod client;
pub mod confirm_login;
pub mod crypto;
pub mod devices;
pub mod doors;
pub mod error;
pub mod factors;
pub mod freeze;
pub mod keys;
pub mod kyc;
pub mod kyc_seal;
pub mod login;
pub mod login_step;
pub mod my_account;
pub mod notice;
pub mod one_time;
pub mod qr_login;
pub mod recovery;
pub mod second_factor;
pub mod service;
pub mod sessions;
pub mod signup;
pub mod totp_setup;
pub mod twofa_reset;
pub mod user_limit;
pub mod validate;

pub use client::Client;
pub use error::{Error, Kind, Result};
pub use service::{Accounts, OffsetClock, Service, ensure_agreement};
