//! One-time codes, link tokens, TOTP, recovery codes, lockout counters and the proof-of-work
//! registry. Method: every single-use or monotonic operation is called twice, and the second
//! call must report that it did nothing; purpose, owner and expiry bind every lookup.

use super::both_backends;
use super::identity_accounts::account;
use crate::{LockoutRow, NewCode, NewToken, Store, StoreError};

fn code(user_id: Option<i64>, purpose: &str, hash: u8, created_ms: i64) -> NewCode {
    NewCode {
        user_id,
        channel: "email".to_owned(),
        destination: "codes@example.com".to_owned(),
        purpose: purpose.to_owned(),
        code_hash: vec![hash; 32],
        created_ms,
        expires_ms: created_ms + 600_000,
        max_attempts: 3,
    }
}

async fn new_code_voids_the_old_one(store: &Store) {
    let user = account(store, "codes@example.com").await;
    let first = store
        .issue_code(&code(Some(user), "login", 1, 1_000))
        .await
        .unwrap();
    let other_purpose = store
        .issue_code(&code(Some(user), "verify_email", 2, 1_000))
        .await
        .unwrap();
    let live = store
        .find_live_code(user, "login", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.id, live.code_hash.clone()), (first, vec![1; 32]));
    assert_eq!(
        (live.attempts, live.max_attempts, live.last_sent_ms),
        (0, 3, 1_000)
    );
    assert_eq!(live.destination, "codes@example.com");

    let second = store
        .issue_code(&code(Some(user), "login", 3, 61_000))
        .await
        .unwrap();
    let live = store
        .find_live_code(user, "login", 62_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, second);
    // The voided code can no longer be tried or consumed.
    assert_eq!(
        store.record_code_attempt(first, 62_000).await.unwrap(),
        None
    );
    assert!(!store.consume_code(first, 62_000).await.unwrap());
    // Codes of another purpose are untouched.
    let verify = store
        .find_live_code(user, "verify_email", 62_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(verify.id, other_purpose);
    let latest = store.latest_code(user, "login").await.unwrap().unwrap();
    assert_eq!((latest.id, latest.last_sent_ms), (second, 61_000));
    assert_eq!(store.latest_code(user, "reset_2fa").await.unwrap(), None);
    let error = store
        .issue_code(&code(Some(user + 1_000), "login", 4, 1))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    let mut zero = code(Some(user), "login", 5, 70_000);
    zero.max_attempts = 0;
    let error = store.issue_code(&zero).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    // The refused issue rolled back its voiding too.
    let live = store
        .find_live_code(user, "login", 70_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, second);
}
both_backends!(
    new_code_voids_the_old_one_on_both,
    new_code_voids_the_old_one
);

async fn code_attempts_expiry_and_consumption(store: &Store) {
    let user = account(store, "attempts@example.com").await;
    let id = store
        .issue_code(&code(Some(user), "login", 1, 1_000))
        .await
        .unwrap();
    assert_eq!(store.record_code_attempt(id, 2_000).await.unwrap(), Some(1));
    assert_eq!(store.record_code_attempt(id, 2_000).await.unwrap(), Some(2));
    assert_eq!(store.record_code_attempt(id, 2_000).await.unwrap(), Some(3));
    assert_eq!(
        store.record_code_attempt(id, 2_000).await.unwrap(),
        None,
        "used up"
    );
    assert_eq!(
        store.find_live_code(user, "login", 2_000).await.unwrap(),
        None
    );

    let id = store
        .issue_code(&code(Some(user), "login", 2, 3_000))
        .await
        .unwrap();
    assert_eq!(store.record_code_attempt(id, 4_000).await.unwrap(), Some(1));
    assert!(store.consume_code(id, 4_000).await.unwrap());
    assert!(!store.consume_code(id, 4_001).await.unwrap(), "single use");
    assert_eq!(store.record_code_attempt(id, 4_002).await.unwrap(), None);
    assert_eq!(
        store.find_live_code(user, "login", 4_002).await.unwrap(),
        None
    );

    let id = store
        .issue_code(&code(Some(user), "login", 3, 5_000))
        .await
        .unwrap();
    let expires_ms = 5_000 + 600_000;
    assert!(
        store
            .find_live_code(user, "login", expires_ms - 1)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        store
            .find_live_code(user, "login", expires_ms)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.record_code_attempt(id, expires_ms).await.unwrap(),
        None
    );
    assert!(
        !store.consume_code(id, expires_ms).await.unwrap(),
        "expired"
    );
    assert_eq!(
        store.record_code_attempt(id + 1_000, 1).await.unwrap(),
        None
    );
    assert!(!store.consume_code(id + 1_000, 1).await.unwrap());
}
both_backends!(
    code_attempts_expiry_and_consumption_on_both,
    code_attempts_expiry_and_consumption
);

async fn codes_for_a_destination(store: &Store) {
    let user = account(store, "dest@example.com").await;
    let mut signup = code(None, "signup", 1, 1_000);
    signup.destination = "+15550009999".to_owned();
    signup.channel = "sms".to_owned();
    let first = store.issue_code(&signup).await.unwrap();
    // An account's code for the same purpose and destination is a different owner.
    let mut owned = signup.clone();
    owned.user_id = Some(user);
    let owned_id = store.issue_code(&owned).await.unwrap();
    let live = store
        .find_live_code_for_destination("+15550009999", "signup", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (live.id, live.user_id, live.channel.as_str()),
        (first, None, "sms")
    );
    signup.code_hash = vec![2; 32];
    let second = store.issue_code(&signup).await.unwrap();
    let live = store
        .find_live_code_for_destination("+15550009999", "signup", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.id, second);
    assert!(!store.consume_code(first, 2_000).await.unwrap());
    let still = store
        .find_live_code(user, "signup", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(still.id, owned_id);
    assert_eq!(
        store
            .find_live_code_for_destination("+15550000000", "signup", 2_000)
            .await
            .unwrap(),
        None
    );
}
both_backends!(codes_for_a_destination_on_both, codes_for_a_destination);

fn token(user_id: i64, hash: u8, purpose: &str) -> NewToken {
    NewToken {
        token_hash: vec![hash; 32],
        user_id,
        purpose: purpose.to_owned(),
        created_ms: 1_000,
        expires_ms: 1_000 + 1_800_000,
        data: Some("{\"device\":7}".to_owned()),
    }
}

async fn tokens_are_single_use_and_purpose_bound(store: &Store) {
    let user = account(store, "tokens@example.com").await;
    let id = store
        .insert_token(&token(user, 1, "password_reset"))
        .await
        .unwrap();
    let error = store
        .insert_token(&token(user, 1, "freeze"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("token")), "{error:?}");
    let error = store
        .insert_token(&token(user + 1_000, 2, "freeze"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");

    assert_eq!(
        store
            .consume_token(&[1; 32], "freeze", 2_000)
            .await
            .unwrap(),
        None
    );
    let live = store
        .find_live_token(&[1; 32], "password_reset", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.id, live.consumed_ms), (id, None));
    let used = store
        .consume_token(&[1; 32], "password_reset", 2_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (used.id, used.user_id, used.consumed_ms),
        (id, user, Some(2_000))
    );
    assert_eq!(used.data.as_deref(), Some("{\"device\":7}"));
    assert_eq!(
        store
            .consume_token(&[1; 32], "password_reset", 2_001)
            .await
            .unwrap(),
        None,
        "works once"
    );
    assert_eq!(
        store
            .find_live_token(&[1; 32], "password_reset", 2_001)
            .await
            .unwrap(),
        None
    );
}
both_backends!(
    tokens_are_single_use_and_purpose_bound_on_both,
    tokens_are_single_use_and_purpose_bound
);

async fn tokens_expire_and_void(store: &Store) {
    let user = account(store, "void@example.com").await;
    store
        .insert_token(&token(user, 3, "password_reset"))
        .await
        .unwrap();
    let expires_ms = 1_000 + 1_800_000;
    assert_eq!(
        store
            .consume_token(&[3; 32], "password_reset", expires_ms)
            .await
            .unwrap(),
        None,
        "expired"
    );
    store
        .insert_token(&token(user, 4, "password_reset"))
        .await
        .unwrap();
    store.insert_token(&token(user, 5, "freeze")).await.unwrap();
    assert_eq!(
        store
            .void_tokens(user, "password_reset", 3_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .void_tokens(user, "password_reset", 3_000)
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store
            .consume_token(&[4; 32], "password_reset", 3_001)
            .await
            .unwrap(),
        None
    );
    assert!(
        store
            .consume_token(&[5; 32], "freeze", 3_001)
            .await
            .unwrap()
            .is_some()
    );
}
both_backends!(tokens_expire_and_void_on_both, tokens_expire_and_void);

async fn totp_enrolment(store: &Store) {
    let user = account(store, "totp@example.com").await;
    assert_eq!(store.get_totp(user).await.unwrap(), None);
    assert!(
        !store.advance_totp_step(user, 10).await.unwrap(),
        "no credential"
    );
    store
        .begin_totp_enrollment(user, &[1, 2, 3], 1_000)
        .await
        .unwrap();
    // Restarting a pending enrolment replaces the secret.
    store
        .begin_totp_enrollment(user, &[4, 5, 6], 2_000)
        .await
        .unwrap();
    let pending = store.get_totp(user).await.unwrap().unwrap();
    assert_eq!(pending.secret_ciphertext, [4, 5, 6]);
    assert_eq!(
        (
            pending.created_ms,
            pending.enabled_ms,
            pending.last_used_step
        ),
        (2_000, None, 0)
    );
    assert!(
        !store.advance_totp_step(user, 10).await.unwrap(),
        "not enabled yet"
    );

    assert!(store.enable_totp(user, 100, 3_000).await.unwrap());
    assert!(
        !store.enable_totp(user, 101, 3_001).await.unwrap(),
        "enables once"
    );
    let enabled = store.get_totp(user).await.unwrap().unwrap();
    assert_eq!(
        (enabled.enabled_ms, enabled.last_used_step),
        (Some(3_000), 100)
    );
    let error = store
        .begin_totp_enrollment(user, &[7], 4_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("totp")), "{error:?}");
    assert_eq!(
        store
            .get_totp(user)
            .await
            .unwrap()
            .unwrap()
            .secret_ciphertext,
        [4, 5, 6]
    );
    let error = store
        .begin_totp_enrollment(user + 1_000, &[1], 1)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(totp_enrolment_on_both, totp_enrolment);

async fn totp_replay_guard_and_removal(store: &Store) {
    let user = account(store, "totp-replay@example.com").await;
    store
        .begin_totp_enrollment(user, &[1], 1_000)
        .await
        .unwrap();
    assert!(store.enable_totp(user, 100, 3_000).await.unwrap());
    assert!(
        !store.advance_totp_step(user, 100).await.unwrap(),
        "same step replayed"
    );
    assert!(
        !store.advance_totp_step(user, 99).await.unwrap(),
        "older step"
    );
    assert!(store.advance_totp_step(user, 101).await.unwrap());
    assert!(
        !store.advance_totp_step(user, 101).await.unwrap(),
        "second use refused"
    );
    assert_eq!(
        store.get_totp(user).await.unwrap().unwrap().last_used_step,
        101
    );

    assert!(store.delete_totp(user).await.unwrap());
    assert!(!store.delete_totp(user).await.unwrap());
    assert_eq!(store.get_totp(user).await.unwrap(), None);
    // Enrolment can start again once the old credential is gone.
    store
        .begin_totp_enrollment(user, &[2], 4_000)
        .await
        .unwrap();
}
both_backends!(
    totp_replay_guard_and_removal_on_both,
    totp_replay_guard_and_removal
);

async fn totp_replay_guard_under_concurrency(store: &Store) {
    let user = account(store, "race@example.com").await;
    store
        .begin_totp_enrollment(user, &[1], 1_000)
        .await
        .unwrap();
    assert!(store.enable_totp(user, 10, 1_000).await.unwrap());
    let mut handles = Vec::new();
    for _ in 0..8 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            store.advance_totp_step(user, 11).await.unwrap()
        }));
    }
    let mut winners = 0;
    for handle in handles {
        if handle.await.unwrap() {
            winners += 1;
        }
    }
    assert_eq!(winners, 1, "exactly one request may use a time step");
}
both_backends!(
    totp_replay_guard_under_concurrency_on_both,
    totp_replay_guard_under_concurrency
);

async fn recovery_codes_replace_and_use_once(store: &Store) {
    let user = account(store, "recovery@example.com").await;
    let other = account(store, "recovery-other@example.com").await;
    let first: Vec<String> = (0..10).map(|index| format!("old-{index}")).collect();
    store
        .replace_recovery_codes(user, &first, 1_000)
        .await
        .unwrap();
    store
        .replace_recovery_codes(other, &["theirs".to_owned()], 1_000)
        .await
        .unwrap();
    let codes = store.list_recovery_codes(user).await.unwrap();
    assert_eq!(codes.len(), 10);
    assert_eq!(codes[0].code_hash, "old-0");
    assert_eq!((codes[0].created_ms, codes[0].used_ms), (1_000, None));

    assert!(
        store
            .use_recovery_code(user, codes[3].id, 2_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .use_recovery_code(user, codes[3].id, 2_001)
            .await
            .unwrap(),
        "single use"
    );
    let theirs = store.list_recovery_codes(other).await.unwrap();
    assert!(
        !store
            .use_recovery_code(user, theirs[0].id, 2_000)
            .await
            .unwrap(),
        "not theirs"
    );
    let used = store.list_recovery_codes(user).await.unwrap();
    assert_eq!(used[3].used_ms, Some(2_000));

    let second: Vec<String> = (0..10).map(|index| format!("new-{index}")).collect();
    store
        .replace_recovery_codes(user, &second, 3_000)
        .await
        .unwrap();
    let codes = store.list_recovery_codes(user).await.unwrap();
    assert!(
        codes
            .iter()
            .all(|row| row.code_hash.starts_with("new-") && row.used_ms.is_none())
    );
    assert_eq!(codes.len(), 10);
    // The old set is gone: its ids no longer work.
    assert!(
        !store
            .use_recovery_code(user, used[4].id, 3_001)
            .await
            .unwrap()
    );
    assert_eq!(store.list_recovery_codes(other).await.unwrap().len(), 1);
    store
        .replace_recovery_codes(user, &[], 4_000)
        .await
        .unwrap();
    assert!(store.list_recovery_codes(user).await.unwrap().is_empty());
    let error = store
        .replace_recovery_codes(user + 1_000, &second, 1)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(
    recovery_codes_replace_and_use_once_on_both,
    recovery_codes_replace_and_use_once
);

async fn lockout_rows(store: &Store) {
    assert_eq!(store.get_lockout("acct:1").await.unwrap(), None);
    let locked = LockoutRow {
        lock_key: "acct:1".to_owned(),
        failures: 10,
        lock_level: 1,
        locked_until_ms: 900_000,
        reset_required: 0,
        last_failure_ms: 3_000,
    };
    store.put_lockout(&locked).await.unwrap();
    assert_eq!(
        store.get_lockout("acct:1").await.unwrap(),
        Some(locked.clone())
    );
    let reset = LockoutRow {
        lock_key: "ip:192.0.2.1".to_owned(),
        reset_required: 1,
        ..locked
    };
    store.put_lockout(&reset).await.unwrap();
    assert_eq!(
        store.get_lockout("ip:192.0.2.1").await.unwrap(),
        Some(reset)
    );
    assert!(store.clear_lockout("acct:1").await.unwrap());
    assert!(!store.clear_lockout("acct:1").await.unwrap());
    assert_eq!(store.get_lockout("acct:1").await.unwrap(), None);
    assert!(store.get_lockout("ip:192.0.2.1").await.unwrap().is_some());
}
both_backends!(lockout_rows_on_both, lockout_rows);

async fn pow_challenges_are_single_use(store: &Store) {
    assert!(store.use_pow_challenge("c1", 1_000).await.unwrap());
    assert!(
        !store.use_pow_challenge("c1", 1_000).await.unwrap(),
        "reuse refused"
    );
    assert!(store.use_pow_challenge("c2", 2_000).await.unwrap());
    assert_eq!(store.prune_pow_challenges(999).await.unwrap(), 0);
    assert_eq!(store.prune_pow_challenges(1_000).await.unwrap(), 1);
    assert_eq!(store.prune_pow_challenges(1_000).await.unwrap(), 0);
    assert!(!store.use_pow_challenge("c2", 2_000).await.unwrap());
}
both_backends!(
    pow_challenges_are_single_use_on_both,
    pow_challenges_are_single_use
);
