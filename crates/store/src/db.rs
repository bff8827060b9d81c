//! Opening the database: backend detection from the URL, per-connection settings, embedded
//! migrations. This is the only file that knows SQLite and PostgreSQL differ at connect time.

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection, Transaction};

use crate::error::{StoreError, StoreResult};
use crate::row_cache::RowCache;
use crate::{ApiKeyRow, KycProfile};

/// Connections per pool. SQLite has a single writer anyway; readers in WAL mode run alongside.
pub const POOL_CONNECTIONS_MAX: u32 = 8;

/// Longest PostgreSQL schema name we accept (PostgreSQL's identifier limit is 63 bytes).
pub const SCHEMA_NAME_BYTES_MAX: usize = 63;

/// Durability settings for every SQLite connection. `synchronous=FULL` because in WAL mode
/// `NORMAL` can lose the last commits on power loss, which a ledger projection must not.
/// `busy_timeout` (ms) lets a writer wait for the lock instead of failing at once.
///
/// The rest is speed, measured on the projector rebuilding read models: statement journals
/// (every multi-row upsert keeps one) in memory rather than in a temporary file, pages read
/// through a memory map rather than copied by `pread`, and a page cache of 16 MiB per
/// connection instead of 2 MiB.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; \
     PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000; PRAGMA temp_store=MEMORY; \
     PRAGMA mmap_size=268435456; PRAGMA cache_size=-16384;";

pub(crate) static SQLITE_MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");
pub(crate) static POSTGRES_MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Which database engine a [`Store`] talks to; chosen by the URL scheme at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// Reads the backend from the URL scheme so the right settings apply before connecting.
    pub fn from_url(url: &str) -> StoreResult<Backend> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(
                "database URL must start with sqlite: or postgres:".to_owned(),
            ))
        }
    }
}

/// Handle to the SQL store; cheap to clone (the pool is shared).
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: AnyPool,
    pub(crate) backend: Backend,
    /// Serialises audit appends so each entry is chained to the one committed before it.
    pub(crate) audit_lock: std::sync::Arc<tokio::sync::Mutex<()>>,
    /// API keys by access key, read on every signed request.
    pub(crate) api_key_cache: std::sync::Arc<RowCache<String, ApiKeyRow>>,
    /// KYC profiles by user id, read on every order.
    pub(crate) kyc_cache: std::sync::Arc<RowCache<i64, KycProfile>>,
}

impl Store {
    /// Opens a pool on `sqlite://path?mode=rwc` or `postgres://…` and applies migrations, so a
    /// fresh machine needs nothing but the URL.
    pub async fn connect(url: &str) -> StoreResult<Store> {
        let backend = Backend::from_url(url)?;
        let options = pool_options(url, backend);
        let options = match backend {
            Backend::Sqlite => options.after_connect(|connection, _| {
                Box::pin(async move {
                    sqlx::raw_sql(SQLITE_PRAGMAS).execute(connection).await?;
                    Ok(())
                })
            }),
            Backend::Postgres => options,
        };
        Store::finish(options.connect(url).await?, backend).await
    }

    /// Opens a PostgreSQL pool confined to `schema` (created if missing): every connection sets
    /// `search_path`, so parallel tests or tenants never see each other's tables.
    pub async fn connect_with_schema(url: &str, schema: &str) -> StoreResult<Store> {
        let backend = Backend::from_url(url)?;
        if backend != Backend::Postgres {
            return Err(StoreError::Config(
                "schemas are only supported on PostgreSQL".to_owned(),
            ));
        }
        validate_schema_name(schema)?;
        sqlx::any::install_default_drivers();
        let mut connection = AnyConnection::connect(url).await?;
        let create = format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"");
        sqlx::raw_sql(AssertSqlSafe(create))
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        let set_path = format!("SET search_path TO \"{schema}\"");
        let options = pool_options(url, backend).after_connect(move |connection, _| {
            let set_path = set_path.clone();
            Box::pin(async move {
                sqlx::raw_sql(AssertSqlSafe(set_path))
                    .execute(connection)
                    .await?;
                Ok(())
            })
        });
        Store::finish(options.connect(url).await?, backend).await
    }

    async fn finish(pool: AnyPool, backend: Backend) -> StoreResult<Store> {
        let migrator = match backend {
            Backend::Sqlite => &SQLITE_MIGRATOR,
            Backend::Postgres => &POSTGRES_MIGRATOR,
        };
        migrator.run(&pool).await?;
        tracing::debug!(?backend, "store connected and migrated");
        Ok(Store {
            pool,
            backend,
            audit_lock: std::sync::Arc::default(),
            api_key_cache: std::sync::Arc::default(),
            kyc_cache: std::sync::Arc::default(),
        })
    }

    /// Which engine this store runs on (for logs and backend-specific tests).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Closes every pooled connection; SQLite then checkpoints its WAL.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction. On SQLite it takes the write lock up front (`BEGIN
    /// IMMEDIATE`) so a transaction never fails halfway when it upgrades from read to write.
    pub(crate) async fn begin_write(&self) -> StoreResult<Transaction<'static, sqlx::Any>> {
        let transaction = match self.backend {
            Backend::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => self.pool.begin().await?,
        };
        Ok(transaction)
    }
}

fn pool_options(url: &str, backend: Backend) -> AnyPoolOptions {
    sqlx::any::install_default_drivers();
    // Each in-memory SQLite connection is its own database: one connection keeps one database.
    let in_memory = backend == Backend::Sqlite && url.contains(":memory:");
    let connections_max = if in_memory { 1 } else { POOL_CONNECTIONS_MAX };
    AnyPoolOptions::new().max_connections(connections_max)
}

/// Only plain identifiers: the name is spliced into SQL text, so nothing may escape the quotes.
fn validate_schema_name(schema: &str) -> StoreResult<()> {
    let mut characters = schema.chars();
    let first_ok = characters
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = characters.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && schema.len() <= SCHEMA_NAME_BYTES_MAX {
        Ok(())
    } else {
        Err(StoreError::Config(format!(
            "schema name {schema:?} must match [a-z_][a-z0-9_]* and be at most 63 bytes"
        )))
    }
}
