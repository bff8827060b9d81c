//! Every limit the engine enforces, with its unit in the name. Each one is checked by a
//! command before anything changes and refused with a [`Reject`](crate::Reject) naming it.

pub use crate::book::BOOK_PRICE_LEVELS_MAX;

/// Live (resting) orders one user may have across all markets.
pub const ORDERS_OPEN_PER_USER_MAX: u32 = 500;

/// Waiting stop orders one user may have across all markets.
pub const TRIGGERS_OPEN_PER_USER_MAX: u32 = 100;

/// For how many sequence numbers a command's outcome is remembered by its command id.
pub const IDEMPOTENCY_WINDOW_COMMANDS: u64 = 100_000;

pub use crate::client_order_id::CLIENT_ORDER_ID_LEN_MAX_CHARS;

/// Longest deposit reference, in bytes of UTF-8.
pub const DEPOSIT_REFERENCE_LEN_MAX_BYTES: usize = 128;

/// Longest reason text of a staff adjustment, in bytes of UTF-8.
pub const ADJUST_REASON_LEN_MAX_BYTES: usize = 512;

/// Most assets the engine accepts (asset ids are `u16`).
pub const ASSETS_MAX: usize = 4_096;

/// Most markets the engine accepts.
pub const MARKETS_MAX: usize = 4_096;

/// Longest asset code, in upper-case ASCII letters and digits.
pub const ASSET_CODE_LEN_MAX_CHARS: usize = 16;

/// Longest asset display name, in bytes of UTF-8.
pub const ASSET_NAME_LEN_MAX_BYTES: usize = 64;

/// Longest market symbol, in upper-case ASCII letters, digits and `_`.
pub const MARKET_SYMBOL_LEN_MAX_CHARS: usize = 32;

/// Highest maker or taker fee, in millionths of what the user receives (10 %).
pub const FEE_PPM_MAX: u32 = 100_000;

/// Safeguard share of every fee when nothing was configured, in basis points (10 %).
pub const SAFEGUARD_SHARE_DEFAULT_BPS: u32 = 1_000;

/// Highest Safeguard share, in basis points (all of the fee).
pub const SAFEGUARD_SHARE_MAX_BPS: u32 = 10_000;

/// Largest asset scale (decimals), so that `10^scale` fits in `i64`.
pub const ASSET_SCALE_MAX: u32 = bulwark_types::decimal::SCALE_MAX;
