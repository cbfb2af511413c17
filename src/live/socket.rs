//! The `graphql-transport-ws` endpoint: `GET /graphql` with a WebSocket upgrade.
//!
//! The handshake is this module's: the first message must be `connection_init` within
//! `TALLY_LIVE_INIT_TIMEOUT_MS` (else close 4408), its `payload.authorization` is verified
//! by [`Authenticator::credentials`], the same code as HTTP's `Authorization` header (a bad
//! token: close 4401; an app's token: 4403), and the connection takes one of its
//! principal's slots (none left: close 4429). async-graphql's [`WebSocket`] then speaks the
//! rest of the protocol (subscribe, next, complete, ping/pong), with the connection's data
//! (viewer, loaders, hub, subscription slots). A WebSocket ping every
//! [`HEARTBEAT`] finds dead peers: silent for three of them, the connection is closed.
//!
//! [`Authenticator::credentials`]: crate::auth::Authenticator::credentials
use std::{net::IpAddr, time::Duration};

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::{
    http::{WebSocket, WsMessage},
    Data,
};
use futures_util::StreamExt;
use serde_json::Value;
use tokio::{sync::broadcast, time::Instant};
use uuid::Uuid;

use super::ConnectionKey;
use crate::{
    auth::CurrentSession,
    error::AppError,
    graphql::{live::ConnectionSubscriptions, Loaders},
    startup::AppState,
};

/// The one subprotocol spoken.
pub const PROTOCOL: &str = "graphql-transport-ws";

/// How often the server pings an open connection.
pub const HEARTBEAT: Duration = Duration::from_secs(15);

/// Largest message a client may send.
const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// Whether `req` asks for a WebSocket upgrade.
pub fn is_upgrade(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Accepts the upgrade if the client offers [`PROTOCOL`], and serves the connection.
pub fn upgrade(
    state: web::Data<AppState>,
    req: &HttpRequest,
    body: web::Payload,
) -> Result<HttpResponse, actix_web::Error> {
    let offered = req
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return Ok(HttpResponse::BadRequest()
            .body("a WebSocket on /graphql speaks `graphql-transport-ws`: offer it"));
    }
    let (response, session, messages) = actix_ws::handle_with_protocols(req, body, &[PROTOCOL])?;
    let ip = state.rate_limiter.caller(req).ip();
    let messages = messages
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    actix_web::rt::spawn(serve(state, session, messages, ip));
    Ok(response)
}

async fn close(session: Session, code: u16, description: &str) {
    let reason = CloseReason {
        code: CloseCode::from(code),
        description: Some(description.to_owned()),
    };
    // The peer may be gone already; nothing is left to do then.
    let _ = session.close(Some(reason)).await;
}

/// What the handshake ended with.
enum Handshake {
    /// `connection_init` was accepted: its text (handed on to the protocol), data, slot,
    /// and the account and session of its token, if it is the service's own.
    Accepted(
        String,
        Data,
        super::ConnectionSlot,
        Option<(Uuid, CurrentSession)>,
    ),
    /// Closed (with this code and reason), or the peer left.
    Closed(Option<(u16, &'static str)>),
}

async fn serve(
    state: web::Data<AppState>,
    mut session: Session,
    mut messages: actix_ws::AggregatedMessageStream,
    ip: IpAddr,
) {
    // Boxed, as is every rare step below: a connection's future is as large as its largest
    // state, and it lives as long as the connection.
    let handshake = Box::pin(handshake(&state, &mut session, &mut messages, ip)).await;
    let (init, data, slot, own) = match handshake {
        Handshake::Accepted(init, data, slot, own) => (init, data, slot, own),
        Handshake::Closed(Some((code, why))) => return Box::pin(close(session, code, why)).await,
        Handshake::Closed(None) => return,
    };
    let (to_protocol, client) = futures_channel::mpsc::unbounded::<String>();
    let protocol = WebSocket::new(
        state.schema.clone(),
        client,
        async_graphql::http::WebSocketProtocols::GraphQLWS,
    )
    .on_connection_init(move |_| async move { Ok(data) });
    let mut protocol = std::pin::pin!(protocol);
    if to_protocol.unbounded_send(init).is_err() {
        return;
    }
    // A connection of a session ends with it (4401), on every instance.
    let mut sessions = own.map(|_| state.hub.watch_sessions());
    let mut heartbeat = tokio::time::interval_at(Instant::now() + HEARTBEAT, HEARTBEAT);
    let mut last_heard = Instant::now();
    let ending = loop {
        tokio::select! {
            message = messages.next() => {
                last_heard = Instant::now();
                match message {
                    Some(Ok(AggregatedMessage::Text(text))) => {
                        if to_protocol.unbounded_send(text.to_string()).is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break None;
                        }
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => {}
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        break Some((4400, "graphql-transport-ws messages are text".to_owned()));
                    }
                    Some(Ok(AggregatedMessage::Close(_))) | None => break None,
                    Some(Err(_)) => break Some((1002, "WebSocket protocol error".to_owned())),
                }
            }
            out = protocol.next() => match out {
                Some(WsMessage::Text(text)) => {
                    if session.text(text).await.is_err() {
                        break None;
                    }
                }
                Some(WsMessage::Close(code, reason)) => break Some((code, reason)),
                None => break Some((1000, "done".to_owned())),
            },
            ended = next_ended(&mut sessions) => {
                let concerns = match ended {
                    Ok(who) => who.is_none() || who == own.map(|(user, _)| user),
                    Err(broadcast::error::RecvError::Lagged(_)) => true,
                    Err(broadcast::error::RecvError::Closed) => {
                        sessions = None;
                        false
                    }
                };
                if let (true, Some((user, current))) = (concerns, own) {
                    match Box::pin(state.auth.session_live(&state.db, current, user)).await {
                        Ok(true) => {}
                        Ok(false) => break Some((4401, "Unauthorized: the session ended".to_owned())),
                        Err(e) => tracing::warn!(error = ?e, "checking a live connection's session failed"),
                    }
                }
            }
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > HEARTBEAT * 3 {
                    break Some((1001, "no answer to pings".to_owned()));
                }
                if session.ping(b"").await.is_err() {
                    break None;
                }
            }
        }
    };
    drop(slot);
    if let Some((code, reason)) = ending {
        Box::pin(close(session, code, &reason)).await;
    }
}

/// The next account whose sessions ended, or never without a session to watch.
async fn next_ended(
    sessions: &mut Option<broadcast::Receiver<Option<Uuid>>>,
) -> Result<Option<Uuid>, broadcast::error::RecvError> {
    match sessions {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for `connection_init` (answering pings meanwhile) and admits the connection.
async fn handshake(
    state: &AppState,
    session: &mut Session,
    messages: &mut actix_ws::AggregatedMessageStream,
    ip: IpAddr,
) -> Handshake {
    let limits = state.hub.limits();
    let deadline = Instant::now() + Duration::from_millis(limits.init_timeout_ms);
    let (text, init) = loop {
        let message = match tokio::time::timeout_at(deadline, messages.next()).await {
            Err(_) => return Handshake::Closed(Some((4408, "Connection initialisation timeout"))),
            Ok(None | Some(Ok(AggregatedMessage::Close(_)))) => return Handshake::Closed(None),
            Ok(Some(Err(_))) => return Handshake::Closed(Some((1002, "WebSocket protocol error"))),
            Ok(Some(Ok(m))) => m,
        };
        let text = match message {
            AggregatedMessage::Text(text) => text.to_string(),
            AggregatedMessage::Ping(bytes) => {
                let _ = session.pong(&bytes).await;
                continue;
            }
            AggregatedMessage::Pong(_) => continue,
            AggregatedMessage::Binary(_) | AggregatedMessage::Close(_) => {
                return Handshake::Closed(Some((4400, "graphql-transport-ws messages are text")))
            }
        };
        let Ok(value) = serde_json::from_str::<Value>(&text) else {
            return Handshake::Closed(Some((4400, "Invalid message received")));
        };
        match value.get("type").and_then(Value::as_str) {
            Some("connection_init") => break (text, value),
            Some("ping") => {
                let _ = session.text(r#"{"type":"pong"}"#).await;
            }
            Some("pong") => {}
            // Subscribing before the handshake is over: the protocol's 4401.
            Some("subscribe") => return Handshake::Closed(Some((4401, "Unauthorized"))),
            _ => return Handshake::Closed(Some((4400, "Invalid message received"))),
        }
    };
    let authorization = match init.pointer("/payload/authorization") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Handshake::Closed(Some((4401, "Unauthorized"))),
    };
    let credentials = match state.auth.credentials(&state.db, authorization).await {
        Ok(c) => c,
        Err(AppError::Unauthenticated(_)) => {
            return Handshake::Closed(Some((4401, "Unauthorized")))
        }
        Err(e) => {
            tracing::error!(error = %e.log_detail(), "looking up the account of a live token failed");
            return Handshake::Closed(Some((1011, "internal error")));
        }
    };
    // An app's token calls `appAnalytics` only.
    if credentials.app.is_some() {
        return Handshake::Closed(Some((4403, "Forbidden")));
    }
    let viewer = credentials.viewer;
    let key = match viewer.id() {
        Some(id) => ConnectionKey::Account(id),
        None => ConnectionKey::Anonymous(ip),
    };
    let Some(slot) = state.hub.admit(key) else {
        return Handshake::Closed(Some((4429, "LIMIT_EXCEEDED: too many connections")));
    };
    let mut data = Data::default();
    let loaders: Loaders = crate::graphql::loaders_for(state.db.clone(), viewer);
    data.insert(viewer);
    data.insert(loaders);
    data.insert(state.clock);
    data.insert(state.thresholds);
    data.insert(state.apps);
    data.insert(state.hub.clone());
    data.insert(ConnectionSubscriptions::new(
        limits.max_subscriptions_per_connection,
    ));
    if let Some(subject) = credentials.subject {
        data.insert(subject);
    }
    let own = viewer.id().zip(credentials.session);
    Handshake::Accepted(text, data, slot, own)
}
