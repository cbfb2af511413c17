//! Creator analytics, the read side: `creatorAnalytics` for the signed-in creator and
//! `Video.stats` for a video's author. Every figure comes from the rollups (the hours,
//! days, demographics and sketches of `rollups`) or the counters, each read one indexed
//! range scan per question; the small-numbers rule is [`super::aggregates::breakdown`].
//! No answer names an account: populations and buckets are counts.
use std::collections::{BTreeMap, HashMap, HashSet};

use entity::{demographics, AccountType, AgeBracket};
use sea_orm::{ActiveEnum, ConnectionTrait, DatabaseConnection};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;
use uuid::Uuid;

use super::{
    aggregates::{self, apportion, breakdown, hours_of, Breakdown, Dimension},
    analytics::age_bracket,
    liker_rollup,
    rollups::{self, Population},
    sketch::{self, Sketch},
    videos::hashtags_of,
    viewer_account,
    window_cache::{self, Key, Part, Stored},
};
use crate::{
    config::Thresholds,
    db::{col, lit, Frag, Ident, Sql},
    error::{AppError, AppResult},
    frag,
    privacy::sql as policy,
};

/// A signed-in `CREATOR` account, checked by [`creator`]: whose analytics a request reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Creator(Uuid);

impl Creator {
    /// The creator's account ID.
    pub fn id(&self) -> Uuid {
        self.0
    }
}

/// The viewer as the creator whose analytics it may read: `UNAUTHENTICATED` when
/// anonymous (or its account is gone), `FORBIDDEN` for a `PERSONAL` account.
pub async fn creator(db: &impl ConnectionTrait, viewer: Option<Uuid>) -> AppResult<Creator> {
    let me = viewer
        .ok_or_else(|| AppError::Unauthenticated("sign in to read your analytics".to_owned()))?;
    let account = viewer_account(db, me).await?;
    if account.account_type != AccountType::Creator {
        return Err(AppError::Forbidden(
            "analytics are for CREATOR accounts".to_owned(),
        ));
    }
    Ok(Creator(me))
}

/// A window of whole UTC days (days since 1970), both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: i32,
    pub to: i32,
}

impl Window {
    /// The last `days` complete UTC days at `now_us`.
    pub fn last(days: i32, now_us: i64) -> Self {
        let (from, to) = aggregates::window(now_us, days);
        Window { from, to }
    }

    /// The cache key of `creator`'s figures over the window.
    pub fn of(self, creator: Creator) -> Key {
        Key {
            creator: creator.0,
            from: self.from,
            to: self.to,
        }
    }
}

/// What one answer about a creator's window reads: each read at most once, and only when
/// a field needs it (the first that needs a cached part loads them all, one statement).
/// `creatorAnalytics` and `appAnalytics` both answer from one of these.
#[derive(Debug)]
pub struct WindowReads {
    pub creator: Creator,
    pub window: Window,
    /// The current year, for the age brackets.
    pub year: i32,
    pub thresholds: Thresholds,
    stored: OnceCell<Stored>,
    series: OnceCell<Series>,
    videos: OnceCell<Vec<VideoInWindow>>,
    followers: OnceCell<Population>,
}

impl WindowReads {
    /// Nothing read yet.
    pub fn new(creator: Creator, window: Window, year: i32, thresholds: Thresholds) -> Self {
        WindowReads {
            creator,
            window,
            year,
            thresholds,
            stored: OnceCell::new(),
            series: OnceCell::new(),
            videos: OnceCell::new(),
            followers: OnceCell::new(),
        }
    }

    /// The window's cached parts ([`window_cache`]).
    async fn stored(&self, db: &DatabaseConnection) -> AppResult<&Stored> {
        self.stored
            .get_or_try_init(|| Stored::load(db, self.window.of(self.creator)))
            .await
    }

    /// Totals, daily and peak hours.
    pub async fn series(&self, db: &DatabaseConnection) -> AppResult<&Series> {
        let stored = self.stored(db).await?;
        self.series
            .get_or_try_init(|| series(db, stored, self.creator, self.window))
            .await
    }

    /// Every current video of the creator with its window's figures.
    pub async fn videos(&self, db: &DatabaseConnection) -> AppResult<&[VideoInWindow]> {
        Ok(self
            .videos
            .get_or_try_init(|| async {
                // The videos are read beside the window's cached parts.
                let (stored, videos) =
                    tokio::try_join!(self.stored(db), current_videos(db, self.creator))?;
                videos_in_window(db, stored, videos, self.creator, self.window).await
            })
            .await?)
    }

    /// The breakdown of the window's distinct signed-in viewers.
    pub async fn viewers(&self, db: &DatabaseConnection) -> AppResult<Breakdown> {
        let stored = self.stored(db).await?;
        viewers(db, stored, self.creator, self.window, self.thresholds).await
    }

    /// The breakdown of the window's distinct likers.
    pub async fn likers(&self, db: &DatabaseConnection) -> AppResult<Breakdown> {
        let stored = self.stored(db).await?;
        let likers = likers(db, stored, self.creator, self.window).await?;
        Ok(population_breakdown(&likers, self.year, self.thresholds))
    }

    /// The creator's current followers.
    pub async fn followers(&self, db: &DatabaseConnection) -> AppResult<&Population> {
        self.followers
            .get_or_try_init(|| followers(db, self.creator))
            .await
    }

    /// The breakdown of the creator's current followers.
    pub async fn follower_breakdown(&self, db: &DatabaseConnection) -> AppResult<Breakdown> {
        let followers = self.followers(db).await?;
        Ok(population_breakdown(followers, self.year, self.thresholds))
    }
}

/// The figures of `creator_hours` over some hours.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Figures {
    pub views: i64,
    pub watch_ms: i64,
    pub follower_views: i64,
    pub likes: i64,
    pub unlikes: i64,
    pub new_followers: i64,
    pub lost_followers: i64,
}

impl Figures {
    fn add(&mut self, o: &Figures) {
        self.views += o.views;
        self.watch_ms += o.watch_ms;
        self.follower_views += o.follower_views;
        self.likes += o.likes;
        self.unlikes += o.unlikes;
        self.new_followers += o.new_followers;
        self.lost_followers += o.lost_followers;
    }
}

/// The window's figures: in total, per day (every day of the window, zeros included) and
/// per hour of the week (168, Monday 00:00 UTC first).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Series {
    pub totals: Figures,
    pub daily: Vec<(i32, Figures)>,
    pub peak_hours: Vec<Figures>,
}

/// The creator's [`Series`] over `w`: `stored`, else computed and kept.
async fn series(
    db: &DatabaseConnection,
    stored: &Stored,
    creator: Creator,
    w: Window,
) -> AppResult<Series> {
    match stored.get(Part::Series) {
        Some(s) => Ok(s),
        None => {
            window_cache::compute(db, w.of(creator), Part::Series, series_of(db, creator, w)).await
        }
    }
}

/// The creator's [`Series`] over `w`: one range scan of `creator_hours`, summed over shards.
async fn series_of(db: &impl ConnectionTrait, creator: Creator, w: Window) -> AppResult<Series> {
    let (first, last) = hours_of(w.from, w.to);
    let mut q = Sql::default();
    let (c, a, b) = (q.bind(creator.0), q.bind(first), q.bind(last));
    let sum = |name: &'static str| {
        frag![
            ", CAST(SUM(",
            Ident::new(name),
            ") AS BIGINT) AS ",
            Ident::new(name)
        ]
    };
    let mut select = frag!["SELECT hour"];
    for name in COLUMNS {
        select.push(sum(name));
    }
    q.append(frag![
        select,
        " FROM creator_hours WHERE creator_id = ",
        c,
        " AND hour >= ",
        a,
        " AND hour <= ",
        b,
        " GROUP BY hour"
    ]);
    let mut totals = Figures::default();
    let days = usize::try_from(w.to - w.from + 1).unwrap_or(0);
    let mut daily: Vec<(i32, Figures)> = (0..days)
        .map(|i| (w.from + i32::try_from(i).unwrap_or(0), Figures::default()))
        .collect();
    let mut peak_hours = vec![Figures::default(); 168];
    for row in q.all(db).await? {
        let hour: i64 = col(&row, "hour")?;
        let f = Figures {
            views: col(&row, "views")?,
            watch_ms: col(&row, "watch_ms")?,
            follower_views: col(&row, "follower_views")?,
            likes: col(&row, "likes")?,
            unlikes: col(&row, "unlikes")?,
            new_followers: col(&row, "new_followers")?,
            lost_followers: col(&row, "lost_followers")?,
        };
        totals.add(&f);
        let day = hour.div_euclid(rollups::DAY_US) - i64::from(w.from);
        if let Some((_, d)) = usize::try_from(day).ok().and_then(|i| daily.get_mut(i)) {
            d.add(&f);
        }
        peak_hours[aggregates::hour_of_week(hour)].add(&f);
    }
    Ok(Series {
        totals,
        daily,
        peak_hours,
    })
}

const COLUMNS: [&str; 7] = [
    "views",
    "watch_ms",
    "follower_views",
    "likes",
    "unlikes",
    "new_followers",
    "lost_followers",
];

/// The creator's current (approved) followers, from `follower_demographics`.
async fn followers(db: &impl ConnectionTrait, creator: Creator) -> AppResult<Population> {
    let mut q = Sql::default();
    let c = q.bind(creator.0);
    q.append(frag![
        "SELECT dimension, key, CAST(followers AS BIGINT) AS n FROM follower_demographics \
         WHERE creator_id = ",
        c,
        " AND followers <> 0"
    ]);
    let mut out = Population::default();
    for row in q.all(db).await? {
        let dimension: String = col(&row, "dimension")?;
        let Some(dimension) = [
            demographics::BIRTH_YEAR,
            demographics::REGION,
            demographics::LANGUAGE,
        ]
        .into_iter()
        .find(|d| *d == dimension) else {
            continue;
        };
        let n: i64 = col(&row, "n")?;
        if dimension == demographics::BIRTH_YEAR {
            out.accounts += n;
        }
        out.buckets
            .entry(dimension)
            .or_default()
            .insert(col(&row, "key")?, n);
    }
    Ok(out)
}

/// A [`Population`]'s buckets as breakdown dimensions: birth years as age brackets in
/// `year`.
fn dimensions_of(p: &Population, year: i32) -> BTreeMap<Dimension, BTreeMap<String, i64>> {
    let mut out: BTreeMap<Dimension, BTreeMap<String, i64>> = BTreeMap::new();
    for (dimension, keys) in &p.buckets {
        let d = match *dimension {
            demographics::BIRTH_YEAR => Dimension::Age,
            demographics::REGION => Dimension::Region,
            demographics::LANGUAGE => Dimension::Language,
            _ => continue,
        };
        let counts = out.entry(d).or_default();
        for (key, n) in keys {
            let key = if d == Dimension::Age {
                let bracket = key
                    .parse::<i32>()
                    .map_or(AgeBracket::Unknown, |y| age_bracket(Some(y), year));
                bracket.to_value()
            } else {
                key.clone()
            };
            *counts.entry(key).or_default() += n;
        }
    }
    out
}

/// The breakdown of a [`Population`] under the thresholds, ages in `year`.
pub fn population_breakdown(p: &Population, year: i32, t: Thresholds) -> Breakdown {
    breakdown(p.accounts, dimensions_of(p, year), t)
}

/// The distinct signed-in viewers of a window: the population and each dimension's
/// bucket counts (summing to it), before the thresholds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerCounts {
    pub population: i64,
    pub buckets: Vec<(Dimension, String, i64)>,
}

/// The breakdown of the distinct signed-in viewers of the window under the thresholds,
/// from the [`ViewerCounts`] `stored`, else computed and kept.
async fn viewers(
    db: &DatabaseConnection,
    stored: &Stored,
    creator: Creator,
    w: Window,
    t: Thresholds,
) -> AppResult<Breakdown> {
    let counts: ViewerCounts = match stored.get(Part::Viewers) {
        Some(c) => c,
        None => {
            window_cache::compute(
                db,
                w.of(creator),
                Part::Viewers,
                viewer_counts(db, creator, w),
            )
            .await?
        }
    };
    let mut dimensions: BTreeMap<Dimension, BTreeMap<String, i64>> = BTreeMap::new();
    for (d, key, n) in counts.buckets {
        dimensions.entry(d).or_default().insert(key, n);
    }
    Ok(breakdown(counts.population, dimensions, t))
}

/// The [`ViewerCounts`] of the window: each (dimension, key)'s sketches merged over the
/// window's days (one range scan of `viewer_sketches`), the population the estimate of the
/// union of the age dimension (every signed-in view adds its viewer to one bucket of each
/// dimension, so any dimension's union is every viewer), and each dimension's estimates
/// apportioned to sum to it.
async fn viewer_counts(
    db: &impl ConnectionTrait,
    creator: Creator,
    w: Window,
) -> AppResult<ViewerCounts> {
    let mut q = Sql::default();
    let (c, a, b) = (q.bind(creator.0), q.bind(w.from), q.bind(w.to));
    q.append(frag![
        "SELECT dimension, key, sketch FROM viewer_sketches WHERE creator_id = ",
        c,
        " AND day >= ",
        a,
        " AND day <= ",
        b
    ]);
    let mut merged: BTreeMap<(Dimension, String), Sketch> = BTreeMap::new();
    for row in q.all(db).await? {
        let dimension: String = col(&row, "dimension")?;
        let d = match dimension.as_str() {
            sketch::AGE => Dimension::Age,
            sketch::REGION => Dimension::Region,
            sketch::LANGUAGE => Dimension::Language,
            sketch::DEVICE => Dimension::Device,
            _ => continue,
        };
        let bytes: Vec<u8> = col(&row, "sketch")?;
        let s = sketch::decode(&bytes)?;
        merged
            .entry((d, col(&row, "key")?))
            .and_modify(|m| m.merge(&s))
            .or_insert(s);
    }
    let mut everyone = Sketch::new();
    for ((d, _), s) in &merged {
        if *d == Dimension::Age {
            everyone.merge(s);
        }
    }
    let population = i64::try_from(everyone.estimate()).unwrap_or(i64::MAX);
    let mut estimates: BTreeMap<Dimension, BTreeMap<String, i64>> = [
        Dimension::Age,
        Dimension::Region,
        Dimension::Language,
        Dimension::Device,
    ]
    .into_iter()
    .map(|d| (d, BTreeMap::new()))
    .collect();
    for ((d, key), s) in &merged {
        let e = i64::try_from(s.estimate()).unwrap_or(i64::MAX);
        estimates.entry(*d).or_default().insert(key.clone(), e);
    }
    let mut buckets = Vec::new();
    for (d, e) in estimates {
        for (key, n) in apportion(&e, population) {
            buckets.push((d, key, n));
        }
    }
    Ok(ViewerCounts {
        population,
        buckets,
    })
}

/// The creator's likers over the window ([`liker_rollup::likers`]): `stored`, else
/// computed (the rollup's days closed first, which is a rollup write of its own) and kept.
async fn likers(
    db: &DatabaseConnection,
    stored: &Stored,
    creator: Creator,
    w: Window,
) -> AppResult<Population> {
    if let Some(p) = stored.get::<StoredPopulation>(Part::Likers) {
        return Ok(p.into());
    }
    liker_rollup::close_through(db, creator.0, w.to).await?;
    let p = window_cache::compute(db, w.of(creator), Part::Likers, async {
        Ok(StoredPopulation::from(
            &liker_rollup::closed_likers(db, creator.0, w.from, w.to).await?,
        ))
    })
    .await?;
    Ok(p.into())
}

/// A [`Population`] as the cache keeps it: its dimension names as text.
#[derive(Debug, Serialize, Deserialize)]
struct StoredPopulation {
    accounts: i64,
    buckets: Vec<(String, String, i64)>,
}

impl From<&Population> for StoredPopulation {
    fn from(p: &Population) -> Self {
        let mut buckets = Vec::new();
        for (d, keys) in &p.buckets {
            for (key, n) in keys {
                buckets.push(((*d).to_owned(), key.clone(), *n));
            }
        }
        StoredPopulation {
            accounts: p.accounts,
            buckets,
        }
    }
}

impl From<StoredPopulation> for Population {
    fn from(s: StoredPopulation) -> Self {
        let mut out = Population {
            accounts: s.accounts,
            ..Population::default()
        };
        for (d, key, n) in s.buckets {
            if let Some(d) = liker_rollup::dimension(&d) {
                out.buckets.entry(d).or_default().insert(key, n);
            }
        }
        out
    }
}

/// One of the creator's current videos with its figures over a window (from `video_days`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VideoInWindow {
    pub id: Uuid,
    pub created_at: i64,
    pub hashtags: Vec<String>,
    pub sound: Option<String>,
    pub views: i64,
    pub watch_ms: i64,
    pub likes: i64,
    pub unlikes: i64,
}

impl VideoInWindow {
    /// Likes made minus likes withdrawn in the window.
    pub fn net_likes(&self) -> i64 {
        self.likes - self.unlikes
    }
}

/// One video's sums over a window, as [`window_cache`] keeps them: (video, views, watch
/// ms, likes, unlikes).
type VideoSums = (Uuid, i64, i64, i64, i64);

/// Every current video of the creator with its window's figures: `videos` (by author,
/// [`current_videos`]), each with its sums `stored` for the window (else computed and kept).
async fn videos_in_window(
    db: &DatabaseConnection,
    stored: &Stored,
    videos: Vec<VideoInWindow>,
    creator: Creator,
    w: Window,
) -> AppResult<Vec<VideoInWindow>> {
    let sums: Vec<VideoSums> = match stored.get(Part::Videos) {
        Some(s) => s,
        None => {
            window_cache::compute(db, w.of(creator), Part::Videos, video_sums(db, creator, w))
                .await?
        }
    };
    let sums: HashMap<Uuid, VideoSums> = sums.into_iter().map(|s| (s.0, s)).collect();
    Ok(videos
        .into_iter()
        .map(|v| {
            let (_, views, watch_ms, likes, unlikes) = sums.get(&v.id).copied().unwrap_or_default();
            VideoInWindow {
                views,
                watch_ms,
                likes,
                unlikes,
                ..v
            }
        })
        .collect())
}

/// Every current video of the creator, without figures yet.
async fn current_videos(
    db: &DatabaseConnection,
    creator: Creator,
) -> AppResult<Vec<VideoInWindow>> {
    let mut q = Sql::default();
    let c = q.bind(creator.0);
    q.append(frag![
        "SELECT id, created_at, hashtags, sound FROM videos WHERE author_id = ",
        c
    ]);
    let mut out = Vec::new();
    for row in q.all(db).await? {
        out.push(VideoInWindow {
            id: col(&row, "id")?,
            created_at: col(&row, "created_at")?,
            hashtags: hashtags_of(&col::<String>(&row, "hashtags")?),
            sound: col(&row, "sound")?,
            views: 0,
            watch_ms: 0,
            likes: 0,
            unlikes: 0,
        });
    }
    Ok(out)
}

/// The window's sums of every video of the creator with figures in it: one range scan of
/// `video_days` per video, summed over shards.
async fn video_sums(
    db: &impl ConnectionTrait,
    creator: Creator,
    w: Window,
) -> AppResult<Vec<VideoSums>> {
    let mut q = Sql::default();
    let (c, a, b) = (q.bind(creator.0), q.bind(w.from), q.bind(w.to));
    q.append(frag![
        "SELECT d.video_id, CAST(SUM(d.views) AS BIGINT) AS views, \
         CAST(SUM(d.watch_ms) AS BIGINT) AS watch_ms, CAST(SUM(d.likes) AS BIGINT) AS likes, \
         CAST(SUM(d.unlikes) AS BIGINT) AS unlikes FROM video_days d \
         JOIN videos v ON v.id = d.video_id WHERE v.author_id = ",
        c,
        " AND d.day >= ",
        a,
        " AND d.day <= ",
        b,
        " GROUP BY d.video_id"
    ]);
    let mut out = Vec::new();
    for row in q.all(db).await? {
        out.push((
            col(&row, "video_id")?,
            col(&row, "views")?,
            col(&row, "watch_ms")?,
            col(&row, "likes")?,
            col(&row, "unlikes")?,
        ));
    }
    Ok(out)
}

/// What `topVideos` ranks by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ranking {
    Views,
    /// Net likes in the window.
    Likes,
    /// Net likes per view in the window (videos without views last).
    EngagementRate,
}

/// Checks a `first` argument of the analytics lists: 0..=100, else `BAD_USER_INPUT`.
pub fn check_first(first: i32) -> AppResult<usize> {
    let max = super::page::MAX_FIRST;
    if !(0..=max).contains(&first) {
        return Err(AppError::bad_input(
            "first",
            format!("`first` must be between 0 and {max}"),
        ));
    }
    Ok(usize::try_from(first).unwrap_or(0))
}

/// The first `first` of `videos` by `by`, best first; ties: the newer video first (then
/// the greater ID).
pub fn top_videos(videos: &[VideoInWindow], by: Ranking, first: usize) -> Vec<Uuid> {
    let mut ranked: Vec<&VideoInWindow> = videos.iter().collect();
    let newer = |a: &VideoInWindow, b: &VideoInWindow| {
        b.created_at.cmp(&a.created_at).then(b.id.cmp(&a.id))
    };
    match by {
        Ranking::Views => ranked.sort_by(|a, b| b.views.cmp(&a.views).then(newer(a, b))),
        Ranking::Likes => {
            ranked.sort_by(|a, b| b.net_likes().cmp(&a.net_likes()).then(newer(a, b)))
        }
        Ranking::EngagementRate => ranked.sort_by(|a, b| {
            let (ra, rb) = (
                aggregates::rate(a.net_likes(), a.views),
                aggregates::rate(b.net_likes(), b.views),
            );
            // `None` (no views) after every rate.
            let by_rate = match (ra, rb) {
                (Some(x), Some(y)) => y.total_cmp(&x),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => std::cmp::Ordering::Equal,
            };
            by_rate.then(newer(a, b))
        }),
    }
    ranked.into_iter().take(first).map(|v| v.id).collect()
}

/// One hashtag's or sound's figures over a window.
#[derive(Debug, Clone, PartialEq)]
pub struct TagStats {
    pub tag: String,
    /// The creator's current videos with it.
    pub videos: i64,
    pub views: i64,
    /// Net likes in the window.
    pub likes: i64,
    pub engagement_rate: Option<f64>,
}

/// Per tag (`tags_of` a video: its hashtags, or its sound), the figures of the videos that
/// have it, by views descending, then tag; the first `first`.
pub fn tag_stats(
    videos: &[VideoInWindow],
    tags_of: impl Fn(&VideoInWindow) -> Vec<String>,
    first: usize,
) -> Vec<TagStats> {
    let mut per: BTreeMap<String, [i64; 3]> = BTreeMap::new();
    for v in videos {
        let tags: HashSet<String> = tags_of(v).into_iter().collect();
        for tag in tags {
            let e = per.entry(tag).or_default();
            e[0] += 1;
            e[1] += v.views;
            e[2] += v.net_likes();
        }
    }
    let mut rows: Vec<(String, [i64; 3])> = per.into_iter().collect();
    rows.sort_by(|a, b| b.1[1].cmp(&a.1[1]).then(a.0.cmp(&b.0)));
    rows.into_iter()
        .take(first)
        .map(|(tag, [videos, views, likes])| TagStats {
            tag,
            videos,
            views,
            likes,
            engagement_rate: aggregates::rate(likes, views),
        })
        .collect()
}

/// `Video.stats`: a video's all-time figures, for its author.
#[derive(Debug, Clone, PartialEq)]
pub struct VideoStats {
    pub views: i64,
    pub likes: i64,
    pub watch_ms: i64,
    pub average_watch_ms: Option<f64>,
    pub completion_rate: Option<f64>,
    pub engagement_rate: Option<f64>,
    pub own_percentile: Option<f64>,
    pub niche: Option<String>,
    pub niche_percentile: Option<f64>,
}

/// The fewest videos a niche needs for `nichePercentile`.
pub const MIN_NICHE: usize = 20;

/// How far back a niche's videos go: 28 days, in microseconds.
pub const NICHE_US: i64 = 28 * rollups::DAY_US;

/// The rows of `videos` (a `SELECT` of video rows with an `id` column) with their
/// all-time counters: `like_count`, `views`, `watch_ms`, `completed`. Each counter table is
/// read in one grouped pass over the videos' shards, not once per video and counter.
fn with_counters(videos: Frag) -> Frag {
    frag![
        "WITH s AS (",
        videos,
        ") SELECT s.*, COALESCE(vc.views, 0) AS views, COALESCE(vc.watch_ms, 0) AS watch_ms, \
         COALESCE(vc.completed, 0) AS completed, COALESCE(lc.like_count, 0) AS like_count \
         FROM s LEFT JOIN (SELECT c.video_id, CAST(SUM(c.views) AS BIGINT) AS views, \
         CAST(SUM(c.watch_ms) AS BIGINT) AS watch_ms, CAST(SUM(c.completed) AS BIGINT) AS completed \
         FROM video_view_counters c JOIN s ON s.id = c.video_id GROUP BY c.video_id) vc \
         ON vc.video_id = s.id LEFT JOIN (SELECT c.video_id, \
         CAST(SUM(c.like_count) AS BIGINT) AS like_count FROM video_like_counters c \
         JOIN s ON s.id = c.video_id GROUP BY c.video_id) lc ON lc.video_id = s.id"
    ]
}

/// An all-time engagement rate of a counted row, `None` without views.
fn row_rate(row: &sea_orm::QueryResult) -> AppResult<Option<f64>> {
    Ok(aggregates::rate(
        col(row, "like_count")?,
        col(row, "views")?,
    ))
}

/// The stats of those of `videos` that `viewer` wrote, when it is a `CREATOR` (the others
/// are absent from the answer); each asked video comes with its niche, its first hashtag.
/// Two statements for any number of videos, run side by side: the asked ones of the
/// viewer's videos (their figures and own percentiles), and the niches' videos.
///
/// Percentiles ([`aggregates::percentile`]) rank engagement rates among the other videos
/// that have views: `ownPercentile` among the author's other videos, `nichePercentile` among
/// the niche's videos but this one. A niche is every video that anonymous viewers can see
/// with the hashtag posted in the last 28 days at `now_us`; with fewer than
/// [`MIN_NICHE`] of them there is no `nichePercentile`.
pub async fn video_stats(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    videos: &[(Uuid, Option<String>)],
    now_us: i64,
) -> AppResult<HashMap<Uuid, VideoStats>> {
    if videos.is_empty() {
        return Ok(HashMap::new());
    }
    let niches: BTreeMap<Uuid, &String> = videos
        .iter()
        .filter_map(|(id, tag)| Some((*id, tag.as_ref()?)))
        .collect();
    let asked: Vec<Uuid> = videos.iter().map(|(id, _)| *id).collect();
    let (rows, niche_videos) = tokio::try_join!(
        creator_videos(db, viewer, &asked),
        niche_members(db, niches.values().copied().collect(), now_us)
    )?;
    let mut out = HashMap::new();
    for row in &rows {
        let id: Uuid = col(row, "id")?;
        let (views, likes, watch_ms, completed): (i64, i64, i64, i64) = (
            col(row, "views")?,
            col(row, "like_count")?,
            col(row, "watch_ms")?,
            col(row, "completed")?,
        );
        let duration: Option<i32> = col(row, "duration_ms")?;
        let rate = aggregates::rate(likes, views);
        let own_percentile = match rate {
            Some(_) => aggregates::percentile_of_counts(
                col(row, "own_below")?,
                col(row, "own_equal")?,
                col(row, "own_n")?,
            ),
            None => None,
        };
        let niche = niches.get(&id).map(|tag| (*tag).clone());
        let niche_percentile = niche.as_ref().and_then(|tag| {
            let members = niche_videos.get(tag)?;
            if members.len() < MIN_NICHE {
                return None;
            }
            let others = members
                .iter()
                .filter(|(o, _)| *o != id)
                .filter_map(|(_, r)| *r);
            aggregates::percentile(rate?, others)
        });
        out.insert(
            id,
            VideoStats {
                views,
                likes,
                watch_ms,
                average_watch_ms: (views > 0).then(|| watch_ms as f64 / views as f64),
                completion_rate: duration
                    .filter(|_| views > 0)
                    .map(|_| completed as f64 / views as f64),
                engagement_rate: rate,
                own_percentile,
                niche,
                niche_percentile,
            },
        );
    }
    Ok(out)
}

/// Those of `asked` that `viewer` wrote, if it is a creator (else none), with their
/// all-time counters and where each one's engagement rate stands among the creator's other
/// videos with views: `own_n` of them, `own_below` with a lower rate, `own_equal` with the
/// same (rates compared exactly, as `likes × views'` against `likes' × views`). One
/// statement; only the asked rows leave the database.
async fn creator_videos(
    db: &impl ConnectionTrait,
    viewer: Uuid,
    asked: &[Uuid],
) -> AppResult<Vec<sea_orm::QueryResult>> {
    let mut q = Sql::default();
    let me = q.bind(viewer);
    let ids: Vec<_> = asked.iter().map(|id| q.bind(*id)).collect();
    let others = "SELECT COUNT(*) FROM o WHERE o.id <> a.id AND o.views > 0";
    q.append(frag![
        "WITH o AS (",
        with_counters(frag![
            "SELECT v.id, v.duration_ms FROM videos v JOIN users u ON u.id = v.author_id \
             WHERE v.author_id = ",
            me,
            " AND u.account_type = ",
            lit(AccountType::Creator)
        ]),
        ") SELECT a.*, (",
        others,
        ") AS own_n, (",
        others,
        " AND o.like_count * a.views < a.like_count * o.views) AS own_below, (",
        others,
        " AND o.like_count * a.views = a.like_count * o.views) AS own_equal FROM o a \
         WHERE a.id IN (",
        Frag::join(ids, ", "),
        ")"
    ]);
    q.all(db).await
}

/// Per niche among `tags`, its videos with their all-time engagement rates: the videos
/// anonymous viewers can see (Rule V for no viewer), posted in the [`NICHE_US`] before
/// `now_us`, with the hashtag. One statement (the public videos of the period by
/// `idx_videos_public_created`, the hashtags matched as text first and then parsed).
async fn niche_members(
    db: &impl ConnectionTrait,
    tags: Vec<&String>,
    now_us: i64,
) -> AppResult<BTreeMap<String, Vec<(Uuid, Option<f64>)>>> {
    let tags: std::collections::BTreeSet<&String> = tags.into_iter().collect();
    let mut out: BTreeMap<String, Vec<(Uuid, Option<f64>)>> = BTreeMap::new();
    if tags.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::default();
    let (since, until) = (q.bind(now_us - NICHE_US), q.bind(now_us));
    let mut patterns = Vec::new();
    for tag in &tags {
        let quoted = serde_json::to_string(tag).map_err(AppError::internal)?;
        let p = q.bind(format!("%{quoted}%"));
        patterns.push(frag!["v.hashtags LIKE ", p]);
    }
    q.append(with_counters(frag![
        "SELECT v.id, v.hashtags FROM videos v JOIN users a ON a.id = v.author_id \
         WHERE v.author_private = 0 AND ",
        policy::video_visible(
            None,
            &Ident::new("v.author_id"),
            &Ident::new("a.visibility")
        ),
        " AND v.created_at >= ",
        since,
        " AND v.created_at <= ",
        until,
        " AND (",
        Frag::join(patterns, " OR "),
        ")"
    ]));
    for row in q.all(db).await? {
        let id: Uuid = col(&row, "id")?;
        let rate = row_rate(&row)?;
        let has: HashSet<String> =
            serde_json::from_str(&col::<String>(&row, "hashtags")?).unwrap_or_default();
        for tag in has.iter().filter(|t| tags.contains(t)) {
            out.entry(tag.clone()).or_default().push((id, rate));
        }
    }
    Ok(out)
}
