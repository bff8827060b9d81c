//! The staff console's incidents page, `/admin/incidents`: every incident with its containment
//! and a form to post a public update, lift one containment step, or resolve it; and the form
//! to declare one (kind, title, first message, affected assets, markets and users, known
//! losses, containment). Staff with incident response (security, admin) only; each form is one
//! call of the Safeguard use case `/api/v1/admin/incidents` calls.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use bulwark_accounts::sessions::Authed;
use bulwark_safeguard::claims::Loss;
use bulwark_safeguard::incidents::{Declaration, KINDS, steps_in_force};
use serde::Deserialize;

use crate::auth::{csrf_ok, who_and_authed};
use crate::caller::Caller;
use crate::form::PageForm;
use crate::pages::{self, Flash, Who};
use crate::transparency::ProofState;

pub struct IncidentLine {
    pub id: i64,
    pub kind: String,
    pub title: String,
    pub scope: String,
    pub declared: String,
    pub open: bool,
    /// Containment steps still in force: halt, freeze, sweeps.
    pub steps: Vec<&'static str>,
}

#[derive(Template)]
#[template(path = "admin_incidents.html")]
pub struct IncidentsPage {
    pub who: Option<Who>,
    pub notice: String,
    pub error: String,
    pub csrf: String,
    pub kinds: Vec<&'static str>,
    pub incidents: Vec<IncidentLine>,
    pub form: DeclareForm,
}

/// The declaration form, kept when it is shown again with an error.
#[derive(Deserialize, Default)]
pub struct DeclareForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub assets: String,
    #[serde(default)]
    pub markets: String,
    #[serde(default)]
    pub users: String,
    /// One `USER:ASSET:AMOUNT` per line.
    #[serde(default)]
    pub losses: String,
    #[serde(default)]
    pub halt: String,
    #[serde(default)]
    pub freeze: String,
    #[serde(default)]
    pub pause_sweeps: String,
}

fn words(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The form as a declaration; a field that does not parse is named.
fn declaration(form: &DeclareForm) -> Result<Declaration, String> {
    let mut users = Vec::new();
    for user in words(&form.users) {
        users.push(
            user.parse::<i64>()
                .map_err(|_| format!("{user:?} is not a user id"))?,
        );
    }
    let mut losses = Vec::new();
    for line in form.losses.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let mut parts = line.splitn(3, ':');
        let (Some(user), Some(asset), Some(amount)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(format!("{line:?} is not USER:ASSET:AMOUNT"));
        };
        let user = user
            .trim()
            .parse::<i64>()
            .map_err(|_| format!("{line:?} does not start with a user id"))?;
        losses.push(Loss {
            user,
            asset: asset.trim().to_owned(),
            amount: amount.trim().to_owned(),
        });
    }
    let or_none = |s: &str| {
        if s.is_empty() {
            "none".to_owned()
        } else {
            s.to_owned()
        }
    };
    Ok(Declaration {
        kind: form.kind.clone(),
        title: form.title.clone(),
        message: form.message.clone(),
        assets: words(&form.assets),
        markets: words(&form.markets),
        users,
        halt: or_none(&form.halt),
        freeze: or_none(&form.freeze),
        pause_sweeps: !form.pause_sweeps.is_empty(),
        losses,
    })
}

async fn render(
    state: &ProofState,
    who: Who,
    authed: &Authed,
    status: StatusCode,
    flash: Flash,
    form: DeclareForm,
) -> Response {
    let views = match state.safeguard.staff_incidents(authed).await {
        Ok(views) => views,
        Err(error) => {
            return pages::render(
                bulwark_api::v1::error::status_of(error.kind),
                &pages::Landing {
                    who: Some(who),
                    notice: String::new(),
                    error: error.message,
                },
            );
        }
    };
    let incidents = views
        .iter()
        .map(|v| {
            let i = &v.incident;
            let open = i.resolved_ms.is_none();
            let steps = steps_in_force(i);
            IncidentLine {
                id: i.id,
                kind: i.kind.replace('_', " "),
                title: i.title.clone(),
                scope: format!(
                    "halt {} · freeze {}{} · assets {} · markets {}",
                    i.halt_scope,
                    i.freeze_scope,
                    if i.pause_sweeps != 0 {
                        " · sweeps paused"
                    } else {
                        ""
                    },
                    i.assets,
                    i.markets
                ),
                declared: pages::utc_time(i.declared_ms),
                open,
                steps,
            }
        })
        .collect();
    pages::render(
        status,
        &IncidentsPage {
            csrf: who.csrf.clone(),
            who: Some(who),
            notice: flash.notice,
            error: flash.error,
            kinds: KINDS.to_vec(),
            incidents,
            form,
        },
    )
}

/// `GET /admin/incidents`.
pub async fn page(State(state): State<ProofState>, caller: Caller) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    render(
        &state,
        who,
        &authed,
        StatusCode::OK,
        Flash::default(),
        DeclareForm::default(),
    )
    .await
}

/// `POST /admin/incidents`: declare.
pub async fn declare(
    State(state): State<ProofState>,
    caller: Caller,
    PageForm(form): PageForm<DeclareForm>,
) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    if !csrf_ok(&caller, &form.csrf) {
        let flash = Flash::error(pages::FORM_EXPIRED);
        return render(&state, who, &authed, StatusCode::FORBIDDEN, flash, form).await;
    }
    let declared = match declaration(&form) {
        Ok(d) => state
            .safeguard
            .staff_declare(&authed, d)
            .await
            .map_err(|e| (bulwark_api::v1::error::status_of(e.kind), e.message)),
        Err(message) => Err((StatusCode::BAD_REQUEST, message)),
    };
    match declared {
        Ok(view) => {
            let flash = Flash::notice(format!(
                "Incident {} declared; its containment is in force and the affected are being told.",
                view.incident.id
            ));
            render(
                &state,
                who,
                &authed,
                StatusCode::OK,
                flash,
                DeclareForm::default(),
            )
            .await
        }
        Err((status, message)) => {
            render(&state, who, &authed, status, Flash::error(message), form).await
        }
    }
}

#[derive(Deserialize, Default)]
pub struct ActionForm {
    #[serde(default)]
    csrf: String,
    /// The public message (update, resolve) or the step (lift).
    #[serde(default)]
    text: String,
}

/// `POST /admin/incidents/{id}/update|lift|resolve`.
pub async fn act(
    State(state): State<ProofState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    PageForm(form): PageForm<ActionForm>,
) -> Response {
    let Some((who, authed)) = who_and_authed(&state.web, &caller).await else {
        return pages::see_other("/login");
    };
    let blank = DeclareForm::default();
    if !csrf_ok(&caller, &form.csrf) {
        let flash = Flash::error(pages::FORM_EXPIRED);
        return render(&state, who, &authed, StatusCode::FORBIDDEN, flash, blank).await;
    }
    let Ok(id) = id.parse::<i64>() else {
        let flash = Flash::error("No such incident.");
        return render(&state, who, &authed, StatusCode::NOT_FOUND, flash, blank).await;
    };
    match state
        .safeguard
        .staff_action(&authed, id, &action, &form.text)
        .await
    {
        Ok(view) => {
            let what = if view.incident.resolved_ms.is_some() {
                "resolved".to_owned()
            } else {
                format!("{action} done")
            };
            let flash = Flash::notice(format!("Incident {id}: {what}."));
            render(&state, who, &authed, StatusCode::OK, flash, blank).await
        }
        Err(error) => {
            let status = bulwark_api::v1::error::status_of(error.kind);
            render(
                &state,
                who,
                &authed,
                status,
                Flash::error(error.message),
                blank,
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_becomes_a_declaration_or_names_what_does_not_parse() {
        let form = DeclareForm {
            kind: "hot_wallet_breach".into(),
            assets: "BTC, ETH".into(),
            users: "5 6".into(),
            losses: "5:BTC:0.5\n\n6:ETH:1\n".into(),
            halt: "markets".into(),
            pause_sweeps: "on".into(),
            ..DeclareForm::default()
        };
        let d = declaration(&form).unwrap_or_default();
        assert_eq!(d.assets, vec!["BTC", "ETH"]);
        assert_eq!(d.users, vec![5, 6]);
        assert_eq!(d.losses.len(), 2);
        assert_eq!(
            (d.halt.as_str(), d.freeze.as_str(), d.pause_sweeps),
            ("markets", "none", true)
        );
        let bad_user = DeclareForm {
            users: "5 x".into(),
            ..DeclareForm::default()
        };
        assert!(declaration(&bad_user).is_err());
        let bad_loss = DeclareForm {
            losses: "5-BTC-1".into(),
            ..DeclareForm::default()
        };
        assert!(declaration(&bad_loss).is_err());
    }
}
