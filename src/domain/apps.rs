//! Third-party analytics apps: a creator's OAuth2 clients (`createApiClient`,
//! `User.apiClients`, `revokeApiClient`) and the client authentication of
//! `POST /oauth/token`. A client's secret is shown once, when it is made, and stored only
//! as an Argon2id hash.
use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use entity::AccountType;
use rand::RngCore;
use sea_orm::{ConnectionTrait, DatabaseConnection, QueryResult};
use uuid::Uuid;

use super::{
    creator_analytics,
    hold::{hold, Hold},
    input::{check_len, check_no_nul},
};
use crate::{
    auth::password,
    db::{self, col, lit, Sql},
    error::{AppError, AppResult},
    frag,
};

/// Most clients a creator may have that are not revoked.
pub const MAX_ACTIVE_CLIENTS: i64 = 20;

/// A creator's client, as its creator sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiClient {
    pub id: Uuid,
    pub creator: Uuid,
    pub name: String,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// A client just made, with its secret: the only time the secret is known.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub client: ApiClient,
    pub secret: String,
}

fn client_of(row: &QueryResult) -> AppResult<ApiClient> {
    Ok(ApiClient {
        id: col(row, "id")?,
        creator: col(row, "creator_id")?,
        name: col(row, "name")?,
        created_at: col(row, "created_at")?,
        revoked_at: col(row, "revoked_at")?,
    })
}

const COLUMNS: &str = "id, creator_id, name, created_at, revoked_at";

/// A fresh secret: 32 bytes of the operating system's CSPRNG, base64url (43 characters).
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Makes a client named `name` for the signed-in `viewer`, which must be a `CREATOR`
/// (`FORBIDDEN` otherwise; `UNAUTHENTICATED` anonymous). `name`: 1–100 characters
/// (`BAD_USER_INPUT`); `CONFLICT` when the creator has [`MAX_ACTIVE_CLIENTS`] clients that are
/// not revoked.
pub async fn create_client(
    db: &DatabaseConnection,
    viewer: Option<Uuid>,
    name: &str,
    now_us: i64,
) -> AppResult<NewClient> {
    let creator = creator_analytics::creator(db, viewer).await?.id();
    let name = name.trim().to_owned();
    check_len("name", &name, 1, 100)?;
    check_no_nul("name", &name)?;
    let secret = new_secret();
    let secret_hash = password::hash(secret.clone()).await?;
    let client = ApiClient {
        id: Uuid::now_v7(),
        creator,
        name,
        created_at: now_us,
        revoked_at: None,
    };
    let row = client.clone();
    db::transaction(db, move |txn| {
        let (row, secret_hash) = (row.clone(), secret_hash.clone());
        Box::pin(async move {
            // One creator's clients are made one at a time, so the cap holds.
            hold(txn, Hold::Shared, row.creator, None).await?;
            let mut q = Sql::default();
            let c = q.bind(row.creator);
            q.append(frag![
                "SELECT COUNT(*) AS n FROM api_clients WHERE creator_id = ",
                c,
                " AND revoked_at IS NULL"
            ]);
            let active: i64 = match q.one(txn).await? {
                Some(r) => col(&r, "n")?,
                None => 0,
            };
            if active >= MAX_ACTIVE_CLIENTS {
                return Err(AppError::Conflict {
                    field: String::new(),
                    message: format!(
                        "a creator may have {MAX_ACTIVE_CLIENTS} apps that are not revoked: \
                         revoke one first"
                    ),
                });
            }
            let mut q = Sql::default();
            let (i, c, n, h, t) = (
                q.bind(row.id),
                q.bind(row.creator),
                q.bind(row.name.clone()),
                q.bind(secret_hash),
                q.bind(row.created_at),
            );
            q.append(frag![
                "INSERT INTO api_clients (id, creator_id, name, secret_hash, created_at) VALUES (",
                i,
                ", ",
                c,
                ", ",
                n,
                ", ",
                h,
                ", ",
                t,
                ")"
            ]);
            q.execute(txn).await?;
            Ok(())
        })
    })
    .await?;
    Ok(NewClient { client, secret })
}

/// Every client of `creator`, revoked ones too, newest first (`idx_api_clients_creator`).
pub async fn clients_of(db: &impl ConnectionTrait, creator: Uuid) -> AppResult<Vec<ApiClient>> {
    let mut q = Sql::default();
    let c = q.bind(creator);
    q.append(frag![
        "SELECT ",
        COLUMNS,
        " FROM api_clients WHERE creator_id = ",
        c,
        " ORDER BY created_at DESC, id DESC"
    ]);
    q.all(db).await?.iter().map(client_of).collect()
}

/// The client `id` when `viewer` made it; `None` for anyone else (as if it did not exist).
pub async fn own_client(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    id: Uuid,
) -> AppResult<Option<ApiClient>> {
    let Some(me) = viewer else {
        return Ok(None);
    };
    let mut q = Sql::default();
    let (i, c) = (q.bind(id), q.bind(me));
    q.append(frag![
        "SELECT ",
        COLUMNS,
        " FROM api_clients WHERE id = ",
        i,
        " AND creator_id = ",
        c
    ]);
    q.one(db).await?.as_ref().map(client_of).transpose()
}

/// Revokes the signed-in `viewer`'s client `id` at `now_us` (a client already revoked keeps
/// its time): its tokens are refused from the next request on. `NOT_FOUND` when the viewer
/// did not make it.
pub async fn revoke_client(
    db: &DatabaseConnection,
    viewer: Uuid,
    id: Uuid,
    now_us: i64,
) -> AppResult<()> {
    let mut q = Sql::default();
    let (t, i, c) = (q.bind(now_us), q.bind(id), q.bind(viewer));
    q.append(frag![
        "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, ",
        t,
        ") WHERE id = ",
        i,
        " AND creator_id = ",
        c
    ]);
    match q.execute(db).await? {
        0 => Err(AppError::NotFound),
        _ => Ok(()),
    }
}

/// Why a client's authentication failed (RFC 6749 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Unknown client, wrong secret, or revoked: `invalid_client`.
    InvalidClient,
    /// Its creator's account is no longer a `CREATOR`: `unauthorized_client`.
    Unauthorized,
}

/// The client `id` with `secret`, when it exists, is not revoked, the secret matches and its
/// creator is still a `CREATOR`: the creator. An unknown client costs the same Argon2id check
/// as a wrong secret.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    id: Uuid,
    secret: String,
) -> AppResult<Result<Uuid, Refusal>> {
    let mut q = Sql::default();
    let i = q.bind(id);
    q.append(frag![
        "SELECT c.creator_id, c.secret_hash, c.revoked_at, \
         CASE WHEN u.account_type = ",
        lit(AccountType::Creator),
        " THEN 1 ELSE 0 END AS is_creator \
         FROM api_clients c JOIN users u ON u.id = c.creator_id WHERE c.id = ",
        i
    ]);
    let row = q.one(db).await?;
    let hash: Option<String> = row.as_ref().map(|r| col(r, "secret_hash")).transpose()?;
    if !password::verify(secret, hash).await? {
        return Ok(Err(Refusal::InvalidClient));
    }
    let Some(row) = row else {
        return Ok(Err(Refusal::InvalidClient));
    };
    if col::<Option<i64>>(&row, "revoked_at")?.is_some() {
        return Ok(Err(Refusal::InvalidClient));
    }
    if col::<i32>(&row, "is_creator")? != 1 {
        return Ok(Err(Refusal::Unauthorized));
    }
    Ok(Ok(col(&row, "creator_id")?))
}
