//! QR logins, 2FA reset requests and KYC applications. Method: walk each state machine through
//! its allowed transitions, repeat every transition to check it happens once, try it from the
//! wrong state, by the wrong person and after the deadline, and check that the database itself
//! refuses a reviewer deciding their own case.

use super::both_backends;
use super::identity_accounts::account;
use crate::{
    NewKycApplication, NewKycDocument, NewQrLogin, Store, StoreError, kyc_state, qr_state,
    twofa_reset_state,
};

fn qr(nonce: u8, short_code: &str) -> NewQrLogin {
    NewQrLogin {
        nonce_hash: vec![nonce; 16],
        poll_secret_hash: vec![nonce ^ 0xff; 32],
        short_code: short_code.to_owned(),
        created_ms: 1_000,
        expires_ms: 121_000,
        requester_ip: "203.0.113.9".to_owned(),
        requester_country: Some("FR".to_owned()),
        requester_ua: "Chromium".to_owned(),
    }
}

async fn qr_login_lookups(store: &Store) {
    let id = store.insert_qr_login(&qr(1, "ABCD-1234")).await.unwrap();
    let error = store
        .insert_qr_login(&qr(1, "ZZZZ-0000"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("qr nonce")),
        "{error:?}"
    );
    let error = store
        .insert_qr_login(&qr(2, "ABCD-1234"))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("qr short code")),
        "{error:?}"
    );

    let row = store
        .find_qr_login_by_nonce_hash(&[1; 16])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.id, row.state.as_str()), (id, qr_state::PENDING));
    assert_eq!(
        (row.requester_ip.as_str(), row.requester_country.as_deref()),
        ("203.0.113.9", Some("FR"))
    );
    assert_eq!(row.approved_user_id, None);
    let by_code = store
        .find_qr_login_by_short_code("ABCD-1234")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_code.id, id);
    assert_eq!(
        store.find_qr_login_by_short_code("NOPE").await.unwrap(),
        None
    );
}
both_backends!(qr_login_lookups_on_both, qr_login_lookups);

async fn qr_login_approve_then_redeem_once(store: &Store) {
    let user = account(store, "qr-redeem@example.com").await;
    let id = store.insert_qr_login(&qr(1, "ABCD-1234")).await.unwrap();
    // Nothing to redeem before approval.
    let secret = vec![1 ^ 0xff; 32];
    assert_eq!(
        store.redeem_qr_login(id, &secret, 2_000).await.unwrap(),
        None
    );
    assert!(store.approve_qr_login(id, user, None, 2_000).await.unwrap());
    assert!(
        !store.approve_qr_login(id, user, None, 2_001).await.unwrap(),
        "approves once"
    );
    assert!(
        !store.deny_qr_login(id, 2_002).await.unwrap(),
        "no longer pending"
    );
    let row = store.get_qr_login(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.approved_user_id, row.decided_ms),
        (qr_state::APPROVED, Some(user), Some(2_000))
    );

    assert_eq!(
        store.redeem_qr_login(id, &[0; 32], 3_000).await.unwrap(),
        None,
        "wrong secret"
    );
    assert_eq!(
        store.redeem_qr_login(id, &secret, 3_000).await.unwrap(),
        Some(user)
    );
    assert_eq!(
        store.redeem_qr_login(id, &secret, 3_001).await.unwrap(),
        None,
        "redeems once"
    );
    let row = store.get_qr_login(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.redeemed_ms),
        (qr_state::REDEEMED, Some(3_000))
    );
}
both_backends!(
    qr_login_approve_then_redeem_once_on_both,
    qr_login_approve_then_redeem_once
);

async fn qr_login_expiry_denial_and_pruning(store: &Store) {
    let user = account(store, "qr-expiry@example.com").await;
    let expired = store.insert_qr_login(&qr(1, "EXP")).await.unwrap();
    assert!(
        !store
            .approve_qr_login(expired, user, None, 121_000)
            .await
            .unwrap(),
        "expired"
    );
    let denied = store.insert_qr_login(&qr(2, "DEN")).await.unwrap();
    assert!(store.deny_qr_login(denied, 5_000).await.unwrap());
    assert!(!store.deny_qr_login(denied, 5_001).await.unwrap());
    assert!(
        !store
            .approve_qr_login(denied, user, None, 5_002)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .redeem_qr_login(denied, &[2 ^ 0xff; 32], 5_003)
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_qr_login(denied).await.unwrap().unwrap().state,
        qr_state::DENIED
    );
    let fresh = store.insert_qr_login(&qr(3, "FK")).await.unwrap();
    let error = store
        .approve_qr_login(fresh, user + 1_000, None, 2_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    assert_eq!(
        store.get_qr_login(fresh).await.unwrap().unwrap().state,
        qr_state::PENDING
    );

    let mut later = qr(4, "LATER");
    later.expires_ms = 500_000;
    let kept = store.insert_qr_login(&later).await.unwrap();
    assert_eq!(store.prune_qr_logins(121_000).await.unwrap(), 0);
    assert_eq!(store.prune_qr_logins(121_001).await.unwrap(), 3);
    assert_eq!(store.get_qr_login(expired).await.unwrap(), None);
    assert!(store.get_qr_login(kept).await.unwrap().is_some());
    // A pruned short code can be issued again.
    store.insert_qr_login(&qr(5, "EXP")).await.unwrap();
}
both_backends!(
    qr_login_expiry_denial_and_pruning_on_both,
    qr_login_expiry_denial_and_pruning
);

const HOURS_48_MS: i64 = 48 * 3_600_000;

async fn twofa_reset_open_and_review(store: &Store) {
    let user = account(store, "reset@example.com").await;
    let staff = account(store, "staff@example.com").await;
    let id = store
        .insert_twofa_reset(user, 1_000, 1_000 + HOURS_48_MS)
        .await
        .unwrap();
    let error = store
        .insert_twofa_reset(user, 2_000, 2_000 + HOURS_48_MS)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("twofa reset")),
        "{error:?}"
    );
    let error = store
        .insert_twofa_reset(user + 1_000, 1, 2)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    let open = store.find_open_twofa_reset(user).await.unwrap().unwrap();
    assert_eq!(
        (open.id, open.state.as_str()),
        (id, twofa_reset_state::PENDING_REVIEW)
    );
    let queue = store
        .list_twofa_resets(twofa_reset_state::PENDING_REVIEW, 10)
        .await
        .unwrap();
    assert_eq!(queue.iter().map(|row| row.id).collect::<Vec<_>>(), [id]);

    // The requester may not review their own request: the database refuses it.
    let error = store
        .decide_twofa_reset(id, user, true, None, 3_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert!(
        store
            .decide_twofa_reset(id, staff, true, Some("proofs ok"), 3_000)
            .await
            .unwrap()
    );
    assert!(
        !store
            .decide_twofa_reset(id, staff, false, None, 3_001)
            .await
            .unwrap(),
        "decided once"
    );
    let row = store.get_twofa_reset(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.reviewer_id, row.decided_ms),
        (twofa_reset_state::APPROVED, Some(staff), Some(3_000))
    );
    assert_eq!(row.reason.as_deref(), Some("proofs ok"));
}
both_backends!(
    twofa_reset_open_and_review_on_both,
    twofa_reset_open_and_review
);

async fn twofa_reset_applies_after_delay(store: &Store) {
    let user = account(store, "reset-apply@example.com").await;
    let staff = account(store, "staff-apply@example.com").await;
    store.begin_totp_enrollment(user, &[1], 1).await.unwrap();
    store.enable_totp(user, 5, 1).await.unwrap();
    store
        .replace_recovery_codes(user, &["a".to_owned(), "b".to_owned()], 1)
        .await
        .unwrap();
    let id = store
        .insert_twofa_reset(user, 1_000, 1_000 + HOURS_48_MS)
        .await
        .unwrap();
    assert_eq!(
        store
            .apply_twofa_reset(id, 1_000 + HOURS_48_MS)
            .await
            .unwrap(),
        None,
        "not approved"
    );
    assert!(
        store
            .decide_twofa_reset(id, staff, true, None, 3_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .apply_twofa_reset(id, 999 + HOURS_48_MS)
            .await
            .unwrap(),
        None,
        "delay not over"
    );
    assert!(store.get_totp(user).await.unwrap().is_some());
    assert_eq!(
        store
            .apply_twofa_reset(id, 1_000 + HOURS_48_MS)
            .await
            .unwrap(),
        Some(user)
    );
    assert_eq!(
        store
            .apply_twofa_reset(id, 2_000 + HOURS_48_MS)
            .await
            .unwrap(),
        None,
        "applies once"
    );
    assert_eq!(store.get_totp(user).await.unwrap(), None);
    assert!(store.list_recovery_codes(user).await.unwrap().is_empty());
    assert_eq!(
        store.get_twofa_reset(id).await.unwrap().unwrap().state,
        twofa_reset_state::APPLIED
    );
    assert_eq!(store.find_open_twofa_reset(user).await.unwrap(), None);
    // Once closed, a new request may be opened.
    store
        .insert_twofa_reset(user, 5_000, 5_000 + HOURS_48_MS)
        .await
        .unwrap();
}
both_backends!(
    twofa_reset_applies_after_delay_on_both,
    twofa_reset_applies_after_delay
);

async fn twofa_reset_cancel_and_reject(store: &Store) {
    let user = account(store, "cancel@example.com").await;
    let other = account(store, "cancel-other@example.com").await;
    let staff = account(store, "cancel-staff@example.com").await;
    let id = store.insert_twofa_reset(user, 1_000, 2_000).await.unwrap();
    assert!(
        !store.cancel_twofa_reset(other, id, 1_500).await.unwrap(),
        "not theirs"
    );
    assert!(
        store
            .decide_twofa_reset(id, staff, true, None, 1_200)
            .await
            .unwrap()
    );
    assert!(
        store.cancel_twofa_reset(user, id, 1_500).await.unwrap(),
        "approved is still open"
    );
    assert!(!store.cancel_twofa_reset(user, id, 1_600).await.unwrap());
    assert_eq!(
        store.apply_twofa_reset(id, 3_000).await.unwrap(),
        None,
        "cancelled"
    );
    let row = store.get_twofa_reset(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.decided_ms),
        (twofa_reset_state::CANCELLED, Some(1_500))
    );

    let id = store.insert_twofa_reset(user, 4_000, 5_000).await.unwrap();
    assert!(
        store
            .decide_twofa_reset(id, staff, false, Some("no proof"), 4_500)
            .await
            .unwrap()
    );
    assert!(!store.cancel_twofa_reset(user, id, 4_600).await.unwrap());
    assert_eq!(store.apply_twofa_reset(id, 6_000).await.unwrap(), None);
    let rejected = store
        .list_twofa_resets(twofa_reset_state::REJECTED, 10)
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].reason.as_deref(), Some("no proof"));
    // A direct write bypassing the repository is refused by the CHECK as well.
    let direct = sqlx::query("UPDATE twofa_reset_requests SET reviewer_id = user_id WHERE id = $1")
        .bind(id)
        .execute(&store.pool)
        .await;
    assert!(direct.is_err());
}
both_backends!(
    twofa_reset_cancel_and_reject_on_both,
    twofa_reset_cancel_and_reject
);

fn application(user_id: i64, tier: i64) -> NewKycApplication {
    NewKycApplication {
        user_id,
        tier_requested: tier,
        submitted_ms: 1_000,
        fields_ciphertext: vec![9, 8, 7, 0, 255],
    }
}

fn document(kind: &str, bytes: &[u8]) -> NewKycDocument {
    NewKycDocument {
        kind: kind.to_owned(),
        content_type: "image/jpeg".to_owned(),
        ciphertext: bytes.to_vec(),
        size_bytes: i64::try_from(bytes.len()).unwrap(),
    }
}

/// Submits a pending application without documents.
async fn submit(store: &Store, user_id: i64, tier: i64) -> i64 {
    store
        .submit_kyc_application(&application(user_id, tier), &[])
        .await
        .unwrap()
}

/// A staff decision without a reason; whether it took effect.
async fn decide(store: &Store, id: i64, reviewer_id: i64, state: &str, now_ms: i64) -> bool {
    store
        .decide_kyc_application(id, reviewer_id, state, None, now_ms)
        .await
        .unwrap()
}

async fn kyc_submit_and_read(store: &Store) {
    let user = account(store, "kyc@example.com").await;
    let documents = [
        document("id_front", &[1, 2, 3]),
        document("selfie", &[0; 64]),
    ];
    let id = store
        .submit_kyc_application(&application(user, 1), &documents)
        .await
        .unwrap();
    let error = store
        .submit_kyc_application(&application(user, 2), &[])
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("kyc application")),
        "{error:?}"
    );
    let row = store.get_kyc_application(id).await.unwrap().unwrap();
    assert_eq!(
        (row.user_id, row.tier_requested, row.state.as_str()),
        (user, 1, kyc_state::PENDING)
    );
    assert_eq!(row.fields_ciphertext, [9, 8, 7, 0, 255]);
    let stored = store.list_kyc_documents(id).await.unwrap();
    let kinds: Vec<(&str, i64)> = stored
        .iter()
        .map(|row| (row.kind.as_str(), row.size_bytes))
        .collect();
    assert_eq!(kinds, [("id_front", 3), ("selfie", 64)]);
    assert_eq!(stored[0].ciphertext, [1, 2, 3]);
    assert_eq!(stored[0].content_type, "image/jpeg");
    let queue = store
        .list_kyc_applications(kyc_state::PENDING, 10)
        .await
        .unwrap();
    assert_eq!(queue.iter().map(|row| row.id).collect::<Vec<_>>(), [id]);
}
both_backends!(kyc_submit_and_read_on_both, kyc_submit_and_read);

async fn kyc_review_once_never_by_applicant(store: &Store) {
    let user = account(store, "kyc-review@example.com").await;
    let reviewer = account(store, "kyc-staff@example.com").await;
    let id = submit(store, user, 1).await;
    let error = store
        .decide_kyc_application(id, user, kyc_state::APPROVED, None, 2_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store
        .decide_kyc_application(id, reviewer, kyc_state::PENDING, None, 2_000)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert_eq!(store.get_account(user).await.unwrap().unwrap().kyc_tier, 0);

    assert!(decide(store, id, reviewer, kyc_state::APPROVED, 3_000).await);
    assert!(
        !decide(store, id, reviewer, kyc_state::REJECTED, 3_001).await,
        "decided once"
    );
    assert_eq!(store.get_account(user).await.unwrap().unwrap().kyc_tier, 1);
    let row = store.get_kyc_application(id).await.unwrap().unwrap();
    assert_eq!(
        (row.state.as_str(), row.reviewer_id, row.decided_ms),
        (kyc_state::APPROVED, Some(reviewer), Some(3_000))
    );
}
both_backends!(
    kyc_review_once_never_by_applicant_on_both,
    kyc_review_once_never_by_applicant
);

async fn kyc_tier_only_rises_on_approval(store: &Store) {
    let user = account(store, "kyc-tier@example.com").await;
    let reviewer = account(store, "kyc-tier-staff@example.com").await;
    let first = submit(store, user, 2).await;
    assert!(
        store
            .decide_kyc_application(first, reviewer, kyc_state::RESUBMIT, Some("blurry"), 4_000)
            .await
            .unwrap()
    );
    assert_eq!(store.get_account(user).await.unwrap().unwrap().kyc_tier, 0);
    let second = submit(store, user, 2).await;
    assert!(decide(store, second, reviewer, kyc_state::APPROVED, 5_000).await);
    assert_eq!(store.get_account(user).await.unwrap().unwrap().kyc_tier, 2);
    let third = submit(store, user, 1).await;
    assert!(decide(store, third, reviewer, kyc_state::APPROVED, 6_000).await);
    assert_eq!(
        store.get_account(user).await.unwrap().unwrap().kyc_tier,
        2,
        "never lowered"
    );
    let mine: Vec<i64> = store
        .list_user_kyc_applications(user)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(mine, [third, second, first], "newest first");
    let resubmit = store
        .list_kyc_applications(kyc_state::RESUBMIT, 10)
        .await
        .unwrap();
    assert_eq!(resubmit[0].reason.as_deref(), Some("blurry"));
}
both_backends!(
    kyc_tier_only_rises_on_approval_on_both,
    kyc_tier_only_rises_on_approval
);

async fn kyc_rejects_bad_rows_atomically(store: &Store) {
    let user = account(store, "kyc-bad@example.com").await;
    let error = store
        .submit_kyc_application(&application(user, 3), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store
        .submit_kyc_application(&application(user + 1_000, 1), &[])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    let mut negative = document("id_front", &[1]);
    negative.size_bytes = -1;
    let error = store
        .submit_kyc_application(&application(user, 1), &[document("ok", &[1]), negative])
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    // The failed document rolled the whole application back.
    assert!(
        store
            .list_user_kyc_applications(user)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .submit_kyc_application(&application(user, 1), &[])
        .await
        .unwrap();
    let direct = sqlx::query("UPDATE kyc_applications SET reviewer_id = user_id")
        .execute(&store.pool)
        .await;
    assert!(direct.is_err(), "the CHECK refuses self-review");
}
both_backends!(
    kyc_rejects_bad_rows_atomically_on_both,
    kyc_rejects_bad_rows_atomically
);
