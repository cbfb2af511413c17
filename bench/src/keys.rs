//! The secrets `tally-bench` starts the server with, and what the benchmark makes with them:
//! API IDs, cursors and tokens the server accepts as its own.
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

/// Issues the service's own tokens (the server runs with [`SECRET`]) for any account.
pub fn token_issuer() -> anyhow::Result<impl Fn(Uuid) -> anyhow::Result<String>> {
    let ids = IdCodec::new(&id_key());
    let tokens = Tokens::new(SECRET.as_bytes(), chrono::Duration::hours(24), ids)?;
    Ok(move |id: Uuid| tokens.issue(id).map(|(t, _)| t).or_message())
}
