//! BitMart's spot WebSocket: the public stream `/api` and the private one `/user` (any query
//! string such as `?protocol=1.1`): login with an API-key signature on `/user`, subscribe and
//! unsubscribe with acks, errors with BitMart's codes, protocol and text ping, and the pushes of
//! [`feed::Feed`]. Plain text JSON frames (clients inflate only binary ones). A connection reads
//! and writes in one task, so pongs go out while it waits.

pub mod book;
pub mod feed;
pub mod hub;
pub mod push;
pub mod topic;

use std::net::SocketAddr;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade, close_code};
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use axum::routing::get;
use futures_util::SinkExt;
use serde_json::Value;

use crate::auth::{Scope, usable_key};
use crate::envelope::ApiError;
use crate::ws::feed::Feed;
use crate::ws::hub::{Message, Subscribed};
use crate::ws::topic::{PrivateTopic, Topic};

/// What private-endpoint logins sign after `timestamp#memo#`.
pub const LOGIN_PAYLOAD: &[u8] = b"bitmart.WebSocket";

/// Which stream a connection is on, and on the private one who logged in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Public,
    Private { user: Option<i64> },
}

/// Largest frame or message a client may send: requests are short JSON.
pub const CLIENT_MESSAGE_BYTES_MAX: usize = 4_096;
/// Read buffer of a connection. Requests are short, so a small buffer is enough; the library's
/// default (128 KiB) is zero-filled again before every read attempt, and a connection attempts
/// one each time it wakes to write pushes: with thousands of subscribers that zero-filling, not
/// the pushes, took the cores (and 128 KiB of memory per connection).
pub const READ_BUFFER_BYTES: usize = CLIENT_MESSAGE_BYTES_MAX;
/// Messages one connection writes before flushing the socket.
pub const WRITE_BATCH_MAX: usize = 64;
/// Topics one subscribe or unsubscribe request may carry.
pub const ARGS_PER_REQUEST_MAX: usize = 20;

/// The public and private WebSocket routes.
pub fn router(feed: Feed) -> Router {
    Router::new()
        .route("/api", get(public))
        .route("/user", get(private))
        .with_state(feed)
}

async fn public(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(feed): State<Feed>,
) -> Response {
    upgrade(ws, feed, peer, Endpoint::Public)
}

async fn private(
    ws: WebSocketUpgrade,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    State(feed): State<Feed>,
) -> Response {
    upgrade(ws, feed, peer, Endpoint::Private { user: None })
}

fn upgrade(ws: WebSocketUpgrade, feed: Feed, peer: SocketAddr, endpoint: Endpoint) -> Response {
    ws.max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .read_buffer_size(READ_BUFFER_BYTES)
        .max_frame_size(CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| serve(feed, socket, peer, endpoint))
}

async fn serve(feed: Feed, mut socket: WebSocket, peer: SocketAddr, mut endpoint: Endpoint) {
    let (id, mut outbox) = feed.connect();
    metrics::gauge!("bulwark_websocket_connections").increment(1.0);
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Frame::Text(text))) => {
                    if text.as_str() == "ping" {
                        if socket.send(Frame::Text("pong".into())).await.is_err() {
                            break;
                        }
                    } else if let Err(error) =
                        request(&feed, id, peer, &mut endpoint, text.as_str()).await
                    {
                        // A failed login ends the connection, after saying why.
                        let reply = push::error(error.code, &error.message);
                        let _ = socket.send(Frame::Text(reply)).await;
                        let frame = CloseFrame {
                            code: close_code::POLICY,
                            reason: "login failed".into(),
                        };
                        let _ = socket.send(Frame::Close(Some(frame))).await;
                        break;
                    }
                }
                Some(Ok(Frame::Binary(_))) => {
                    feed.reply(id, &push::error(30039, "Unrecognized request: send text JSON frames"));
                }
                Some(Ok(Frame::Ping(_) | Frame::Pong(_))) => {}
                Some(Ok(Frame::Close(_)) | Err(_)) | None => break,
            },
            out = outbox.recv() => match out {
                Some(message) => {
                    if write_queued(&mut socket, &mut outbox, message).await.is_err() {
                        break;
                    }
                }
                None => {
                    // The hub dropped this connection: it fell too far behind.
                    metrics::counter!("bulwark_websocket_slow_disconnects_total").increment(1);
                    let frame = CloseFrame {
                        code: close_code::POLICY,
                        reason: "too slow: messages were not read in time".into(),
                    };
                    let _ = socket.send(Frame::Close(Some(frame))).await;
                    break;
                }
            },
        }
    }
    feed.disconnect(id);
    metrics::gauge!("bulwark_websocket_connections").decrement(1.0);
}

/// Writes `first` and whatever else is already queued for this connection (up to
/// [`WRITE_BATCH_MAX`] messages), then flushes once: under load a connection wakes once per round
/// of the feed instead of once per message, and its frames leave in as few writes as they fit.
async fn write_queued(
    socket: &mut WebSocket,
    outbox: &mut tokio::sync::mpsc::Receiver<Message>,
    first: Message,
) -> Result<(), axum::Error> {
    socket.feed(Frame::Text(first)).await?;
    for _ in 1..WRITE_BATCH_MAX {
        match outbox.try_recv() {
            Ok(message) => socket.feed(Frame::Text(message)).await?,
            Err(_) => break,
        }
    }
    socket.flush().await
}

/// The op and args of a request frame, or the 30039 message for a frame that is not JSON or
/// lacks either (the frame itself is shown, cut to 200 characters).
pub fn parse_request(text: &str) -> Result<(String, Vec<Value>), String> {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let request = parsed.and_then(|value| match value {
        Value::Object(mut fields) => match (fields.remove("op"), fields.remove("args")) {
            (Some(Value::String(op)), Some(Value::Array(args))) => Some((op, args)),
            _ => None,
        },
        _ => None,
    });
    request.ok_or_else(|| {
        let shown: String = text.chars().take(200).collect();
        format!("Unrecognized request: {shown}")
    })
}

/// One client request: `{"op":"login"|"subscribe"|"unsubscribe","args":[…]}`. Refusals are
/// replied and the connection goes on; only a failed login is returned, to end it.
async fn request(
    feed: &Feed,
    id: u64,
    peer: SocketAddr,
    endpoint: &mut Endpoint,
    text: &str,
) -> Result<(), ApiError> {
    let (op, args) = match parse_request(text) {
        Ok(request) => request,
        Err(message) => {
            feed.reply(id, &push::error(30039, &message));
            return Ok(());
        }
    };
    let (op, args) = (op.as_str(), args.as_slice());
    match (op, *endpoint) {
        ("login", Endpoint::Private { .. }) => {
            let user = login(feed, peer, args).await?;
            *endpoint = Endpoint::Private { user: Some(user) };
            feed.reply(id, &push::logged_in());
            return Ok(());
        }
        ("login", Endpoint::Public) => {
            let message = "Unrecognized request: login belongs on the private endpoint /user";
            feed.reply(id, &push::error(30039, message));
            return Ok(());
        }
        ("subscribe" | "unsubscribe", _) => {}
        _ => {
            let message = format!("Unrecognized request: op {op:?}; use subscribe or unsubscribe");
            feed.reply(id, &push::error(30039, &message));
            return Ok(());
        }
    }
    if args.is_empty() || args.len() > ARGS_PER_REQUEST_MAX {
        let message = format!("Unrecognized request: give 1 to {ARGS_PER_REQUEST_MAX} args");
        feed.reply(id, &push::error(30039, &message));
        return Ok(());
    }
    let catalog = feed.catalog();
    for arg in args {
        let Some(text) = arg.as_str() else {
            feed.reply(
                id,
                &push::error(30039, "Unrecognized request: args are strings"),
            );
            continue;
        };
        let outcome = match *endpoint {
            Endpoint::Public => match Topic::parse(text, &catalog) {
                Ok(topic) if op == "unsubscribe" => {
                    feed.unsubscribe(id, &topic);
                    feed.reply(id, &push::ack("unsubscribe", &topic.key()));
                    continue;
                }
                Ok(topic) => feed.subscribe(id, &topic).await,
                Err(error) => {
                    feed.reply(id, &push::error(error.code(), &error.to_string()));
                    continue;
                }
            },
            Endpoint::Private { user } => match (PrivateTopic::parse(text, &catalog), user) {
                (Err(error), _) => {
                    feed.reply(id, &push::error(error.code(), &error.to_string()));
                    continue;
                }
                (Ok(_), None) => {
                    let message = "Not logged in: send login before private subscriptions";
                    feed.reply(id, &push::error(30001, message));
                    continue;
                }
                (Ok(topic), Some(user)) if op == "unsubscribe" => {
                    feed.unsubscribe_private(id, user, &topic);
                    feed.reply(id, &push::ack("unsubscribe", &topic.shown()));
                    continue;
                }
                (Ok(topic), Some(user)) => feed.subscribe_private(id, user, &topic),
            },
        };
        if outcome == Subscribed::TooMany {
            let message = format!(
                "Too many subscriptions: at most {} per connection",
                hub::SUBSCRIPTIONS_PER_CONNECTION_MAX
            );
            feed.reply(id, &push::error(30013, &message));
        }
    }
    Ok(())
}

/// `{"op":"login","args":[access_key, timestamp_ms, sign]}` with sign = hex HMAC-SHA256 of
/// `timestamp#memo#bitmart.WebSocket` under the key's secret: the REST key checks (existence,
/// idle expiry, IP allowlist, read scope, 60 s window, constant-time signature).
async fn login(feed: &Feed, peer: SocketAddr, args: &[Value]) -> Result<i64, ApiError> {
    let arg = |index: usize| {
        args.get(index)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let key = arg(0).ok_or_else(|| ApiError::auth(30001, "Login needs the API key first"))?;
    let timestamp = arg(1).ok_or_else(|| ApiError::auth(30006, "Login needs a timestamp"))?;
    let sign = arg(2).ok_or_else(|| ApiError::auth(30004, "Login needs a signature"))?;
    let trading = feed.trading();
    let usable = usable_key(trading, key, None, peer.ip(), Scope::Read).await?;
    usable.check_signature(trading, timestamp, sign, &[LOGIN_PAYLOAD])?;
    Ok(usable.accept(trading).await.user_id)
}
