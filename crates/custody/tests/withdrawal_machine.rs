//! The withdrawal state machine against the real parts (a sequencer with its journal, the
//! projector writing SQLite, the simulated TRC20 chain): random sequences of requests,
//! confirmations, expiries, cancels, staff approvals and rejections, worker passes, blocks and
//! start-up recoveries. After every step, for every user, the engine's held USDT equals the sum
//! of that user's withdrawals in holding states, and available + held + what left equals what
//! was funded: nothing is released twice, completed twice, or lost.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::Arc;

use bulwark_accounts::access::Access;
use bulwark_accounts::crypto::MasterKey;
use bulwark_custody::network::Network;
use bulwark_custody::withdrawals::{HOLDING, WithdrawRequest};
use bulwark_custody::{Custody, CustodyConfig, Wallet};
use bulwark_engine::{AssetSpec, Command, Engine};
use bulwark_identity::TestClock;
use bulwark_identity::password::{HashParams, HashPool};
use bulwark_journal::JournalOptions;
use bulwark_sequencer::{Sequencer, SequencerOptions};
use bulwark_store::Store;
use bulwark_trading::Trading;
use bulwark_trading::writes::command_id_for;
use bulwark_types::UserId;
use proptest::prelude::*;

const T0: i64 = 1_750_000_000_000;
const UNIT: i64 = 100_000_000;
/// Each user's funding, in USDT units.
const FUNDED: i64 = 200 * UNIT;
const DEST: &str = "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t";

struct Exchange {
    custody: Custody,
    trading: Trading,
    clock: Arc<TestClock>,
    users: Vec<i64>,
    staff: [i64; 2],
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
        let key_bytes = MasterKey::generate_bytes().unwrap();
        let clock = Arc::new(TestClock::new(T0));
        let access = Access::from_config::<&str>(None, &[], &[], 1_000_000, 1_000_000).unwrap();
        let trading = Trading::new(
            handle.clone(),
            store.clone(),
            Arc::new(MasterKey::from_bytes(&key_bytes).unwrap()),
            projected_rx,
            Arc::new(access),
            clock.clone(),
        );
        let accounts = bulwark_accounts::Accounts::new(
            &key_bytes,
            dir.path().join("outbox"),
            HashPool::new(HashParams::fast_insecure_for_tests(), 1, 4),
            clock.clone(),
            "http://bulwark.test".into(),
        )
        .unwrap();
        let service = bulwark_accounts::Service {
            store: store.clone(),
            master_key: Arc::new(MasterKey::from_bytes(&key_bytes).unwrap()),
            accounts: Arc::new(accounts),
        };
        let receipt = handle
            .submit(
                command_id_for("genesis"),
                Command::AddAsset(AssetSpec {
                    code: "USDT".into(),
                    name: "Tether".into(),
                    scale: 8,
                }),
            )
            .await
            .unwrap();
        assert!(receipt.outcome.is_ok());
        let config = CustodyConfig {
            sim_block_ms: 0,
            hot_share_bps: 10_000,
            hot_alarm_bps: 10_000,
            // Withdrawals worth more than 50 USDT wait for two staff members.
            auto_approve_usdt_micros: 50_000_000,
            reconcile_every_s: 0,
            ..CustodyConfig::default()
        };
        let custody = Custody::open(
            &dir.path().join("custody"),
            config,
            trading.clone(),
            service,
        )
        .unwrap();
        let mut users = Vec::new();
        for n in 0..2 {
            let user = store
                .create_user(&format!("u{n}@example.com"), T0)
                .await
                .unwrap();
            store.set_kyc_tier(user, 1).await.unwrap();
            let receipt = handle
                .submit(
                    command_id_for(&format!("fund:{n}")),
                    Command::Deposit {
                        user: UserId(u64::try_from(user).unwrap()),
                        asset: bulwark_engine::AssetId(0),
                        amount: FUNDED,
                        reference: format!("fund:{n}"),
                    },
                )
                .await
                .unwrap();
            assert!(receipt.outcome.is_ok());
            users.push(user);
        }
        let mut staff = [0; 2];
        for (n, slot) in staff.iter_mut().enumerate() {
            *slot = store
                .create_user(&format!("staff{n}@example.com"), T0)
                .await
                .unwrap();
        }
        // The hot wallet holds enough to pay every withdrawal.
        let sim = custody.sim(Network::Trc20).unwrap();
        let hot = custody.wallet_address(Network::Trc20, Wallet::Hot).unwrap();
        sim.inject(&hot, "USDT", 10 * FUNDED).unwrap();
        sim.mine(1).unwrap();
        Exchange {
            custody,
            trading,
            clock,
            users,
            staff,
            sequencer: Some(sequencer),
            projector: Some(projector),
            _dir: dir,
        }
    }

    fn stop(mut self) {
        if let Some(sequencer) = self.sequencer.take() {
            sequencer.shutdown();
        }
        if let Some(projector) = self.projector.take() {
            let _ = projector.join();
        }
    }

    /// Every user's engine balance equals the records: held = withdrawals in holding states,
    /// available + held + sent = funded.
    async fn check(&self) -> Result<(), String> {
        let balances = self
            .trading
            .sequencer
            .query(|engine: &Engine| {
                engine
                    .user_ids()
                    .into_iter()
                    .map(|u| (u.0, engine.user_balances(u)))
                    .collect::<Vec<_>>()
            })
            .await
            .unwrap();
        for &user in &self.users {
            let (available, held) = balances
                .iter()
                .find(|(u, _)| i64::try_from(*u).unwrap() == user)
                .and_then(|(_, b)| b.first().map(|(_, a, h)| (*a, *h)))
                .unwrap_or((0, 0));
            let window = bulwark_custody::HistoryWindow {
                asset: None,
                network: None,
                since_ms: 0,
                until_ms: i64::MAX,
                limit: 1_000,
            };
            let rows = self.custody.withdrawals(user, window).await.unwrap();
            let holding: i64 = rows
                .iter()
                .filter(|w| HOLDING.contains(&w.state.as_str()))
                .map(|w| w.amount)
                .sum();
            let sent: i64 = rows
                .iter()
                .filter(|w| w.state == "confirmed")
                .map(|w| w.amount)
                .sum();
            if held != holding {
                return Err(format!(
                    "user {user}: engine holds {held}, records {holding}: {rows:?}"
                ));
            }
            if available + held + sent != FUNDED {
                return Err(format!(
                    "user {user}: available {available} + held {held} + sent {sent} != {FUNDED}"
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone)]
enum Op {
    Request { user: usize, amount: i64 },
    Confirm { pick: usize },
    Cancel { pick: usize },
    Approve { pick: usize, staff: usize },
    Reject { pick: usize },
    Process,
    Mine { blocks: u64 },
    Expire,
    Recover,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0_usize..2, 10_i64..90).prop_map(|(user, amount)| Op::Request { user, amount }),
        4 => any::<usize>().prop_map(|pick| Op::Confirm { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Cancel { pick }),
        3 => (any::<usize>(), 0_usize..2).prop_map(|(pick, staff)| Op::Approve { pick, staff }),
        1 => any::<usize>().prop_map(|pick| Op::Reject { pick }),
        3 => Just(Op::Process),
        3 => (1_u64..40).prop_map(|blocks| Op::Mine { blocks }),
        1 => Just(Op::Expire),
        1 => Just(Op::Recover),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), String> {
    let x = Exchange::start().await;
    // (withdrawal id, owner, emailed token)
    let mut made: Vec<(i64, i64, String)> = Vec::new();
    let mut result = Ok(());
    for op in ops {
        let pick = |n: usize| made.get(n % made.len().max(1)).cloned();
        match op {
            Op::Request { user, amount } => {
                let owner = x.users[user];
                let request = WithdrawRequest {
                    asset: "USDT".into(),
                    network: Some("TRC20".into()),
                    address: DEST.into(),
                    memo: String::new(),
                    amount: amount.to_string(),
                };
                // Refusals (balance, limits) are fine; they must change nothing.
                if let Ok(requested) = x.custody.request_withdrawal(owner, &request).await {
                    made.push((requested.withdrawal.id, owner, requested.confirm_token));
                }
            }
            Op::Confirm { pick: n } => {
                if let Some((_, _, token)) = pick(n) {
                    let _ = x.custody.confirm_withdrawal(&token).await;
                }
            }
            Op::Cancel { pick: n } => {
                if let Some((id, owner, _)) = pick(n) {
                    let _ = x.custody.cancel_withdrawal(owner, id).await;
                }
            }
            Op::Approve { pick: n, staff } => {
                if let Some((id, _, _)) = pick(n) {
                    let _ = x.custody.approve_withdrawal(x.staff[staff], id).await;
                }
            }
            Op::Reject { pick: n } => {
                if let Some((id, _, _)) = pick(n) {
                    let _ = x.custody.reject_withdrawal(x.staff[0], id, "test").await;
                }
            }
            Op::Process => x.custody.process_withdrawals().await,
            Op::Mine { blocks } => {
                x.custody.sim(Network::Trc20).unwrap().mine(blocks).unwrap();
                x.custody.process_withdrawals().await;
            }
            Op::Expire => {
                x.clock.advance(31 * 60 * 1_000);
                x.custody.process_withdrawals().await;
            }
            Op::Recover => x.custody.recover().await,
        }
        if let Err(problem) = x.check().await {
            result = Err(problem);
            break;
        }
    }
    x.stop();
    result
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn holds_always_match_the_records(ops in proptest::collection::vec(op(), 1..40)) {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let outcome = runtime.block_on(run(ops));
        prop_assert!(outcome.is_ok(), "{:?}", outcome);
    }
}

/// Two withdrawals racing for the same funds: exactly one is held, the other refused for the
/// balance, and the engine holds exactly the accepted one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_withdrawals_never_both_take_the_same_funds() {
    let x = Exchange::start().await;
    let owner = x.users[0];
    let request = |amount: i64| WithdrawRequest {
        asset: "USDT".into(),
        network: Some("TRC20".into()),
        address: DEST.into(),
        memo: String::new(),
        amount: amount.to_string(),
    };
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let custody = x.custody.clone();
        let request = request(150);
        tasks.push(tokio::spawn(async move {
            custody.request_withdrawal(owner, &request).await
        }));
    }
    let mut accepted = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => accepted += 1,
            Err(bulwark_custody::CustodyError::InsufficientBalance { .. }) => {}
            Err(other) => panic!("unexpected refusal {other:?}"),
        }
    }
    assert_eq!(accepted, 1);
    x.check().await.unwrap();
    x.stop();
}

/// M-of-N signatures on a cold → hot refill: one is not enough, the same key twice counts once,
/// an altered description, an unregistered or revoked key and an expired movement are refused,
/// and two distinct registered keys move the coins.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refills_need_two_distinct_operator_signatures() {
    use bulwark_custody::signatures::{keygen, sign};

    let x = Exchange::start().await;
    let sim = x.custody.sim(Network::Trc20).unwrap();
    let cold = x
        .custody
        .wallet_address(Network::Trc20, Wallet::Cold)
        .unwrap();
    let hot = x
        .custody
        .wallet_address(Network::Trc20, Wallet::Hot)
        .unwrap();
    sim.inject(&cold, "USDT", 1_000 * UNIT).unwrap();
    sim.mine(1).unwrap();
    let hot_before = sim_balance(&x, &hot).await;
    let keys: Vec<(String, String)> = (0..4).map(|_| keygen().unwrap()).collect();
    for (n, (_, public)) in keys.iter().take(3).enumerate() {
        x.custody
            .register_operator_key(&format!("op{n}"), public)
            .await
            .unwrap();
    }
    assert!(
        x.custody
            .register_operator_key("again", &keys[0].1)
            .await
            .is_err()
    );

    let movement = x
        .custody
        .propose_refill("USDT", Some("TRC20"), "250")
        .await
        .unwrap();
    let text = movement.description.clone();
    assert!(text.contains("amount: 250.00000000\n") && text.contains(&hot));
    let signed = |n: usize, text: &str| sign(&keys[n].0, text).unwrap();

    let (public, signature) = signed(0, &text);
    let outcome = x
        .custody
        .sign_movement(movement.id, &public, &signature)
        .await
        .unwrap();
    assert_eq!(
        (outcome.signatures, outcome.movement.state.as_str()),
        (1, "pending")
    );
    let outcome = x
        .custody
        .sign_movement(movement.id, &public, &signature)
        .await
        .unwrap();
    assert_eq!(
        (outcome.signatures, outcome.movement.state.as_str()),
        (1, "pending")
    );

    let (public1, altered) = signed(1, &text.replace("amount: 250", "amount: 950"));
    assert!(
        x.custody
            .sign_movement(movement.id, &public1, &altered)
            .await
            .is_err()
    );
    let (stranger, theirs) = signed(3, &text);
    assert!(
        x.custody
            .sign_movement(movement.id, &stranger, &theirs)
            .await
            .is_err()
    );
    let revoked = x.custody.operator_keys().await.unwrap()[2].id;
    x.custody.revoke_operator_key(revoked).await.unwrap();
    let (public2, by_revoked) = signed(2, &text);
    assert!(
        x.custody
            .sign_movement(movement.id, &public2, &by_revoked)
            .await
            .is_err()
    );
    assert_eq!(sim_balance(&x, &hot).await, hot_before);

    let (public1, good) = signed(1, &text);
    let outcome = x
        .custody
        .sign_movement(movement.id, &public1, &good)
        .await
        .unwrap();
    assert_eq!(
        (outcome.signatures, outcome.movement.state.as_str()),
        (2, "executed")
    );
    sim.mine(1).unwrap();
    assert_eq!(sim_balance(&x, &hot).await, hot_before + 250 * UNIT);
    // Executed once: a late signature is refused.
    assert!(
        x.custody
            .sign_movement(movement.id, &public1, &good)
            .await
            .is_err()
    );

    let late = x
        .custody
        .propose_refill("USDT", Some("TRC20"), "1")
        .await
        .unwrap();
    x.clock.advance(25 * 3600 * 1_000);
    let (public, signature) = signed(0, &late.description);
    assert!(
        x.custody
            .sign_movement(late.id, &public, &signature)
            .await
            .is_err()
    );
    assert_eq!(x.custody.movement(late.id).await.unwrap().state, "expired");
    x.stop();
}

async fn sim_balance(x: &Exchange, address: &str) -> i64 {
    use bulwark_custody::chain::Chain;
    x.custody
        .sim(Network::Trc20)
        .unwrap()
        .balance(address, "USDT")
        .await
        .unwrap()
}
