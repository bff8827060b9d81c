//! The operations service against the real parts it drives: a sequencer with its journal in a
//! temporary directory, the projector thread writing a SQLite store, and the trading service
//! over both. Each test builds its own exchange, so they run in parallel; every refusal is
//! checked for its code and for leaving the engine, the read models and the audit log as they
//! were.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use bulwark_accounts::access::Access;
use bulwark_accounts::crypto::MasterKey;
use bulwark_accounts::{Error, Kind};
use bulwark_engine::{AssetSpec, Command, MarketSpec};
use bulwark_identity::clock::SystemClock;
use bulwark_journal::JournalOptions;
use bulwark_operator::{self as operator, Operator};
use bulwark_sequencer::{Sequencer, SequencerOptions};
use bulwark_store::Store;
use bulwark_trading::Trading;
use serde_json::{Value, json};

/// One exchange without HTTP: BTC, USDT and the BTC_USDT market exist.
struct Exchange {
    op: Operator,
    store: Store,
    sequencer: Option<Sequencer>,
    projector: Option<std::thread::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Exchange {
    async fn start() -> Exchange {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
        let store = Store::connect(&url).await.unwrap();
        let recovered = bulwark_sequencer::recover(
            &dir.path().join("journal"),
            &dir.path().join("snapshots"),
            JournalOptions::default(),
            u64::MAX,
            &mut |_, _| {},
        )
        .unwrap();
        let (events_tx, events_rx) = std::sync::mpsc::sync_channel(64);
        let sequencer = Sequencer::start(
            recovered.engine,
            recovered.journal,
            SequencerOptions::new(dir.path().join("snapshots")),
            vec![events_tx],
        )
        .unwrap();
        let handle = sequencer.handle();
        let (projected_tx, projected_rx) = tokio::sync::watch::channel(0);
        let runtime = tokio::runtime::Handle::current();
        let (projector_store, projector_handle) = (store.clone(), handle.clone());
        let projector = std::thread::spawn(move || {
            bulwark_projector::run(
                runtime,
                projector_store,
                projector_handle,
                events_rx,
                projected_tx,
                Vec::new(),
            );
        });
        let key = MasterKey::from_bytes(&MasterKey::generate_bytes().unwrap()).unwrap();
        let access = Access::from_config::<&str>(None, &[], &[], 1_000, 100_000).unwrap();
        let trading = Trading::new(
            handle,
            store.clone(),
            Arc::new(key),
            projected_rx,
            Arc::new(access),
            Arc::new(SystemClock),
        );
        let exchange = Exchange {
            op: Operator::new(trading),
            store,
            sequencer: Some(sequencer),
            projector: Some(projector),
            _dir: dir,
        };
        for (n, command) in genesis().into_iter().enumerate() {
            let receipt = exchange
                .op
                .trading
                .sequencer
                .submit(operator::command_id_for(&format!("genesis:{n}")), command)
                .await
                .unwrap();
            assert!(receipt.outcome.is_ok(), "{receipt:?}");
            exchange.op.trading.wait_projected(receipt.seq).await;
        }
        exchange
    }

    fn last_seq(&self) -> u64 {
        self.op.trading.sequencer.durable_seq()
    }

    async fn audit_actions(&self) -> Vec<String> {
        let entries = operator::audit(&self.op, serde_json::from_value(json!({})).unwrap())
            .await
            .unwrap();
        entries["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect()
    }

    async fn user(&self, email: &str) -> i64 {
        let created = operator::create_user(&self.op, body(json!({"email": email})))
            .await
            .unwrap();
        created["user_id"].as_i64().unwrap()
    }

    /// Stops the pipeline and the projector (a leaked sequencer thread would outlive the test).
    fn stop(mut self) {
        if let Some(sequencer) = self.sequencer.take() {
            sequencer.shutdown();
        }
        if let Some(projector) = self.projector.take() {
            projector.join().unwrap();
        }
    }
}

fn genesis() -> Vec<Command> {
    let asset = |code: &str, scale| {
        Command::AddAsset(AssetSpec {
            code: code.into(),
            name: code.into(),
            scale,
        })
    };
    vec![
        asset("BTC", 8),
        asset("USDT", 8),
        Command::AddMarket(MarketSpec {
            symbol: "BTC_USDT".into(),
            base: bulwark_engine::AssetId(0),
            quote: bulwark_engine::AssetId(1),
            price_scale: 2,
            size_scale: 5,
            min_size_lots: 1,
            max_size_lots: 1_000_000_000,
            max_price_ticks: 100_000_000,
            min_notional: 0,
            maker_fee_ppm: 1_000,
            taker_fee_ppm: 2_000,
        }),
    ]
}

/// A request body as the adapters deserialize it.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> T {
    serde_json::from_value(value).unwrap()
}

fn refused<T: std::fmt::Debug>(result: Result<T, Error>, kind: Kind, code: &str) {
    match result {
        Err(error) => assert_eq!((error.kind, error.code), (kind, code), "{error:?}"),
        Ok(value) => panic!("expected {code}, got {value:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deposit_is_credited_once_per_reference_and_the_ledger_balances() {
    let exchange = Exchange::start().await;
    let alice = exchange.user("alice@example.com").await;
    let deposit = json!({"user_id": alice, "asset": "BTC", "amount": "1.5", "reference": "tx-1"});

    let first = operator::credit_deposit(&exchange.op, body(deposit.clone()))
        .await
        .unwrap();
    assert_eq!(first["status"], "credited");
    let again = operator::credit_deposit(&exchange.op, body(deposit))
        .await
        .unwrap();
    // A retry carries the same command id, so the engine answers with the first outcome (at a
    // new sequence number) and credits nothing more: the balance below holds one credit.
    assert_eq!(again["status"], first["status"]);

    let balances = operator::balances(&exchange.op, body(json!({"user_id": alice})))
        .await
        .unwrap();
    assert_eq!(
        balances["balances"],
        json!([{"asset": "BTC", "available": "1.50000000", "held": "0.00000000"}])
    );
    let status = operator::engine_status(&exchange.op).await.unwrap();
    for asset in status["ledger"].as_array().unwrap() {
        assert_eq!(asset["sum"], 0, "double entry: {asset}");
    }
    let btc = &status["ledger"][0];
    assert_eq!(
        (btc["users_available"].as_i64(), btc["external"].as_i64()),
        (Some(150_000_000), Some(-150_000_000))
    );

    let check = operator::consistency(&exchange.op).await.unwrap();
    assert_eq!(check["consistent"], true, "{check}");
    assert!(check["balances_checked"].as_i64().unwrap() >= 1);
    let actions = exchange.audit_actions().await;
    assert_eq!(
        actions.iter().filter(|a| *a == "deposit.credit").count(),
        2,
        "both attempts are audited: {actions:?}"
    );
    exchange.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_deposit_is_refused_by_name_and_changes_nothing() {
    let exchange = Exchange::start().await;
    let alice = exchange.user("alice@example.com").await;
    let seq = exchange.last_seq();
    let audited = exchange.audit_actions().await.len();
    let long = "r".repeat(operator::DEPOSIT_REF_BYTES_MAX + 1);
    for (asset, amount, reference, user, code, kind) in [
        ("DOGE", "1", "r", alice, "unknown_asset", Kind::Invalid),
        ("BTC", "0", "r", alice, "invalid_amount", Kind::Invalid),
        ("BTC", "-1", "r", alice, "invalid_amount", Kind::Invalid),
        ("BTC", "abc", "r", alice, "invalid_amount", Kind::Invalid),
        (
            "BTC",
            "0.000000001",
            "r",
            alice,
            "invalid_amount",
            Kind::Invalid,
        ),
        ("BTC", "1", "", alice, "invalid_reference", Kind::Invalid),
        (
            "BTC",
            "1",
            long.as_str(),
            alice,
            "invalid_reference",
            Kind::Invalid,
        ),
        ("BTC", "1", "r", alice + 100, "unknown_user", Kind::NotFound),
    ] {
        let deposit =
            json!({"user_id": user, "asset": asset, "amount": amount, "reference": reference});
        refused(
            operator::credit_deposit(&exchange.op, body(deposit)).await,
            kind,
            code,
        );
    }
    assert_eq!(exchange.last_seq(), seq, "no command reached the engine");
    assert_eq!(exchange.audit_actions().await.len(), audited);
    let balances = operator::balances(&exchange.op, body(json!({"user_id": alice})))
        .await
        .unwrap();
    assert_eq!(balances["balances"], json!([]));
    refused(
        operator::balances(&exchange.op, body(json!({"user_id": -1}))).await,
        Kind::Invalid,
        "invalid_user",
    );
    exchange.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_and_kyc_tiers_are_validated_and_audited_with_the_previous_tier() {
    let exchange = Exchange::start().await;
    refused(
        operator::create_user(&exchange.op, body(json!({"email": "not-an-email"}))).await,
        Kind::Invalid,
        "invalid_email",
    );
    refused(
        operator::create_user(
            &exchange.op,
            body(json!({"email": "a@example.com", "kyc_tier": "L9"})),
        )
        .await,
        Kind::Invalid,
        "invalid_kyc_tier",
    );
    let created = operator::create_user(
        &exchange.op,
        body(json!({"email": " Bob@Example.com ", "kyc_tier": "L1"})),
    )
    .await
    .unwrap();
    assert_eq!(
        created["email"], "bob@example.com",
        "the sign-up email rule"
    );
    assert_eq!(created["kyc_tier"], "L1");
    refused(
        operator::create_user(&exchange.op, body(json!({"email": "bob@example.com"}))).await,
        Kind::Conflict,
        "email_taken",
    );
    let bob = created["user_id"].as_i64().unwrap();

    refused(
        operator::set_kyc_tier(&exchange.op, "x".into(), body(json!({"tier": "L2"}))).await,
        Kind::Invalid,
        "invalid_user_id",
    );
    refused(
        operator::set_kyc_tier(
            &exchange.op,
            (bob + 1).to_string(),
            body(json!({"tier": "L2"})),
        )
        .await,
        Kind::NotFound,
        "user_not_found",
    );
    refused(
        operator::set_kyc_tier(&exchange.op, bob.to_string(), body(json!({"tier": "gold"}))).await,
        Kind::Invalid,
        "invalid_kyc_tier",
    );
    let raised = operator::set_kyc_tier(&exchange.op, bob.to_string(), body(json!({"tier": "L2"})))
        .await
        .unwrap();
    assert_eq!(
        raised,
        json!({"user_id": bob, "kyc_tier": "L2", "previous": "L1"})
    );
    assert_eq!(
        exchange
            .store
            .kyc_profile(bob)
            .await
            .unwrap()
            .unwrap()
            .kyc_tier,
        2
    );
    assert_eq!(
        exchange.audit_actions().await,
        ["user.kyc_tier", "user.create"]
    );
    exchange.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn halts_reach_the_engine_and_resume_lifts_them() {
    let exchange = Exchange::start().await;
    let seq = exchange.last_seq();
    refused(
        operator::market_halt(&exchange.op, ("DOGE_USDT".into(), "halt".into())).await,
        Kind::Invalid,
        "unknown_market",
    );
    refused(
        operator::market_halt(&exchange.op, ("BTC_USDT".into(), "pause".into())).await,
        Kind::Invalid,
        "invalid_action",
    );
    refused(
        operator::global_halt(&exchange.op, "stop".into()).await,
        Kind::Invalid,
        "invalid_action",
    );
    assert_eq!(exchange.last_seq(), seq);

    let catalog = || exchange.op.trading.sequencer.catalog();
    operator::market_halt(&exchange.op, ("BTC_USDT".into(), "halt".into()))
        .await
        .unwrap();
    assert!(catalog().market("BTC_USDT").unwrap().halted);
    operator::market_halt(&exchange.op, ("BTC_USDT".into(), "resume".into()))
        .await
        .unwrap();
    assert!(!catalog().market("BTC_USDT").unwrap().halted);

    let halted = operator::global_halt(&exchange.op, "halt".into())
        .await
        .unwrap();
    assert_eq!(halted["halted"], true);
    assert!(catalog().global_halted);
    let status = operator::engine_status(&exchange.op).await.unwrap();
    assert_eq!(status["global_halted"], true);
    operator::global_halt(&exchange.op, "resume".into())
        .await
        .unwrap();
    assert!(!catalog().global_halted);
    assert_eq!(
        exchange.audit_actions().await,
        [
            "trading.resume",
            "trading.halt",
            "market.resume",
            "market.halt"
        ]
    );
    exchange.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_twofa_reset_is_never_decided_by_its_requester_and_only_once() {
    let exchange = Exchange::start().await;
    let owner = exchange.user("owner@example.com").await;
    let reviewer = exchange.user("reviewer@example.com").await;
    let request = exchange
        .store
        .insert_twofa_reset(owner, 1, 2)
        .await
        .unwrap();
    let decide = |reviewer_id: i64, decision: &str| {
        operator::decide_twofa_reset(
            &exchange.op,
            (request.to_string(), decision.to_owned()),
            body(json!({"reviewer_id": reviewer_id, "reason": "checked by video call"})),
        )
    };
    refused(
        decide(owner, "approve").await,
        Kind::Invalid,
        "invalid_reviewer",
    );
    refused(
        decide(reviewer + 100, "approve").await,
        Kind::Invalid,
        "invalid_reviewer",
    );
    refused(
        decide(reviewer, "maybe").await,
        Kind::Invalid,
        "invalid_decision",
    );
    let row = exchange
        .store
        .get_twofa_reset(request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.state, "pending_review", "refusals change nothing");

    let decided = decide(reviewer, "approve").await.unwrap();
    assert_eq!(decided["id"], request);
    let row = exchange
        .store
        .get_twofa_reset(request)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.state.as_str(), row.reviewer_id),
        ("approved", Some(reviewer))
    );
    refused(
        decide(reviewer, "reject").await,
        Kind::Conflict,
        "not_pending",
    );
    exchange.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn staff_roles_agreements_and_api_keys() {
    let exchange = Exchange::start().await;
    let carol = exchange.user("carol@example.com").await;
    let change = |action: &str, role: &str| {
        operator::change_staff_role(
            &exchange.op,
            action.to_owned(),
            body(json!({"user_id": carol, "role": role})),
        )
    };
    refused(change("grant", "king").await, Kind::Invalid, "unknown_role");
    refused(
        change("promote", "support").await,
        Kind::Invalid,
        "invalid_action",
    );
    let granted = change("grant", "compliance").await.unwrap();
    assert_eq!(granted["roles"], json!(["compliance"]));
    let staff = operator::list_staff(&exchange.op).await.unwrap();
    assert_eq!(staff["staff"][0]["user_id"], carol);
    assert_eq!(staff["staff"][0]["totp_enabled"], false);
    let revoked = change("revoke", "compliance").await.unwrap();
    assert_eq!(revoked["is_staff"], false);

    for version in ["", "has space", &"v".repeat(65)] {
        refused(
            operator::publish_agreement(&exchange.op, body(json!({"version": version}))).await,
            Kind::Invalid,
            "invalid_version",
        );
    }
    operator::publish_agreement(&exchange.op, body(json!({"version": "2026-12"})))
        .await
        .unwrap();
    refused(
        operator::publish_agreement(&exchange.op, body(json!({"version": "2026-12"}))).await,
        Kind::Conflict,
        "version_exists",
    );
    let versions = operator::list_agreements(&exchange.op).await.unwrap();
    assert_eq!(versions["versions"][0]["version"], "2026-12");
    assert_eq!(versions["versions"][0]["current"], true);

    refused(
        operator::create_api_key(
            &exchange.op,
            body(json!({"user_id": carol + 100, "scopes": "read"})),
        )
        .await,
        Kind::NotFound,
        "unknown_user",
    );
    let bad_scope = operator::create_api_key(
        &exchange.op,
        body(json!({"user_id": carol, "scopes": "read,everything"})),
    )
    .await;
    assert!(
        matches!(&bad_scope, Err(e) if e.kind == Kind::Invalid),
        "{bad_scope:?}"
    );
    let key = operator::create_api_key(
        &exchange.op,
        body(json!({"user_id": carol, "scopes": "read,trade", "memo": "bot"})),
    )
    .await
    .unwrap();
    let (access_key, secret) = (
        key["access_key"].as_str().unwrap(),
        key["secret"].as_str().unwrap(),
    );
    let stored = exchange.store.list_api_keys(carol).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].access_key, access_key);
    let audit = operator::audit(&exchange.op, body(json!({"limit": 1})))
        .await
        .unwrap();
    assert_eq!(audit["entries"][0]["action"], "apikey.create");
    assert!(
        !audit["entries"][0]["params"].to_string().contains(secret),
        "the secret is never audited"
    );
    exchange.stop();
}
