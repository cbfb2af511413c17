//! Creator analytics against an independent computation over a generated event log (issue
//! 12, "Tests"): random follows, unfollows, likes, unlikes, views, blocks, removeFollower,
//! deletions of accounts and videos and demographic edits, at random times around a fixed
//! "now"; every figure of `creatorAnalytics` (totals, daily, peak hours, breakdowns with
//! the thresholds, top videos, hashtags and sounds) and of `Video.stats` must equal what the
//! reference computes from the log alone. The reference knows nothing of rollups: it replays
//! the events in time order over plain sets.
use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use entity::{DeviceClass, LikesVisibility, Visibility};
use proptest::prelude::*;
use serde_json::{json, Value};
use tally::domain::analytics::age_bracket;
use uuid::Uuid;

/// The fixed "now" of every world: Saturday 2026-06-20 13:30 UTC. The last complete day
/// is Friday the 19th.
pub const NOW: &str = "2026-06-20T13:30:00Z";
const HOUR_US: i64 = 3_600_000_000;
const DAY_US: i64 = 24 * HOUR_US;

pub fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(NOW)
        .expect("instant")
        .with_timezone(&Utc)
}

/// The thresholds the worlds run with: small, so that folding and withholding happen in
/// worlds of a few dozen accounts.
pub const MIN_AUDIENCE: i64 = 5;
pub const MIN_BUCKET: i64 = 2;

/// An account of a world (the creator is not one of them).
#[derive(Debug, Clone)]
pub struct Fan {
    pub birth_year: Option<i32>,
    pub region: Option<&'static str>,
    pub language: Option<&'static str>,
    /// Every view of this fan is on this device (see the module's note on devices).
    pub device: DeviceClass,
    /// Whether the fan's demographics may change (fans that view never do).
    pub editable: bool,
}

/// What happens, by whom (fan index) and to what (video index).
#[derive(Debug, Clone)]
pub enum Ev {
    Follow(usize),
    Unfollow(usize),
    Like(usize, usize),
    Unlike(usize, usize),
    /// A view: by a fan, or anonymous; watch time.
    View(Option<usize>, usize, i32),
    /// The creator blocks the fan.
    Block(usize),
    /// The creator removes the fan as a follower.
    RemoveFollower(usize),
    /// The fan deletes its account.
    Delete(usize),
    /// The creator deletes the video.
    DeleteVideo(usize),
    /// The fan's new birth year, region and language.
    Edit(
        usize,
        Option<i32>,
        Option<&'static str>,
        Option<&'static str>,
    ),
}

#[derive(Debug, Clone)]
pub struct World {
    pub fans: Vec<Fan>,
    /// Each video: hashtags, sound, duration.
    pub videos: Vec<(Vec<&'static str>, Option<&'static str>, Option<i32>)>,
    /// Events with their time, in microseconds before [`NOW`].
    pub events: Vec<(i64, Ev)>,
}

const REGIONS: [Option<&str>; 5] = [Some("DE"), Some("US"), Some("BR"), Some("Narnia"), None];
const LANGUAGES: [Option<&str>; 4] = [Some("de"), Some("en-GB"), Some("pt"), None];
const TAGS: [&str; 4] = ["dance", "food", "cats", "tech"];
const SOUNDS: [&str; 2] = ["beat", "song"];
const DEVICES: [DeviceClass; 4] = [
    DeviceClass::Ios,
    DeviceClass::Android,
    DeviceClass::Web,
    DeviceClass::Other,
];

fn fan_strategy() -> impl Strategy<Value = Fan> {
    (
        prop::option::weighted(0.85, 1950..2012i32),
        0..REGIONS.len(),
        0..LANGUAGES.len(),
        0..DEVICES.len(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(birth_year, r, l, d, editable)| Fan {
            birth_year,
            region: REGIONS[r],
            language: LANGUAGES[l],
            device: DEVICES[d],
            editable,
        })
}

pub fn world_strategy() -> impl Strategy<Value = World> {
    let fans = prop::collection::vec(fan_strategy(), 6..24);
    let videos = prop::collection::vec(
        (
            prop::collection::vec(0..TAGS.len(), 0..3),
            prop::option::of(0..SOUNDS.len()),
            prop::option::of(1_000..60_000i32),
        ),
        1..5,
    );
    (fans, videos).prop_flat_map(|(fans, videos)| {
        let (nf, nv) = (fans.len(), videos.len());
        // Times: from 12 days before now to now, so that some fall before the 7-day window
        // and some in today, after it.
        let t = 0..12 * DAY_US;
        let ev = prop_oneof![
            4 => (0..nf).prop_map(Ev::Follow),
            1 => (0..nf).prop_map(Ev::Unfollow),
            6 => (0..nf, 0..nv).prop_map(|(f, v)| Ev::Like(f, v)),
            2 => (0..nf, 0..nv).prop_map(|(f, v)| Ev::Unlike(f, v)),
            8 => (prop::option::weighted(0.8, 0..nf), 0..nv, 0..90_000i32)
                .prop_map(|(f, v, w)| Ev::View(f, v, w)),
            1 => (0..nf).prop_map(Ev::Block),
            1 => (0..nf).prop_map(Ev::RemoveFollower),
            1 => (0..nf).prop_map(Ev::Delete),
            1 => (0..nv).prop_map(Ev::DeleteVideo),
            1 => (0..nf, prop::option::of(1950..2012i32), 0..REGIONS.len(), 0..LANGUAGES.len())
                .prop_map(|(f, y, r, l)| Ev::Edit(f, y, REGIONS[r], LANGUAGES[l])),
        ];
        let events = prop::collection::vec((t, ev), 20..160);
        let videos: Vec<_> = videos
            .into_iter()
            .map(|(tags, sound, d)| {
                // Distinct tags, in the order first given (as createVideo keeps them).
                let mut distinct: Vec<&str> = Vec::new();
                for t in tags {
                    if !distinct.contains(&TAGS[t]) {
                        distinct.push(TAGS[t]);
                    }
                }
                (distinct, sound.map(|s| SOUNDS[s]), d)
            })
            .collect();
        (Just(fans), Just(videos), events).prop_map(|(fans, videos, mut events)| {
            // Oldest first; the replay is in this order.
            events.sort_by_key(|(t, _)| std::cmp::Reverse(*t));
            // Fans whose demographics change watch signed out: a signed-in viewer's
            // buckets are then one per dimension (see [`Reference::views`]).
            for (_, ev) in &mut events {
                if let Ev::View(Some(f), v, w) = *ev {
                    if fans[f].editable {
                        *ev = Ev::View(None, v, w);
                    }
                }
            }
            World {
                fans,
                videos,
                events,
            }
        })
    })
}

/// What the reference knows after replaying a world: per hour, the figures; the current
/// follows, likes and accounts; every surviving view.
#[derive(Debug, Default)]
pub struct Reference {
    /// Hour (µs) → [views, watch ms, follower views, likes, unlikes, new, lost followers].
    pub hours: BTreeMap<i64, [i64; 7]>,
    pub follows: BTreeSet<usize>,
    /// (fan, video) → time of the like.
    pub likes: BTreeMap<(usize, usize), i64>,
    pub blocked: BTreeSet<usize>,
    pub deleted: BTreeSet<usize>,
    pub deleted_videos: BTreeSet<usize>,
    /// The fans' current demographics.
    pub fans: Vec<Fan>,
    /// Every recorded view: (time, video, fan with its demographics at the time, watch ms,
    /// follows the creator). A deleted video's views leave the figures (`hours`,
    /// `video_days`) but stay here: the viewer sketches cannot forget a viewer.
    pub views: Vec<(i64, usize, Option<(usize, Fan)>, i32, bool)>,
    /// Per video and UTC day (days since 1970): [views, watch ms, likes, unlikes].
    pub video_days: BTreeMap<(usize, i64), [i64; 4]>,
}

const VIEWS: usize = 0;
const WATCH: usize = 1;
const FOLLOWER_VIEWS: usize = 2;
const LIKES: usize = 3;
const UNLIKES: usize = 4;
const NEW: usize = 5;
const LOST: usize = 6;

fn hour_of(t: i64) -> i64 {
    t - t.rem_euclid(HOUR_US)
}

impl Reference {
    fn add(&mut self, t: i64, what: usize, n: i64) {
        self.hours.entry(hour_of(t)).or_default()[what] += n;
    }

    fn add_video(&mut self, video: usize, t: i64, what: usize, n: i64) {
        self.video_days
            .entry((video, t.div_euclid(DAY_US)))
            .or_default()[what] += n;
    }

    fn unlike_at(&mut self, fan: usize, video: usize, t: i64) {
        if self.likes.remove(&(fan, video)).is_some() {
            self.add(t, UNLIKES, 1);
            self.add_video(video, t, 3, 1);
        }
    }

    fn lose_follower(&mut self, fan: usize, t: i64) {
        if self.follows.remove(&fan) {
            self.add(t, LOST, 1);
        }
    }

    /// Whether the fan still exists and can see the creator's videos (the creator is
    /// public: only a block or a deletion stops it).
    fn present(&self, fan: usize) -> bool {
        !self.blocked.contains(&fan) && !self.deleted.contains(&fan)
    }

    /// Replays `w` (events at microseconds `now_us - t`), as PRIVACY.md and API.md say the
    /// service counts them.
    pub fn replay(w: &World, now_us: i64) -> Reference {
        let mut r = Reference {
            fans: w.fans.clone(),
            ..Reference::default()
        };
        for (ago, ev) in &w.events {
            let t = now_us - ago;
            match *ev {
                Ev::Follow(f) if r.present(f) => {
                    if r.follows.insert(f) {
                        r.add(t, NEW, 1);
                    }
                }
                Ev::Unfollow(f) if r.present(f) => r.lose_follower(f, t),
                Ev::Like(f, v) if r.present(f) && !r.deleted_videos.contains(&v) => {
                    if let std::collections::btree_map::Entry::Vacant(e) = r.likes.entry((f, v)) {
                        e.insert(t);
                        r.add(t, LIKES, 1);
                        r.add_video(v, t, 2, 1);
                    }
                }
                Ev::Unlike(f, v) if r.present(f) && !r.deleted_videos.contains(&v) => {
                    r.unlike_at(f, v, t)
                }
                Ev::View(viewer, v, watch) => {
                    let seen = viewer.is_none_or(|f| r.present(f));
                    if seen && !r.deleted_videos.contains(&v) && watch <= 3_600_000 {
                        let follows = viewer.is_some_and(|f| r.follows.contains(&f));
                        r.add(t, VIEWS, 1);
                        r.add(t, WATCH, i64::from(watch));
                        r.add(t, FOLLOWER_VIEWS, i64::from(follows));
                        r.add_video(v, t, 0, 1);
                        r.add_video(v, t, 1, i64::from(watch));
                        let who = viewer.map(|f| (f, r.fans[f].clone()));
                        r.views.push((t, v, who, watch, follows));
                    }
                }
                Ev::Block(f) if r.present(f) => {
                    r.blocked.insert(f);
                    r.lose_follower(f, t);
                    for v in 0..w.videos.len() {
                        r.unlike_at(f, v, t);
                    }
                }
                Ev::RemoveFollower(f) if r.present(f) => r.lose_follower(f, t),
                Ev::Delete(f) if r.present(f) => {
                    r.deleted.insert(f);
                    r.lose_follower(f, t);
                    for v in 0..w.videos.len() {
                        r.unlike_at(f, v, t);
                    }
                }
                Ev::DeleteVideo(v) if !r.deleted_videos.contains(&v) => {
                    r.deleted_videos.insert(v);
                    let likers: Vec<usize> = r
                        .likes
                        .keys()
                        .filter(|(_, lv)| *lv == v)
                        .map(|(f, _)| *f)
                        .collect();
                    for f in likers {
                        // Its likes go as unlikes at the deletion; its views leave history.
                        r.likes.remove(&(f, v));
                        r.add(t, UNLIKES, 1);
                    }
                    let gone: Vec<(i64, i32, bool)> = r
                        .views
                        .iter()
                        .filter(|view| view.1 == v)
                        .map(|view| (view.0, view.3, view.4))
                        .collect();
                    for (vt, watch, follows) in gone {
                        r.add(vt, VIEWS, -1);
                        r.add(vt, WATCH, -i64::from(watch));
                        r.add(vt, FOLLOWER_VIEWS, -i64::from(follows));
                    }
                    r.video_days.retain(|(rv, _), _| *rv != v);
                }
                Ev::Edit(f, y, reg, lang) if !r.deleted.contains(&f) && r.fans[f].editable => {
                    let fan = &mut r.fans[f];
                    fan.birth_year = y.or(fan.birth_year);
                    fan.region = reg.or(fan.region);
                    fan.language = lang.or(fan.language);
                }
                _ => {}
            }
        }
        r
    }
}

/// The first and last day (days since 1970) of the `LAST_N_DAYS` window at `now`.
pub fn window(now: DateTime<Utc>, n: i64) -> (i64, i64) {
    let to = now.timestamp_micros().div_euclid(DAY_US) - 1;
    (to - (n - 1), to)
}

fn date(day: i64) -> String {
    (NaiveDate::default() + chrono::Duration::days(day))
        .format("%Y-%m-%d")
        .to_string()
}

fn rate(likes: i64, views: i64) -> Value {
    if views == 0 {
        Value::Null
    } else {
        json!(likes as f64 / views as f64)
    }
}

/// Buckets folded as PRIVACY.md "Small buckets" says: under `min` into `OTHER`; while
/// `OTHER` is under `min`, the smallest shown bucket joins it (ties: the key that sorts
/// last goes first); shown by count descending, then key, `OTHER` last.
pub fn fold(counts: &BTreeMap<String, i64>, min: i64) -> Vec<(String, i64)> {
    let mut shown: Vec<(String, i64)> = counts
        .iter()
        .filter(|(_, n)| **n >= min)
        .map(|(k, n)| (k.clone(), *n))
        .collect();
    let mut other: i64 = counts.values().filter(|n| **n < min).sum();
    shown.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    while other > 0 && other < min {
        match shown.pop() {
            Some((_, n)) => other += n,
            None => break,
        }
    }
    if other > 0 {
        shown.push(("OTHER".to_owned(), other));
    }
    shown
}

/// A breakdown as the API shows it, from each dimension's counts of one population.
fn breakdown(population: i64, dims: &[(&str, Option<BTreeMap<String, i64>>)]) -> Value {
    if population < MIN_AUDIENCE {
        let mut out = json!({ "available": false, "withheldReason": "BELOW_MINIMUM_AUDIENCE", "population": null });
        for (name, _) in dims {
            out[*name] = Value::Null;
        }
        return out;
    }
    let mut out = json!({ "available": true, "withheldReason": null, "population": population });
    for (name, counts) in dims {
        out[*name] = match counts {
            None => Value::Null,
            Some(c) => Value::Array(
                fold(c, MIN_BUCKET)
                    .into_iter()
                    .map(|(key, count)| json!({ "key": key, "count": count, "share": count as f64 / population as f64 }))
                    .collect(),
            ),
        };
    }
    out
}

/// A fan's keys as the aggregates store them, the age bracket in `year`.
fn keys(fan: &Fan, year: i32) -> [String; 3] {
    [
        sea_orm::ActiveEnum::to_value(&age_bracket(fan.birth_year, year)),
        entity::demographics::region(fan.region),
        entity::demographics::language(fan.language),
    ]
}

/// `creatorAnalytics` for the `LAST_{n}_DAYS` window, as the reference computes it (the
/// fields of [`QUERY`]; `topVideos` and `Video.stats` are checked apart).
pub fn expected(w: &World, r: &Reference, n: i64) -> Value {
    let now = now();
    let (from, to) = window(now, n);
    let in_window = |t: i64| (from..=to).contains(&t.div_euclid(DAY_US));
    let mut totals = [0i64; 7];
    let mut daily: BTreeMap<i64, [i64; 7]> = (from..=to).map(|d| (d, [0; 7])).collect();
    let mut peaks = [[0i64; 7]; 168];
    for (h, f) in &r.hours {
        if !in_window(*h) {
            continue;
        }
        let dt = DateTime::from_timestamp_micros(*h).expect("hour");
        let slot = dt.weekday().num_days_from_monday() as usize * 24 + dt.hour() as usize;
        for i in 0..7 {
            totals[i] += f[i];
            daily.get_mut(&h.div_euclid(DAY_US)).expect("day")[i] += f[i];
            peaks[slot][i] += f[i];
        }
    }
    let year = now.year();
    // Followers: the current ones, as their accounts are now.
    let mut follower_dims: [BTreeMap<String, i64>; 3] = Default::default();
    for f in &r.follows {
        for (d, k) in keys(&r.fans[*f], year).into_iter().enumerate() {
            *follower_dims[d].entry(k).or_default() += 1;
        }
    }
    // Likers: distinct accounts with a current like made in the window.
    let likers: BTreeSet<usize> = r
        .likes
        .iter()
        .filter(|(_, t)| in_window(**t))
        .map(|((f, _), _)| *f)
        .collect();
    let mut liker_dims: [BTreeMap<String, i64>; 3] = Default::default();
    for f in &likers {
        for (d, k) in keys(&r.fans[*f], year).into_iter().enumerate() {
            *liker_dims[d].entry(k).or_default() += 1;
        }
    }
    // Viewers: distinct signed-in accounts, under what their views stored (a viewer's
    // demographics never change, and each views on one device).
    let mut viewer_of: BTreeMap<usize, (Fan, i64)> = BTreeMap::new();
    for (t, _, who, _, _) in &r.views {
        if let Some((f, fan)) = who {
            if in_window(*t) {
                viewer_of.insert(*f, (fan.clone(), *t));
            }
        }
    }
    let mut viewer_dims: [BTreeMap<String, i64>; 4] = Default::default();
    for (fan, t) in viewer_of.values() {
        let y = DateTime::from_timestamp_micros(*t).expect("t").year();
        let [a, reg, lang] = keys(fan, y);
        let device = sea_orm::ActiveEnum::to_value(&fan.device);
        for (d, k) in [a, reg, lang, device].into_iter().enumerate() {
            *viewer_dims[d].entry(k).or_default() += 1;
        }
    }
    let [fa, fr, fl] = follower_dims;
    let [la, lr, ll] = liker_dims;
    let [va, vr, vl, vd] = viewer_dims;
    let tags = |of: &dyn Fn(usize) -> Vec<&'static str>| -> Value {
        let mut per: BTreeMap<&str, [i64; 3]> = BTreeMap::new();
        for v in (0..w.videos.len()).filter(|v| !r.deleted_videos.contains(v)) {
            for tag in of(v) {
                let e = per.entry(tag).or_default();
                e[0] += 1;
                for d in from..=to {
                    if let Some(f) = r.video_days.get(&(v, d)) {
                        e[1] += f[0];
                        e[2] += f[2] - f[3];
                    }
                }
            }
        }
        let mut rows: Vec<(&str, [i64; 3])> = per.into_iter().collect();
        rows.sort_by(|a, b| b.1[1].cmp(&a.1[1]).then(a.0.cmp(b.0)));
        Value::Array(
            rows.into_iter()
                .take(10)
                .map(|(tag, [videos, views, likes])| {
                    json!({ "tag": tag, "videos": videos, "views": views, "likes": likes, "engagementRate": rate(likes, views) })
                })
                .collect(),
        )
    };
    json!({
        "from": date(from),
        "to": date(to),
        "totals": {
            "views": totals[VIEWS], "likes": totals[LIKES], "unlikes": totals[UNLIKES],
            "newFollowers": totals[NEW], "lostFollowers": totals[LOST],
            "followerCount": r.follows.len(), "watchTimeMs": totals[WATCH] as f64,
            "engagementRate": rate(totals[LIKES], totals[VIEWS]),
        },
        "daily": daily.iter().map(|(d, f)| json!({
            "day": date(*d), "views": f[VIEWS], "likes": f[LIKES], "unlikes": f[UNLIKES],
            "newFollowers": f[NEW], "lostFollowers": f[LOST], "watchTimeMs": f[WATCH] as f64,
        })).collect::<Vec<_>>(),
        "peakHours": peaks.iter().enumerate().map(|(slot, f)| json!({
            "dayOfWeek": slot / 24 + 1, "hour": slot % 24,
            "views": f[VIEWS], "likes": f[LIKES], "followerViews": f[FOLLOWER_VIEWS],
        })).collect::<Vec<_>>(),
        "audience": {
            "followers": breakdown(r.follows.len() as i64, &[("ageBrackets", Some(fa)), ("regions", Some(fr)), ("languages", Some(fl)), ("devices", None)]),
            "likers": breakdown(likers.len() as i64, &[("ageBrackets", Some(la)), ("regions", Some(lr)), ("languages", Some(ll)), ("devices", None)]),
            "viewers": breakdown(viewer_of.len() as i64, &[("ageBrackets", Some(va)), ("regions", Some(vr)), ("languages", Some(vl)), ("devices", Some(vd))]),
        },
        "hashtags": tags(&|v| w.videos[v].0.clone()),
        "sounds": tags(&|v| w.videos[v].1.into_iter().collect()),
    })
}

/// The query whose answer [`expected`] computes.
pub const QUERY: &str = "query($w: AnalyticsWindow!) { creatorAnalytics(window: $w) { from to \
    totals { views likes unlikes newFollowers lostFollowers followerCount watchTimeMs engagementRate } \
    daily { day views likes unlikes newFollowers lostFollowers watchTimeMs } \
    peakHours { dayOfWeek hour views likes followerViews } \
    audience { followers { ...B } likers { ...B } viewers { ...B } } \
    hashtags(first: 10) { tag videos views likes engagementRate } \
    sounds(first: 10) { tag videos views likes engagementRate } } } \
    fragment B on Breakdown { available withheldReason population \
    ageBrackets { key count share } regions { key count share } languages { key count share } devices { key count share } }";

/// Where `got` differs from `want`, as paths (floats compared to 1e-9).
pub fn diff(path: &str, got: &Value, want: &Value, out: &mut Vec<String>) {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => {
            for (k, wv) in w {
                diff(
                    &format!("{path}.{k}"),
                    g.get(k).unwrap_or(&Value::Null),
                    wv,
                    out,
                );
            }
        }
        (Value::Array(g), Value::Array(w)) if g.len() == w.len() => {
            for (i, (gv, wv)) in g.iter().zip(w).enumerate() {
                diff(&format!("{path}[{i}]"), gv, wv, out);
            }
        }
        (Value::Number(g), Value::Number(w)) => {
            let (g, w) = (
                g.as_f64().unwrap_or(f64::NAN),
                w.as_f64().unwrap_or(f64::NAN),
            );
            if (g - w).abs() > 1e-9 {
                out.push(format!("{path}: got {g}, want {w}"));
            }
        }
        (g, w) if g == w => {}
        (g, w) => out.push(format!("{path}: got {g}, want {w}")),
    }
}

/// Settings the fans' accounts get: public, likes visible to everyone (visibility is not
/// what this test is about; the privacy property tests cover it).
pub const FAN_SETTINGS: (Visibility, LikesVisibility) =
    (Visibility::Public, LikesVisibility::Everyone);

/// Builds `w` through the domain use cases, each event at its own time (signed-in viewers
/// into `sketches`, which `fold::drain` then stores with the views), and answers with the
/// creator, its videos and the fans' IDs.
/// Writes the world `w` through the domain's use cases. With `reads`, every few events
/// the fold runs and the creator reads its analytics over every window, so that the
/// windows' cached parts (`window_cache`) are filled while later events still change the
/// days they cover.
pub async fn build(
    db: &sea_orm::DatabaseConnection,
    sketches: &tally::domain::sketch::SketchBuffer,
    w: &World,
    reads: Option<&crate::helpers::Harness>,
) -> (Uuid, Vec<Uuid>, Vec<Uuid>) {
    use tally::{
        clock::Clock,
        domain::{
            accounts::{delete_account, update_account, AccountChanges},
            analytics::record_view,
            likes::{like_video, unlike_video},
            social::{block_user, follow_user, remove_follower, unfollow_user},
            videos::{create_video, delete_video, NewVideo},
        },
    };
    let at = |ago: i64| now().timestamp_micros() - ago;
    let when = |ago: i64| DateTime::from_timestamp_micros(at(ago)).expect("time");
    let creator = crate::helpers::insert_account(
        db,
        "creator",
        Visibility::Public,
        LikesVisibility::Everyone,
    )
    .await;
    let mut q = tally::db::Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "UPDATE users SET account_type = 'CREATOR' WHERE id = {c}"
    ));
    q.execute(db).await.expect("creator");
    let mut fans = Vec::new();
    for (i, f) in w.fans.iter().enumerate() {
        let id =
            crate::helpers::insert_account(db, &format!("fan{i}"), FAN_SETTINGS.0, FAN_SETTINGS.1)
                .await;
        let mut q = tally::db::Sql::default();
        let (y, r, l, me) = (
            q.bind(f.birth_year),
            q.bind(f.region.map(str::to_owned)),
            q.bind(f.language.map(str::to_owned)),
            q.bind(id),
        );
        // Linked to an identity provider: deletion checks no password.
        q.push_unchecked(&format!(
            "UPDATE users SET birth_year = {y}, region = {r}, language = {l}, \
             external_subject = 'idp|' || handle, password_hash = '!' WHERE id = {me}"
        ));
        q.execute(db).await.expect("fan");
        fans.push(id);
    }
    let mut videos = Vec::new();
    for (tags, sound, duration) in &w.videos {
        let input = NewVideo {
            caption: "v".into(),
            hashtags: tags.iter().map(|t| (*t).to_owned()).collect(),
            sound: sound.map(str::to_owned),
            duration_ms: *duration,
            media_url: "https://media.example.com/v.mp4".into(),
            thumbnail_url: None,
        };
        let v = create_video(db, creator, input, at(13 * DAY_US))
            .await
            .map_err(|e| e.message())
            .expect("video");
        videos.push(v.into_inner().video.id);
    }
    for (i, (ago, ev)) in w.events.iter().enumerate() {
        if let Some(h) = reads.filter(|_| i % 4 == 3) {
            tally::domain::fold::drain(db, sketches)
                .await
                .map_err(|e| e.message())
                .expect("fold");
            for n in [7, 28] {
                h.ok(
                    Some(creator),
                    QUERY,
                    json!({ "w": format!("LAST_{n}_DAYS") }),
                )
                .await;
            }
        }
        let t = at(*ago);
        // Refusals (NOT_FOUND for a blocked or deleted fan, a deleted video) are part of
        // the log: the reference skips the same events.
        let _ = match *ev {
            Ev::Follow(f) => follow_user(db, fans[f], creator, t).await.map(|_| ()),
            Ev::Unfollow(f) => unfollow_user(db, fans[f], creator, t).await.map(|_| ()),
            Ev::Like(f, v) => like_video(db, fans[f], videos[v], t).await.map(|_| ()),
            Ev::Unlike(f, v) => unlike_video(db, fans[f], videos[v], t).await.map(|_| ()),
            Ev::View(f, v, watch) => {
                record_view(
                    db,
                    sketches,
                    f.map(|f| fans[f]),
                    videos[v],
                    watch,
                    w_device(w, f),
                    when(*ago),
                )
                .await
            }
            Ev::Block(f) => block_user(db, creator, fans[f], t).await,
            Ev::RemoveFollower(f) => remove_follower(db, creator, fans[f], t).await,
            Ev::Delete(f) => delete_account(db, fans[f], String::new(), t).await,
            Ev::DeleteVideo(v) => delete_video(db, creator, videos[v], t).await,
            Ev::Edit(f, y, r, l) if w.fans[f].editable => {
                let changes = AccountChanges {
                    birth_year: y,
                    region: r.map(str::to_owned),
                    language: l.map(str::to_owned),
                    ..Default::default()
                };
                update_account(db, fans[f], changes, Clock::Fixed(when(*ago)))
                    .await
                    .map(|_| ())
            }
            Ev::Edit(..) => Ok(()),
        };
    }
    (creator, videos, fans)
}

fn w_device(w: &World, f: Option<usize>) -> DeviceClass {
    f.map_or(DeviceClass::Other, |f| w.fans[f].device)
}

/// `Video.stats` of the current video `v`, as the reference computes it (all time; no
/// world has the 20 videos a niche needs, so `nichePercentile` is always null).
pub fn expected_stats(w: &World, r: &Reference, v: usize) -> Value {
    let all_time = |v: usize| -> (i64, i64, i64, i64) {
        let (mut views, mut watch, mut completed) = (0, 0, 0);
        for (_, video, _, ms, _) in r.views.iter().filter(|view| view.1 == v) {
            views += 1;
            watch += i64::from(*ms);
            completed += i64::from(w.videos[*video].2.is_some_and(|d| *ms >= d));
        }
        let likes = r.likes.keys().filter(|(_, lv)| *lv == v).count() as i64;
        (views, likes, watch, completed)
    };
    let ratio = |a: i64, b: i64| (b > 0).then(|| a as f64 / b as f64);
    let (views, likes, watch, completed) = all_time(v);
    let rate = ratio(likes, views);
    let others: Vec<f64> = (0..w.videos.len())
        .filter(|o| *o != v && !r.deleted_videos.contains(o))
        .filter_map(|o| {
            let (views, likes, ..) = all_time(o);
            ratio(likes, views)
        })
        .collect();
    let own = rate.filter(|_| !others.is_empty()).map(|rate| {
        let below = others.iter().filter(|o| **o < rate).count() as f64;
        let equal = others.iter().filter(|o| **o == rate).count() as f64;
        100.0 * (below + equal / 2.0) / others.len() as f64
    });
    json!({
        "views": views, "likes": likes, "watchTimeMs": watch as f64,
        "averageWatchMs": ratio(watch, views),
        "completionRate": w.videos[v].2.and_then(|_| ratio(completed, views)),
        "engagementRate": rate, "ownPercentile": own,
        "niche": w.videos[v].0.first(), "nichePercentile": null,
    })
}

/// The current videos in `topVideos(by: VIEWS)` order over the window: the window's views,
/// ties the newer video first (every world's videos are made at one instant: then the
/// greater ID).
pub fn expected_top(r: &Reference, ids: &[Uuid], n: i64) -> Vec<Uuid> {
    let (from, to) = window(now(), n);
    let mut top: Vec<(i64, Uuid)> = (0..ids.len())
        .filter(|v| !r.deleted_videos.contains(v))
        .map(|v| {
            let views = (from..=to)
                .filter_map(|d| r.video_days.get(&(v, d)))
                .map(|f| f[0])
                .sum();
            (views, ids[v])
        })
        .collect();
    top.sort_by(|a, b| b.0.cmp(&a.0).then(b.1.cmp(&a.1)));
    top.into_iter().map(|(_, id)| id).collect()
}

const STATS: &str = "views likes watchTimeMs averageWatchMs completionRate engagementRate \
    ownPercentile niche nichePercentile";

/// One world, built and folded, against the reference: every figure of `creatorAnalytics`
/// over two windows, `topVideos` with `Video.stats`, no drift between rollups and rows,
/// and over all time Σ(likes − unlikes) = Σ `likeCount`, Σ views = Σ `viewCount`.
async fn check_world(w: &World) -> Vec<String> {
    use crate::helpers::{fresh_db, sketch_buffer, vid, Harness};
    let db = fresh_db().await;
    let sketches = sketch_buffer();
    let mut h = Harness::with_db(db.clone());
    h.clock = tally::clock::Clock::Fixed(now());
    h.thresholds = tally::config::Thresholds {
        min_audience: MIN_AUDIENCE,
        min_bucket: MIN_BUCKET,
    };
    let (creator, videos, _fans) = build(&db, &sketches, w, Some(&h)).await;
    tally::domain::fold::drain(&db, &sketches)
        .await
        .map_err(|e| e.message())
        .expect("fold");
    let r = Reference::replay(w, now().timestamp_micros());
    let mut out = Vec::new();
    for n in [7, 28] {
        let window = format!("LAST_{n}_DAYS");
        let got = h.ok(Some(creator), QUERY, json!({ "w": window })).await;
        diff(
            &window,
            &got["creatorAnalytics"],
            &expected(w, &r, n),
            &mut out,
        );
        let q = format!(
            "query($w: AnalyticsWindow!) {{ creatorAnalytics(window: $w) {{ \
             topVideos(first: 10, by: VIEWS) {{ video {{ id }} stats {{ {STATS} }} }} }} }}"
        );
        let got = h.ok(Some(creator), &q, json!({ "w": window })).await;
        let top = got["creatorAnalytics"]["topVideos"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let want: Vec<String> = expected_top(&r, &videos, n).into_iter().map(vid).collect();
        let order: Vec<String> = top
            .iter()
            .map(|e| e["video"]["id"].as_str().unwrap_or("").to_owned())
            .collect();
        if order != want {
            out.push(format!("{window}.topVideos: got {order:?}, want {want:?}"));
        }
        for (i, edge) in top.iter().enumerate() {
            if let Some(v) = videos.iter().position(|id| vid(*id) == order[i]) {
                diff(
                    &format!("{window}.topVideos[{i}].stats"),
                    &edge["stats"],
                    &expected_stats(w, &r, v),
                    &mut out,
                );
            }
        }
    }
    // Over all time, against the API's counters of the current videos.
    let mut like_sum = 0;
    let mut view_sum = 0;
    for (v, id) in videos
        .iter()
        .enumerate()
        .filter(|(v, _)| !r.deleted_videos.contains(v))
    {
        let got = h
            .ok(
                Some(creator),
                "query($id: ID!) { video(id: $id) { likeCount viewCount } }",
                json!({ "id": vid(*id) }),
            )
            .await;
        like_sum += got["video"]["likeCount"].as_i64().unwrap_or(-1);
        view_sum += got["video"]["viewCount"].as_i64().unwrap_or(-1);
        let views = r.views.iter().filter(|view| view.1 == v).count() as i64;
        if got["video"]["viewCount"].as_i64() != Some(views) {
            out.push(format!(
                "video {v}: viewCount {}, want {views}",
                got["video"]["viewCount"]
            ));
        }
    }
    let mut q = tally::db::Sql::default();
    let c = q.bind(creator);
    q.push_unchecked(&format!(
        "SELECT CAST(COALESCE(SUM(likes - unlikes), 0) AS BIGINT) AS net, \
         CAST(COALESCE(SUM(views), 0) AS BIGINT) AS views FROM creator_hours WHERE creator_id = {c}"
    ));
    let row = q.one(&h.db).await.expect("sums").expect("row");
    let (net, views): (i64, i64) = (
        row.try_get("", "net").expect("net"),
        row.try_get("", "views").expect("views"),
    );
    if net != like_sum {
        out.push(format!(
            "Σ(likes − unlikes) = {net}, Σ likeCount = {like_sum}"
        ));
    }
    if views != view_sum {
        out.push(format!("Σ views = {views}, Σ viewCount = {view_sum}"));
    }
    let drift = tally::domain::rollups::drift(&h.db, true)
        .await
        .expect("drift");
    out.extend(drift);
    out
}

#[test]
fn creator_analytics_equal_the_reference() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let cases = std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(24);
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(w in world_strategy())| {
        let bad = rt.block_on(check_world(&w));
        prop_assert!(bad.is_empty(), "{} differences:\n{}", bad.len(), bad.join("\n"));
    });
}
