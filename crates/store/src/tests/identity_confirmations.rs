//! Email/SMS second factors and logins waiting for confirmation. Method: every enabling,
//! confirming or redeeming call is made twice (and after expiry), and only the first may act.

use super::both_backends;
use super::identity_accounts::account;
use crate::{NewDevice, NewLoginActivity, NewLoginConfirmation, Store, StoreError, factor_method};

async fn second_factors(store: &Store) {
    let user = account(store, "factors@example.com").await;
    assert!(store.list_second_factors(user).await.unwrap().is_empty());
    store
        .enable_second_factor(user, factor_method::SMS, 1_000)
        .await
        .unwrap();
    store
        .enable_second_factor(user, factor_method::EMAIL, 2_000)
        .await
        .unwrap();
    // Enabling twice keeps one row.
    store
        .enable_second_factor(user, factor_method::EMAIL, 3_000)
        .await
        .unwrap();
    assert_eq!(
        store.list_second_factors(user).await.unwrap(),
        vec!["email".to_string(), "sms".to_string()]
    );
    let error = store
        .enable_second_factor(user, "pigeon", 1)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store
        .enable_second_factor(user + 1_000, factor_method::EMAIL, 1)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    assert!(store.disable_second_factor(user, "sms").await.unwrap());
    assert!(!store.disable_second_factor(user, "sms").await.unwrap());
    assert_eq!(
        store.list_second_factors(user).await.unwrap(),
        vec!["email".to_string()]
    );
}

both_backends!(second_factors_on_both, second_factors);

async fn waiting(store: &Store, user: i64, tag: u8) -> i64 {
    let device = store
        .insert_device(&NewDevice {
            user_id: user,
            cookie_hash: vec![tag; 32],
            seen_ms: 1_000,
            ip: "192.0.2.7".to_owned(),
            country: Some("FR".to_owned()),
            user_agent: "Firefox".to_owned(),
            confirmed_ms: None,
        })
        .await
        .unwrap();
    store
        .insert_login_confirmation(&NewLoginConfirmation {
            user_id: user,
            wait_hash: vec![tag; 32],
            link_hash: vec![tag.wrapping_add(100); 32],
            device_id: device,
            reason: "new_device".to_owned(),
            method: "password".to_owned(),
            created_ms: 1_000,
            expires_ms: 601_000,
            ip: "192.0.2.7".to_owned(),
            country: Some("FR".to_owned()),
            user_agent: "Firefox".to_owned(),
        })
        .await
        .unwrap()
}

async fn login_confirmations(store: &Store) {
    let user = account(store, "waiting@example.com").await;
    let id = waiting(store, user, 1).await;
    let row = store
        .find_login_confirmation(&[1; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.id, row.user_id, row.confirmed_ms), (id, user, None));
    let by_link = store
        .find_login_confirmation_by_link(&[101; 32])
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_link.id, id);
    assert!(
        store
            .find_login_confirmation(&[9; 32])
            .await
            .unwrap()
            .is_none()
    );

    // Not redeemable before it is confirmed; confirmed once; redeemed once.
    assert!(!store.redeem_login_confirmation(id, 2_000).await.unwrap());
    assert!(store.confirm_login(id, 2_000).await.unwrap());
    assert!(!store.confirm_login(id, 2_500).await.unwrap());
    assert!(store.redeem_login_confirmation(id, 3_000).await.unwrap());
    assert!(!store.redeem_login_confirmation(id, 3_000).await.unwrap());

    // An expired one can be neither confirmed nor redeemed.
    let late = waiting(store, user, 2).await;
    assert!(!store.confirm_login(late, 601_000).await.unwrap());
    let late2 = waiting(store, user, 3).await;
    assert!(store.confirm_login(late2, 600_000).await.unwrap());
    assert!(
        !store
            .redeem_login_confirmation(late2, 601_000)
            .await
            .unwrap()
    );

    // A reused wait token is refused; an unknown reason is invalid.
    let device = row.device_id;
    let duplicate = NewLoginConfirmation {
        user_id: user,
        wait_hash: vec![1; 32],
        link_hash: vec![77; 32],
        device_id: device,
        reason: "new_device".to_owned(),
        method: "totp".to_owned(),
        created_ms: 1,
        expires_ms: 2,
        ip: "192.0.2.7".to_owned(),
        country: None,
        user_agent: "x".to_owned(),
    };
    let error = store
        .insert_login_confirmation(&duplicate)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let odd = NewLoginConfirmation {
        wait_hash: vec![78; 32],
        reason: "whim".to_owned(),
        ..duplicate
    };
    let error = store.insert_login_confirmation(&odd).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
}

both_backends!(login_confirmations_on_both, login_confirmations);

async fn login_countries(store: &Store) {
    let user = account(store, "countries@example.com").await;
    let other = account(store, "other-countries@example.com").await;
    for (user_id, country, result) in [
        (user, Some("DE"), "success"),
        (user, Some("DE"), "success"),
        (user, Some("FR"), "wrong_password"),
        (user, None, "success"),
        (user, Some("AT"), "success"),
        (other, Some("US"), "success"),
    ] {
        store
            .record_login_activity(&NewLoginActivity {
                user_id: Some(user_id),
                identifier_hash: None,
                at_ms: 1_000,
                ip: "192.0.2.1".to_owned(),
                country: country.map(str::to_owned),
                user_agent: "x".to_owned(),
                method: "password".to_owned(),
                result: result.to_owned(),
                detail: None,
            })
            .await
            .unwrap();
    }
    assert_eq!(
        store.login_countries(user).await.unwrap(),
        vec!["AT".to_string(), "DE".to_string()]
    );
}

both_backends!(login_countries_on_both, login_countries);
