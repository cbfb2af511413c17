//! The demo's 60 days of history (issue 12, "Demo"): an audience of 140 accounts with
//! varied demographics, a second creator whose `#dance` videos make a niche, and for
//! `@maya.creates` videos posted over the two months, views with a daily and weekly rhythm
//! (evenings and weekends busier, a slow growth), likes and follows — all written through
//! the API's own use cases at their own past times, so the rollups, sketches and rules
//! apply to them exactly as to live traffic.
//!
//! The numbers are chosen so that GraphiQL shows a creator dashboard with real figures:
//! viewers and followers are above the minimum audience (100 accounts) and their
//! breakdowns have buckets folded into `OTHER`, while fewer than 100 distinct accounts ever
//! like, so the likers' breakdown is withheld (`BELOW_MINIMUM_AUDIENCE`).
use chrono::{DateTime, Duration, DurationRound, Utc};
use entity::{AccountType, DeviceClass, LikesVisibility, Visibility};
use rand::{rngs::StdRng, Rng, SeedableRng};
use sea_orm::DatabaseConnection;
use uuid::Uuid;

use crate::{
    clock::Clock,
    domain::{
        accounts::{provision_account, Provision},
        analytics::record_view,
        fold,
        likes::like_video,
        sketch::SketchBuffer,
        social::{follow_user, unfollow_user},
        videos::{create_video, NewVideo},
    },
    error::AppError,
};

/// Days of history before the current day.
pub const DAYS: i64 = 60;
/// Accounts in the audience.
pub const AUDIENCE: usize = 140;
/// Of them, the ones that ever like (under the minimum audience of 100).
const LIKERS: usize = 60;

/// Where the audience lives and what it speaks: (region, language, weight).
const PLACES: [(&str, &str, u32); 9] = [
    ("US", "en", 30),
    ("BR", "pt", 18),
    ("DE", "de", 12),
    ("GB", "en", 10),
    ("MX", "es", 9),
    ("IN", "hi", 8),
    ("FR", "fr", 6),
    ("JP", "ja", 4),
    ("NZ", "en", 3),
];

/// A video of the history: days before today, caption, hashtags, sound, duration.
type DemoVideo = (
    i64,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
    i32,
);

/// `@maya.creates`'s videos of the history.
const VIDEOS: [DemoVideo; 8] = [
    (
        58,
        "First try at the shuffle",
        &["dance", "tutorial"],
        Some("Golden Hour"),
        21_000,
    ),
    (50, "Market breakfast", &["food"], None, 34_000),
    (
        42,
        "Night drive edit",
        &["travel", "sunset"],
        Some("Night Drive"),
        18_000,
    ),
    (
        33,
        "Shuffle, part two",
        &["dance"],
        Some("Golden Hour"),
        24_000,
    ),
    (25, "How we light a rooftop", &["bts"], None, 55_000),
    (
        16,
        "Sunset from the pier",
        &["sunset", "travel"],
        Some("Night Drive"),
        12_000,
    ),
    (
        9,
        "The step challenge",
        &["dance", "challenge"],
        Some("Step Up"),
        16_000,
    ),
    (
        3,
        "Street food, night three",
        &["food", "travel"],
        Some("Step Up"),
        29_000,
    ),
];

fn fail(what: &'static str) -> impl Fn(AppError) -> anyhow::Error {
    move |e| anyhow::anyhow!("demo history, {what}: {}", e.message())
}

/// A fan of the audience: its account and its habits.
struct Fan {
    id: Uuid,
    device: DeviceClass,
    /// Relative share of the views it makes.
    appetite: u32,
}

fn pick<T: Copy>(rng: &mut StdRng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let mut n = rng.gen_range(0..total);
    for (item, w) in items {
        if n < *w {
            return *item;
        }
        n -= w;
    }
    items[items.len() - 1].0
}

/// How busy an hour of the day is (UTC), in relative terms: quiet at night, a lunchtime
/// bump, the evening peak.
const HOUR_WEIGHTS: [u32; 24] = [
    4, 3, 2, 2, 2, 2, 3, 4, 5, 6, 6, 7, 9, 8, 7, 7, 8, 10, 13, 16, 18, 16, 11, 7,
];

/// Seeds the history for `maya` ending at `clock`'s current day; returns how many views,
/// likes and follows it wrote.
pub async fn seed(
    db: &DatabaseConnection,
    sketches: &SketchBuffer,
    clock: Clock,
    maya: Uuid,
) -> anyhow::Result<(usize, usize, usize)> {
    let mut rng = StdRng::seed_from_u64(0x7a11_de30);
    let today = clock
        .now()
        .duration_trunc(Duration::days(1))
        .map_err(|e| anyhow::anyhow!("demo history: {e}"))?;
    let start = today - Duration::days(DAYS);
    let at = |t: DateTime<Utc>| t.timestamp_micros();
    // The audience, made the day before the history starts.
    let made = Clock::Fixed(start - Duration::days(1));
    let mut fans = Vec::with_capacity(AUDIENCE);
    for i in 0..AUDIENCE {
        let (region, language) = pick(&mut rng, &PLACES.map(|(r, l, w)| ((r, l), w)));
        // Mostly 18–34, some teens and older viewers; a few give no birth year.
        let birth_year = match rng.gen_range(0..100) {
            0..=7 => None,
            8..=19 => Some(rng.gen_range(2009..=2012)),
            20..=49 => Some(rng.gen_range(2002..=2008)),
            50..=79 => Some(rng.gen_range(1992..=2001)),
            80..=91 => Some(rng.gen_range(1982..=1991)),
            _ => Some(rng.gen_range(1955..=1981)),
        };
        let likes_visibility = pick(
            &mut rng,
            &[
                (LikesVisibility::Everyone, 5),
                (LikesVisibility::Followers, 3),
                (LikesVisibility::OnlyMe, 2),
            ],
        );
        let account = provision_account(
            db,
            format!("demo|fan{i:03}"),
            Provision {
                handle: format!("fan{i:03}"),
                display_name: Some(format!("Fan {i}")),
                account_type: AccountType::Personal,
                visibility: Visibility::Public,
                likes_visibility,
                birth_year,
                region: Some(region.to_owned()),
                language: Some(language.to_owned()),
                avatar_url: None,
            },
            made,
        )
        .await
        .map_err(fail("audience"))?;
        let device = pick(
            &mut rng,
            &[
                (DeviceClass::Ios, 45),
                (DeviceClass::Android, 38),
                (DeviceClass::Web, 14),
                (DeviceClass::Other, 3),
            ],
        );
        fans.push(Fan {
            id: account.id,
            device,
            appetite: rng.gen_range(1..=6),
        });
    }
    // A second creator whose #dance videos of the last four weeks make a niche of 24, so
    // that `Video.stats.nichePercentile` has something to compare with.
    let lena = provision_account(
        db,
        "demo|lena".into(),
        Provision {
            handle: "lena.moves".into(),
            display_name: Some("Lena (creator)".into()),
            account_type: AccountType::Creator,
            visibility: Visibility::Public,
            likes_visibility: LikesVisibility::Everyone,
            birth_year: Some(1994),
            region: Some("DE".into()),
            language: Some("de".into()),
            avatar_url: Some("https://media.tally.example/avatars/lena.moves.jpg".into()),
        },
        made,
    )
    .await
    .map_err(fail("second creator"))?;
    let mut niche = Vec::new();
    for k in 0..24 {
        let posted = today - Duration::days(27) + Duration::hours(k * 26 + 9);
        let v = create_video(
            db,
            lena.id,
            NewVideo {
                caption: format!("Dance drill #{}", k + 1),
                hashtags: vec!["dance".into()],
                sound: Some("Step Up".into()),
                duration_ms: Some(15_000),
                media_url: format!("https://media.tally.example/lena/drill-{}.mp4", k + 1),
                thumbnail_url: Some(format!(
                    "https://media.tally.example/lena/drill-{}.jpg",
                    k + 1
                )),
            },
            at(posted),
        )
        .await
        .map_err(fail("niche video"))?;
        niche.push((v.into_inner().video.id, posted));
    }
    // When each fan follows Maya: most in the first weeks, some later; a few leave again.
    let mut follows = 0;
    let mut timeline: Vec<(DateTime<Utc>, Uuid, bool)> = Vec::new();
    for fan in &fans {
        if rng.gen_bool(0.88) {
            let day = (rng.gen_range(0.0f64..1.0).powi(2) * DAYS as f64) as i64;
            let t = start + Duration::days(day) + Duration::minutes(rng.gen_range(0..1440));
            timeline.push((t, fan.id, true));
            if rng.gen_bool(0.08) {
                let later = t + Duration::days(rng.gen_range(1..20));
                if later < today {
                    timeline.push((later, fan.id, false));
                }
            }
        }
    }
    timeline.sort_by_key(|(t, ..)| *t);
    for (t, fan, follow) in timeline {
        if follow {
            follow_user(db, fan, maya, at(t))
                .await
                .map_err(fail("follow"))?;
            follows += 1;
        } else {
            unfollow_user(db, fan, maya, at(t))
                .await
                .map_err(fail("unfollow"))?;
        }
    }
    // Maya's videos and their days of views and likes.
    let mut videos: Vec<(Uuid, DateTime<Utc>, i32)> = Vec::new();
    let (mut views, mut likes) = (0, 0);
    let mut liked = std::collections::HashSet::new();
    let hours: Vec<(u32, u32)> = (0u32..24).zip(HOUR_WEIGHTS).collect();
    let viewers: Vec<(usize, u32)> = fans.iter().map(|f| f.appetite).enumerate().collect();
    for day in 0..DAYS {
        let midnight = start + Duration::days(day);
        for (ago, caption, tags, sound, duration) in VIDEOS {
            if DAYS - ago == day {
                let v = create_video(
                    db,
                    maya,
                    NewVideo {
                        caption: caption.into(),
                        hashtags: tags.iter().map(|t| (*t).to_owned()).collect(),
                        sound: sound.map(str::to_owned),
                        duration_ms: Some(duration),
                        media_url: format!("https://media.tally.example/maya/day-{day}.mp4"),
                        thumbnail_url: Some(format!(
                            "https://media.tally.example/maya/day-{day}.jpg"
                        )),
                    },
                    at(midnight + Duration::hours(17)),
                )
                .await
                .map_err(fail("video"))?;
                videos.push((
                    v.into_inner().video.id,
                    midnight + Duration::hours(17),
                    duration,
                ));
            }
        }
        if videos.is_empty() {
            continue;
        }
        // Weekends busier, Fridays a little; a slow growth over the two months.
        let weekday = chrono::Datelike::weekday(&midnight).num_days_from_monday();
        let rhythm = match weekday {
            5 | 6 => 1.45,
            4 => 1.2,
            _ => 1.0,
        };
        let n = ((70.0 + day as f64 * 1.6) * rhythm * rng.gen_range(0.85..1.15)) as usize;
        for _ in 0..n {
            let hour = pick(&mut rng, &hours);
            let t = midnight
                + Duration::hours(i64::from(hour))
                + Duration::seconds(rng.gen_range(0..3600));
            // Newer videos get more of the views.
            let eligible: Vec<((Uuid, i32), u32)> = videos
                .iter()
                .filter(|(_, posted, _)| *posted <= t)
                .enumerate()
                .map(|(i, (id, _, d))| ((*id, *d), 1 + i as u32 * 2))
                .collect();
            if eligible.is_empty() {
                continue;
            }
            let (video, duration) = pick(&mut rng, &eligible);
            let watch = if rng.gen_bool(0.35) {
                duration
            } else {
                rng.gen_range(500..duration)
            };
            // Two views in three are signed in.
            let (viewer, device) = if rng.gen_bool(0.66) {
                let f = &fans[pick(&mut rng, &viewers)];
                (Some(f.id), f.device)
            } else {
                (
                    None,
                    pick(
                        &mut rng,
                        &[
                            (DeviceClass::Web, 3),
                            (DeviceClass::Ios, 2),
                            (DeviceClass::Android, 2),
                        ],
                    ),
                )
            };
            record_view(db, sketches, viewer, video, watch, device, t)
                .await
                .map_err(fail("view"))?;
            views += 1;
            if let Some(fan) = viewer {
                let index = fans.iter().position(|f| f.id == fan).unwrap_or(AUDIENCE);
                if index < LIKERS && rng.gen_bool(0.2) && liked.insert((fan, video)) {
                    like_video(db, fan, video, at(t + Duration::seconds(20)))
                        .await
                        .map_err(fail("like"))?;
                    likes += 1;
                }
            }
        }
    }
    // The niche's views and likes, so its videos have engagement rates to rank.
    for (video, posted) in niche {
        for k in 0..rng.gen_range(20..90) {
            let t = posted + Duration::minutes(10 + k * 7);
            record_view(
                db,
                sketches,
                None,
                video,
                rng.gen_range(2_000..=15_000),
                DeviceClass::Web,
                t,
            )
            .await
            .map_err(fail("niche view"))?;
            views += 1;
        }
        for fan in fans.iter().take(rng.gen_range(0..12)) {
            like_video(db, fan.id, video, at(posted + Duration::hours(3)))
                .await
                .map_err(fail("niche like"))?;
            likes += 1;
        }
    }
    // Into the rollups and sketches now, not at the fold job's next tick.
    fold::drain(db, sketches).await.map_err(fail("fold"))?;
    Ok((views, likes, follows))
}
