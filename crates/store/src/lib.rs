//! The SQL store: schema, migrations and one repository module per aggregate, over SQLite (the
//! embedded default) and PostgreSQL (at scale) through one code path, the sqlx `Any` driver.
//!
//! The store keeps plain rows and knows no business rules: callers validate and decide, the store
//! persists and answers queries. Every query uses `$n` placeholders and portable SQL, and every
//! test runs on both backends.

mod activity;
mod agreements;
mod api_keys;
mod audit;
mod balance_hours;
mod balances;
mod candles;
mod claims;
mod codes;
mod custody;
mod db;
mod devices;
mod error;
mod fund;
mod incidents;
mod insurer;
mod kyc;
mod kyc_user;
mod limits;
mod lockout;
mod login_confirmations;
mod movements;
mod orders;
mod pow;
mod projection;
mod qr_logins;
mod reconcile;
mod recovery;
mod row_cache;
mod second_factors;
mod sessions;
mod signup_attempts;
mod tokens;
mod totp;
mod trades;
mod transparency;
mod triggers;
mod twofa_reset;
mod users;

#[cfg(test)]
mod tests;

pub use activity::{LoginActivityRow, NewLoginActivity, NewSecurityEvent, SecurityEventRow};
pub use agreements::AgreementVersionRow;
pub use api_keys::{ApiKeyRow, NewApiKey};
pub use audit::{AuditCheck, AuditRow, audit_hash};
pub use claims::{ClaimEventRow, ClaimMove, ClaimRow, ClawbackRow, EvidenceMeta};
pub use codes::{CodeRow, NewCode};
pub use custody::{
    DepositRow, HistoryWindow, NewDeposit, NewWithdrawal, WithdrawAddressRow, WithdrawalEventRow,
    WithdrawalMove, WithdrawalRow,
};
pub use db::{Backend, POOL_CONNECTIONS_MAX, SCHEMA_NAME_BYTES_MAX, Store};
pub use devices::{DeviceRow, NewDevice};
pub use error::{StoreError, StoreResult};
pub use fund::{PolicyRow, TopUpRow};
pub use incidents::{ContainmentStep, IncidentRow, IncidentUpdateRow};
pub use insurer::InsurerSubmissionRow;
pub use kyc::{KycApplicationRow, KycDocumentRow, NewKycApplication, NewKycDocument, kyc_state};
pub use kyc_user::{DeclaredResidence, KycProfile};
pub use limits::{ORDER_TRADES_MAX, PROJECTION_ROWS_PER_STATEMENT_MAX, ROWS_PER_QUERY_MAX};
pub use lockout::LockoutRow;
pub use login_confirmations::{LoginConfirmationRow, NewLoginConfirmation};
pub use movements::{MovementRow, NewMovement, OperatorKeyRow};
pub use orders::order_state;
pub use projection::{
    BalanceHourRow, BalanceRow, CandleRow, MAIN_PROJECTION, OrderRow, ProjectionBatch, TradeRow,
    TriggerRow,
};
pub use qr_logins::{NewQrLogin, QrLoginRow, qr_state};
pub use reconcile::{CustodyIncidentRow, ReconciliationRow};
pub use recovery::RecoveryCodeRow;
pub use second_factors::factor_method;
pub use sessions::{NewSession, SessionRow};
pub use signup_attempts::{NewSignupAttempt, SignupAttemptRow, VerifiedContact};
pub use tokens::{NewToken, TokenRow};
pub use totp::TotpRow;
pub use trades::TradeStats;
pub use transparency::{ControlProofRow, PorTreeRow, ReportRow};
pub use triggers::trigger_state;
pub use twofa_reset::{TwofaResetRow, twofa_reset_state};
pub use users::{AccountRow, NewAccount, UserRow, account_status};
