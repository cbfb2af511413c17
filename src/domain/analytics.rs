//! Analytics: recorded views and their counters.
//!
//! A view is an append-only event row (`video_views`) holding only what the aggregates need
//! (PRIVACY.md "No identity"): the UTC hour, the watch time and, for a signed-in viewer, its
//! age bracket, region, language, device class and whether it follows the creator — never
//! the account, never an address, no finer time than the hour and no ordered ID (the row's
//! ID is random). The fold job ([`super::fold`]) folds the rows into the rollups (`folded`
//! marks the folded ones, in the job's transaction).
//!
//! A video's view count is the sum of its rows in `video_view_counters`, spread over
//! [`SHARDS`] rows per video with the shard picked at random per batch of views, so that
//! concurrent writers on one hot video add to different rows instead of queueing on one row
//! lock. A view is checked by one read ([`prepare_view`]) and stored with others by
//! [`store_views`] (the API's batches come from `view_writer`): the event rows and
//! the counters' deltas are written in one transaction, and a view is acknowledged only after
//! it has committed — counted, once.
use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::Arc,
};

use chrono::{DateTime, Utc};
use entity::{video_view, video_view_counter as counter, AgeBracket, DeviceClass};
use sea_orm::{
    sea_query::{Alias, Expr, ExprTrait, OnConflict},
    ActiveEnum,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QuerySelect,
};
use uuid::Uuid;

use super::{
    rollups::At,
    sketch::{self, SketchBuffer},
    videos::{view_target, ViewerFacts},
    visible::{VideoId, Visible},
};
use crate::{
    db::{self, Sql},
    error::{AppError, AppResult},
    frag,
};

/// The longest watch time a view may report: one hour, in milliseconds.
pub const MAX_WATCH_MS: i32 = 3_600_000;

/// Counter rows per video. Each batch of views adds a video's views to one picked at random:
/// writers on one hot video (instances, the single views of [`record_view`]) mostly update
/// different rows instead of queueing on one.
pub const SHARDS: u16 = 32;

/// What a view stores about its viewer when signed in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Audience {
    pub age_bracket: AgeBracket,
    pub region: String,
    pub language: String,
    pub device: DeviceClass,
    pub follows_creator: bool,
}

/// A view that passed Rule V, ready to be stored: what its event row, its counter delta
/// and its sketch entry need.
#[derive(Debug, Clone)]
pub struct PreparedView {
    video_id: Uuid,
    creator: Uuid,
    hour: i64,
    watch_ms: i32,
    completed: bool,
    /// The signed-in viewer and what its view stores about it.
    viewer: Option<(Uuid, Audience)>,
}

/// Checks a view of `video_id` by `viewer` (anonymous: `None`) for `watch_ms` on a
/// `device` at `now` and reads what storing it needs, in one statement.
/// `BAD_USER_INPUT` on `watchMs` outside 0..=[`MAX_WATCH_MS`]; `NOT_FOUND` when the
/// viewer cannot see the video (Rule V) or it does not exist.
pub async fn prepare_view(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    video_id: Uuid,
    watch_ms: i32,
    device: DeviceClass,
    now: DateTime<Utc>,
) -> AppResult<PreparedView> {
    if !(0..=MAX_WATCH_MS).contains(&watch_ms) {
        return Err(AppError::bad_input(
            "watchMs",
            "watchMs must be 0–3,600,000 (milliseconds, at most an hour)",
        ));
    }
    let target = view_target(db, viewer, video_id)
        .await?
        .ok_or(AppError::NotFound)?;
    let year = chrono::Datelike::year(&now);
    let audience = match (viewer, target.viewer) {
        (Some(me), Some(facts)) => Some((me, audience_of(&facts, year, device))),
        _ => None,
    };
    Ok(PreparedView {
        video_id,
        creator: target.author_id,
        hour: hour_of(now),
        watch_ms,
        completed: target.duration_ms.is_some_and(|d| watch_ms >= d),
        viewer: audience,
    })
}

impl PreparedView {
    /// Once the view has committed, adds a signed-in viewer to the creator's viewer
    /// sketches of the day in `sketches` (the fold job stores them).
    pub fn add_to(&self, sketches: &SketchBuffer) {
        if let Some((me, audience)) = &self.viewer {
            sketches.add(self.creator, At::of(self.hour).day, *me, audience.buckets());
        }
    }
}

/// Records that `viewer` (anonymous: `None`) watched `video_id` for `watch_ms` on a
/// `device`, at `now`, on its own (the API batches views through
/// the view writer, `view_writer::ViewWriter`). Errors as [`prepare_view`]; a video deleted
/// since the check is `NOT_FOUND` — and then nothing is stored. The event row and the
/// counter's delta are one transaction; once it has committed, a signed-in viewer joins
/// the creator's viewer sketches of the day in `sketches`.
pub async fn record_view(
    db: &DatabaseConnection,
    sketches: &SketchBuffer,
    viewer: Option<Uuid>,
    video_id: Uuid,
    watch_ms: i32,
    device: DeviceClass,
    now: DateTime<Utc>,
) -> AppResult<()> {
    let view = prepare_view(db, viewer, video_id, watch_ms, device, now).await?;
    let stored = store_views(db, Arc::from(vec![view.clone()]))
        .await
        .map_err(not_found_if_gone)?;
    if !stored.first().copied().unwrap_or(false) {
        return Err(AppError::NotFound);
    }
    view.add_to(sketches);
    Ok(())
}

/// A view's video or creator gone since the check (a foreign key failed): `NOT_FOUND`.
pub(super) fn not_found_if_gone(e: AppError) -> AppError {
    if db::is_foreign_key_violation(&e) {
        AppError::NotFound
    } else {
        e
    }
}

/// Stores `views` in one transaction: their event rows in one statement, the counters'
/// deltas summed per video into one shard (picked at random per video and batch) in
/// another. Whether each view was stored: not when its video has been deleted since it was
/// checked. The videos' rows are locked first (`FOR KEY SHARE` on PostgreSQL, which a
/// deletion's `FOR UPDATE` waits for, and which waits for a deletion in progress): a
/// deletion that committed before finds these views not stored, one that comes later waits
/// for this commit and then removes them with the video. A failure stores none of them.
pub async fn store_views(
    db: &DatabaseConnection,
    views: Arc<[PreparedView]>,
) -> AppResult<Vec<bool>> {
    db::transaction(db, move |txn| {
        let views = views.clone();
        Box::pin(async move {
            let mut ids: Vec<Uuid> = views.iter().map(|v| v.video_id).collect();
            ids.sort_unstable();
            ids.dedup();
            let present = lock_videos(txn, &ids).await?;
            let stored: Vec<bool> = views
                .iter()
                .map(|v| present.contains(&v.video_id))
                .collect();
            let rows: Vec<video_view::ActiveModel> = views
                .iter()
                .zip(&stored)
                .filter(|(_, s)| **s)
                .map(|(v, _)| event(v))
                .collect();
            if rows.is_empty() {
                return Ok(stored);
            }
            video_view::Entity::insert_many(rows)
                .exec_without_returning(txn)
                .await?;
            let mut deltas: BTreeMap<Uuid, (i64, i64, i64)> = BTreeMap::new();
            for v in views
                .iter()
                .zip(&stored)
                .filter(|(_, s)| **s)
                .map(|(v, _)| v)
            {
                let d = deltas.entry(v.video_id).or_default();
                d.0 += 1;
                d.1 += i64::from(v.watch_ms);
                d.2 += i64::from(v.completed);
            }
            add_views(txn, &deltas).await?;
            Ok(stored)
        })
    })
    .await
}

/// Locks the rows of videos `ids` (sorted) against deletion until commit (PostgreSQL;
/// SQLite's transactions hold the whole database) and returns those that exist.
async fn lock_videos(txn: &impl ConnectionTrait, ids: &[Uuid]) -> AppResult<HashSet<Uuid>> {
    let mut q = Sql::default();
    let binds = q.bind_list(ids);
    q.append(frag![
        "SELECT id FROM videos WHERE id IN (",
        binds,
        ") ORDER BY id"
    ]);
    if txn.get_database_backend() == DbBackend::Postgres {
        q.append(" FOR KEY SHARE");
    }
    q.all(txn)
        .await?
        .iter()
        .map(|r| Ok(r.try_get::<Uuid>("", "id")?))
        .collect()
}

impl Audience {
    /// The viewer-sketch bucket of each dimension, keyed as the view rows store them.
    pub fn buckets(&self) -> [(&'static str, String); 4] {
        [
            (sketch::AGE, self.age_bracket.to_value()),
            (sketch::REGION, self.region.clone()),
            (sketch::LANGUAGE, self.language.clone()),
            (sketch::DEVICE, self.device.to_value()),
        ]
    }
}

/// The event row of one view: only the audience's aggregate attributes, a random ID.
fn event(view: &PreparedView) -> video_view::ActiveModel {
    let a = view.viewer.as_ref().map(|(_, a)| a);
    video_view::ActiveModel {
        id: Set(Uuid::new_v4()),
        video_id: Set(view.video_id),
        creator_id: Set(view.creator),
        hour: Set(view.hour),
        watch_ms: Set(view.watch_ms),
        signed_in: Set(a.is_some()),
        follows_creator: Set(a.is_some_and(|a| a.follows_creator)),
        age_bracket: Set(a.map(|a| a.age_bracket)),
        region: Set(a.map(|a| a.region.clone())),
        language: Set(a.map(|a| a.language.clone())),
        device: Set(a.map(|a| a.device)),
        folded: Set(0),
    }
}

/// Adds each video's (views, watch ms, completed views) delta to one random shard of its
/// counters, in one statement (videos in order).
async fn add_views(
    txn: &impl ConnectionTrait,
    deltas: &BTreeMap<Uuid, (i64, i64, i64)>,
) -> AppResult<()> {
    let rows = deltas.iter().map(|(video, (views, watch_ms, completed))| {
        // A cast of a value below SHARDS (32): it cannot truncate.
        let shard = (rand::random::<u16>() % SHARDS) as i16;
        counter::ActiveModel {
            video_id: Set(*video),
            shard: Set(shard),
            views: Set(*views),
            watch_ms: Set(*watch_ms),
            completed: Set(*completed),
        }
    });
    let mut on = OnConflict::columns([counter::Column::VideoId, counter::Column::Shard]);
    for c in [
        counter::Column::Views,
        counter::Column::WatchMs,
        counter::Column::Completed,
    ] {
        on.value(
            c,
            Expr::col((counter::Entity, c)).add(Expr::col((Alias::new("excluded"), c))),
        );
    }
    counter::Entity::insert_many(rows)
        .on_conflict(on)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// The view counts of `videos` (0 for a video never viewed), one statement.
pub async fn view_counts(
    db: &impl ConnectionTrait,
    videos: &[Visible<VideoId>],
) -> AppResult<HashMap<Uuid, i64>> {
    if videos.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(Uuid, i64)> = counter::Entity::find()
        .select_only()
        .column(counter::Column::VideoId)
        .expr(Expr::col(counter::Column::Views).sum().cast_as("BIGINT"))
        .filter(counter::Column::VideoId.is_in(videos.iter().map(|v| v.0)))
        .group_by(counter::Column::VideoId)
        .into_tuple()
        .all(db)
        .await?;
    let mut counts: HashMap<Uuid, i64> = videos.iter().map(|v| (v.0, 0)).collect();
    counts.extend(rows);
    Ok(counts)
}

/// The start of `now`'s UTC hour, in microseconds since the Unix epoch.
pub fn hour_of(now: DateTime<Utc>) -> i64 {
    const HOUR_US: i64 = 3_600_000_000;
    let us = now.timestamp_micros();
    us - us.rem_euclid(HOUR_US)
}

/// What a view stores about a signed-in viewer, as of `year`.
fn audience_of(account: &ViewerFacts, year: i32, device: DeviceClass) -> Audience {
    Audience {
        age_bracket: age_bracket(account.birth_year, year),
        region: region(account.region.as_deref()),
        language: language(account.language.as_deref()),
        device,
        follows_creator: account.follows_author,
    }
}

/// The bracket of an account born in `birth_year`, in `year` (age = year − birth year).
pub fn age_bracket(birth_year: Option<i32>, year: i32) -> AgeBracket {
    let Some(age) = birth_year.map(|b| year - b) else {
        return AgeBracket::Unknown;
    };
    match age {
        13..=17 => AgeBracket::From13To17,
        18..=24 => AgeBracket::From18To24,
        25..=34 => AgeBracket::From25To34,
        35..=44 => AgeBracket::From35To44,
        45..=54 => AgeBracket::From45To54,
        55.. => AgeBracket::From55,
        _ => AgeBracket::Unknown,
    }
}

pub use entity::demographics::{language, region, UNKNOWN};

/// The device class of a request: `X-Tally-Device` (`ios`, `android`, `web`, `other`, any
/// case) when it names one, else a guess from `User-Agent`: `iPhone`/`iPad`/`iPod`/`iOS` →
/// `IOS`; `Android` → `ANDROID`; a browser (`Mozilla/`, `Chrome/`, `Safari/`, `Firefox/`,
/// `Edg/`, `Opera`) → `WEB`; anything else, or neither header → `OTHER`. (An iPad in desktop
/// mode says `Macintosh` and counts as `WEB`; an app that knows better sends the header.)
pub fn device_class(header: Option<&str>, user_agent: Option<&str>) -> DeviceClass {
    match header.map(|h| h.trim().to_ascii_lowercase()).as_deref() {
        Some("ios") => return DeviceClass::Ios,
        Some("android") => return DeviceClass::Android,
        Some("web") => return DeviceClass::Web,
        Some("other") => return DeviceClass::Other,
        _ => {}
    }
    let Some(ua) = user_agent else {
        return DeviceClass::Other;
    };
    let has = |needle: &str| ua.contains(needle);
    if ["iPhone", "iPad", "iPod", "iOS"].iter().any(|n| has(n)) {
        DeviceClass::Ios
    } else if has("Android") {
        DeviceClass::Android
    } else if [
        "Mozilla/", "Chrome/", "Safari/", "Firefox/", "Edg/", "Opera",
    ]
    .iter()
    .any(|n| has(n))
    {
        DeviceClass::Web
    } else {
        DeviceClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn age_brackets_follow_the_year() {
        let b = |by| age_bracket(Some(by), 2026);
        assert_eq!(age_bracket(None, 2026), AgeBracket::Unknown);
        assert_eq!(b(2014), AgeBracket::Unknown); // 12
        assert_eq!(b(2013), AgeBracket::From13To17);
        assert_eq!(b(2009), AgeBracket::From13To17);
        assert_eq!(b(2008), AgeBracket::From18To24);
        assert_eq!(b(2002), AgeBracket::From18To24);
        assert_eq!(b(2001), AgeBracket::From25To34);
        assert_eq!(b(1992), AgeBracket::From25To34);
        assert_eq!(b(1991), AgeBracket::From35To44);
        assert_eq!(b(1982), AgeBracket::From35To44);
        assert_eq!(b(1981), AgeBracket::From45To54);
        assert_eq!(b(1972), AgeBracket::From45To54);
        assert_eq!(b(1971), AgeBracket::From55);
        assert_eq!(b(1900), AgeBracket::From55);
    }

    #[test]
    fn regions_and_languages_are_codes_or_unknown() {
        assert_eq!(region(Some("de")), "DE");
        assert_eq!(region(Some(" US ")), "US");
        for r in [
            None,
            Some(""),
            Some("Germany"),
            Some("D1"),
            Some("Bob's house"),
        ] {
            assert_eq!(region(r), UNKNOWN, "{r:?}");
        }
        assert_eq!(language(Some("en")), "en");
        assert_eq!(language(Some("en-GB")), "en");
        assert_eq!(language(Some("PT_br")), "pt");
        assert_eq!(language(Some("fil")), "fil");
        for l in [None, Some(""), Some("English"), Some("e"), Some("3n")] {
            assert_eq!(language(l), UNKNOWN, "{l:?}");
        }
    }

    #[test]
    fn the_device_header_wins_else_the_user_agent_is_guessed() {
        use DeviceClass::*;
        let chrome = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36";
        let iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148";
        let android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/120.0 Mobile Safari/537.36";
        assert_eq!(device_class(Some("IOS"), Some(chrome)), Ios);
        assert_eq!(device_class(Some("Android"), None), Android);
        assert_eq!(device_class(Some(" web "), Some(iphone)), Web);
        assert_eq!(device_class(Some("oThEr"), Some(iphone)), Other);
        // Not a class: as if absent.
        assert_eq!(device_class(Some("toaster"), Some(android)), Android);
        assert_eq!(device_class(None, Some(iphone)), Ios);
        assert_eq!(device_class(None, Some("TallyApp/2.1 (iOS 17.2)")), Ios);
        assert_eq!(device_class(None, Some(android)), Android);
        assert_eq!(device_class(None, Some(chrome)), Web);
        assert_eq!(device_class(None, Some("curl/8.5.0")), Other);
        assert_eq!(device_class(None, None), Other);
    }

    #[test]
    fn the_hour_is_the_start_of_the_utc_hour() {
        let t = |s: &str| {
            DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .with_timezone(&Utc)
        };
        assert_eq!(
            hour_of(t("2025-07-14T09:41:27.123456Z")),
            t("2025-07-14T09:00:00Z").timestamp_micros()
        );
        assert_eq!(
            hour_of(t("1969-12-31T23:30:00Z")),
            t("1969-12-31T23:00:00Z").timestamp_micros()
        );
    }
}
