//! The store's error type. Callers branch on `Conflict` and `NotFound` (client mistakes they can
//! report) and treat everything else as an internal failure to log, never to show.

use sqlx::error::ErrorKind;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the row; the payload names what already exists.
    #[error("conflict: {0} already exists")]
    Conflict(&'static str),
    /// A row the call depends on does not exist (missing foreign key target or update target).
    #[error("not found: {0}")]
    NotFound(&'static str),
    /// A row breaks a CHECK constraint (for example an account with neither email nor phone, or
    /// an unknown state name): a caller bug, since the store checks nothing before writing.
    #[error("invalid row: {0}")]
    Invalid(&'static str),
    /// A value cannot be represented in the database (for example a `u64` above `i64::MAX`).
    #[error("value out of range: {0}")]
    OutOfRange(&'static str),
    /// The connection URL or schema name cannot be used.
    #[error("configuration: {0}")]
    Config(String),
    /// Embedded migrations failed to apply.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Anything else the database reported.
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
}

/// Shorthand used by every repository function.
pub type StoreResult<T> = Result<T, StoreError>;

/// Maps constraint violations of an insert to `Conflict`/`NotFound`.
///
/// SQLite does not report constraint names, so the caller says what a unique or foreign-key
/// violation means for its statement; this keeps the mapping identical on both backends.
pub(crate) fn classify(
    error: sqlx::Error,
    duplicate: &'static str,
    missing: &'static str,
) -> StoreError {
    let kind = match &error {
        sqlx::Error::Database(database_error) => Some(database_error.kind()),
        _ => None,
    };
    match kind {
        Some(ErrorKind::UniqueViolation) => StoreError::Conflict(duplicate),
        Some(ErrorKind::ForeignKeyViolation) => StoreError::NotFound(missing),
        _ => StoreError::Database(error),
    }
}

/// One unique key of a table, as each backend names it in a violation.
pub(crate) struct UniqueKey {
    /// Constraint or unique-index name, which PostgreSQL reports.
    pub(crate) constraint: &'static str,
    /// `table.column` list, which SQLite puts in its message instead of a name.
    pub(crate) sqlite_columns: &'static str,
    /// What `Conflict` says already exists.
    pub(crate) label: &'static str,
}

/// Like [`classify`] for statements that can hit several unique keys or CHECK constraints:
/// tells the keys apart by constraint name (PostgreSQL) or by the column list in the message
/// (SQLite), and maps CHECK violations to `Invalid(invalid)`.
pub(crate) fn classify_keys(
    error: sqlx::Error,
    keys: &[UniqueKey],
    missing: &'static str,
    invalid: &'static str,
) -> StoreError {
    let sqlx::Error::Database(database_error) = &error else {
        return StoreError::Database(error);
    };
    match database_error.kind() {
        ErrorKind::UniqueViolation => {
            let constraint = database_error.constraint();
            let message = database_error.message();
            let key = keys.iter().find(|key| {
                constraint == Some(key.constraint)
                    || (constraint.is_none() && message.ends_with(key.sqlite_columns))
            });
            match key {
                Some(key) => StoreError::Conflict(key.label),
                None => StoreError::Database(error),
            }
        }
        ErrorKind::ForeignKeyViolation => StoreError::NotFound(missing),
        ErrorKind::CheckViolation => StoreError::Invalid(invalid),
        _ => StoreError::Database(error),
    }
}

/// Converts a `u64` sequence number into the signed column type, refusing silent wrap-around.
pub(crate) fn seq_to_i64(seq: u64, what: &'static str) -> StoreResult<i64> {
    i64::try_from(seq).map_err(|_| StoreError::OutOfRange(what))
}

/// Converts a stored non-negative integer back into a `u64`, refusing negative values.
pub(crate) fn i64_to_u64(value: i64, what: &'static str) -> StoreResult<u64> {
    u64::try_from(value).map_err(|_| StoreError::OutOfRange(what))
}
