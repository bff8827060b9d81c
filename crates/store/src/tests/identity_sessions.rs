//! Sessions, devices, login activity and security events. Method: insert, read back, then check
//! each conditional update twice ("the second call does nothing") and that every operation by
//! id is confined to the owner's rows.

use super::both_backends;
use super::identity_accounts::account;
use crate::{NewDevice, NewLoginActivity, NewSecurityEvent, NewSession, Store, StoreError};

fn new_session(user_id: i64, token: u8, device_id: Option<i64>) -> NewSession {
    NewSession {
        user_id,
        token_hash: vec![token; 32],
        device_id,
        created_ms: 1_000,
        authenticated_ms: Some(1_000),
        ip: "192.0.2.1".to_owned(),
        country: Some("NL".to_owned()),
        user_agent: "Firefox".to_owned(),
        second_factor: Some("totp".to_owned()),
    }
}

fn new_device(user_id: i64, cookie: u8) -> NewDevice {
    NewDevice {
        user_id,
        cookie_hash: vec![cookie; 32],
        seen_ms: 1_000,
        ip: "192.0.2.1".to_owned(),
        country: None,
        user_agent: "Firefox".to_owned(),
        confirmed_ms: None,
    }
}

async fn sessions_round_trip(store: &Store) {
    let user = account(store, "sessions@example.com").await;
    let id = store
        .insert_session(&new_session(user, 1, None))
        .await
        .unwrap();
    let row = store
        .find_session_by_token_hash(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.id, row.user_id, row.device_id), (id, user, None));
    assert_eq!((row.created_ms, row.last_seen_ms), (1_000, 1_000));
    assert_eq!(row.authenticated_ms, Some(1_000));
    assert_eq!(row.country.as_deref(), Some("NL"));
    assert_eq!(row.revoked_ms, None);
    assert_eq!(
        store.find_session_by_token_hash(&[9; 32]).await.unwrap(),
        None
    );

    let error = store
        .insert_session(&new_session(user, 1, None))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("session token")),
        "{error:?}"
    );
    let error = store
        .insert_session(&new_session(user + 1_000, 2, None))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error:?}");
    let error = store
        .insert_session(&new_session(user, 3, Some(4_242)))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound(_)), "{error:?}");

    // last_seen only moves forward.
    assert!(store.touch_session(id, 2_000).await.unwrap());
    assert!(store.touch_session(id, 1_500).await.unwrap());
    let row = store.get_session(user, id).await.unwrap().unwrap();
    assert_eq!(row.last_seen_ms, 2_000);
}
both_backends!(sessions_round_trip_on_both, sessions_round_trip);

async fn session_authentication_rotates_token(store: &Store) {
    let user = account(store, "auth@example.com").await;
    let other = account(store, "auth-other@example.com").await;
    let mut pending = new_session(user, 1, None);
    pending.authenticated_ms = None;
    let id = store.insert_session(&pending).await.unwrap();
    store
        .insert_session(&new_session(other, 7, None))
        .await
        .unwrap();
    assert!(
        store
            .set_session_authenticated(id, &[2; 32], 3_000)
            .await
            .unwrap()
    );
    assert_eq!(
        store.find_session_by_token_hash(&[1; 32]).await.unwrap(),
        None
    );
    let row = store
        .find_session_by_token_hash(&[2; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.id, row.authenticated_ms, row.last_seen_ms),
        (id, Some(3_000), 3_000)
    );
    let error = store
        .set_session_authenticated(id, &[7; 32], 4_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("session token")),
        "{error:?}"
    );
    store.revoke_session(user, id, 5_000).await.unwrap();
    assert!(
        !store
            .set_session_authenticated(id, &[3; 32], 6_000)
            .await
            .unwrap()
    );
    assert!(!store.touch_session(id, 6_000).await.unwrap());
}
both_backends!(
    session_authentication_rotates_token_on_both,
    session_authentication_rotates_token
);

async fn session_revocation_is_owner_only(store: &Store) {
    let user = account(store, "owner@example.com").await;
    let other = account(store, "intruder@example.com").await;
    let id = store
        .insert_session(&new_session(user, 1, None))
        .await
        .unwrap();
    let error = store.revoke_session(other, id, 2_000).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("session")),
        "{error:?}"
    );
    assert_eq!(store.get_session(other, id).await.unwrap(), None);
    assert!(
        store
            .find_session_by_token_hash(&[1; 32])
            .await
            .unwrap()
            .is_some()
    );

    store.revoke_session(user, id, 2_000).await.unwrap();
    store.revoke_session(user, id, 3_000).await.unwrap();
    let row = store.get_session(user, id).await.unwrap().unwrap();
    assert_eq!(
        row.revoked_ms,
        Some(2_000),
        "second revoke keeps the first time"
    );
    assert_eq!(
        store.find_session_by_token_hash(&[1; 32]).await.unwrap(),
        None
    );
    let error = store
        .revoke_session(user, id + 1_000, 3_000)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("session")),
        "{error:?}"
    );
}
both_backends!(
    session_revocation_is_owner_only_on_both,
    session_revocation_is_owner_only
);

async fn revoke_all_sessions_keeps_current(store: &Store) {
    let user = account(store, "all@example.com").await;
    let other = account(store, "bystander@example.com").await;
    let mut ids = Vec::new();
    for token in 1..=3_u8 {
        ids.push(
            store
                .insert_session(&new_session(user, token, None))
                .await
                .unwrap(),
        );
    }
    let bystander = store
        .insert_session(&new_session(other, 9, None))
        .await
        .unwrap();
    let listed: Vec<i64> = store
        .list_sessions(user)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(listed, [ids[2], ids[1], ids[0]], "newest first");

    assert_eq!(
        store
            .revoke_all_sessions(user, Some(ids[1]), 5_000)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .revoke_all_sessions(user, Some(ids[1]), 6_000)
            .await
            .unwrap(),
        0
    );
    let listed: Vec<i64> = store
        .list_sessions(user)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(listed, [ids[1]]);
    assert_eq!(
        store.revoke_all_sessions(user, None, 7_000).await.unwrap(),
        1
    );
    assert!(store.list_sessions(user).await.unwrap().is_empty());
    // Earlier revocation times are kept.
    let first = store.get_session(user, ids[0]).await.unwrap().unwrap();
    assert_eq!(first.revoked_ms, Some(5_000));
    // Another user's session was never touched.
    let untouched = store.get_session(other, bystander).await.unwrap().unwrap();
    assert_eq!(untouched.revoked_ms, None);
}
both_backends!(
    revoke_all_sessions_keeps_current_on_both,
    revoke_all_sessions_keeps_current
);

async fn devices_round_trip(store: &Store) {
    let user = account(store, "devices@example.com").await;
    let other = account(store, "devices-other@example.com").await;
    let id = store.insert_device(&new_device(user, 1)).await.unwrap();
    let row = store.find_device(user, &[1; 32]).await.unwrap().unwrap();
    assert_eq!(
        (row.id, row.first_seen_ms, row.last_seen_ms),
        (id, 1_000, 1_000)
    );
    assert_eq!((row.confirmed_ms, row.revoked_ms), (None, None));
    // A cookie issued for one account does not vouch for another.
    assert_eq!(store.find_device(other, &[1; 32]).await.unwrap(), None);
    let error = store
        .insert_device(&new_device(other, 1))
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("device cookie")),
        "{error:?}"
    );
    let error = store
        .insert_device(&new_device(user + 1_000, 2))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");

    assert!(
        store
            .touch_device(id, 3_000, "198.51.100.7", Some("BE"))
            .await
            .unwrap()
    );
    assert!(
        store
            .touch_device(id, 2_000, "198.51.100.8", None)
            .await
            .unwrap()
    );
    let row = store.get_device(user, id).await.unwrap().unwrap();
    assert_eq!((row.first_seen_ms, row.last_seen_ms), (1_000, 3_000));
    assert_eq!((row.ip.as_str(), row.country), ("198.51.100.8", None));

    assert!(
        !store.confirm_device(other, id, 4_000).await.unwrap(),
        "not theirs"
    );
    assert!(store.confirm_device(user, id, 4_000).await.unwrap());
    assert!(
        !store.confirm_device(user, id, 5_000).await.unwrap(),
        "works once"
    );
    let row = store.get_device(user, id).await.unwrap().unwrap();
    assert_eq!(row.confirmed_ms, Some(4_000));

    let second = store.insert_device(&new_device(user, 2)).await.unwrap();
    store
        .touch_device(second, 9_000, "192.0.2.9", None)
        .await
        .unwrap();
    let listed: Vec<i64> = store
        .list_devices(user)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(listed, [second, id], "most recently seen first");
    assert_eq!(store.get_device(other, id).await.unwrap(), None);
}
both_backends!(devices_round_trip_on_both, devices_round_trip);

async fn device_revocation_ends_its_sessions(store: &Store) {
    let user = account(store, "revoke-device@example.com").await;
    let other = account(store, "revoke-device-other@example.com").await;
    let device = store.insert_device(&new_device(user, 1)).await.unwrap();
    let kept_device = store.insert_device(&new_device(user, 2)).await.unwrap();
    let on_device = store
        .insert_session(&new_session(user, 1, Some(device)))
        .await
        .unwrap();
    let elsewhere = store
        .insert_session(&new_session(user, 2, Some(kept_device)))
        .await
        .unwrap();

    let error = store.revoke_device(other, device, 5_000).await.unwrap_err();
    assert!(matches!(error, StoreError::NotFound("device")), "{error:?}");
    assert!(store.find_device(user, &[1; 32]).await.unwrap().is_some());
    assert!(
        store
            .find_session_by_token_hash(&[1; 32])
            .await
            .unwrap()
            .is_some()
    );

    assert_eq!(store.revoke_device(user, device, 5_000).await.unwrap(), 1);
    assert_eq!(store.revoke_device(user, device, 6_000).await.unwrap(), 0);
    assert_eq!(store.find_device(user, &[1; 32]).await.unwrap(), None);
    assert!(!store.confirm_device(user, device, 6_000).await.unwrap());
    assert!(
        !store
            .touch_device(device, 6_000, "192.0.2.1", None)
            .await
            .unwrap()
    );
    let revoked = store.get_device(user, device).await.unwrap().unwrap();
    assert_eq!(revoked.revoked_ms, Some(5_000));
    let ended = store.get_session(user, on_device).await.unwrap().unwrap();
    assert_eq!(ended.revoked_ms, Some(5_000));
    let live = store.get_session(user, elsewhere).await.unwrap().unwrap();
    assert_eq!(live.revoked_ms, None);
    let listed: Vec<i64> = store
        .list_devices(user)
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(listed, [kept_device]);
}
both_backends!(
    device_revocation_ends_its_sessions_on_both,
    device_revocation_ends_its_sessions
);

fn attempt(user_id: Option<i64>, at_ms: i64, result: &str) -> NewLoginActivity {
    NewLoginActivity {
        user_id,
        identifier_hash: user_id.is_none().then(|| vec![0xab; 32]),
        at_ms,
        ip: "203.0.113.5".to_owned(),
        country: Some("US".to_owned()),
        user_agent: "curl/8".to_owned(),
        method: "password".to_owned(),
        result: result.to_owned(),
        detail: None,
    }
}

async fn login_activity_pages_newest_first(store: &Store) {
    let user = account(store, "activity@example.com").await;
    let other = account(store, "activity-other@example.com").await;
    let mut ids = Vec::new();
    for index in 0..5_i64 {
        let result = if index % 2 == 0 { "failure" } else { "success" };
        ids.push(
            store
                .record_login_activity(&attempt(Some(user), 100 + index, result))
                .await
                .unwrap(),
        );
    }
    store
        .record_login_activity(&attempt(Some(other), 102, "success"))
        .await
        .unwrap();
    store
        .record_login_activity(&attempt(None, 103, "failure"))
        .await
        .unwrap();

    let page = store.list_login_activity(user, 0, None, 2).await.unwrap();
    let page_ids: Vec<i64> = page.iter().map(|row| row.id).collect();
    assert_eq!(page_ids, [ids[4], ids[3]]);
    assert_eq!(page[0].result, "failure");
    assert_eq!(page[0].country.as_deref(), Some("US"));
    assert_eq!(page[0].identifier_hash, None);
    let next = store
        .list_login_activity(user, 0, Some(ids[3]), 2)
        .await
        .unwrap();
    let next_ids: Vec<i64> = next.iter().map(|row| row.id).collect();
    assert_eq!(next_ids, [ids[2], ids[1]]);
    let last = store
        .list_login_activity(user, 0, Some(ids[1]), 10)
        .await
        .unwrap();
    assert_eq!(last.len(), 1);
    // since_ms bounds the window; other accounts' and unknown-account rows never appear.
    let recent = store
        .list_login_activity(user, 103, None, 10)
        .await
        .unwrap();
    let recent_ids: Vec<i64> = recent.iter().map(|row| row.id).collect();
    assert_eq!(recent_ids, [ids[4], ids[3]]);
    let all = store.list_login_activity(user, 0, None, 100).await.unwrap();
    assert!(all.iter().all(|row| row.user_id == Some(user)));
    assert_eq!(all.len(), 5);

    let mut nobody = attempt(None, 1, "failure");
    nobody.identifier_hash = None;
    let error = store.record_login_activity(&nobody).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store
        .record_login_activity(&attempt(Some(user + 1_000), 1, "failure"))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(
    login_activity_pages_newest_first_on_both,
    login_activity_pages_newest_first
);

async fn security_events_page_newest_first(store: &Store) {
    let user = account(store, "events@example.com").await;
    let other = account(store, "events-other@example.com").await;
    let mut ids = Vec::new();
    for (index, kind) in ["password_changed", "2fa_enabled", "anti_phishing_set"]
        .iter()
        .enumerate()
    {
        let event = NewSecurityEvent {
            user_id: user,
            at_ms: 100 + i64::try_from(index).unwrap(),
            kind: (*kind).to_owned(),
            ip: Some("192.0.2.1".to_owned()),
            detail: Some(format!("n={index}")),
        };
        ids.push(store.record_security_event(&event).await.unwrap());
    }
    let staff_event = NewSecurityEvent {
        user_id: other,
        at_ms: 100,
        kind: "frozen_by_staff".to_owned(),
        ip: None,
        detail: None,
    };
    store.record_security_event(&staff_event).await.unwrap();
    let page = store.list_security_events(user, 0, None, 2).await.unwrap();
    let kinds: Vec<&str> = page.iter().map(|row| row.kind.as_str()).collect();
    assert_eq!(kinds, ["anti_phishing_set", "2fa_enabled"]);
    assert_eq!(page[0].detail.as_deref(), Some("n=2"));
    let rest = store
        .list_security_events(user, 0, Some(page[1].id), 10)
        .await
        .unwrap();
    assert_eq!(rest.iter().map(|row| row.id).collect::<Vec<_>>(), [ids[0]]);
    assert_eq!(
        store
            .list_security_events(user, 102, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let theirs = store
        .list_security_events(other, 0, None, 10)
        .await
        .unwrap();
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].ip, None);
    let error = store
        .record_security_event(&NewSecurityEvent {
            user_id: user + 1_000,
            ..staff_event
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(
    security_events_page_newest_first_on_both,
    security_events_page_newest_first
);
