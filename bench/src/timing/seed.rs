//! The dataset of the timing scenario: pairs of accounts alike but for the rows they hide.
use entity::Audience;
use sea_orm::{DatabaseConnection, TransactionTrait};
use tally::ids::Keyset;
use uuid::Uuid;

use crate::database::{analyze, insert_chunked, insert_likes, insert_video};

/// Accounts of the timing scenario (each "pair" is `[0]` with no hidden rows, `[1]` with
/// `--timing-hidden`).
pub(super) struct TimingWorld {
    pub stranger: Uuid,
    /// Private, `ONLY_ME`: without and with videos and likes.
    pub private_only_me: [Uuid; 2],
    /// Newest-first keysets of two feed pages with the same answer: the first starts above
    /// the private author's hidden videos, the second just below them.
    pub feed_over_hidden: Keyset,
    pub feed_over_none: Keyset,
}

/// Seeds the timing dataset: a stranger (public, follows only `p`); `creator`'s public
/// videos, liked by the liker pairs; for each kind of hidden list an account with none and an
/// account with `n` hidden rows; and a public account `p` whose feed videos sit on both sides
/// of the private author's `n` videos.
pub(super) async fn seed_timing(db: &DatabaseConnection, n: usize) -> anyhow::Result<TimingWorld> {
    let mut accounts: Vec<(Uuid, String, &str, &str)> = Vec::new();
    let mut add = |handle: &str, vis: &'static str, lv: &'static str| {
        let id = Uuid::now_v7();
        accounts.push((id, handle.to_owned(), vis, lv));
        id
    };
    let stranger = add("stranger", "PUBLIC", "EVERYONE");
    let creator = add("creator", "PUBLIC", "EVERYONE");
    let p = add("p", "PUBLIC", "EVERYONE");
    // Pairs: (handle, visibility, likesVisibility, likes given, videos posted).
    let kinds = [
        ("onlyme", "PUBLIC", "ONLY_ME", true, false),
        ("followers", "PUBLIC", "FOLLOWERS", true, false),
        ("privliker", "PRIVATE", "EVERYONE", true, false),
        ("privauthor", "PRIVATE", "EVERYONE", false, true),
        ("privonlyme", "PRIVATE", "ONLY_ME", true, true),
        ("everyone", "PUBLIC", "EVERYONE", false, false),
    ];
    let mut pairs = Vec::new();
    for (handle, vis, lv, likes, videos) in kinds {
        let ids = [
            add(&format!("{handle}0"), vis, lv),
            add(&format!("{handle}1"), vis, lv),
        ];
        pairs.push((ids, vis, lv, likes, videos));
    }
    let txn = db.begin().await?;
    insert_chunked(
        &txn,
        "users",
        "id, handle, display_name, password_hash, account_type, visibility, likes_visibility, created_at",
        &accounts,
        500,
        |q, (id, handle, vis, lv)| {
            let parts = [
                q.bind(*id),
                q.bind(handle.clone()),
                q.bind(handle.clone()),
                q.bind("!"),
                q.bind("PERSONAL"),
                q.bind(*vis),
                q.bind(*lv),
                q.bind(0i64),
            ];
            format!("({})", tally::db::Frag::join(parts, ", "))
        },
    )
    .await?;
    let follow = [(stranger, p)];
    insert_chunked(
        &txn,
        "follows",
        "follower_id, followee_id, state, created_at",
        &follow,
        10,
        |q, (a, b)| format!("({}, {}, 'APPROVED', 0)", q.bind(*a), q.bind(*b)),
    )
    .await?;
    // Times: the creator's liked videos 1000.., the "many" accounts' own videos 100_000..,
    // then `p`'s older feed page (21 videos), the private author's hidden videos, `p`'s
    // newer page (20 videos).
    let likers = pairs.iter().filter(|k| k.3).count() as i64;
    let followers_likers = pairs
        .iter()
        .filter(|k| k.3 && k.2 != "ONLY_ME" && (k.2 == "FOLLOWERS" || k.1 == "PRIVATE"))
        .count() as i64;
    let mut liked = Vec::new();
    for i in 0..n {
        let id = Uuid::now_v7();
        insert_video(
            &txn,
            id,
            creator,
            "liked",
            1000 + i as i64,
            likers,
            0,
            followers_likers,
        )
        .await?;
        liked.push(id);
    }
    let base_feed = 1_000_000i64;
    let hidden_from = base_feed + 1000;
    let newer_from = hidden_from + n as i64 + 1000;
    for i in 0..21 {
        insert_video(&txn, Uuid::now_v7(), p, "older", base_feed + i, 0, 0, 0).await?;
    }
    for i in 0..20 {
        insert_video(&txn, Uuid::now_v7(), p, "newer", newer_from + i, 0, 0, 0).await?;
    }
    for (ids, vis, lv, likes, videos) in &pairs {
        let many = ids[1];
        if *videos {
            // The private author's videos are the feed's hidden block; the others' sit below
            // every feed page.
            let from = if ids[1] == pairs[3].0[1] {
                hidden_from
            } else {
                100_000
            };
            let rows: Vec<Uuid> = (0..n).map(|_| Uuid::now_v7()).collect();
            for (i, id) in rows.iter().enumerate() {
                insert_video(&txn, *id, many, "hidden", from + i as i64, 0, 0, 0).await?;
            }
        }
        if *likes {
            let aud = match (*lv, *vis) {
                ("ONLY_ME", _) => Audience::OnlyMe,
                ("FOLLOWERS", _) | (_, "PRIVATE") => Audience::Followers,
                _ => Audience::Everyone,
            };
            let rows: Vec<(usize, Uuid)> = liked.iter().copied().enumerate().collect();
            insert_likes(&txn, &rows, 2000, |(i, v)| {
                (*v, many, aud, 2_000_000 + *i as i64)
            })
            .await?;
        }
    }
    txn.commit().await?;
    analyze(db).await?;
    let top = Uuid::from_u128(u128::MAX);
    Ok(TimingWorld {
        stranger,
        private_only_me: pairs[4].0,
        feed_over_hidden: Keyset {
            time: newer_from,
            id: Uuid::nil(),
        },
        feed_over_none: Keyset {
            time: hidden_from - 1,
            id: top,
        },
    })
}
