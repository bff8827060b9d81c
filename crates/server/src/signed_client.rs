//! A client of the signed BitMart API (HMAC-SHA256 over `timestamp#memo#body`), as an outside
//! trading program would be: the benchmarks' load generators and the demo market maker use it,
//! so they exercise the same authentication, limits and order path as any user's bot.

use anyhow::bail;
use serde_json::{Value, json};

/// One API key and its own HTTP connection pool.
pub struct SignedClient {
    pub(crate) http: reqwest::Client,
    access_key: String,
    secret: String,
    memo: String,
}

impl SignedClient {
    /// A client of the key (`access_key`, `secret`, `memo`) keeping one idle connection.
    pub fn new(access_key: String, secret: String, memo: String) -> anyhow::Result<SignedClient> {
        Ok(SignedClient {
            http: reqwest::Client::builder()
                .pool_max_idle_per_host(1)
                .build()?,
            access_key,
            secret,
            memo,
        })
    }

    /// A signed POST whose BitMart answer must be code 1000.
    pub async fn signed_post(&self, base: &str, path: &str, body: &Value) -> anyhow::Result<Value> {
        let value = self.signed_call(&self.http, base, path, body).await?;
        if value.get("code") != Some(&json!(1000)) {
            bail!("{path}: {value}");
        }
        Ok(value)
    }

    /// A keyed GET (the key without a signature, as BitMart's KEYED endpoints take it),
    /// answering whatever BitMart body came back.
    pub async fn keyed_get(&self, base: &str, path_and_query: &str) -> anyhow::Result<Value> {
        let answer = self
            .http
            .get(format!("{base}{path_and_query}"))
            .header("x-bm-key", &self.access_key)
            .send()
            .await?;
        Ok(answer.json().await?)
    }

    /// A signed POST over `http`, answering whatever BitMart body came back.
    pub async fn signed_call(
        &self,
        http: &reqwest::Client,
        base: &str,
        path: &str,
        body: &Value,
    ) -> anyhow::Result<Value> {
        let body = body.to_string();
        let timestamp = bulwark_api::now_ms().to_string();
        let sign = bulwark_api::auth::sign(
            self.secret.as_bytes(),
            &timestamp,
            &self.memo,
            body.as_bytes(),
        );
        let answer = http
            .post(format!("{base}{path}"))
            .header("content-type", "application/json")
            .header("x-bm-key", &self.access_key)
            .header("x-bm-timestamp", timestamp)
            .header("x-bm-sign", sign)
            .body(body)
            .send()
            .await?;
        Ok(answer.json().await?)
    }
}
