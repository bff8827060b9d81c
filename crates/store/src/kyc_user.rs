//! The user side of KYC: the tier and declared residence that gate trading, and filing an
//! application together with the residence it declares, in one transaction.

use crate::Store;
use crate::error::{StoreError, StoreResult, UniqueKey, classify_keys};
use crate::kyc::{NewKycApplication, NewKycDocument};

const PENDING_KEY: &[UniqueKey] = &[UniqueKey {
    constraint: "uq_kyc_applications_pending",
    sqlite_columns: "kyc_applications.user_id",
    label: "kyc application",
}];

/// What the access rules need to know about a user.
#[derive(Debug, Clone, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct KycProfile {
    /// 0, 1 or 2.
    pub kyc_tier: i64,
    /// ISO 3166-1 alpha-2, when declared.
    pub residence_country: Option<String>,
    /// ISO 3166-2 subdivision ("US-NY"), when declared.
    pub residence_subdivision: Option<String>,
}

/// The residence an application declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeclaredResidence {
    pub country: String,
    pub subdivision: Option<String>,
}

impl Store {
    /// The user's tier and residence; `None` for an unknown user.
    /// Served from memory after the first read (see `row_cache`); unknown users are not cached.
    pub async fn kyc_profile(&self, user_id: i64) -> StoreResult<Option<KycProfile>> {
        let generation = match self.kyc_cache.get(&user_id) {
            Ok(profile) => return Ok(Some(profile)),
            Err(generation) => generation,
        };
        let row: Option<KycProfile> = sqlx::query_as(
            "SELECT kyc_tier, residence_country, residence_subdivision FROM users WHERE id = $1",
        )
        .bind(user_id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(profile) = &row {
            self.kyc_cache.fill(generation, user_id, profile.clone());
        }
        Ok(row)
    }

    /// Files a pending application with its documents and, when given, records the residence
    /// it declares — all or nothing. `Conflict("kyc application")` if one is already pending,
    /// `NotFound("user")` for an unknown user.
    pub async fn submit_kyc_with_residence(
        &self,
        application: &NewKycApplication,
        documents: &[NewKycDocument],
        residence: Option<&DeclaredResidence>,
    ) -> StoreResult<i64> {
        let invalid = "kyc tier must be 1 or 2 and sizes non-negative";
        let mut transaction = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO kyc_applications (user_id, tier_requested, submitted_ms, state, \
             fields_ciphertext) VALUES ($1, $2, $3, 'pending', $4) RETURNING id",
        )
        .bind(application.user_id)
        .bind(application.tier_requested)
        .bind(application.submitted_ms)
        .bind(application.fields_ciphertext.as_slice())
        .fetch_one(&mut *transaction)
        .await
        .map_err(|error| classify_keys(error, PENDING_KEY, "user", invalid))?;
        for document in documents {
            sqlx::query(
                "INSERT INTO kyc_documents (application_id, kind, content_type, ciphertext, \
                 size_bytes) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(document.kind.as_str())
            .bind(document.content_type.as_str())
            .bind(document.ciphertext.as_slice())
            .bind(document.size_bytes)
            .execute(&mut *transaction)
            .await
            .map_err(|error| classify_keys(error, &[], "kyc application", invalid))?;
        }
        if let Some(residence) = residence {
            let result = sqlx::query(
                "UPDATE users SET residence_country = $2, residence_subdivision = $3 \
                 WHERE id = $1",
            )
            .bind(application.user_id)
            .bind(residence.country.as_str())
            .bind(residence.subdivision.as_deref())
            .execute(&mut *transaction)
            .await?;
            if result.rows_affected() == 0 {
                return Err(StoreError::NotFound("user"));
            }
        }
        let committed = transaction.commit().await;
        self.kyc_cache.forget(&application.user_id);
        committed?;
        Ok(id)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;
    use crate::tests::both_backends;

    fn application(user_id: i64, tier: i64) -> NewKycApplication {
        NewKycApplication {
            user_id,
            tier_requested: tier,
            submitted_ms: 1_000,
            fields_ciphertext: vec![1, 2, 3],
        }
    }

    fn residence(country: &str, subdivision: Option<&str>) -> DeclaredResidence {
        DeclaredResidence {
            country: country.to_owned(),
            subdivision: subdivision.map(str::to_owned),
        }
    }

    async fn submit_with_residence_is_atomic(store: &Store) {
        let user = store.create_user("kyc-user@example.com", 1).await.unwrap();
        let fresh = store.kyc_profile(user).await.unwrap().unwrap();
        assert_eq!(
            fresh,
            KycProfile {
                kyc_tier: 0,
                residence_country: None,
                residence_subdivision: None
            }
        );
        let document = NewKycDocument {
            kind: "id_document".into(),
            content_type: "image/png".into(),
            ciphertext: vec![9; 4],
            size_bytes: 4,
        };
        let id = store
            .submit_kyc_with_residence(
                &application(user, 1),
                &[document],
                Some(&residence("US", Some("US-NY"))),
            )
            .await
            .unwrap();
        assert_eq!(store.list_kyc_documents(id).await.unwrap().len(), 1);
        let profile = store.kyc_profile(user).await.unwrap().unwrap();
        assert_eq!(profile.residence_country.as_deref(), Some("US"));
        assert_eq!(profile.residence_subdivision.as_deref(), Some("US-NY"));
        // A second pending application is refused and changes nothing (residence included).
        let error = store
            .submit_kyc_with_residence(&application(user, 2), &[], Some(&residence("DE", None)))
            .await
            .unwrap_err();
        assert!(
            matches!(error, StoreError::Conflict("kyc application")),
            "{error:?}"
        );
        assert_eq!(store.kyc_profile(user).await.unwrap().unwrap(), profile);
        assert_eq!(
            store.list_user_kyc_applications(user).await.unwrap().len(),
            1
        );
        assert!(store.kyc_profile(user + 100).await.unwrap().is_none());
        let error = store
            .submit_kyc_with_residence(&application(user + 100, 1), &[], None)
            .await
            .unwrap_err();
        assert!(matches!(error, StoreError::NotFound("user")), "{error:?}");
    }
    both_backends!(
        submit_with_residence_is_atomic_on_both,
        submit_with_residence_is_atomic
    );
}
