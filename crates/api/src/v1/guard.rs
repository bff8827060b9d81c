//! Request guards of the account API: CSRF for cookie-authenticated browsers, security headers,
//! tighter per-IP buckets on unauthenticated endpoints, and client facts (IP, user agent).

use bulwark_accounts::Kind;
use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::V1State;
use super::error::V1Error;
use bulwark_accounts::doors::Door;

/// The client's address and country, resolved once per request by [`resolve_client`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientFacts {
    pub ip: IpAddr,
    /// ISO 3166-1 alpha-2, when the GeoIP file knows the address.
    pub country: Option<String>,
}

fn peer_ip(request_extensions: &axum::http::Extensions) -> IpAddr {
    request_extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(IpAddr::from([127, 0, 0, 1]), |info| info.0.ip())
}

/// The client address: as resolved by [`resolve_client`] (the peer, or `X-Forwarded-For` from a
/// trusted proxy), else the peer address.
pub fn client_ip(request_extensions: &axum::http::Extensions) -> IpAddr {
    request_extensions
        .get::<ClientFacts>()
        .map_or_else(|| peer_ip(request_extensions), |facts| facts.ip)
}

/// Paths refused from a restricted country: registration and every login step.
pub fn refused_from_restricted_country(path: &str) -> bool {
    path == "/api/v1/signup"
        || path == "/api/v1/verify"
        || path == "/api/v1/login"
        || path.starts_with("/api/v1/login/")
}

/// Resolves the client address and its country once per request (see
/// [`bulwark_accounts::access::Access`]) and refuses sign-up and login from a restricted country with
/// 403 `region_restricted`.
pub async fn resolve_client(
    State(state): State<V1State>,
    mut request: Request,
    next: Next,
) -> Response {
    let access = state.accounts.access();
    let ip = access.client_ip(
        peer_ip(request.extensions()),
        &forwarded_for(request.headers()),
    );
    let country = access.country(ip);
    if request.method() == Method::POST
        && refused_from_restricted_country(request.uri().path())
        && let Err(refusal) =
            bulwark_accounts::doors::refuse_restricted_region(&state, country.as_deref())
    {
        return V1Error::from(refusal).into_response();
    }
    request.extensions_mut().insert(ClientFacts { ip, country });
    next.run(request).await
}

/// Every `X-Forwarded-For` value of a request, for [`bulwark_accounts::access::Access::client_ip`].
pub fn forwarded_for(headers: &HeaderMap) -> Vec<&str> {
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// The user agent, truncated.
pub fn user_agent(headers: &HeaderMap) -> String {
    bulwark_accounts::client::truncate_user_agent(
        headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(""),
    )
}

/// The caller's facts as the accounts service takes them, read from the request.
#[derive(Debug, Clone)]
pub struct Client(pub bulwark_accounts::Client);

impl std::ops::Deref for Client {
    type Target = bulwark_accounts::Client;

    fn deref(&self) -> &bulwark_accounts::Client {
        &self.0
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = V1Error;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Client, V1Error> {
        Ok(Client(bulwark_accounts::Client {
            ip: client_ip(&parts.extensions),
            user_agent: user_agent(&parts.headers),
            country: parts
                .extensions
                .get::<ClientFacts>()
                .and_then(|facts| facts.country.clone()),
            device_token: super::cookies::cookie_value(
                &parts.headers,
                super::cookies::DEVICE_COOKIE,
            ),
        }))
    }
}

/// Whether a state-changing request may proceed: bearer-token requests are not sent by
/// browsers on their own; otherwise the browser must say the request is same-origin.
pub fn csrf_allows(method: &Method, headers: &HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer "))
    {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return matches!(site, "same-origin" | "none");
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let origin_host = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://"))
                .map(|(_, rest)| rest);
            matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
    }
}

/// CSRF middleware (see [`csrf_allows`]).
pub async fn csrf(request: Request, next: Next) -> Response {
    if csrf_allows(request.method(), request.headers()) {
        return next.run(request).await;
    }
    V1Error::new(
        Kind::Forbidden,
        "csrf_rejected",
        "Cross-site request refused: send it from this site or with an Authorization: Bearer token",
    )
    .into_response()
}

/// Extra headers on every /api/v1 response (the server adds nosniff, frame and CSP headers).
pub async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    for (name, value) in [
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
        (
            "permissions-policy",
            "camera=(), microphone=(), geolocation=()",
        ),
    ] {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn bucket(state: &V1State, door: Door, request: Request, next: Next) -> Response {
    match bulwark_accounts::doors::admit(state, client_ip(request.extensions()), door) {
        Err(refusal) => V1Error::from(refusal).into_response(),
        Ok(()) => next.run(request).await,
    }
}

/// Per-IP bucket for sign-up and verification.
pub async fn unauthenticated_bucket(
    State(state): State<V1State>,
    request: Request,
    next: Next,
) -> Response {
    bucket(&state, Door::Open, request, next).await
}

/// Tighter per-IP bucket for the login steps.
pub async fn login_bucket(State(state): State<V1State>, request: Request, next: Next) -> Response {
    bucket(&state, Door::Login, request, next).await
}

/// Looser per-IP bucket for the endpoints waiting pages poll.
pub async fn poll_bucket(State(state): State<V1State>, request: Request, next: Next) -> Response {
    bucket(&state, Door::Poll, request, next).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn csrf_rules() {
        let post = Method::POST;
        assert!(csrf_allows(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!csrf_allows(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(!csrf_allows(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(csrf_allows(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(csrf_allows(
            &post,
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("authorization", "Bearer x")
            ])
        ));
        assert!(!csrf_allows(
            &post,
            &headers(&[
                ("origin", "https://evil.example"),
                ("host", "127.0.0.1:8080")
            ])
        ));
        assert!(csrf_allows(
            &post,
            &headers(&[
                ("origin", "http://127.0.0.1:8080"),
                ("host", "127.0.0.1:8080")
            ])
        ));
        assert!(!csrf_allows(
            &post,
            &headers(&[("origin", "null"), ("host", "h")])
        ));
        assert!(
            csrf_allows(&post, &headers(&[])),
            "non-browser clients send neither"
        );
    }
}
