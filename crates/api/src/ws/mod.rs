//! BitMart's public spot WebSocket (`/api`, any query string such as `?protocol=1.1`): subscribe
//! and unsubscribe with acks, errors with BitMart's codes, protocol and text ping, and the
//! market-data pushes of [`feed::Feed`]. Plain text JSON frames (clients inflate only binary
//! ones). A connection reads and writes in one task, so pongs go out while it waits.

pub mod book;
pub mod feed;
pub mod hub;
pub mod push;
pub mod topic;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message as Frame, WebSocket, WebSocketUpgrade, close_code};
use axum::response::Response;
use axum::routing::get;
use serde_json::Value;

use crate::ws::feed::Feed;
use crate::ws::hub::Subscribed;
use crate::ws::topic::Topic;

/// Largest frame or message a client may send: requests are short JSON.
pub const CLIENT_MESSAGE_BYTES_MAX: usize = 4_096;
/// Topics one subscribe or unsubscribe request may carry.
pub const ARGS_PER_REQUEST_MAX: usize = 20;

/// The public WebSocket route.
pub fn router(feed: Feed) -> Router {
    Router::new().route("/api", get(upgrade)).with_state(feed)
}

async fn upgrade(ws: WebSocketUpgrade, State(feed): State<Feed>) -> Response {
    ws.max_message_size(CLIENT_MESSAGE_BYTES_MAX)
        .max_frame_size(CLIENT_MESSAGE_BYTES_MAX)
        .on_upgrade(move |socket| serve(feed, socket))
}

async fn serve(feed: Feed, mut socket: WebSocket) {
    let (id, mut outbox) = feed.connect();
    loop {
        tokio::select! {
            incoming = socket.recv() => match incoming {
                Some(Ok(Frame::Text(text))) => {
                    if text.as_str() == "ping" {
                        if socket.send(Frame::Text("pong".into())).await.is_err() {
                            break;
                        }
                    } else {
                        request(&feed, id, text.as_str()).await;
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
                    if socket.send(Frame::Text(message.as_ref().into())).await.is_err() {
                        break;
                    }
                }
                None => {
                    // The hub dropped this connection: it fell too far behind.
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
}

/// One client request: `{"op":"subscribe"|"unsubscribe","args":["channel:SYMBOL", …]}`.
async fn request(feed: &Feed, id: u64, text: &str) {
    let parsed: Option<Value> = serde_json::from_str(text).ok();
    let op = parsed
        .as_ref()
        .and_then(|v| v.get("op"))
        .and_then(Value::as_str);
    let args = parsed
        .as_ref()
        .and_then(|v| v.get("args"))
        .and_then(Value::as_array);
    let (Some(op), Some(args)) = (op, args) else {
        let shown: String = text.chars().take(200).collect();
        let message = format!("Unrecognized request: {shown}");
        feed.reply(id, &push::error(30039, &message));
        return;
    };
    if op != "subscribe" && op != "unsubscribe" {
        let message = if op == "login" {
            "Unrecognized request: login belongs on the private endpoint /user".to_owned()
        } else {
            format!("Unrecognized request: op {op:?}; use subscribe or unsubscribe")
        };
        feed.reply(id, &push::error(30039, &message));
        return;
    }
    if args.is_empty() || args.len() > ARGS_PER_REQUEST_MAX {
        let message = format!("Unrecognized request: give 1 to {ARGS_PER_REQUEST_MAX} args");
        feed.reply(id, &push::error(30039, &message));
        return;
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
        let topic = match Topic::parse(text, &catalog) {
            Ok(topic) => topic,
            Err(error) => {
                feed.reply(id, &push::error(error.code(), &error.to_string()));
                continue;
            }
        };
        if op == "unsubscribe" {
            feed.unsubscribe(id, &topic);
            feed.reply(id, &push::ack("unsubscribe", &topic.key()));
            continue;
        }
        if feed.subscribe(id, &topic).await == Subscribed::TooMany {
            let message = format!(
                "Too many subscriptions: at most {} per connection",
                hub::SUBSCRIPTIONS_PER_CONNECTION_MAX
            );
            feed.reply(id, &push::error(30013, &message));
        }
    }
}
