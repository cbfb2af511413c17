//! The secrets `tally-bench` starts the server with, and what the benchmark makes with them:
//! API IDs, cursors and tokens the server accepts as its own.
use sea_orm::DatabaseConnection;
use tally::{
    auth::token::Tokens,
    ids::{CursorCodec, CursorKind, IdCodec, IdKey, Keyset, Kind},
};
use uuid::Uuid;

use crate::OrMessage;

/// The server's `TALLY_JWT_SECRET`.
pub const SECRET: &str = "benchmark-secret-benchmark-secret-0123456789";
/// The server's `TALLY_ID_KEY`: the benchmark encrypts the IDs and cursors it sends with it.
pub const ID_KEY: &str = "0b5e4c1d7a9f3e2b6c8d0a1f4e7b9c2d5a8f1e3b6d9c0a2f5e8b1d4c7a0f3e6b";

fn id_key() -> IdKey {
    match IdKey::from_hex(ID_KEY) {
        Ok(key) => key,
        Err(_) => unreachable!("ID_KEY is 64 hexadecimal characters"),
    }
}

/// The API ID of a row, as the server (running with [`ID_KEY`]) writes it.
pub fn encode_id(kind: Kind, id: Uuid) -> String {
    IdCodec::new(&id_key()).encode_id(kind, id)
}

/// The cursor of a page starting after `keyset`, as the server (running with [`ID_KEY`])
/// writes it.
pub fn encode_cursor(kind: CursorKind, keyset: Keyset) -> anyhow::Result<String> {
    CursorCodec::new(&id_key())
        .encode(kind, keyset)
        .or_message()
}

/// Issues the service's own access tokens (the server runs with [`SECRET`]) for any
/// account, each in a new session of the account (the server refuses a token whose session
/// is not in the database).
pub struct TokenIssuer {
    tokens: Tokens,
    db: DatabaseConnection,
}

impl TokenIssuer {
    /// An access token of `user`, valid for 24 hours, in a new session.
    pub async fn token(&self, user: Uuid) -> anyhow::Result<String> {
        let now = chrono::Utc::now();
        let issued = tally::domain::sessions::start(
            &self.db,
            user,
            None,
            now.timestamp_micros(),
            self.tokens.refresh_ttl(),
        )
        .await
        .or_message()?;
        self.tokens
            .issue(user, issued.session, now)
            .map(|(t, _)| t)
            .or_message()
    }

    /// A token for each of `users`, in order.
    pub async fn tokens(
        &self,
        users: impl IntoIterator<Item = Uuid>,
    ) -> anyhow::Result<Vec<String>> {
        let mut out = Vec::new();
        for user in users {
            out.push(self.token(user).await?);
        }
        Ok(out)
    }
}

/// The [`TokenIssuer`] of the accounts in `db`.
pub fn token_issuer(db: &DatabaseConnection) -> anyhow::Result<TokenIssuer> {
    let ids = IdCodec::new(&id_key());
    let tokens = Tokens::new(SECRET.as_bytes(), chrono::Duration::hours(24), ids)?;
    Ok(TokenIssuer {
        tokens,
        db: db.clone(),
    })
}
