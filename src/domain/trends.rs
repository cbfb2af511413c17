//! Trends (`trendingHashtags`, `trendingSounds`, `trendingVideos`): like velocity over the
//! last 24 hours against the trailing seven days, from the hourly rollup `video_hours`,
//! counting only likes on videos anonymous viewers can see (Rule V for anonymous: the
//! author is public now; a deleted video's rollup rows went with it).
//!
//! With `H` the start of the clock's current hour: `likes_24h` = gross likes in the hours
//! `[H − 24 h, H)`; `trailing` = gross likes in `[H − 192 h, H − 24 h)`; velocity = likes per
//! hour in the last 24 hours ÷ the trailing hourly mean, the mean taken as at least one like
//! in the seven days: `(likes_24h / 24) ÷ (max(trailing, 1) / 168)` = `7 · likes_24h ÷
//! max(trailing, 1)`. Only items with a like in the last 24 hours trend. Rankings compare the
//! velocity as the exact fraction, then `likes_24h`, then the name or the video's ID.
use std::{cmp::Ordering, collections::BTreeMap};

use entity::{user, video};
use sea_orm::ConnectionTrait;
use uuid::Uuid;

use super::{
    counters::CountedVideo,
    page::{Page, PageRequest},
    videos::{hashtags_of, visible_videos},
    visible::Visible,
};
use crate::{
    db::{col, Ident, Sql},
    error::{AppError, AppResult},
    frag,
    ids::Keyset,
    privacy::sql as policy,
};

const HOUR_US: i64 = 3_600_000_000;

/// Likes of one item: in the last 24 hours and in the 168 hours before them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Trend {
    pub likes_24h: i64,
    pub trailing: i64,
}

impl Trend {
    /// Likes per hour in the last 24 hours over the trailing hourly mean (at least 1/168).
    pub fn velocity(&self) -> f64 {
        (self.likes_24h as f64 / 24.0) / (self.trailing.max(1) as f64 / 168.0)
    }

    /// Higher velocity first (compared exactly, as fractions), then more likes.
    fn rank(&self, other: &Trend) -> Ordering {
        let a = i128::from(self.likes_24h) * i128::from(other.trailing.max(1));
        let b = i128::from(other.likes_24h) * i128::from(self.trailing.max(1));
        b.cmp(&a).then(other.likes_24h.cmp(&self.likes_24h))
    }

    /// The trend as a cursor's sort key (both counts fit 32 bits: clamped if ever not).
    fn pack(&self) -> i64 {
        let clamp = |n: i64| n.clamp(0, i64::from(u32::MAX));
        (clamp(self.likes_24h) << 31 << 1) | clamp(self.trailing)
    }

    fn unpack(key: i64) -> Trend {
        Trend {
            likes_24h: (key >> 32) & i64::from(u32::MAX),
            trailing: key & i64::from(u32::MAX),
        }
    }
}

/// A trending hashtag or sound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendingItem {
    pub name: String,
    pub trend: Trend,
}

/// A trending video's trend, with what groups it.
struct VideoTrend {
    id: Uuid,
    hashtags: Vec<String>,
    sound: Option<String>,
    trend: Trend,
}

/// The trends of every video that anonymous viewers can see (and `viewer`, when given) with a
/// like in the 24 hours before the hour of `now`.
async fn video_trends(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    now: i64,
) -> AppResult<Vec<VideoTrend>> {
    let hour = now - now.rem_euclid(HOUR_US);
    let mut q = Sql::default();
    let (h, h24, h192) = (
        q.bind(hour),
        q.bind(hour - 24 * HOUR_US),
        q.bind(hour - 192 * HOUR_US),
    );
    let v = viewer.map(|id| q.bind(id));
    let (author, visibility) = (
        Ident::at("v", video::Column::AuthorId),
        Ident::at("a", user::Column::Visibility),
    );
    let recent = frag!["CASE WHEN r.hour >= ", h24, " THEN r.likes ELSE 0 END"];
    q.append(frag![
        "SELECT v.id, v.hashtags, v.sound, CAST(SUM(",
        &recent,
        ") AS BIGINT) AS likes_24h, CAST(SUM(CASE WHEN r.hour < ",
        h24,
        " THEN r.likes ELSE 0 END) AS BIGINT) AS trailing \
         FROM video_hours r JOIN videos v ON v.id = r.video_id JOIN users a ON a.id = v.author_id \
         WHERE r.hour >= ",
        h192,
        " AND r.hour < ",
        h,
        " AND ",
        policy::video_visible(None, &author, &visibility)
    ]);
    if let Some(v) = v {
        q.append(frag![
            " AND ",
            policy::video_visible(Some(v), &author, &visibility)
        ]);
    }
    q.append(frag![
        " GROUP BY v.id, v.hashtags, v.sound HAVING SUM(",
        &recent,
        ") > 0"
    ]);
    q.all(db)
        .await?
        .iter()
        .map(|r| {
            Ok(VideoTrend {
                id: col(r, "id")?,
                hashtags: hashtags_of(&col::<String>(r, "hashtags")?),
                sound: col(r, "sound")?,
                trend: Trend {
                    likes_24h: col(r, "likes_24h")?,
                    trailing: col(r, "trailing")?,
                },
            })
        })
        .collect()
}

/// `first` for a list without pages: 0..=100, else `BAD_USER_INPUT`.
fn check_first(first: i32) -> AppResult<usize> {
    PageRequest::new(first, None)?;
    usize::try_from(first).map_err(|_| AppError::bad_input("first", "`first` is negative"))
}

/// What trends group videos by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Hashtags,
    Sounds,
}

/// The `first` trending hashtags or sounds at `now` (anyone may ask: the answer is the
/// same for every viewer).
pub async fn trending(
    db: &impl ConnectionTrait,
    group: Group,
    first: i32,
    now: i64,
) -> AppResult<Vec<TrendingItem>> {
    let first = check_first(first)?;
    let mut per: BTreeMap<String, Trend> = BTreeMap::new();
    for v in video_trends(db, None, now).await? {
        let mut names: Vec<String> = match group {
            Group::Hashtags => v.hashtags,
            Group::Sounds => v.sound.into_iter().collect(),
        };
        names.sort();
        names.dedup();
        for name in names {
            let t = per.entry(name).or_default();
            t.likes_24h += v.trend.likes_24h;
            t.trailing += v.trend.trailing;
        }
    }
    let mut items: Vec<TrendingItem> = per
        .into_iter()
        .map(|(name, trend)| TrendingItem { name, trend })
        .collect();
    items.sort_by(|a, b| a.trend.rank(&b.trend).then(a.name.cmp(&b.name)));
    items.truncate(first);
    Ok(items)
}

/// A page of the trending videos at `now`, by velocity, then likes, then ID (descending);
/// each passes Rule V for `viewer` too. The cursor's keyset holds the trend and the ID.
pub async fn trending_videos(
    db: &impl ConnectionTrait,
    viewer: Option<Uuid>,
    req: PageRequest,
    now: i64,
) -> AppResult<Page<Visible<CountedVideo>>> {
    let mut all: Vec<(Trend, Uuid)> = video_trends(db, viewer, now)
        .await?
        .into_iter()
        .map(|v| (v.trend, v.id))
        .collect();
    let order = |a: &(Trend, Uuid), b: &(Trend, Uuid)| a.0.rank(&b.0).then(b.1.cmp(&a.1));
    all.sort_by(order);
    if let Some(after) = req.after {
        let at = (Trend::unpack(after.time), after.id);
        all.retain(|item| order(item, &at) == Ordering::Greater);
    }
    all.truncate(
        usize::try_from(req.first)
            .unwrap_or(usize::MAX)
            .saturating_add(1),
    );
    let ids: Vec<Uuid> = all.iter().map(|(_, id)| *id).collect();
    let mut found: BTreeMap<Uuid, Visible<CountedVideo>> = visible_videos(db, viewer, &ids)
        .await?
        .into_iter()
        .map(|v| (v.video.id, v))
        .collect();
    // A video deleted or hidden since the trends were read is left out.
    let rows = all
        .into_iter()
        .filter_map(|(trend, id)| {
            let keyset = Keyset {
                time: trend.pack(),
                id,
            };
            found.remove(&id).map(|v| (keyset, v))
        })
        .collect();
    Ok(Page::from_rows(rows, req))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn velocity_is_the_last_days_hourly_rate_over_the_weeks() {
        let t = Trend {
            likes_24h: 48,
            trailing: 168,
        };
        assert!((t.velocity() - 2.0).abs() < 1e-12);
        // No trailing likes: the mean counts as one like in the week.
        let new = Trend {
            likes_24h: 24,
            trailing: 0,
        };
        assert!((new.velocity() - 168.0).abs() < 1e-12);
        assert_eq!(Trend::unpack(t.pack()), t);
        assert_eq!(new.rank(&t), Ordering::Less);
    }
}
