//! Schema and connection settings. Method: introspect what the migrations actually built on each
//! backend (not the SQL text) and compare; read back the SQLite pragmas from a pooled connection.

use std::collections::BTreeSet;
use std::path::Path;

use sqlx::any::AnyPoolOptions;
use sqlx::migrate::Migrator;
use sqlx::{AnyConnection, AnyPool, AssertSqlSafe, Connection};

use super::{drop_schema, postgres_db, postgres_url, sqlite_db};
use crate::{Backend, Store, StoreError};

/// (table, position, column, portable type, nullable) for every user table.
type ColumnSet = BTreeSet<(String, i64, String, &'static str, bool)>;

/// Tables, columns, explicit `ix_` indexes and triggers as the database reports them.
#[derive(Debug, PartialEq, Eq)]
struct Shape {
    tables: BTreeSet<String>,
    columns: ColumnSet,
    indexes: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

fn portable_type(declared: &str) -> &'static str {
    match declared.to_ascii_lowercase().as_str() {
        "integer" | "bigint" => "integer",
        "text" => "text",
        "blob" | "bytea" => "bytes",
        _ => "unknown",
    }
}

async fn names(store: &Store, sql: &'static str) -> BTreeSet<String> {
    let rows: Vec<String> = sqlx::query_scalar(sql)
        .fetch_all(&store.pool)
        .await
        .unwrap();
    rows.into_iter()
        .filter(|name| !name.starts_with("_sqlx"))
        .collect()
}

async fn sqlite_shape(store: &Store) -> Shape {
    let rows: Vec<(String, i64, String, String, i64)> = sqlx::query_as(
        "SELECT m.name, p.cid, p.name, p.type, p.\"notnull\" FROM sqlite_master m \
         JOIN pragma_table_info(m.name) p WHERE m.type = 'table' \
         AND m.name NOT LIKE 'sqlite%' AND m.name <> '_sqlx_migrations'",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    let columns = rows
        .into_iter()
        .map(|(table, position, column, declared, not_null)| {
            (
                table,
                position,
                column,
                portable_type(&declared),
                not_null == 0,
            )
        })
        .collect();
    Shape {
        tables: names(
            store,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite%'",
        )
        .await,
        columns,
        indexes: names(
            store,
            "SELECT name FROM sqlite_master WHERE type = 'index' \
             AND name LIKE 'ix%'",
        )
        .await,
        triggers: names(
            store,
            "SELECT name FROM sqlite_master WHERE type = 'trigger'",
        )
        .await,
    }
}

async fn postgres_shape(store: &Store) -> Shape {
    let rows: Vec<(String, i64, String, String, String)> = sqlx::query_as(
        "SELECT CAST(table_name AS TEXT), CAST(ordinal_position AS BIGINT) - 1, \
         CAST(column_name AS TEXT), CAST(data_type AS TEXT), CAST(is_nullable AS TEXT) \
         FROM information_schema.columns WHERE table_schema = current_schema() \
         AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(&store.pool)
    .await
    .unwrap();
    let columns = rows
        .into_iter()
        .map(|(table, position, column, declared, nullable)| {
            (
                table,
                position,
                column,
                portable_type(&declared),
                nullable == "YES",
            )
        })
        .collect();
    Shape {
        tables: names(
            store,
            "SELECT CAST(table_name AS TEXT) FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
        )
        .await,
        columns,
        indexes: names(
            store,
            "SELECT CAST(indexname AS TEXT) FROM pg_indexes \
             WHERE schemaname = current_schema() AND indexname LIKE 'ix%'",
        )
        .await,
        triggers: names(
            store,
            "SELECT DISTINCT CAST(trigger_name AS TEXT) \
             FROM information_schema.triggers WHERE trigger_schema = current_schema()",
        )
        .await,
    }
}

#[tokio::test]
async fn sqlite_schema_has_every_table_with_known_types() {
    let database = sqlite_db().await;
    let shape = sqlite_shape(&database.store).await;
    let expected = [
        "agreement_versions",
        "api_keys",
        "audit_chain",
        "audit_log",
        "balance_hours",
        "balances",
        "candles",
        "chain_cursors",
        "claim_clawbacks",
        "claim_events",
        "claim_evidence",
        "claims",
        "control_proofs",
        "coverage_policies",
        "custody_incidents",
        "deposit_addresses",
        "deposits",
        "devices",
        "fund_top_ups",
        "incident_updates",
        "incidents",
        "insurer_events",
        "insurer_submissions",
        "kyc_applications",
        "kyc_documents",
        "lockout_state",
        "login_activity",
        "login_confirmations",
        "movement_signatures",
        "movements",
        "one_time_codes",
        "operator_keys",
        "orders",
        "por_trees",
        "pow_challenges_used",
        "projection_state",
        "qr_logins",
        "reconciliations",
        "recovery_codes",
        "second_factors",
        "security_events",
        "sessions",
        "signup_attempts",
        "tokens",
        "totp_credentials",
        "trades",
        "transparency_reports",
        "trigger_orders",
        "twofa_reset_requests",
        "users",
        "withdraw_addresses",
        "withdrawal_approvals",
        "withdrawal_events",
        "withdrawals",
    ];
    assert_eq!(
        shape.tables,
        expected.map(str::to_owned).into_iter().collect()
    );
    assert!(
        shape.columns.iter().all(|column| column.3 != "unknown"),
        "{:?}",
        shape.columns
    );
    // Append-only tables refuse UPDATE and DELETE: one trigger each.
    assert_eq!(shape.triggers.len(), 22);
    database.finish().await;
}

#[tokio::test]
async fn migration_trees_build_the_same_schema() {
    let Some(url) = postgres_url() else {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL side skipped");
        return;
    };
    let sqlite = sqlite_db().await;
    let postgres = postgres_db(&url, "migration_trees").await;
    let sqlite_side = sqlite_shape(&sqlite.store).await;
    let postgres_side = postgres_shape(&postgres.store).await;
    assert!(!sqlite_side.columns.is_empty());
    assert_eq!(sqlite_side, postgres_side);
    sqlite.finish().await;
    postgres.finish().await;
}

#[tokio::test]
async fn sqlite_connections_use_durable_pragmas() {
    let database = sqlite_db().await;
    let store = &database.store;
    assert_eq!(store.backend(), Backend::Sqlite);
    let mut connection = store.pool.acquire().await.unwrap();
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(journal, "wal");
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(synchronous, 2, "FULL");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
    let busy_timeout_ms: i64 = sqlx::query_scalar("PRAGMA busy_timeout")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    assert_eq!(busy_timeout_ms, 5_000);
    drop(connection);
    database.finish().await;
}

#[tokio::test]
async fn reconnecting_keeps_data_and_skips_applied_migrations() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("again.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    let id = store.create_user("again@example.com", 1).await.unwrap();
    store.close().await;
    let reopened = Store::connect(&url).await.unwrap();
    assert_eq!(
        reopened
            .get_user(id)
            .await
            .unwrap()
            .unwrap()
            .email
            .as_deref(),
        Some("again@example.com")
    );
    reopened.close().await;
}

#[tokio::test]
async fn in_memory_sqlite_works_as_one_database() {
    let store = Store::connect("sqlite::memory:").await.unwrap();
    let id = store.create_user("memory@example.com", 1).await.unwrap();
    assert!(store.get_user(id).await.unwrap().is_some());
    store.close().await;
}

#[tokio::test]
async fn bad_configuration_is_refused() {
    let error = Store::connect("mysql://localhost/db").await.unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error:?}");
    let error = Store::connect_with_schema("sqlite::memory:", "s")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Config(_)), "{error:?}");
    for schema in [
        "",
        "1abc",
        "a-b",
        "a\"; DROP TABLE users; --",
        "UPPER",
        &"a".repeat(64),
    ] {
        let error = Store::connect_with_schema("postgres://127.0.0.1:1/x", schema)
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Config(_)),
            "{schema:?}: {error:?}"
        );
    }
}

#[tokio::test]
async fn postgres_schemas_isolate_stores() {
    let Some(url) = postgres_url() else {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL side skipped");
        return;
    };
    let first = postgres_db(&url, "isolate_first").await;
    let second = postgres_db(&url, "isolate_second").await;
    assert_eq!(first.store.backend(), Backend::Postgres);
    first
        .store
        .create_user("same@example.com", 1)
        .await
        .unwrap();
    second
        .store
        .create_user("same@example.com", 1)
        .await
        .unwrap();
    assert!(
        second
            .store
            .find_user_by_email("same@example.com")
            .await
            .unwrap()
            .is_some()
    );
    first.finish().await;
    second.finish().await;
}

/// Applies only `0001_initial.sql` of `tree`, copied alone into a temporary folder, so the
/// database looks like one created before the identity migrations existed.
async fn migrate_initial_only(pool: &AnyPool, tree: &str) {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(tree)
        .join("0001_initial.sql");
    std::fs::copy(&source, dir.path().join("0001_initial.sql")).unwrap();
    let migrator = Migrator::new(dir.path()).await.unwrap();
    migrator.run(pool).await.unwrap();
}

/// A user and an API key as the pre-identity schema stored them; returns the user id.
async fn seed_legacy_rows(pool: &AnyPool) -> i64 {
    let user_id: i64 = sqlx::query_scalar(
        "INSERT INTO users (email, created_ms) VALUES ('legacy@example.com', 7) RETURNING id",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO api_keys (user_id, access_key, secret_ciphertext, memo, scopes, \
         ip_allowlist, created_ms) VALUES ($1, 'legacy-key', $2, 'bot', 'read', '', 8)",
    )
    .bind(user_id)
    .bind(vec![1_u8, 2, 3])
    .execute(pool)
    .await
    .unwrap();
    user_id
}

/// After the upgrade the old rows are intact, defaults fill the new columns, and foreign keys
/// from older tables point at the rebuilt users table and are still enforced.
async fn check_upgraded(store: &Store, user_id: i64) {
    let row = store.get_account(user_id).await.unwrap().unwrap();
    assert_eq!(row.email.as_deref(), Some("legacy@example.com"));
    assert_eq!((row.created_ms, row.status.as_str()), (7, "active"));
    assert_eq!(
        (row.kyc_tier, row.is_staff, row.withdraw_locked_until_ms),
        (0, 0, 0)
    );
    let keys = store.list_api_keys(user_id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].secret_ciphertext, [1, 2, 3]);
    let orphan = crate::NewApiKey {
        user_id: user_id + 1_000,
        access_key: "orphan".to_owned(),
        secret_ciphertext: vec![0],
        memo: "m".to_owned(),
        scopes: "read".to_owned(),
        ip_allowlist: String::new(),
        created_ms: 9,
    };
    let error = store.insert_api_key(&orphan).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    let next = store.create_user("after@example.com", 10).await.unwrap();
    assert!(next > user_id);
}

#[tokio::test]
async fn sqlite_upgrade_from_initial_schema_keeps_rows() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(|connection, _| {
            Box::pin(async move {
                sqlx::raw_sql("PRAGMA foreign_keys=ON;")
                    .execute(connection)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    migrate_initial_only(&pool, "sqlite").await;
    let user_id = seed_legacy_rows(&pool).await;
    pool.close().await;
    let store = Store::connect(&url).await.unwrap();
    check_upgraded(&store, user_id).await;
    let problems: Vec<(String, i64, String, i64)> = sqlx::query_as("PRAGMA foreign_key_check")
        .fetch_all(&store.pool)
        .await
        .unwrap();
    assert!(problems.is_empty(), "{problems:?}");
    store.close().await;
}

#[tokio::test]
async fn postgres_upgrade_from_initial_schema_keeps_rows() {
    let Some(url) = postgres_url() else {
        eprintln!("TEST_DATABASE_URL not set: PostgreSQL side skipped");
        return;
    };
    let schema = format!("t_upgrade_{}", std::process::id());
    drop_schema(&url, &schema).await;
    let mut connection = AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let set_path = format!("SET search_path TO \"{schema}\"");
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |connection, _| {
            let set_path = set_path.clone();
            Box::pin(async move {
                sqlx::raw_sql(AssertSqlSafe(set_path))
                    .execute(connection)
                    .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .unwrap();
    migrate_initial_only(&pool, "postgres").await;
    let user_id = seed_legacy_rows(&pool).await;
    pool.close().await;
    let store = Store::connect_with_schema(&url, &schema).await.unwrap();
    check_upgraded(&store, user_id).await;
    store.close().await;
    drop_schema(&url, &schema).await;
}
