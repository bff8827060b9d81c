//! The audit chain and transparency reports. Method: append through the repository, then tamper
//! behind it the way someone with database access would (dropping the append-only trigger) and
//! check that verification names the first broken entry; reports are written once.

use super::both_backends;
use crate::{Backend, PorTreeRow, ReportRow, Store};

async fn audit_chain(store: &Store) {
    assert_eq!(store.verify_audit_chain().await.unwrap().entries, 0);
    for i in 0..5 {
        store
            .append_audit("operator", "test", &format!("{{\"n\":{i}}}"), 1_000 + i)
            .await
            .unwrap();
    }
    let check = store.verify_audit_chain().await.unwrap();
    assert_eq!((check.entries, check.broken_at), (5, None));
    let head = check.head.clone().unwrap();
    assert_eq!(store.audit_head().await.unwrap(), Some(head.clone()));
    // Parallel appends still chain in commit order.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.append_audit("staff@example.com", "par", "{}", 2_000 + i)
                .await
                .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let check = store.verify_audit_chain().await.unwrap();
    assert_eq!((check.entries, check.broken_at), (13, None));

    // Edit entry 3 behind the triggers' back: the chain breaks at 3.
    let (drop_trigger, edit) = match store.backend() {
        Backend::Sqlite => (
            "DROP TRIGGER tr_audit_log_no_update",
            "UPDATE audit_log SET params_json = '{\"n\":99}' WHERE id = 3",
        ),
        Backend::Postgres => (
            "DROP TRIGGER tr_audit_log_no_update ON audit_log",
            "UPDATE audit_log SET params_json = '{\"n\":99}' WHERE id = 3",
        ),
    };
    // With the trigger in place the edit is refused.
    assert!(sqlx::query(edit).execute(&store.pool).await.is_err());
    sqlx::query(drop_trigger)
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query(edit).execute(&store.pool).await.unwrap();
    let check = store.verify_audit_chain().await.unwrap();
    assert_eq!(check.broken_at, Some(3));
}

both_backends!(audit_chain_on_both, audit_chain);

async fn audit_chain_deletion(store: &Store) {
    for i in 0..3 {
        store
            .append_audit("operator", "test", "{}", i)
            .await
            .unwrap();
    }
    let drop_trigger = match store.backend() {
        Backend::Sqlite => "DROP TRIGGER tr_audit_log_no_delete",
        Backend::Postgres => "DROP TRIGGER tr_audit_log_no_delete ON audit_log",
    };
    sqlx::query(drop_trigger)
        .execute(&store.pool)
        .await
        .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id = 3")
        .execute(&store.pool)
        .await
        .unwrap();
    assert_eq!(store.verify_audit_chain().await.unwrap().broken_at, Some(3));
}

both_backends!(audit_chain_deletion_on_both, audit_chain_deletion);

async fn reports(store: &Store) {
    assert_eq!(store.latest_report().await.unwrap(), None);
    let report = |seq: i64| ReportRow {
        seq,
        published_ms: 10 * seq,
        journal_seq: 100 + seq,
        body: format!("{{\"seq\":{seq}}}"),
        sha256: format!("h{seq}"),
        signature: format!("s{seq}"),
    };
    let tree = PorTreeRow {
        report_seq: 1,
        asset: "BTC".into(),
        leaves_json: "[[1,5,\"00\"]]".into(),
    };
    assert!(
        store
            .insert_report(&report(1), std::slice::from_ref(&tree))
            .await
            .unwrap()
    );
    // The same seq again writes nothing, not even its trees.
    let other = PorTreeRow {
        asset: "ETH".into(),
        ..tree.clone()
    };
    assert!(!store.insert_report(&report(1), &[other]).await.unwrap());
    assert_eq!(store.por_tree(1, "ETH").await.unwrap(), None);
    assert!(store.insert_report(&report(2), &[]).await.unwrap());
    assert_eq!(store.latest_report().await.unwrap(), Some(report(2)));
    assert_eq!(store.report(1).await.unwrap(), Some(report(1)));
    assert_eq!(store.por_tree(1, "BTC").await.unwrap(), Some(tree));
    let listed: Vec<i64> = store
        .reports(10, None)
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(listed, vec![2, 1]);
    let older: Vec<i64> = store
        .reports(10, Some(2))
        .await
        .unwrap()
        .iter()
        .map(|r| r.seq)
        .collect();
    assert_eq!(older, vec![1]);
    // Published reports cannot be edited.
    assert!(
        sqlx::query("UPDATE transparency_reports SET body = 'x' WHERE seq = 1")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(reports_on_both, reports);

async fn incidents(store: &Store) {
    use crate::{ContainmentStep, IncidentRow};
    let row = IncidentRow {
        id: 0,
        kind: "hot_wallet_breach".into(),
        title: "BTC hot wallet drained".into(),
        assets: "BTC".into(),
        markets: "BTC_USDT".into(),
        users: "7".into(),
        halt_scope: "markets".into(),
        freeze_scope: "assets".into(),
        pause_sweeps: 1,
        halt_lifted_ms: None,
        freeze_lifted_ms: None,
        sweeps_lifted_ms: None,
        declared_by: "security@example.com".into(),
        declared_ms: 100,
        resolved_ms: None,
    };
    let id = store
        .insert_incident(&row, "We are investigating.")
        .await
        .unwrap();
    assert_eq!(
        store.withdrawal_freezes().await.unwrap(),
        vec![("assets".into(), "BTC".into())]
    );
    assert!(store.sweeps_paused().await.unwrap());
    // Each step lifts once.
    assert!(
        store
            .lift_incident_step(id, ContainmentStep::Sweeps, 200)
            .await
            .unwrap()
    );
    assert!(
        !store
            .lift_incident_step(id, ContainmentStep::Sweeps, 201)
            .await
            .unwrap()
    );
    assert!(!store.sweeps_paused().await.unwrap());
    assert!(
        store
            .lift_incident_step(id, ContainmentStep::Freeze, 300)
            .await
            .unwrap()
    );
    assert!(store.withdrawal_freezes().await.unwrap().is_empty());
    store
        .add_incident_update(id, 400, "security@example.com", "Funds traced.")
        .await
        .unwrap();
    // A global freeze of a second incident, then resolution lifts what is left.
    let global = IncidentRow {
        freeze_scope: "global".into(),
        assets: String::new(),
        pause_sweeps: 0,
        ..row.clone()
    };
    let second = store
        .insert_incident(&global, "Everything paused.")
        .await
        .unwrap();
    assert_eq!(
        store.withdrawal_freezes().await.unwrap(),
        vec![("global".into(), String::new())]
    );
    assert!(store.resolve_platform_incident(second, 500).await.unwrap());
    assert!(!store.resolve_platform_incident(second, 501).await.unwrap());
    assert!(store.withdrawal_freezes().await.unwrap().is_empty());
    let listed = store.incidents(10).await.unwrap();
    assert_eq!(listed[0].id, id, "open incidents first");
    let timeline = store.incident_updates(id).await.unwrap();
    assert_eq!(
        timeline
            .iter()
            .map(|u| u.message.as_str())
            .collect::<Vec<_>>(),
        ["We are investigating.", "Funds traced."]
    );
    assert_eq!(
        store.incident(id).await.unwrap().unwrap().freeze_lifted_ms,
        Some(300)
    );
}

both_backends!(incidents_on_both, incidents);

async fn claims(store: &Store) {
    use crate::{ClaimMove, ClaimRow};
    let row = ClaimRow {
        id: 0,
        user_id: 5,
        incident_id: None,
        category: "unauthorized_withdrawal".into(),
        description: "A withdrawal I did not make.".into(),
        asset: "USDT".into(),
        claimed: 4_000,
        refs: "9".into(),
        window_from_ms: 1,
        window_to_ms: 2,
        policy_version: "v1".into(),
        state: "submitted".into(),
        investigator: None,
        decided_by: None,
        reason_code: None,
        approved: None,
        appealed: 0,
        movement_id: None,
        created_ms: 10,
        updated_ms: 10,
    };
    let id = store.insert_claim(&row, "user:5").await.unwrap();
    let step = |from: &'static str, to: &'static str| ClaimMove {
        id,
        from,
        to,
        actor: "staff:1",
        note: "n",
        at_ms: 20,
        ..ClaimMove::default()
    };
    assert!(
        store
            .move_claim(&step("submitted", "acknowledged"))
            .await
            .unwrap()
    );
    // Compare-and-set: a second move from the old state does nothing.
    assert!(
        !store
            .move_claim(&step("submitted", "acknowledged"))
            .await
            .unwrap()
    );
    let investigating = ClaimMove {
        investigator: Some("staff:1"),
        ..step("acknowledged", "investigating")
    };
    assert!(store.move_claim(&investigating).await.unwrap());
    // The database refuses an approval above the claim.
    let too_much = ClaimMove {
        approved: Some(4_001),
        ..step("investigating", "approved")
    };
    assert!(store.move_claim(&too_much).await.is_err());
    let approved = ClaimMove {
        approved: Some(4_000),
        decided_by: Some("staff:2"),
        reason_code: Some("insider_theft"),
        ..step("investigating", "approved")
    };
    assert!(store.move_claim(&approved).await.unwrap());
    let claim = store.claim(id).await.unwrap().unwrap();
    assert_eq!(
        (
            claim.state.as_str(),
            claim.approved,
            claim.investigator.as_deref()
        ),
        ("approved", Some(4_000), Some("staff:1"))
    );
    store
        .add_claim_note(id, "approved", "user:5", "thanks", 30)
        .await
        .unwrap();
    let events = store.claim_events(id).await.unwrap();
    assert_eq!(
        events
            .iter()
            .map(|e| e.to_state.as_str())
            .collect::<Vec<_>>(),
        [
            "submitted",
            "acknowledged",
            "investigating",
            "approved",
            "approved"
        ]
    );
    assert_eq!(store.claims(Some("approved"), 10).await.unwrap().len(), 1);
    assert_eq!(store.claims(Some("paid"), 10).await.unwrap().len(), 0);
    assert_eq!(store.claims(None, 10).await.unwrap().len(), 1);
    assert_eq!(store.user_claims(5).await.unwrap().len(), 1);
    // An incident's claims, whoever filed them.
    let under_incident = store
        .insert_claim(
            &ClaimRow {
                user_id: 6,
                incident_id: Some(7),
                ..row.clone()
            },
            "system",
        )
        .await
        .unwrap();
    let of_incident = store.incident_claims(7).await.unwrap();
    assert_eq!(
        of_incident.iter().map(|c| c.id).collect::<Vec<_>>(),
        [under_incident]
    );
    assert!(store.incident_claims(8).await.unwrap().is_empty());
    assert!(
        sqlx::query("DELETE FROM claim_events")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(claims_on_both, claims);

async fn top_ups(store: &Store) {
    use crate::TopUpRow;
    let row = TopUpRow {
        id: 0,
        asset: "BTC".into(),
        amount: 45_000,
        source: "treasury".into(),
        reference: "treasury:BTC:tx1".into(),
        network: Some("BTC".into()),
        txid: Some("tx1".into()),
        note: "refill".into(),
        actor: "operator".into(),
        journal_seq: 7,
        at_ms: 1_000,
    };
    assert!(!store.top_up_recorded(&row.reference).await.unwrap());
    let id = store.insert_top_up(&row).await.unwrap().unwrap();
    assert!(store.top_up_recorded(&row.reference).await.unwrap());
    // One transaction tops up once: a second record of it writes nothing.
    assert_eq!(
        store
            .insert_top_up(&TopUpRow {
                amount: 1,
                ..row.clone()
            })
            .await
            .unwrap(),
        None
    );
    let fee = TopUpRow {
        asset: "USDT".into(),
        source: "fee_revenue".into(),
        reference: "fee_revenue:operator:2000".into(),
        network: None,
        txid: None,
        journal_seq: 9,
        at_ms: 2_000,
        ..row.clone()
    };
    store.insert_top_up(&fee).await.unwrap().unwrap();
    let listed = store.top_ups().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .map(|t| (t.reference.as_str(), t.amount))
            .collect::<Vec<_>>(),
        vec![
            ("treasury:BTC:tx1", 45_000),
            ("fee_revenue:operator:2000", 45_000)
        ]
    );
    assert_eq!(listed.first().map(|t| t.id), Some(id));
    // A bad source or amount is refused by the schema; rows never change.
    assert!(
        store
            .insert_top_up(&TopUpRow {
                source: "gift".into(),
                reference: "x".into(),
                ..row.clone()
            })
            .await
            .is_err()
    );
    assert!(
        store
            .insert_top_up(&TopUpRow {
                amount: 0,
                reference: "y".into(),
                ..row.clone()
            })
            .await
            .is_err()
    );
    let edited = sqlx::query("UPDATE fund_top_ups SET amount = 1")
        .execute(&store.pool)
        .await;
    assert!(edited.is_err(), "top-ups never change");
}

both_backends!(top_ups_on_both, top_ups);

async fn claim_evidence(store: &Store) {
    use crate::EvidenceMeta;
    let meta = EvidenceMeta {
        id: 0,
        claim_id: 7,
        name: "statement.pdf".into(),
        content_type: "application/pdf".into(),
        size_bytes: 3,
        sha256: "ab".repeat(32),
        at_ms: 1_000,
    };
    let first = store
        .insert_evidence(&meta, b"sealed-1", 2)
        .await
        .unwrap()
        .unwrap();
    store
        .insert_evidence(&meta, b"sealed-2", 2)
        .await
        .unwrap()
        .unwrap();
    // The claim holds its limit: nothing more is written.
    assert_eq!(
        store.insert_evidence(&meta, b"sealed-3", 2).await.unwrap(),
        None
    );
    let listed = store.claim_evidence(7).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(store.claim_evidence(8).await.unwrap().is_empty());
    let (found, bytes) = store.evidence_file(7, first).await.unwrap().unwrap();
    assert_eq!(
        (found.name.as_str(), bytes.as_slice()),
        ("statement.pdf", &b"sealed-1"[..])
    );
    // Another claim's file is not this claim's.
    assert_eq!(store.evidence_file(8, first).await.unwrap(), None);
    let bad_type = EvidenceMeta {
        content_type: "text/html".into(),
        claim_id: 9,
        ..meta.clone()
    };
    assert!(store.insert_evidence(&bad_type, b"x", 2).await.is_err());
    let edited = sqlx::query("UPDATE claim_evidence SET name = 'x'")
        .execute(&store.pool)
        .await;
    assert!(edited.is_err(), "evidence never changes");
}

both_backends!(claim_evidence_on_both, claim_evidence);

async fn clawbacks(store: &Store) {
    use crate::{ClaimRow, ClawbackRow};
    let claim = ClaimRow {
        id: 0,
        user_id: 3,
        incident_id: None,
        category: "other".into(),
        description: "a loss".into(),
        asset: "USDT".into(),
        claimed: 10,
        refs: String::new(),
        window_from_ms: 1,
        window_to_ms: 2,
        policy_version: "v".into(),
        state: "submitted".into(),
        investigator: None,
        decided_by: None,
        reason_code: None,
        approved: None,
        appealed: 0,
        movement_id: None,
        created_ms: 5,
        updated_ms: 5,
    };
    let id = store.insert_claim(&claim, "user:3").await.unwrap();
    let row = ClawbackRow {
        id: 0,
        claim_id: id,
        user_id: 3,
        asset: "USDT".into(),
        amount: 4,
        note: "recovered".into(),
        actor: "staff:9".into(),
        journal_seq: 12,
        at_ms: 20,
    };
    assert!(store.insert_clawback(&row, "paid").await.unwrap());
    // Once per claim: a second one writes nothing, not even an event.
    assert!(!store.insert_clawback(&row, "paid").await.unwrap());
    assert_eq!(store.clawback(id).await.unwrap().map(|c| c.amount), Some(4));
    assert_eq!(store.clawbacks().await.unwrap().len(), 1);
    let events = store.claim_events(id).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (
            last.from_state.as_deref(),
            last.to_state.as_str(),
            last.note.as_str()
        ),
        (Some("paid"), "paid", "recovered")
    );
    assert_eq!(events.len(), 2);
    assert!(
        sqlx::query("DELETE FROM claim_clawbacks")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(clawbacks_on_both, clawbacks);

async fn insurer_submissions(store: &Store) {
    use crate::InsurerSubmissionRow;
    let row = InsurerSubmissionRow {
        id: 0,
        claim_id: 11,
        insurer: "Harbour Mutual".into(),
        policy_id: "HM-1".into(),
        uncovered_usdt: 5_000_000,
        deductible_usdt: 1_000_000,
        requested_usdt: 4_000_000,
        status: "submitted".into(),
        created_ms: 10,
        updated_ms: 10,
    };
    let id = store
        .insert_insurer_submission(&row, "staff:2", "submitted")
        .await
        .unwrap()
        .unwrap();
    // One submission per claim.
    assert_eq!(
        store
            .insert_insurer_submission(&row, "staff:2", "again")
            .await
            .unwrap(),
        None
    );
    assert!(
        !store
            .move_insurer_submission(id, "accepted", "paid", "staff:2", "n", 11)
            .await
            .unwrap()
    );
    assert!(
        store
            .move_insurer_submission(id, "submitted", "accepted", "staff:2", "n", 12)
            .await
            .unwrap()
    );
    let found = store.insurer_submission(11).await.unwrap().unwrap();
    assert_eq!((found.status.as_str(), found.updated_ms), ("accepted", 12));
    assert_eq!(store.insurer_submissions().await.unwrap().len(), 1);
    // Asking more than was uncovered, or nothing, is refused by the schema.
    assert!(
        store
            .insert_insurer_submission(
                &InsurerSubmissionRow {
                    claim_id: 12,
                    requested_usdt: 6_000_000,
                    ..row.clone()
                },
                "staff:2",
                "x"
            )
            .await
            .is_err()
    );
    assert!(
        sqlx::query("UPDATE insurer_events SET note = 'x'")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(insurer_submissions_on_both, insurer_submissions);

async fn control_proofs(store: &Store) {
    use crate::ControlProofRow;
    let proof = |address: &str, signature: &str| ControlProofRow {
        report_seq: 3,
        network: "BTC".into(),
        address: address.into(),
        scheme: "bitcoin-message".into(),
        signature: signature.into(),
        added_ms: 5,
    };
    let first = [proof("bc1qb", "s1"), proof("bc1qa", "s2")];
    assert_eq!(store.insert_control_proofs(&first).await.unwrap(), 2);
    // A second upload adds only what is new; an address keeps its first proof.
    let again = [proof("bc1qa", "other"), proof("bc1qc", "s3")];
    assert_eq!(store.insert_control_proofs(&again).await.unwrap(), 1);
    let stored = store.control_proofs(3).await.unwrap();
    let listed: Vec<(&str, &str)> = stored
        .iter()
        .map(|p| (p.address.as_str(), p.signature.as_str()))
        .collect();
    assert_eq!(listed, [("bc1qa", "s2"), ("bc1qb", "s1"), ("bc1qc", "s3")]);
    assert!(store.control_proofs(4).await.unwrap().is_empty());
    assert!(
        sqlx::query("DELETE FROM control_proofs")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(control_proofs_on_both, control_proofs);

async fn policies(store: &Store) {
    use crate::PolicyRow;
    let row = PolicyRow {
        version: "2026-12-08.1".into(),
        per_user_cap_usdt: 50_000_000_000,
        per_incident_cap_usdt: 5_000_000_000_000,
        note: "lower per-user cap".into(),
        actor: "staff:2".into(),
        published_ms: 20,
    };
    assert!(store.insert_policy(&row).await.unwrap());
    // A version id is published once.
    assert!(!store.insert_policy(&row).await.unwrap());
    let later = PolicyRow {
        version: "2026-12-08.2".into(),
        published_ms: 30,
        ..row.clone()
    };
    assert!(store.insert_policy(&later).await.unwrap());
    assert_eq!(store.policies().await.unwrap(), vec![row.clone(), later]);
    // A per-incident cap below the per-user cap is refused by the schema.
    let inverted = PolicyRow {
        version: "x".into(),
        per_incident_cap_usdt: 1,
        ..row
    };
    assert!(store.insert_policy(&inverted).await.is_err());
    assert!(
        sqlx::query("UPDATE coverage_policies SET note = 'x'")
            .execute(&store.pool)
            .await
            .is_err()
    );
}

both_backends!(policies_on_both, policies);
