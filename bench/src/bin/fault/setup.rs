//! The storm's accounts and videos, made through the API: likers with every combination of
//! the settings that decide a like's audience, and public creators with their videos.
use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use anyhow::{bail, Context};
use entity::{Audience, LikesVisibility, Visibility};
use sea_orm::ActiveEnum;
use serde_json::{json, Value};
use tally::{
    error::AppResult,
    ids::{IdCodec, Kind},
};
use tally_bench::OrMessage;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::{cli::Args, client::Ctx};

/// The server's ID codec, set once from `--id-key`.
pub static IDS: OnceLock<IdCodec> = OnceLock::new();

/// The UUID of an ID the server answered with.
fn decode_id(field: &str, kind: Kind, text: &str) -> AppResult<Uuid> {
    match IDS.get() {
        Some(ids) => ids.decode_id(field, kind, text),
        None => Err(tally::error::AppError::internal(anyhow::anyhow!(
            "the ID codec is not set"
        ))),
    }
}

/// A storm account.
#[derive(Debug, Clone)]
pub struct Account {
    pub id: Uuid,
    pub token: String,
    pub audience: Audience,
}

/// A video of the storm: its API ID and UUID.
#[derive(Debug, Clone)]
pub struct VideoRef {
    pub api_id: String,
    pub id: Uuid,
}

/// Signs up an account, retrying after a `RATE_LIMITED` answer.
async fn sign_up(
    ctx: &Ctx,
    handle: String,
    visibility: Visibility,
    likes: LikesVisibility,
) -> anyhow::Result<Account> {
    let vars = json!({ "input": {
        "handle": handle, "password": "fault-storm-password",
        "visibility": visibility.to_value(), "likesVisibility": likes.to_value() } });
    let q = "mutation($input: SignUpInput!) { signUp(input: $input) { token user { id } } }";
    for _ in 0..20 {
        let (status, body) = ctx
            .post(None, q, vars.clone())
            .await
            .map_err(|e| anyhow::anyhow!("signUp: {e}"))?;
        if let Some(after) = retry_after(&body) {
            tokio::time::sleep(Duration::from_secs(after.clamp(1, 10))).await;
            continue;
        }
        let d = &body["data"]["signUp"];
        let (Some(token), Some(id)) = (d["token"].as_str(), d["user"]["id"].as_str()) else {
            bail!("signUp of {handle} failed: HTTP {status} {body}");
        };
        let id = decode_id("id", Kind::User, id).or_message()?;
        return Ok(Account {
            id,
            token: token.to_owned(),
            audience: tally::privacy::audience(visibility, likes),
        });
    }
    bail!("signUp of {handle} stayed rate limited")
}

/// `extensions.retryAfter` of a `RATE_LIMITED` answer.
fn retry_after(body: &Value) -> Option<u64> {
    let e = body.pointer("/errors/0/extensions")?;
    (e["code"] == "RATE_LIMITED").then(|| e["retryAfter"].as_u64().unwrap_or(1))
}

/// Likers and videos of the storm, made through the API.
pub async fn set_up(ctx: &Arc<Ctx>, args: &Args) -> anyhow::Result<(Vec<Account>, Vec<VideoRef>)> {
    let run = Uuid::new_v4().simple().to_string();
    let run = &run[..6];
    let n = args.clients * args.likers_per_client;
    let mut likers = vec![None; n + 2];
    // Argon2 is CPU-bound: a few sign-ups at a time.
    let mut set = JoinSet::new();
    for i in 0..n + 2 {
        if set.len() >= 4 {
            collect(&mut set, &mut likers).await?;
        }
        let ctx = ctx.clone();
        // Every combination of the settings that decide a like's audience.
        let visibility = [Visibility::Public, Visibility::Private][i % 2];
        let likes = [
            LikesVisibility::Everyone,
            LikesVisibility::Followers,
            LikesVisibility::OnlyMe,
        ][(i / 2) % 3];
        // The last two accounts are the public creators.
        let (handle, visibility, likes) = if i >= n {
            (
                format!("fault_{run}_creator{}", i - n),
                Visibility::Public,
                LikesVisibility::Everyone,
            )
        } else {
            (format!("fault_{run}_{i}"), visibility, likes)
        };
        set.spawn(async move { (i, sign_up(&ctx, handle, visibility, likes).await) });
    }
    while !set.is_empty() {
        collect(&mut set, &mut likers).await?;
    }
    let mut accounts = likers
        .into_iter()
        .collect::<Option<Vec<_>>>()
        .context("an account is missing")?;
    let creators = accounts.split_off(n);
    let q = "mutation($input: CreateVideoInput!) { createVideo(input: $input) { id } }";
    let mut videos = Vec::new();
    for i in 0..args.videos {
        let creator = &creators[i % creators.len()];
        let vars = json!({ "input": { "caption": format!("fault storm video {i}"), "mediaUrl": format!("https://media.example.com/fault/{i}.mp4") } });
        let (status, body) = ctx
            .post(Some(&creator.token), q, vars)
            .await
            .map_err(|e| anyhow::anyhow!("createVideo: {e}"))?;
        let Some(api_id) = body["data"]["createVideo"]["id"].as_str() else {
            bail!("createVideo failed: HTTP {status} {body}");
        };
        let id = decode_id("id", Kind::Video, api_id).or_message()?;
        videos.push(VideoRef {
            api_id: api_id.to_owned(),
            id,
        });
    }
    Ok((accounts, videos))
}

async fn collect(
    set: &mut JoinSet<(usize, anyhow::Result<Account>)>,
    into: &mut [Option<Account>],
) -> anyhow::Result<()> {
    if let Some(joined) = set.join_next().await {
        let (i, account) = joined?;
        into.get_mut(i).context("index")?.replace(account?);
    }
    Ok(())
}
