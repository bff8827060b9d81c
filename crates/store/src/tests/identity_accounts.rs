//! Accounts (the extended users table) and agreement versions. Method: create through the
//! repository, read back through every lookup, provoke each constraint (unique email and phone,
//! contact CHECK, status and tier CHECKs, agreement foreign key) and check that every targeted
//! update changes only its columns and reports unknown users.

use super::both_backends;
use crate::{NewAccount, Store, StoreError, account_status};

pub(crate) fn new_account(email: Option<&str>, phone: Option<&str>) -> NewAccount {
    NewAccount {
        email: email.map(str::to_owned),
        phone: phone.map(str::to_owned),
        display_name: Some("Alice".to_owned()),
        password_phc: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".to_owned()),
        status: account_status::UNVERIFIED.to_owned(),
        agreement_version: None,
        residence_country: Some("DE".to_owned()),
        created_ms: 1_000,
    }
}

/// A verified-looking account with an email only; returns its id.
pub(crate) async fn account(store: &Store, email: &str) -> i64 {
    store
        .create_account(&new_account(Some(email), None))
        .await
        .unwrap()
}

async fn accounts_round_trip(store: &Store) {
    store
        .publish_agreement_version("v1", 10, true)
        .await
        .unwrap();
    let mut with_both = new_account(Some("both@example.com"), Some("+4915112345678"));
    with_both.agreement_version = Some("v1".to_owned());
    let both = store.create_account(&with_both).await.unwrap();
    let phone_only = store
        .create_account(&new_account(None, Some("+14155550100")))
        .await
        .unwrap();

    let row = store.get_account(both).await.unwrap().unwrap();
    assert_eq!(row.email.as_deref(), Some("both@example.com"));
    assert_eq!(row.phone.as_deref(), Some("+4915112345678"));
    assert_eq!(row.display_name.as_deref(), Some("Alice"));
    assert!(row.password_phc.unwrap().starts_with("$argon2id$"));
    assert_eq!(row.status, account_status::UNVERIFIED);
    assert_eq!(row.agreement_version.as_deref(), Some("v1"));
    assert_eq!(row.agreement_accepted_ms, Some(1_000));
    assert_eq!(row.residence_country.as_deref(), Some("DE"));
    assert_eq!(row.created_ms, 1_000);
    assert_eq!((row.email_verified_ms, row.phone_verified_ms), (None, None));
    assert_eq!(row.anti_phishing_code, None);
    assert_eq!((row.kyc_tier, row.withdraw_locked_until_ms), (0, 0));
    assert_eq!((row.is_staff, row.staff_roles.as_str()), (0, ""));

    let by_email = store
        .find_account_by_email("both@example.com")
        .await
        .unwrap();
    assert_eq!(by_email.map(|row| row.id), Some(both));
    let by_phone = store.find_account_by_phone("+14155550100").await.unwrap();
    assert_eq!(by_phone.as_ref().map(|row| row.id), Some(phone_only));
    assert_eq!(by_phone.unwrap().email, None);
    // The short view still works for a phone-only account.
    let short = store.get_user(phone_only).await.unwrap().unwrap();
    assert_eq!((short.id, short.email), (phone_only, None));
    assert_eq!(
        store.find_account_by_phone("+10000000000").await.unwrap(),
        None
    );
    assert_eq!(store.get_account(phone_only + 100).await.unwrap(), None);
    // Legacy admin-created users are active, email-only accounts.
    let legacy = store.create_user("bot@example.com", 5).await.unwrap();
    let legacy_row = store.get_account(legacy).await.unwrap().unwrap();
    assert_eq!(legacy_row.status, account_status::ACTIVE);
    assert_eq!(legacy_row.password_phc, None);
}
both_backends!(accounts_round_trip_on_both, accounts_round_trip);

async fn account_constraints(store: &Store) {
    account(store, "taken@example.com").await;
    store
        .create_account(&new_account(None, Some("+15550001111")))
        .await
        .unwrap();
    let error = store
        .create_account(&new_account(
            Some("taken@example.com"),
            Some("+15550002222"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");
    let error = store
        .create_account(&new_account(
            Some("fresh@example.com"),
            Some("+15550001111"),
        ))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("phone")), "{error:?}");
    // create_user reports the email conflict against accounts made by create_account too.
    let error = store.create_user("taken@example.com", 1).await.unwrap_err();
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");

    let error = store
        .create_account(&new_account(None, None))
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let mut bad_status = new_account(Some("status@example.com"), None);
    bad_status.status = "superuser".to_owned();
    let error = store.create_account(&bad_status).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let mut unpublished = new_account(Some("terms@example.com"), None);
    unpublished.agreement_version = Some("v9".to_owned());
    let error = store.create_account(&unpublished).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("agreement version")),
        "{error:?}"
    );
    // None of the refused inserts left a row behind.
    for email in [
        "fresh@example.com",
        "status@example.com",
        "terms@example.com",
    ] {
        assert_eq!(store.find_account_by_email(email).await.unwrap(), None);
    }
}
both_backends!(account_constraints_on_both, account_constraints);

async fn targeted_updates(store: &Store) {
    let id = account(store, "update@example.com").await;

    store.set_password(id, "$argon2id$new").await.unwrap();
    store.mark_email_verified(id, 50).await.unwrap();
    store.mark_email_verified(id, 60).await.unwrap();
    store.mark_phone_verified(id, 70).await.unwrap();
    store
        .set_anti_phishing(id, Some("blue-heron"))
        .await
        .unwrap();
    store.set_kyc_tier(id, 2).await.unwrap();
    store.set_residence_country(id, Some("FR")).await.unwrap();
    store
        .set_staff_roles(id, true, "support,admin")
        .await
        .unwrap();
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.password_phc.as_deref(), Some("$argon2id$new"));
    assert_eq!(
        row.email_verified_ms,
        Some(50),
        "second call keeps the first time"
    );
    assert_eq!(row.phone_verified_ms, Some(70));
    assert_eq!(row.anti_phishing_code.as_deref(), Some("blue-heron"));
    assert_eq!(row.kyc_tier, 2);
    assert_eq!(row.residence_country.as_deref(), Some("FR"));
    assert_eq!(
        (row.is_staff, row.staff_roles.as_str()),
        (1, "support,admin")
    );
    let staff: Vec<i64> = store
        .list_staff_accounts()
        .await
        .unwrap()
        .iter()
        .map(|row| row.id)
        .collect();
    assert_eq!(staff, [id]);
    store.set_anti_phishing(id, None).await.unwrap();
    store.set_staff_roles(id, false, "").await.unwrap();
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.anti_phishing_code, None);
    assert_eq!((row.is_staff, row.staff_roles.as_str()), (0, ""));
    assert!(store.list_staff_accounts().await.unwrap().is_empty());

    let error = store.set_kyc_tier(id, 3).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    assert_eq!(store.get_account(id).await.unwrap().unwrap().kyc_tier, 2);
}
both_backends!(targeted_updates_on_both, targeted_updates);

async fn updates_of_unknown_users_are_not_found(store: &Store) {
    let missing = account(store, "present@example.com").await + 1_000;
    for error in [
        store.set_password(missing, "x").await.unwrap_err(),
        store.mark_email_verified(missing, 1).await.unwrap_err(),
        store.mark_phone_verified(missing, 1).await.unwrap_err(),
        store
            .set_status(missing, account_status::FROZEN)
            .await
            .unwrap_err(),
        store
            .set_anti_phishing(missing, Some("x"))
            .await
            .unwrap_err(),
        store.set_withdraw_lock(missing, 1).await.unwrap_err(),
        store.set_kyc_tier(missing, 1).await.unwrap_err(),
        store
            .set_residence_country(missing, None)
            .await
            .unwrap_err(),
        store
            .set_staff_roles(missing, true, "admin")
            .await
            .unwrap_err(),
        store
            .change_email(missing, Some("m@example.com"), None)
            .await
            .unwrap_err(),
        store
            .change_phone(missing, Some("+1555"), None)
            .await
            .unwrap_err(),
    ] {
        assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    }
}
both_backends!(
    updates_of_unknown_users_are_not_found_on_both,
    updates_of_unknown_users_are_not_found
);

async fn status_changes(store: &Store) {
    let id = account(store, "status@example.com").await;
    assert!(
        store
            .transition_status(id, account_status::UNVERIFIED, account_status::ACTIVE)
            .await
            .unwrap()
    );
    // The second identical transition finds the status already moved and does nothing.
    assert!(
        !store
            .transition_status(id, account_status::UNVERIFIED, account_status::ACTIVE)
            .await
            .unwrap()
    );
    store.set_status(id, account_status::FROZEN).await.unwrap();
    assert!(
        !store
            .transition_status(id, account_status::ACTIVE, account_status::CLOSED)
            .await
            .unwrap()
    );
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.status, account_status::FROZEN);
    let error = store.set_status(id, "deleted").await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store
        .transition_status(id, account_status::FROZEN, "banned")
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.status, account_status::FROZEN);
}
both_backends!(status_changes_on_both, status_changes);

async fn withdraw_lock_only_moves_forward(store: &Store) {
    let id = account(store, "lock@example.com").await;
    assert_eq!(store.set_withdraw_lock(id, 5_000).await.unwrap(), 5_000);
    assert_eq!(store.set_withdraw_lock(id, 3_000).await.unwrap(), 5_000);
    assert_eq!(store.set_withdraw_lock(id, 5_000).await.unwrap(), 5_000);
    assert_eq!(store.set_withdraw_lock(id, 9_000).await.unwrap(), 9_000);
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.withdraw_locked_until_ms, 9_000);
}
both_backends!(
    withdraw_lock_only_moves_forward_on_both,
    withdraw_lock_only_moves_forward
);

async fn contact_changes(store: &Store) {
    let id = account(store, "old@example.com").await;
    let other = account(store, "other@example.com").await;
    store.mark_email_verified(id, 10).await.unwrap();
    store
        .change_phone(id, Some("+15550003333"), Some(20))
        .await
        .unwrap();
    store
        .change_email(id, Some("new@example.com"), None)
        .await
        .unwrap();
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.email.as_deref(), Some("new@example.com"));
    assert_eq!(
        row.email_verified_ms, None,
        "a new address starts unverified"
    );
    assert_eq!(row.phone.as_deref(), Some("+15550003333"));
    assert_eq!(row.phone_verified_ms, Some(20));
    assert_eq!(
        store
            .find_account_by_email("old@example.com")
            .await
            .unwrap(),
        None
    );

    let error = store
        .change_email(other, Some("new@example.com"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("email")), "{error:?}");
    let error = store
        .change_phone(other, Some("+15550003333"), None)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::Conflict("phone")), "{error:?}");
    // Dropping the email is fine while a phone remains, then the phone cannot go too.
    store.change_email(id, None, None).await.unwrap();
    let error = store.change_phone(id, None, None).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let error = store.change_email(other, None, None).await.unwrap_err();
    assert!(matches!(error, StoreError::Invalid(_)), "{error:?}");
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(
        (row.email, row.phone.as_deref()),
        (None, Some("+15550003333"))
    );
}
both_backends!(contact_changes_on_both, contact_changes);

async fn agreements(store: &Store) {
    assert_eq!(store.current_agreement_version().await.unwrap(), None);
    store
        .publish_agreement_version("2024-01", 100, true)
        .await
        .unwrap();
    store
        .publish_agreement_version("2025-draft", 200, false)
        .await
        .unwrap();
    let current = store.current_agreement_version().await.unwrap().unwrap();
    assert_eq!(
        (current.version.as_str(), current.published_ms),
        ("2024-01", 100)
    );
    let error = store
        .publish_agreement_version("2024-01", 300, true)
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::Conflict("agreement version")),
        "{error:?}"
    );
    // The refused publish did not demote the current version.
    let current = store.current_agreement_version().await.unwrap().unwrap();
    assert_eq!(current.version, "2024-01");

    store
        .publish_agreement_version("2025-01", 400, true)
        .await
        .unwrap();
    let listed = store.list_agreement_versions().await.unwrap();
    let flags: Vec<(&str, i64)> = listed
        .iter()
        .map(|row| (row.version.as_str(), row.is_current))
        .collect();
    assert_eq!(flags, [("2024-01", 0), ("2025-draft", 0), ("2025-01", 1)]);
    store
        .set_current_agreement_version("2024-01")
        .await
        .unwrap();
    let error = store
        .set_current_agreement_version("1999")
        .await
        .unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("agreement version")),
        "{error:?}"
    );
    let current = store.current_agreement_version().await.unwrap().unwrap();
    assert_eq!(
        current.version, "2024-01",
        "a failed switch changes nothing"
    );

    let id = account(store, "agree@example.com").await;
    store.accept_agreement(id, "2025-01", 500).await.unwrap();
    let row = store.get_account(id).await.unwrap().unwrap();
    assert_eq!(row.agreement_version.as_deref(), Some("2025-01"));
    assert_eq!(row.agreement_accepted_ms, Some(500));
    let error = store.accept_agreement(id, "nope", 600).await.unwrap_err();
    assert!(
        matches!(error, StoreError::NotFound("agreement version")),
        "{error:?}"
    );
    let error = store
        .accept_agreement(id + 1_000, "2025-01", 600)
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
}
both_backends!(agreements_on_both, agreements);
