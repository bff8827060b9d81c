//! The operator's side of incidents: declare with containment, post updates, lift steps,
//! resolve (every action audited by the Safeguard service under the operator token's actor,
//! `operator-token`).

use bulwark_accounts::Error;
use bulwark_safeguard::Safeguard;
use bulwark_safeguard::incidents::{Declaration, IncidentView};
use serde::Deserialize;
use serde_json::Value;

use crate::ops::OPERATOR;

type Result<T> = std::result::Result<T, Error>;

#[derive(Deserialize)]
pub struct Message {
    #[serde(default)]
    pub message: String,
}

#[derive(Deserialize)]
pub struct Lift {
    #[serde(default)]
    pub step: String,
}

fn view(v: &IncidentView) -> Value {
    v.json()
}

fn id_of(text: &str) -> Result<i64> {
    text.parse()
        .map_err(|_| Error::bad_request("invalid_id", "incident id must be a number"))
}

pub async fn declare(safeguard: &Safeguard, body: Declaration) -> Result<Value> {
    Ok(view(&safeguard.declare(OPERATOR, body).await?))
}

pub async fn update(safeguard: &Safeguard, id: String, body: Message) -> Result<Value> {
    Ok(view(
        &safeguard
            .post_update(OPERATOR, id_of(&id)?, &body.message)
            .await?,
    ))
}

pub async fn lift(safeguard: &Safeguard, id: String, body: Lift) -> Result<Value> {
    Ok(view(
        &safeguard.lift(OPERATOR, id_of(&id)?, &body.step).await?,
    ))
}

pub async fn resolve(safeguard: &Safeguard, id: String, body: Message) -> Result<Value> {
    Ok(view(
        &safeguard
            .resolve(OPERATOR, id_of(&id)?, &body.message)
            .await?,
    ))
}

pub async fn list(safeguard: &Safeguard) -> Result<Value> {
    let rows = safeguard.incidents(200).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        out.push(view(&safeguard.incident(row.id).await?));
    }
    Ok(serde_json::json!({"incidents": out}))
}
