//! The likes-at-scale dataset, deterministic from `--seed`: accounts with their privacy
//! settings, a power-law follow graph, one video per `--sizes` entry, the viewer's follows
//! and blocks, the feed's videos and the like storm's hot video.
use std::collections::HashSet;

use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection, DbBackend, TransactionTrait};
use tally::privacy::audience;
use uuid::Uuid;

use crate::{
    cli::Args,
    database::{analyze, insert_chunked, insert_likes, insert_video},
};

/// What the seeding produced and the scenarios need.
pub struct Dataset {
    pub viewer: Uuid,
    /// The public author of the sized videos and the hot video.
    pub creator: Uuid,
    /// Accounts are `u0` … `u{accounts - 1}` (plus `creator` and `viewer`).
    pub accounts: usize,
    /// `(size, video)`, smallest first.
    pub videos: Vec<(usize, Uuid)>,
    pub hot_video: Uuid,
    /// Accounts that like nothing yet: the like storm's and the soak's writers.
    pub storm_users: Vec<Uuid>,
}

/// A user or video ID, deterministic from the seed.
fn uuid_for(seed: u64, i: u64) -> Uuid {
    // Time-ordered like v7 in spirit, deterministic from the seed.
    Uuid::from_u64_pair(
        0x0190_0000_0000_7000 | (seed & 0xfff),
        0x8000_0000_0000_0000 | i,
    )
}

/// Seeds the dataset (see `bench/README.md`, "Dataset") in one transaction, then analyzes.
pub async fn seed(db: &DatabaseConnection, args: &Args) -> anyhow::Result<Dataset> {
    use entity::{Audience, LikesVisibility as L, Visibility as V};
    struct U {
        id: Uuid,
        vis: V,
        lv: L,
    }
    let mut rng = StdRng::seed_from_u64(args.seed);
    let max_size = args.sizes.iter().copied().max().unwrap_or(1000);
    let storm_n = 40_000usize;
    let n = max_size + storm_n + 1000;
    let t0 = chrono::Utc::now().timestamp_micros() - 86_400_000_000;
    let mut users: Vec<U> = (0..n)
        .map(|i| {
            let vis = if rng.gen_bool(args.private_share) {
                V::Private
            } else {
                V::Public
            };
            let x: f64 = rng.gen();
            let lv = if x < args.everyone_share {
                L::Everyone
            } else if x < args.everyone_share + args.followers_share {
                L::Followers
            } else {
                L::OnlyMe
            };
            U {
                id: uuid_for(args.seed, i as u64),
                vis,
                lv,
            }
        })
        .collect();
    let creator = uuid_for(args.seed, n as u64);
    let viewer = uuid_for(args.seed, n as u64 + 1);
    users.push(U {
        id: creator,
        vis: V::Public,
        lv: L::Everyone,
    });
    users.push(U {
        id: viewer,
        vis: V::Public,
        lv: L::Everyone,
    });
    let txn = db.begin().await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        // The seeding transaction touches every page of six indexes in random order; with
        // SQLite's default 2 MB page cache it re-reads them from the WAL all the time (a 1M-like
        // dataset took 12.5 minutes). A 2 GiB cache for this connection keeps them in memory.
        txn.execute_unprepared("PRAGMA cache_size = -2097152")
            .await?;
    }
    let indexed: Vec<(usize, &U)> = users.iter().enumerate().collect();
    insert_chunked(
        &txn,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, created_at",
        &indexed,
        2000,
        |q, (i, u)| {
            let handle = if u.id == creator {
                "creator".to_owned()
            } else if u.id == viewer {
                "viewer".to_owned()
            } else {
                format!("u{i}")
            };
            let parts = [
                q.bind(u.id),
                q.bind(handle.clone()),
                q.bind(handle),
                q.bind("!"),
                q.bind(if u.id == creator { "CREATOR" } else { "PERSONAL" }),
                q.bind(u.vis.to_value()),
                q.bind(u.lv.to_value()),
                q.bind(t0),
            ];
            format!("({})", tally::db::Frag::join(parts, ", "))
        },
    )
    .await?;

    // Power-law follow graph: Pareto out-degrees, Zipf-like (low index = popular) targets.
    let mut follows: Vec<(Uuid, Uuid)> = Vec::new();
    for i in 0..n {
        let u: f64 = rng.gen_range(1e-9..1.0);
        let degree = ((args.mean_follows / 2.0) * (1.0 / u.sqrt()))
            .floor()
            .min(1000.0) as usize;
        let mut seen = HashSet::new();
        for _ in 0..degree {
            let j = ((n as f64) * rng.gen::<f64>().powi(3)) as usize;
            if j != i && seen.insert(j) {
                follows.push((users[i].id, users[j].id));
            }
        }
    }
    // The measured viewer follows `viewer_follows` likers of the big video, and the creator.
    let mut likers: Vec<usize> = (0..max_size).collect();
    likers.shuffle(&mut rng);
    let mut followed: Vec<usize> = likers.clone();
    followed.shuffle(&mut rng);
    followed.truncate(args.viewer_follows);
    for &j in &followed {
        follows.push((viewer, users[j].id));
    }
    follows.push((viewer, creator));
    let follows_rows: Vec<_> = follows
        .into_iter()
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    insert_chunked(
        &txn,
        "follows",
        "follower_id, followee_id, state, created_at",
        &follows_rows,
        5000,
        |q, (a, b)| {
            format!(
                "({}, {}, 'APPROVED', {})",
                q.bind(*a),
                q.bind(*b),
                q.bind(t0)
            )
        },
    )
    .await?;
    // The viewer has blocked 20 likers it does not follow.
    let followed_set: HashSet<usize> = followed.iter().copied().collect();
    let blocked: Vec<Uuid> = likers
        .iter()
        .filter(|j| !followed_set.contains(j))
        .take(20)
        .map(|&j| users[j].id)
        .collect();
    insert_chunked(
        &txn,
        "blocks",
        "blocker_id, blocked_id, created_at",
        &blocked,
        100,
        |q, b| format!("({}, {}, {})", q.bind(viewer), q.bind(*b), q.bind(t0)),
    )
    .await?;

    // One video per size, liked by the first `size` likers of one shuffled order.
    let mut videos = Vec::new();
    let mut sizes = args.sizes.clone();
    sizes.sort_unstable();
    for (k, &size) in sizes.iter().enumerate() {
        let vid = uuid_for(args.seed ^ 0xABCD, k as u64);
        let (mut every, mut foll) = (0i64, 0i64);
        let rows: Vec<(usize, usize)> = likers.iter().take(size).copied().enumerate().collect();
        for (_, j) in &rows {
            match audience(users[*j].vis, users[*j].lv) {
                Audience::Everyone => every += 1,
                Audience::Followers => foll += 1,
                Audience::OnlyMe => {}
            }
        }
        insert_video(
            &txn,
            vid,
            creator,
            &format!("size {size}"),
            t0 + k as i64,
            size as i64,
            every,
            foll,
        )
        .await?;
        insert_likes(&txn, &rows, 5000, |(pos, j)| {
            let u = &users[*j];
            (
                vid,
                u.id,
                audience(u.vis, u.lv),
                t0 + 1000 + *pos as i64 * 10,
            )
        })
        .await?;
        videos.push((size, vid));
    }
    // Fifty small videos by followed accounts, for the feed.
    for k in 0..50u64 {
        let author = users[followed[k as usize % followed.len().max(1)]].id;
        let vid = uuid_for(args.seed ^ 0xFEED, k);
        let fans: Vec<usize> = (0..5)
            .map(|f| likers[(k as usize * 7 + f * 13) % max_size])
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let every = fans
            .iter()
            .filter(|j| audience(users[**j].vis, users[**j].lv) == Audience::Everyone)
            .count();
        let foll = fans
            .iter()
            .filter(|j| audience(users[**j].vis, users[**j].lv) == Audience::Followers)
            .count();
        let created = t0 + 10_000_000_000 + k as i64;
        insert_video(
            &txn,
            vid,
            author,
            &format!("feed {k}"),
            created,
            fans.len() as i64,
            every as i64,
            foll as i64,
        )
        .await?;
        insert_likes(&txn, &fans, 100, |j| {
            let u = &users[*j];
            (vid, u.id, audience(u.vis, u.lv), created + 1)
        })
        .await?;
    }
    let hot_video = uuid_for(args.seed ^ 0x407, 0);
    insert_video(
        &txn,
        hot_video,
        creator,
        "hot",
        t0 + 20_000_000_000,
        0,
        0,
        0,
    )
    .await?;
    if txn.get_database_backend() == DbBackend::Sqlite {
        // Back to SQLite's default, like the server's connections, before the raw SQL floor.
        txn.execute_unprepared("PRAGMA cache_size = -2000").await?;
    }
    txn.commit().await?;
    analyze(db).await?;
    let storm_users = users[max_size..max_size + storm_n]
        .iter()
        .map(|u| u.id)
        .collect();
    Ok(Dataset {
        viewer,
        creator,
        accounts: n,
        videos,
        hot_video,
        storm_users,
    })
}
