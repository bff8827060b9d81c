//! Custody records. Method: every state move is attempted twice or from the wrong state, and
//! only the first legal one may act; a chain output is recorded once.

use super::both_backends;
use super::identity_accounts::account;
use crate::{HistoryWindow, NewDeposit, NewWithdrawal, Store, WithdrawalMove};

fn deposit(user_id: i64, txid: &str, output_index: i64) -> NewDeposit {
    NewDeposit {
        user_id,
        asset: "BTC".to_owned(),
        network: "BTC".to_owned(),
        address: "bc1qaddress".to_owned(),
        txid: txid.to_owned(),
        output_index,
        amount: 50_000,
        block_height: 7,
        block_hash: "h7".to_owned(),
        confirmations: 1,
        required_confirmations: 3,
        state: "pending".to_owned(),
        detected_ms: 1_000,
    }
}

const ALL: HistoryWindow<'static> = HistoryWindow {
    asset: None,
    network: None,
    since_ms: 0,
    until_ms: i64::MAX,
    limit: 100,
};

async fn deposits(store: &Store) {
    let user = account(store, "custody@example.com").await;
    store
        .insert_deposit_address(user, "BTC", "BTC", "bc1qaddress", 1)
        .await
        .unwrap();
    // Idempotent: the address is a pure function of the key.
    store
        .insert_deposit_address(user, "BTC", "BTC", "bc1qaddress", 2)
        .await
        .unwrap();
    assert_eq!(
        store.deposit_address(user, "BTC", "BTC").await.unwrap(),
        Some("bc1qaddress".to_owned())
    );
    assert_eq!(
        store.deposit_address(user, "ETH", "ERC20").await.unwrap(),
        None
    );
    assert_eq!(
        store
            .deposit_address_owner("BTC", "bc1qaddress")
            .await
            .unwrap(),
        Some((user, "BTC".to_owned()))
    );
    assert_eq!(
        store
            .deposit_address_owner("ERC20", "bc1qaddress")
            .await
            .unwrap(),
        None
    );

    let id = store
        .insert_deposit(&deposit(user, "aa", 0))
        .await
        .unwrap()
        .unwrap();
    // The same output again (a re-scan) is not a second deposit; another output is.
    assert_eq!(
        store.insert_deposit(&deposit(user, "aa", 0)).await.unwrap(),
        None
    );
    let other = store
        .insert_deposit(&deposit(user, "aa", 1))
        .await
        .unwrap()
        .unwrap();
    assert_ne!(id, other);
    assert_eq!(store.pending_deposits("BTC").await.unwrap().len(), 2);
    store.set_deposit_confirmations(id, 2).await.unwrap();
    assert!(store.mark_deposit_credited(id, 3, 5_000).await.unwrap());
    assert!(!store.mark_deposit_credited(id, 3, 6_000).await.unwrap());
    let row = store.get_deposit(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.confirmations, row.credited_ms),
        ("credited", 3, Some(5_000))
    );
    assert_eq!(store.pending_deposits("BTC").await.unwrap().len(), 1);
    assert_eq!(store.unswept_deposits("BTC").await.unwrap()[0].id, id);
    store.mark_deposit_swept(id, 7_000).await.unwrap();
    assert!(store.unswept_deposits("BTC").await.unwrap().is_empty());
    assert_eq!(store.user_deposits(user, ALL).await.unwrap().len(), 2);
    let eth_only = HistoryWindow {
        asset: Some("ETH"),
        ..ALL
    };
    assert!(
        store
            .user_deposits(user, eth_only)
            .await
            .unwrap()
            .is_empty()
    );

    assert_eq!(store.chain_cursor("BTC").await.unwrap(), (0, String::new()));
    store.set_chain_cursor("BTC", 12, "h12").await.unwrap();
    store.set_chain_cursor("BTC", 13, "h13").await.unwrap();
    assert_eq!(
        store.chain_cursor("BTC").await.unwrap(),
        (13, "h13".to_owned())
    );
    // Reorganisation bookkeeping: recent deposits, and a reverted one leaves the lists.
    assert_eq!(store.recent_deposits("BTC", 7).await.unwrap().len(), 2);
    store.move_deposit_block(id, 9, "h9").await.unwrap();
    let moved = store.get_deposit(id).await.unwrap().unwrap();
    assert_eq!((moved.block_height, moved.block_hash.as_str()), (9, "h9"));
    store.move_deposit_block(id, 7, "h7").await.unwrap();
    assert!(store.recent_deposits("BTC", 8).await.unwrap().is_empty());
    assert!(store.mark_deposit_reverted(other, "pending").await.unwrap());
    assert!(!store.mark_deposit_reverted(other, "pending").await.unwrap());
    assert!(store.pending_deposits("BTC").await.unwrap().is_empty());
}

both_backends!(deposits_on_both, deposits);

fn request(user_id: i64, tag: u8, usdt_micros: i64, created_ms: i64) -> NewWithdrawal {
    NewWithdrawal {
        user_id,
        asset: "USDT".to_owned(),
        network: "TRC20".to_owned(),
        address: "TR7NHqjeKQxGTCi8q8ZY4pL8otSzgjLj6t".to_owned(),
        memo: String::new(),
        amount: 5_000_000,
        fee: 1_000_000,
        usdt_micros,
        confirm_hash: vec![tag; 32],
        confirm_expires_ms: created_ms + 1_800_000,
        approvals_needed: 0,
        created_ms,
    }
}

fn step<'a>(id: i64, from: &'a [&'a str], to: &'a str) -> WithdrawalMove<'a> {
    WithdrawalMove {
        id,
        from,
        to,
        actor: "user",
        note: "",
        at_ms: 2_000,
        txid: None,
        block_height: None,
    }
}

async fn withdrawals(store: &Store) {
    let user = account(store, "withdrawer@example.com").await;
    let id = store
        .insert_withdrawal(&request(user, 1, 5_000_000, 1_000), "user")
        .await
        .unwrap();
    let found = store
        .withdrawal_by_confirm_hash(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.state.as_str()), (id, "requested"));
    assert!(
        store
            .move_withdrawal(step(id, &["requested"], "email_confirmed"))
            .await
            .unwrap()
    );
    // Twice, or from a state it is no longer in: nothing happens.
    assert!(
        !store
            .move_withdrawal(step(id, &["requested"], "email_confirmed"))
            .await
            .unwrap()
    );
    assert!(
        !store
            .move_withdrawal(step(id + 99, &["requested"], "cancelled"))
            .await
            .unwrap()
    );
    // The token is spent once the request moved on.
    assert_eq!(
        store.withdrawal_by_confirm_hash(&[1; 32]).await.unwrap(),
        None
    );
    let broadcast = WithdrawalMove {
        txid: Some("0xabc"),
        ..step(id, &["email_confirmed"], "broadcast")
    };
    assert!(store.move_withdrawal(broadcast).await.unwrap());
    let confirmed = WithdrawalMove {
        block_height: Some(40),
        ..step(id, &["broadcast"], "confirmed")
    };
    assert!(store.move_withdrawal(confirmed).await.unwrap());
    let row = store.get_withdrawal(id).await.unwrap().unwrap();
    assert_eq!(
        (row.txid.as_deref(), row.block_height),
        (Some("0xabc"), Some(40))
    );
    let states: Vec<String> = store
        .withdrawal_events(id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.state)
        .collect();
    assert_eq!(
        states,
        ["requested", "email_confirmed", "broadcast", "confirmed"]
    );

    // Approvals count distinct people.
    assert_eq!(store.approve_withdrawal(id, 7, 1).await.unwrap(), 1);
    assert_eq!(store.approve_withdrawal(id, 7, 2).await.unwrap(), 1);
    assert_eq!(store.approve_withdrawal(id, 8, 3).await.unwrap(), 2);

    // Rolling limits: cancelled requests do not count, pending and done ones do.
    let cancelled = store
        .insert_withdrawal(&request(user, 2, 7_000_000, 1_500), "user")
        .await
        .unwrap();
    assert!(
        store
            .move_withdrawal(step(cancelled, &["requested"], "cancelled"))
            .await
            .unwrap()
    );
    store
        .insert_withdrawal(&request(user, 3, 3_000_000, 1_600), "user")
        .await
        .unwrap();
    assert_eq!(
        store.withdrawn_usdt_micros_since(user, 0).await.unwrap(),
        8_000_000
    );
    assert_eq!(
        store
            .withdrawn_usdt_micros_since(user, 1_550)
            .await
            .unwrap(),
        3_000_000
    );
    assert_eq!(
        store.withdrawals_in_state("requested").await.unwrap().len(),
        1
    );
    assert_eq!(store.user_withdrawals(user, ALL).await.unwrap().len(), 3);

    // A request whose hold was refused disappears without a trace.
    let refused = store
        .insert_withdrawal(&request(user, 4, 1, 1_700), "user")
        .await
        .unwrap();
    store.delete_withdrawal(refused).await.unwrap();
    assert_eq!(store.get_withdrawal(refused).await.unwrap(), None);
}

both_backends!(withdrawals_on_both, withdrawals);

async fn address_book(store: &Store) {
    let user = account(store, "book@example.com").await;
    assert!(!store.withdraw_whitelist_only(user).await.unwrap());
    store.set_withdraw_whitelist_only(user, true).await.unwrap();
    assert!(store.withdraw_whitelist_only(user).await.unwrap());
    let mut entry = crate::WithdrawAddressRow {
        id: 0,
        user_id: user,
        asset: "BTC".to_owned(),
        network: "BTC".to_owned(),
        address: "bc1qdest".to_owned(),
        memo: String::new(),
        label: "cold storage".to_owned(),
        created_ms: 1_000,
        usable_from_ms: 86_401_000,
    };
    let id = store.add_withdraw_address(&entry).await.unwrap();
    entry.created_ms = 5_000;
    entry.usable_from_ms = 86_405_000;
    // Re-adding restarts the cooling-down period of the same entry.
    assert_eq!(store.add_withdraw_address(&entry).await.unwrap(), id);
    let book = store.withdraw_addresses(user).await.unwrap();
    assert_eq!((book.len(), book[0].usable_from_ms), (1, 86_405_000));
    let other = account(store, "other-book@example.com").await;
    assert!(!store.remove_withdraw_address(other, id).await.unwrap());
    assert!(store.remove_withdraw_address(user, id).await.unwrap());
    assert!(store.withdraw_addresses(user).await.unwrap().is_empty());
}

both_backends!(address_book_on_both, address_book);

async fn incidents(store: &Store) {
    let first = store
        .open_custody_incident("BTC", "shortfall", "short 5", 1_000)
        .await
        .unwrap();
    // Still open: the same incident, not a second one.
    assert_eq!(
        store
            .open_custody_incident("BTC", "shortfall", "short 6", 2_000)
            .await
            .unwrap(),
        first
    );
    assert_eq!(store.assets_with_open_incidents().await.unwrap(), ["BTC"]);
    assert!(
        store
            .resolve_custody_incident(first, "staff:3", "refilled", 3_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .resolve_custody_incident(first, "staff:3", "again", 4_000)
            .await
            .unwrap()
    );
    assert!(store.assets_with_open_incidents().await.unwrap().is_empty());
    let second = store
        .open_custody_incident("BTC", "shortfall", "short 1", 5_000)
        .await
        .unwrap();
    assert_ne!(first, second);
    let listed = store.custody_incidents(10).await.unwrap();
    assert_eq!(
        (listed[0].id, listed[1].resolved_by.as_deref()),
        (second, Some("staff:3"))
    );
    let row = crate::ReconciliationRow {
        id: 0,
        at_ms: 1,
        asset: "BTC".into(),
        chain_balance: 10,
        custody_expected: 15,
        ledger_liabilities: 20,
        adjustments: 5,
        shortfall: 5,
        hot_balance: 1,
        hot_share_bps: 1_000,
    };
    let id = store.insert_reconciliation(&row).await.unwrap();
    assert_eq!(
        store.recent_reconciliations(5).await.unwrap(),
        vec![crate::ReconciliationRow { id, ..row }]
    );
}

both_backends!(incidents_on_both, incidents);

async fn withdrawal_ids_are_never_reused(store: &Store) {
    let user = account(store, "reuse@example.com").await;
    let first = store
        .insert_withdrawal(&request(user, 9, 1, 1), "user")
        .await
        .unwrap();
    store.delete_withdrawal(first).await.unwrap();
    let second = store
        .insert_withdrawal(&request(user, 10, 1, 2), "user")
        .await
        .unwrap();
    assert!(second > first, "{second} reuses {first}");
}

both_backends!(
    withdrawal_ids_are_never_reused_on_both,
    withdrawal_ids_are_never_reused
);

async fn movements(store: &Store) {
    let alice = store
        .insert_operator_key("alice", &[1; 32], 1)
        .await
        .unwrap();
    let bob = store.insert_operator_key("bob", &[2; 32], 2).await.unwrap();
    assert!(
        store
            .insert_operator_key("mallory", &[1; 32], 3)
            .await
            .is_err()
    );
    assert!(
        store
            .insert_operator_key("alice", &[3; 32], 3)
            .await
            .is_err()
    );
    let movement = store
        .insert_movement(
            &crate::NewMovement {
                action: "refill_hot".into(),
                asset: "BTC".into(),
                network: "BTC".into(),
                amount: 5,
                destination: "bc1qhot".into(),
                withdrawal_id: None,
                user_id: None,
                claim_id: None,
                nonce: "n1".into(),
                expires_ms: 100,
                required: 2,
                created_ms: 10,
            },
            |id| format!("movement {id}"),
        )
        .await
        .unwrap();
    assert_eq!(movement.description, format!("movement {}", movement.id));
    assert_eq!(
        store
            .add_movement_signature(movement.id, alice, &[9; 64], 11)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .add_movement_signature(movement.id, alice, &[8; 64], 12)
            .await
            .unwrap(),
        1
    );
    // One signature of two: nothing is owed an execution yet.
    assert!(store.signed_pending_movements().await.unwrap().is_empty());
    assert_eq!(
        store
            .add_movement_signature(movement.id, bob, &[7; 64], 13)
            .await
            .unwrap(),
        2
    );
    // Signed but not executed (a crash in between): found for the restart to execute.
    let owed = store.signed_pending_movements().await.unwrap();
    assert_eq!(
        owed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![movement.id]
    );
    assert!(
        store
            .finish_movement(movement.id, "executed", Some("tx"), 14)
            .await
            .unwrap()
    );
    assert!(
        !store
            .finish_movement(movement.id, "failed", None, 15)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .get_movement(movement.id)
            .await
            .unwrap()
            .unwrap()
            .txid
            .as_deref(),
        Some("tx")
    );
    assert!(store.signed_pending_movements().await.unwrap().is_empty());
    assert!(store.revoke_operator_key(bob, 16).await.unwrap());
    // A revoked key's signature no longer counts.
    assert_eq!(
        store
            .add_movement_signature(movement.id, alice, &[9; 64], 16)
            .await
            .unwrap(),
        1
    );
    assert!(!store.revoke_operator_key(bob, 17).await.unwrap());
    assert_eq!(store.operator_keys().await.unwrap()[1].revoked_ms, Some(16));
}

both_backends!(movements_on_both, movements);
