//! The attempt limiter's compare-and-swap and sign-up attempts. Method: race many writers on one
//! key through the versioned read + swap on both backends and count what survives; drive sign-up
//! attempts through insert, lookups, ending older ones and completion (including a lost race).

use super::both_backends;
use super::identity_accounts::new_account;
use crate::{LockoutRow, NewCode, NewSignupAttempt, Store, VerifiedContact, account_status};

fn row(key: &str, failures: i64) -> LockoutRow {
    LockoutRow {
        lock_key: key.to_owned(),
        failures,
        lock_level: 0,
        locked_until_ms: 0,
        reset_required: 0,
        last_failure_ms: failures,
    }
}

async fn swap_writes_only_what_was_read(store: &Store) {
    assert_eq!(store.get_lockout_versioned("k").await.unwrap(), None);
    assert!(store.swap_lockout(&row("k", 1), None, 11).await.unwrap());
    assert!(
        !store.swap_lockout(&row("k", 1), None, 12).await.unwrap(),
        "a second insert from the same empty read loses"
    );
    let (read, version) = store.get_lockout_versioned("k").await.unwrap().unwrap();
    assert_eq!((read.failures, version), (1, 11));
    assert!(
        !store
            .swap_lockout(&row("k", 5), Some(10), 13)
            .await
            .unwrap()
    );
    assert!(
        store
            .swap_lockout(&row("k", 2), Some(11), 14)
            .await
            .unwrap()
    );
    assert!(
        !store
            .swap_lockout(&row("k", 3), Some(11), 15)
            .await
            .unwrap(),
        "a stale version loses"
    );
    // A plain put moves the version too, so a reader of the old state cannot overwrite it.
    store.put_lockout(&row("k", 9)).await.unwrap();
    assert!(
        !store
            .swap_lockout(&row("k", 3), Some(14), 16)
            .await
            .unwrap()
    );
    assert_eq!(store.get_lockout("k").await.unwrap().unwrap().failures, 9);
    // Deleted and created again: the old version never matches the new row.
    assert!(store.clear_lockout("k").await.unwrap());
    assert!(store.swap_lockout(&row("k", 1), None, 17).await.unwrap());
    assert!(
        !store
            .swap_lockout(&row("k", 2), Some(14), 18)
            .await
            .unwrap()
    );
}
both_backends!(
    swap_writes_only_what_was_read_on_both,
    swap_writes_only_what_was_read
);

/// Twenty writers each add one failure by read + swap, retrying on a lost swap, across the
/// pool's connections: every increment survives.
async fn swaps_lose_no_increment_under_concurrency(store: &Store) {
    let mut handles = Vec::new();
    for writer in 0..20_i64 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut tries = 0;
            loop {
                tries += 1;
                let read = store.get_lockout_versioned("race").await.unwrap();
                let failures = read.as_ref().map_or(0, |(r, _)| r.failures);
                let expected = read.map(|(_, v)| v);
                let version = writer * 1_000 + tries;
                if store
                    .swap_lockout(&row("race", failures + 1), expected, version)
                    .await
                    .unwrap()
                {
                    return;
                }
                assert!(tries < 1_000, "writer {writer} starved");
            }
        }));
    }
    for handle in handles {
        handle.await.unwrap();
    }
    let row = store.get_lockout("race").await.unwrap().unwrap();
    assert_eq!(row.failures, 20, "no increment may be lost");
}
both_backends!(
    swaps_lose_no_increment_under_concurrency_on_both,
    swaps_lose_no_increment_under_concurrency
);

fn attempt(user_id: i64, token: u8, phc: &str, at: i64) -> NewSignupAttempt {
    NewSignupAttempt {
        user_id,
        password_phc: phc.to_owned(),
        display_name: None,
        token_hash: vec![token; 32],
        created_ms: at,
        expires_ms: at + 86_400_000,
    }
}

async fn signup_attempts_complete_once_and_end_the_others(store: &Store) {
    let mut pending = new_account(Some("pending@example.com"), None);
    pending.password_phc = None;
    let user = store.create_account(&pending).await.unwrap();
    let first = store
        .insert_signup_attempt(&attempt(user, 1, "phc-one", 1_000))
        .await
        .unwrap();
    let second = store
        .insert_signup_attempt(&attempt(user, 2, "phc-two", 2_000))
        .await
        .unwrap();
    let third = store
        .insert_signup_attempt(&attempt(user, 3, "phc-three", 3_000))
        .await
        .unwrap();
    let code = store
        .issue_code_keeping_others(&NewCode {
            user_id: Some(user),
            channel: "email".into(),
            destination: "pending@example.com".into(),
            purpose: "verify_email".into(),
            code_hash: vec![9; 32],
            created_ms: 3_000,
            expires_ms: 600_000,
            max_attempts: 5,
        })
        .await
        .unwrap();
    store.set_signup_attempt_code(second, code).await.unwrap();
    assert!(
        store
            .find_live_code_by_id(code, 3_000)
            .await
            .unwrap()
            .is_some()
    );
    // Newest first; keeping two ends the oldest.
    let live = store.live_signup_attempts(user, 3_000, 10).await.unwrap();
    let ids: Vec<i64> = live.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![third, second, first]);
    assert_eq!(
        store
            .end_older_signup_attempts(user, 2, 4_000)
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .find_signup_attempt_by_token(&[1; 32], 4_000)
            .await
            .unwrap()
            .is_none()
    );
    let found = store
        .find_signup_attempt_by_token(&[2; 32], 4_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.id, found.code_id), (second, Some(code)));
    // Completing the second gives the account its password and ends the third.
    let others = store
        .complete_signup_attempt(second, VerifiedContact::Email, 5_000)
        .await
        .unwrap();
    assert_eq!(others, Some(1));
    let account = store.get_account(user).await.unwrap().unwrap();
    assert_eq!(account.password_phc.as_deref(), Some("phc-two"));
    assert_eq!(account.status, account_status::ACTIVE);
    assert_eq!(account.email_verified_ms, Some(5_000));
    assert!(
        store
            .complete_signup_attempt(third, VerifiedContact::Email, 5_000)
            .await
            .unwrap()
            .is_none(),
        "an ended attempt completes nothing"
    );
    assert!(
        store
            .live_signup_attempts(user, 5_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
    // An attempt of an account that is no longer unverified changes nothing.
    let late = store
        .insert_signup_attempt(&attempt(user, 4, "phc-late", 6_000))
        .await
        .unwrap();
    assert!(
        store
            .complete_signup_attempt(late, VerifiedContact::Email, 6_000)
            .await
            .unwrap()
            .is_none()
    );
    let account = store.get_account(user).await.unwrap().unwrap();
    assert_eq!(account.password_phc.as_deref(), Some("phc-two"));
    assert!(
        store
            .live_signup_attempts(user, 6_000, 10)
            .await
            .unwrap()
            .iter()
            .any(|a| a.id == late),
        "the losing completion rolled back"
    );
}
both_backends!(
    signup_attempts_complete_once_and_end_the_others_on_both,
    signup_attempts_complete_once_and_end_the_others
);
