//! Repository tests. Goal: every repository function behaves the same on both backends.
//! Method: each test body is written once and run on a fresh SQLite file (always) and, when
//! `TEST_DATABASE_URL` is set, on PostgreSQL inside a fresh schema that is dropped afterwards.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use sqlx::{AnyConnection, AssertSqlSafe, Connection};
use tempfile::TempDir;

use crate::{BalanceRow, OrderRow, Store, TradeRow};

mod accounts;
mod candles;
mod custody;
mod identity_accounts;
mod identity_attempts;
mod identity_confirmations;
mod identity_factors;
mod identity_review;
mod identity_sessions;
mod projection;
mod queries;
mod schema;
mod transparency;

/// A store plus what must be removed when the test ends.
pub(crate) struct TestDb {
    pub(crate) store: Store,
    cleanup: Cleanup,
}

enum Cleanup {
    /// Dropping the directory deletes the database file.
    Sqlite(#[allow(dead_code)] TempDir),
    Postgres {
        url: String,
        schema: String,
    },
}

/// The PostgreSQL URL to test against, if the environment provides one.
pub(crate) fn postgres_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// A fresh SQLite store in its own temporary directory.
pub(crate) async fn sqlite_db() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("store.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    TestDb {
        store,
        cleanup: Cleanup::Sqlite(dir),
    }
}

/// A fresh PostgreSQL store in a schema named after the test and this process.
pub(crate) async fn postgres_db(url: &str, test_name: &str) -> TestDb {
    let short: String = test_name.chars().take(40).collect();
    let schema = format!("t_{short}_{}", std::process::id());
    drop_schema(url, &schema).await;
    let store = Store::connect_with_schema(url, &schema).await.unwrap();
    TestDb {
        store,
        cleanup: Cleanup::Postgres {
            url: url.to_owned(),
            schema,
        },
    }
}

/// SQLite always, PostgreSQL too when configured.
pub(crate) async fn databases(test_name: &str) -> Vec<TestDb> {
    let mut databases = vec![sqlite_db().await];
    if let Some(url) = postgres_url() {
        databases.push(postgres_db(&url, test_name).await);
    }
    databases
}

impl TestDb {
    /// Closes the pool and removes the database.
    pub(crate) async fn finish(self) {
        self.store.close().await;
        if let Cleanup::Postgres { url, schema } = &self.cleanup {
            drop_schema(url, schema).await;
        }
    }
}

async fn drop_schema(url: &str, schema: &str) {
    sqlx::any::install_default_drivers();
    let mut connection = AnyConnection::connect(url).await.unwrap();
    let sql = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
    sqlx::raw_sql(AssertSqlSafe(sql))
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
}

/// Declares a `#[tokio::test]` that runs `$body(&Store)` on every configured backend.
macro_rules! both_backends {
    ($name:ident, $body:path) => {
        #[tokio::test]
        async fn $name() {
            for database in crate::tests::databases(stringify!($name)).await {
                eprintln!("{} on {:?}", stringify!($name), database.store.backend());
                $body(&database.store).await;
                database.finish().await;
            }
        }
    };
}
pub(crate) use both_backends;

/// A live order with plausible defaults; tests override what they look at.
pub(crate) fn order(order_id: i64, user_id: i64, symbol: &str, state: &str) -> OrderRow {
    OrderRow {
        order_id,
        user_id,
        symbol: symbol.to_owned(),
        side: "buy".to_owned(),
        kind: "limit".to_owned(),
        price_ticks: 100,
        size_lots: 10,
        notional: 0,
        filled_lots: 0,
        filled_quote: 0,
        fee_paid: 0,
        state: state.to_owned(),
        cancel_reason: None,
        client_order_id: None,
        stp: "cancel_maker".to_owned(),
        created_ms: 1_000 + order_id,
        updated_ms: 1_000 + order_id,
        last_seq: order_id,
    }
}

/// A trade between two orders of two users.
pub(crate) fn trade(trade_id: i64, symbol: &str, maker: (i64, i64), taker: (i64, i64)) -> TradeRow {
    TradeRow {
        trade_id,
        symbol: symbol.to_owned(),
        price_ticks: 100,
        size_lots: 2,
        quote_amount: 200,
        taker_side: "buy".to_owned(),
        maker_order_id: maker.0,
        taker_order_id: taker.0,
        maker_user_id: maker.1,
        taker_user_id: taker.1,
        maker_fee: 1,
        maker_fee_asset: "USDT".to_owned(),
        taker_fee: 2,
        taker_fee_asset: "BTC".to_owned(),
        timestamp_ms: 5_000 + trade_id,
        seq: trade_id,
    }
}

/// A balance row.
pub(crate) fn balance(user_id: i64, asset: &str, available: i64, last_seq: i64) -> BalanceRow {
    BalanceRow {
        user_id,
        asset: asset.to_owned(),
        available,
        held: 0,
        last_seq,
    }
}
