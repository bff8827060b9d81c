//! Users: the identity row every other aggregate hangs off. Emails and phone numbers arrive
//! already normalised (lowercased email, E.164 phone) by the caller; the store only enforces
//! uniqueness, that an account has at least one of them, and that enumerated columns hold known
//! values. Every update here is one targeted statement so concurrent changes to different
//! columns never overwrite each other.

use sqlx::any::AnyQueryResult;

use crate::Store;
use crate::error::{StoreError, StoreResult, UniqueKey, classify, classify_keys};
use crate::limits::capped;

/// Account states stored in `users.status`.
pub mod account_status {
    /// Signed up, contact not verified yet: may only reach the verification page.
    pub const UNVERIFIED: &str = "unverified";
    pub const ACTIVE: &str = "active";
    /// Frozen by the owner or staff: no login, no trading; unfreezing needs staff review.
    pub const FROZEN: &str = "frozen";
    pub const CLOSED: &str = "closed";
}

/// Prefixes the account column list so every query returns the same shape as a `&'static str`.
macro_rules! select_accounts {
    ($tail:literal) => {
        concat!(
            "SELECT id, email, created_ms, phone, display_name, password_phc, status, ",
            "email_verified_ms, phone_verified_ms, anti_phishing_code, agreement_version, ",
            "agreement_accepted_ms, kyc_tier, residence_country, withdraw_locked_until_ms, ",
            "is_staff, staff_roles FROM users ",
            $tail
        )
    };
}

/// The unique keys of `users`, so a conflict says which identifier is taken.
const USER_KEYS: &[UniqueKey] = &[
    UniqueKey {
        constraint: "uq_users_email",
        sqlite_columns: "users.email",
        label: "email",
    },
    UniqueKey {
        constraint: "uq_users_phone",
        sqlite_columns: "users.phone",
        label: "phone",
    },
];

/// The short view of a user that the trading side needs (existence, contact, age).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct UserRow {
    pub id: i64,
    /// `None` for accounts registered with a phone number only.
    pub email: Option<String>,
    pub created_ms: i64,
}

/// A sign-up to insert; the id is assigned by the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    /// Lowercased email; at least one of `email` and `phone` must be set.
    pub email: Option<String>,
    /// E.164 phone number (`+` and digits).
    pub phone: Option<String>,
    pub display_name: Option<String>,
    /// Password hash as a PHC string (argon2id); `None` for accounts without a password.
    pub password_phc: Option<String>,
    /// One of the [`account_status`] names.
    pub status: String,
    /// The agreement version accepted at sign-up (must be published); accepted at `created_ms`.
    pub agreement_version: Option<String>,
    /// ISO 3166-1 alpha-2 country of residence, when declared.
    pub residence_country: Option<String>,
    pub created_ms: i64,
}

/// Everything stored about an account. `*_ms` columns that are `None` mean "never".
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AccountRow {
    pub id: i64,
    pub email: Option<String>,
    pub created_ms: i64,
    pub phone: Option<String>,
    pub display_name: Option<String>,
    pub password_phc: Option<String>,
    /// One of the [`account_status`] names.
    pub status: String,
    pub email_verified_ms: Option<i64>,
    pub phone_verified_ms: Option<i64>,
    pub anti_phishing_code: Option<String>,
    pub agreement_version: Option<String>,
    pub agreement_accepted_ms: Option<i64>,
    /// 0, 1 or 2.
    pub kyc_tier: i64,
    pub residence_country: Option<String>,
    /// Withdrawals allowed from this time on (0: never locked).
    pub withdraw_locked_until_ms: i64,
    /// 1 for staff accounts, else 0.
    pub is_staff: i64,
    /// Comma list of staff roles (support, compliance, security, treasury, admin); empty if none.
    pub staff_roles: String,
}

/// `NotFound("user")` when an update by id touched no row.
fn require_user(result: AnyQueryResult) -> StoreResult<()> {
    if result.rows_affected() == 0 {
        return Err(StoreError::NotFound("user"));
    }
    Ok(())
}

impl Store {
    /// Inserts an active, email-only user and returns its id; a taken email is
    /// `Conflict("email")`. Kept for the admin CLI, which creates accounts for bots.
    pub async fn create_user(&self, email: &str, now_ms: i64) -> StoreResult<i64> {
        sqlx::query_scalar("INSERT INTO users (email, created_ms) VALUES ($1, $2) RETURNING id")
            .bind(email)
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await
            .map_err(|error| classify(error, "email", "user"))
    }

    /// Inserts a sign-up and returns its id. `Conflict("email")` or `Conflict("phone")` when
    /// taken, `NotFound("agreement version")` for an unpublished version, `Invalid` when neither
    /// email nor phone is set or the status is unknown.
    pub async fn create_account(&self, account: &NewAccount) -> StoreResult<i64> {
        let accepted_ms = account
            .agreement_version
            .as_ref()
            .map(|_| account.created_ms);
        sqlx::query_scalar(
            "INSERT INTO users (email, created_ms, phone, display_name, password_phc, status, \
             agreement_version, agreement_accepted_ms, residence_country) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(account.email.as_deref())
        .bind(account.created_ms)
        .bind(account.phone.as_deref())
        .bind(account.display_name.as_deref())
        .bind(account.password_phc.as_deref())
        .bind(account.status.as_str())
        .bind(account.agreement_version.as_deref())
        .bind(accepted_ms)
        .bind(account.residence_country.as_deref())
        .fetch_one(&self.pool)
        .await
        .map_err(|error| {
            classify_keys(
                error,
                USER_KEYS,
                "agreement version",
                "account needs an email or a phone and a known status",
            )
        })
    }

    /// Looks a user up by id.
    pub async fn get_user(&self, id: i64) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query_as("SELECT id, email, created_ms FROM users WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Looks a user up by (already lowercased) email, for login and sign-up checks.
    pub async fn find_user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        let row = sqlx::query_as("SELECT id, email, created_ms FROM users WHERE email = $1")
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The full account by id.
    pub async fn get_account(&self, id: i64) -> StoreResult<Option<AccountRow>> {
        let row = sqlx::query_as(select_accounts!("WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The full account by (already lowercased) email.
    pub async fn find_account_by_email(&self, email: &str) -> StoreResult<Option<AccountRow>> {
        let row = sqlx::query_as(select_accounts!("WHERE email = $1"))
            .bind(email)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// The full account by E.164 phone number.
    pub async fn find_account_by_phone(&self, phone: &str) -> StoreResult<Option<AccountRow>> {
        let row = sqlx::query_as(select_accounts!("WHERE phone = $1"))
            .bind(phone)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row)
    }

    /// Staff accounts by id, for the admin console (capped at
    /// [`ROWS_PER_QUERY_MAX`](crate::ROWS_PER_QUERY_MAX)).
    pub async fn list_staff_accounts(&self) -> StoreResult<Vec<AccountRow>> {
        let rows = sqlx::query_as(select_accounts!("WHERE is_staff = 1 ORDER BY id LIMIT $1"))
            .bind(capped(u32::MAX))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Accounts in one [`account_status`] (e.g. frozen, for the staff unfreeze queue), oldest
    /// first, at most `limit` (capped).
    pub async fn list_accounts_by_status(
        &self,
        status: &str,
        limit: u32,
    ) -> StoreResult<Vec<AccountRow>> {
        let rows = sqlx::query_as(select_accounts!("WHERE status = $1 ORDER BY id LIMIT $2"))
            .bind(status)
            .bind(capped(limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows)
    }

    /// Replaces the password hash (change, reset, or rehash under a newer policy).
    pub async fn set_password(&self, user_id: i64, password_phc: &str) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET password_phc = $2 WHERE id = $1")
            .bind(user_id)
            .bind(password_phc)
            .execute(&self.pool)
            .await?;
        require_user(result)
    }

    /// Records the email as verified; a second call keeps the first time.
    pub async fn mark_email_verified(&self, user_id: i64, now_ms: i64) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE users SET email_verified_ms = COALESCE(email_verified_ms, $2) WHERE id = $1",
        )
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        require_user(result)
    }

    /// Records the phone number as verified; a second call keeps the first time.
    pub async fn mark_phone_verified(&self, user_id: i64, now_ms: i64) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE users SET phone_verified_ms = COALESCE(phone_verified_ms, $2) WHERE id = $1",
        )
        .bind(user_id)
        .bind(now_ms)
        .execute(&self.pool)
        .await?;
        require_user(result)
    }

    /// Replaces the email (or removes it with `None`) together with its verification time, so a
    /// new address never inherits the old one's verification. `Conflict("email")` when taken,
    /// `Invalid` when the account would be left without email and phone.
    pub async fn change_email(
        &self,
        user_id: i64,
        email: Option<&str>,
        verified_ms: Option<i64>,
    ) -> StoreResult<()> {
        let sql = "UPDATE users SET email = $2, email_verified_ms = $3 WHERE id = $1";
        self.change_contact(sql, user_id, email, verified_ms).await
    }

    /// Replaces the phone number (or removes it) together with its verification time; errors as
    /// [`change_email`](Store::change_email) with `Conflict("phone")`.
    pub async fn change_phone(
        &self,
        user_id: i64,
        phone: Option<&str>,
        verified_ms: Option<i64>,
    ) -> StoreResult<()> {
        let sql = "UPDATE users SET phone = $2, phone_verified_ms = $3 WHERE id = $1";
        self.change_contact(sql, user_id, phone, verified_ms).await
    }

    /// One contact column and its verification time, set together (see `change_email`).
    async fn change_contact(
        &self,
        sql: &'static str,
        user_id: i64,
        value: Option<&str>,
        verified_ms: Option<i64>,
    ) -> StoreResult<()> {
        let result = sqlx::query(sql)
            .bind(user_id)
            .bind(value)
            .bind(verified_ms)
            .execute(&self.pool)
            .await
            .map_err(|error| {
                classify_keys(
                    error,
                    USER_KEYS,
                    "user",
                    "account needs an email or a phone",
                )
            })?;
        require_user(result)
    }

    /// Sets the account status unconditionally; `Invalid` for an unknown status name.
    pub async fn set_status(&self, user_id: i64, status: &str) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET status = $2 WHERE id = $1")
            .bind(user_id)
            .bind(status)
            .execute(&self.pool)
            .await
            .map_err(|error| classify_keys(error, &[], "user", "unknown account status"))?;
        require_user(result)
    }

    /// Moves the status from `from` to `to` only if it is still `from`; returns whether it
    /// moved, so two racing transitions (verify vs freeze) cannot both win.
    pub async fn transition_status(&self, user_id: i64, from: &str, to: &str) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE users SET status = $3 WHERE id = $1 AND status = $2")
            .bind(user_id)
            .bind(from)
            .bind(to)
            .execute(&self.pool)
            .await
            .map_err(|error| classify_keys(error, &[], "user", "unknown account status"))?;
        Ok(result.rows_affected() == 1)
    }

    /// Sets or clears (`None`) the anti-phishing code shown in every email.
    pub async fn set_anti_phishing(&self, user_id: i64, code: Option<&str>) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET anti_phishing_code = $2 WHERE id = $1")
            .bind(user_id)
            .bind(code)
            .execute(&self.pool)
            .await?;
        require_user(result)
    }

    /// Extends the withdrawal lock to `until_ms` unless it already ends later (a lock never
    /// shortens); returns the lock end now stored.
    pub async fn set_withdraw_lock(&self, user_id: i64, until_ms: i64) -> StoreResult<i64> {
        let stored: Option<i64> = sqlx::query_scalar(
            "UPDATE users SET withdraw_locked_until_ms = CASE \
             WHEN withdraw_locked_until_ms < $2 THEN $2 ELSE withdraw_locked_until_ms END \
             WHERE id = $1 RETURNING withdraw_locked_until_ms",
        )
        .bind(user_id)
        .bind(until_ms)
        .fetch_optional(&self.pool)
        .await?;
        stored.ok_or(StoreError::NotFound("user"))
    }

    /// Sets the KYC tier (0..=2, else `Invalid`).
    pub async fn set_kyc_tier(&self, user_id: i64, tier: i64) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET kyc_tier = $2 WHERE id = $1")
            .bind(user_id)
            .bind(tier)
            .execute(&self.pool)
            .await;
        self.kyc_cache.forget(&user_id);
        let result = result
            .map_err(|error| classify_keys(error, &[], "user", "kyc tier must be 0, 1 or 2"))?;
        require_user(result)
    }

    /// Sets or clears the declared country of residence.
    pub async fn set_residence_country(
        &self,
        user_id: i64,
        country: Option<&str>,
    ) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET residence_country = $2 WHERE id = $1")
            .bind(user_id)
            .bind(country)
            .execute(&self.pool)
            .await;
        self.kyc_cache.forget(&user_id);
        require_user(result?)
    }

    /// Records acceptance of an agreement version at `now_ms`; `NotFound("agreement version")`
    /// if that version was never published.
    pub async fn accept_agreement(
        &self,
        user_id: i64,
        version: &str,
        now_ms: i64,
    ) -> StoreResult<()> {
        let result = sqlx::query(
            "UPDATE users SET agreement_version = $2, agreement_accepted_ms = $3 WHERE id = $1",
        )
        .bind(user_id)
        .bind(version)
        .bind(now_ms)
        .execute(&self.pool)
        .await
        .map_err(|error| classify(error, "agreement", "agreement version"))?;
        require_user(result)
    }

    /// Grants or removes staff status and its roles (comma list; empty removes all roles).
    pub async fn set_staff_roles(
        &self,
        user_id: i64,
        is_staff: bool,
        roles: &str,
    ) -> StoreResult<()> {
        let result = sqlx::query("UPDATE users SET is_staff = $2, staff_roles = $3 WHERE id = $1")
            .bind(user_id)
            .bind(i64::from(is_staff))
            .bind(roles)
            .execute(&self.pool)
            .await?;
        require_user(result)
    }
}
