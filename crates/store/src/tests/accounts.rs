//! Users, API keys and the audit log. Method: insert through the repository, read back through
//! every lookup, and provoke each constraint the caller relies on.

use super::both_backends;
use crate::{NewApiKey, Store, StoreError, UserRow};

async fn users_round_trip(store: &Store) {
    let alice = store.create_user("alice@example.com", 10).await.unwrap();
    let bob = store.create_user("bob@example.com", 20).await.unwrap();
    assert_ne!(alice, bob);
    let expected = UserRow {
        id: alice,
        email: Some("alice@example.com".to_owned()),
        created_ms: 10,
    };
    assert_eq!(store.get_user(alice).await.unwrap(), Some(expected.clone()));
    assert_eq!(
        store.find_user_by_email("alice@example.com").await.unwrap(),
        Some(expected)
    );
    assert_eq!(store.get_user(bob + 1_000).await.unwrap(), None);
    assert_eq!(
        store
            .find_user_by_email("nobody@example.com")
            .await
            .unwrap(),
        None
    );
}
both_backends!(users_round_trip_on_both, users_round_trip);

async fn duplicate_email_conflicts(store: &Store) {
    store.create_user("carol@example.com", 1).await.unwrap();
    let error = store.create_user("carol@example.com", 2).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");
    // The failed insert left nothing behind and the table still accepts other emails.
    store.create_user("dave@example.com", 3).await.unwrap();
}
both_backends!(duplicate_email_conflicts_on_both, duplicate_email_conflicts);

fn new_key(user_id: i64, access_key: &str, created_ms: i64) -> NewApiKey {
    NewApiKey {
        user_id,
        access_key: access_key.to_owned(),
        secret_ciphertext: vec![0, 1, 2, 255, 0, 128],
        memo: "bot".to_owned(),
        scopes: "read,trade".to_owned(),
        ip_allowlist: String::new(),
        created_ms,
    }
}

async fn api_keys_round_trip(store: &Store) {
    let user = store.create_user("keys@example.com", 1).await.unwrap();
    let other = store.create_user("other@example.com", 1).await.unwrap();
    let first = store
        .insert_api_key(&new_key(user, "ak-1", 100))
        .await
        .unwrap();
    let mut second_key = new_key(user, "ak-2", 200);
    second_key.ip_allowlist = "10.0.0.0/8,192.168.1.1/32".to_owned();
    let second = store.insert_api_key(&second_key).await.unwrap();
    store
        .insert_api_key(&new_key(other, "ak-3", 300))
        .await
        .unwrap();

    let found = store.find_api_key("ak-2").await.unwrap().unwrap();
    assert_eq!(found.id, second);
    assert_eq!(found.user_id, user);
    assert_eq!(found.secret_ciphertext, vec![0, 1, 2, 255, 0, 128]);
    assert_eq!(found.ip_allowlist, "10.0.0.0/8,192.168.1.1/32");
    assert_eq!(found.scopes, "read,trade");
    assert_eq!(found.revoked, 0);
    assert_eq!(store.find_api_key("missing").await.unwrap(), None);

    let listed = store.list_api_keys(user).await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|key| key.id).collect();
    assert_eq!(ids, [first, second]);
}
both_backends!(api_keys_round_trip_on_both, api_keys_round_trip);

async fn api_key_constraints(store: &Store) {
    let user = store
        .create_user("constraints@example.com", 1)
        .await
        .unwrap();
    store
        .insert_api_key(&new_key(user, "dup", 1))
        .await
        .unwrap();
    let error = store
        .insert_api_key(&new_key(user, "dup", 2))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("access key")),
        "{error:?}"
    );
    let error = store
        .insert_api_key(&new_key(user + 999, "orphan", 3))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(api_key_constraints_on_both, api_key_constraints);

async fn api_key_revocation(store: &Store) {
    let user = store.create_user("revoke@example.com", 1).await.unwrap();
    let other = store.create_user("stranger@example.com", 1).await.unwrap();
    let id = store
        .insert_api_key(&new_key(user, "ak-revoke", 1))
        .await
        .unwrap();
    // Someone else's key id is not theirs to revoke.
    let error = store.revoke_api_key(other, id).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("api key")),
        "{error:?}"
    );
    assert_eq!(
        store
            .find_api_key("ak-revoke")
            .await
            .unwrap()
            .unwrap()
            .revoked,
        0
    );
    store.revoke_api_key(user, id).await.unwrap();
    assert_eq!(
        store
            .find_api_key("ak-revoke")
            .await
            .unwrap()
            .unwrap()
            .revoked,
        1
    );
    // Revoking twice is harmless.
    store.revoke_api_key(user, id).await.unwrap();
}
both_backends!(api_key_revocation_on_both, api_key_revocation);

/// Keys and KYC profiles are served from memory after the first read; every write through the
/// store must show on the next read.
async fn cached_rows_follow_their_writes(store: &Store) {
    let user = store.create_user("cached@example.com", 1).await.unwrap();
    let id = store
        .insert_api_key(&new_key(user, "ak-cached", 1))
        .await
        .unwrap();
    let find = || async { store.find_api_key("ak-cached").await.unwrap().unwrap() };
    let key = find().await;
    assert_eq!(key.last_used_ms, 0);
    assert!(store.touch_api_key(&key, 5_000, 1_000).await.unwrap());
    let key = find().await;
    assert_eq!(key.last_used_ms, 5_000);
    // A stale row (another request already recorded a later use) is read again.
    let mut stale = key.clone();
    stale.last_used_ms = 0;
    assert!(!store.touch_api_key(&stale, 5_500, 1_000).await.unwrap());
    assert_eq!(find().await.last_used_ms, 5_000);
    store.set_api_key_ips(user, id, "10.0.0.0/8").await.unwrap();
    assert_eq!(find().await.ip_allowlist, "10.0.0.0/8");

    assert_eq!(store.kyc_profile(user).await.unwrap().unwrap().kyc_tier, 0);
    store.set_kyc_tier(user, 2).await.unwrap();
    assert_eq!(store.kyc_profile(user).await.unwrap().unwrap().kyc_tier, 2);
    store.set_residence_country(user, Some("DE")).await.unwrap();
    assert_eq!(
        store
            .kyc_profile(user)
            .await
            .unwrap()
            .unwrap()
            .residence_country
            .as_deref(),
        Some("DE")
    );
    // A refused write leaves the cached profile as the database has it.
    assert!(store.set_kyc_tier(user, 7).await.is_err());
    assert_eq!(store.kyc_profile(user).await.unwrap().unwrap().kyc_tier, 2);
}
both_backends!(
    cached_rows_follow_their_writes_on_both,
    cached_rows_follow_their_writes
);

async fn audit_log_appends_and_lists_newest_first(store: &Store) {
    assert!(store.list_audit(10).await.unwrap().is_empty());
    let mut ids = Vec::new();
    for index in 0..5_i64 {
        let params = format!("{{\"n\":{index}}}");
        ids.push(
            store
                .append_audit("admin", "halt", &params, 100 + index)
                .await
                .unwrap(),
        );
    }
    let listed = store.list_audit(3).await.unwrap();
    let listed_ids: Vec<i64> = listed.iter().map(|row| row.id).collect();
    assert_eq!(listed_ids, [ids[4], ids[3], ids[2]]);
    assert_eq!(listed[0].params_json, "{\"n\":4}");
    assert_eq!(listed[0].at_ms, 104);
    assert_eq!(listed[0].actor, "admin");
    assert_eq!(listed[0].action, "halt");
    assert_eq!(store.list_audit(0).await.unwrap().len(), 0);
}
both_backends!(
    audit_log_lists_on_both,
    audit_log_appends_and_lists_newest_first
);

async fn audit_log_refuses_edits(store: &Store) {
    store
        .append_audit("admin", "freeze", "{}", 1)
        .await
        .unwrap();
    let update = sqlx::query("UPDATE audit_log SET actor = 'mallory'")
        .execute(&store.pool)
        .await;
    assert!(update.is_err());
    let delete = sqlx::query("DELETE FROM audit_log")
        .execute(&store.pool)
        .await;
    assert!(delete.is_err());
    assert_eq!(store.list_audit(10).await.unwrap()[0].actor, "admin");
}
both_backends!(audit_log_refuses_edits_on_both, audit_log_refuses_edits);
