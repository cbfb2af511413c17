//! The arithmetic of the analytics aggregates, pure (PRIVACY.md "Aggregates"): windows,
//! the hour of the week, rates and percentiles, the apportionment of sketch estimates and
//! THE small-numbers rule — withholding a breakdown under the minimum audience and folding
//! small buckets into `OTHER`. Every breakdown the service shows goes through
//! [`breakdown`]; nothing else decides what is small.
use std::collections::BTreeMap;

use crate::config::Thresholds;

use super::rollups::{DAY_US, HOUR_US};

/// The key of the bucket that holds the folded small buckets.
pub const OTHER: &str = "OTHER";

/// The first and last UTC day (days since 1970) of the window of the last `days` days at
/// `now_us`: it ends at the last complete day (yesterday) and holds `days` days.
pub fn window(now_us: i64, days: i32) -> (i32, i32) {
    let today = now_us.div_euclid(DAY_US);
    let to = i32::try_from(today - 1).unwrap_or(i32::MAX);
    (to.saturating_sub(days - 1), to)
}

/// The first and last hour (microseconds) of the days `from..=to`.
pub fn hours_of(from: i32, to: i32) -> (i64, i64) {
    (
        i64::from(from) * DAY_US,
        (i64::from(to) + 1) * DAY_US - HOUR_US,
    )
}

/// The slot of an hour (microseconds) in a week of 168 hours, Monday 00:00 UTC first.
pub fn hour_of_week(hour_us: i64) -> usize {
    let day = hour_us.div_euclid(DAY_US);
    // 1970-01-01 was a Thursday: three days after a Monday.
    let weekday = (day + 3).rem_euclid(7);
    let hour = hour_us.rem_euclid(DAY_US) / HOUR_US;
    // Both are small and non-negative: the casts cannot truncate.
    (weekday * 24 + hour) as usize
}

/// Likes per view; `None` without views.
pub fn rate(likes: i64, views: i64) -> Option<f64> {
    (views != 0).then(|| likes as f64 / views as f64)
}

/// Where `value` stands among `others`, from 0 to 100: the share of them strictly below it
/// plus half the share equal to it (so a value equal to every other is at 50). `None`
/// when there are no others.
pub fn percentile(value: f64, others: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (mut n, mut below, mut equal) = (0u64, 0u64, 0u64);
    for o in others {
        n += 1;
        if o < value {
            below += 1;
        } else if o == value {
            equal += 1;
        }
    }
    percentile_of_counts(below as i64, equal as i64, n as i64)
}

/// [`percentile`] from its counts: `below` of `n` others strictly below the value, `equal`
/// equal to it. `None` when there are no others.
pub fn percentile_of_counts(below: i64, equal: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| 100.0 * (below as f64 + equal as f64 / 2.0) / n as f64)
}

/// Bucket estimates scaled to sum exactly to `population` by the largest-remainder method
/// (ties: the key that sorts first gets the unit). Sketch estimates of the buckets of one
/// dimension may sum to more than the population (an account in two buckets) or differ
/// from it by estimation; apportioned, the dimension sums to the population, so an account
/// counts once. Empty buckets are dropped.
pub fn apportion(estimates: &BTreeMap<String, i64>, population: i64) -> BTreeMap<String, i64> {
    let sum: i64 = estimates.values().map(|e| (*e).max(0)).sum();
    if sum == population || sum == 0 || population <= 0 {
        return estimates
            .iter()
            .filter(|(_, n)| **n > 0 && population > 0)
            .map(|(k, n)| (k.clone(), *n))
            .collect();
    }
    let (p, s) = (i128::from(population), i128::from(sum));
    let mut out: BTreeMap<String, i64> = BTreeMap::new();
    let mut remainders: Vec<(i128, &String)> = Vec::new();
    let mut given: i64 = 0;
    for (k, e) in estimates {
        let e = i128::from((*e).max(0));
        // Below `population`: fits an i64.
        let whole = i64::try_from(e * p / s).unwrap_or(i64::MAX);
        given += whole;
        out.insert(k.clone(), whole);
        remainders.push((e * p % s, k));
    }
    remainders.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(b.1)));
    let short = usize::try_from(population - given).unwrap_or(0);
    for (_, k) in remainders.into_iter().take(short) {
        *out.entry(k.clone()).or_default() += 1;
    }
    out.retain(|_, n| *n > 0);
    out
}

/// PRIVACY.md "Small buckets": every bucket under `min` is folded into `OTHER`; while
/// `OTHER` is under `min` the smallest shown bucket joins it (ties: the key that sorts last
/// goes first). Shown by count descending, then key; `OTHER` last. The counts sum to the
/// input's sum, and none shown is under `min` (but when everything together is). A real
/// key `OTHER` (the device class) is a bucket like any other, as the reference has it.
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
        shown.push((OTHER.to_owned(), other));
    }
    shown
}

/// A dimension of a breakdown.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Dimension {
    Age,
    Region,
    Language,
    Device,
}

/// One shown bucket: its key, its count of distinct accounts and their share of the
/// population.
#[derive(Debug, Clone, PartialEq)]
pub struct Bucket {
    pub key: String,
    pub count: i64,
    pub share: f64,
}

/// A breakdown as it may be shown.
#[derive(Debug, Clone, PartialEq)]
pub enum Breakdown {
    /// Fewer distinct accounts than the minimum audience: nothing is shown.
    Withheld,
    /// The population and each dimension's folded buckets (summing to the population).
    Shown {
        population: i64,
        dimensions: BTreeMap<Dimension, Vec<Bucket>>,
    },
}

/// The breakdown of `population` distinct accounts whose buckets are `dimensions` (each
/// summing to the population), under the thresholds.
pub fn breakdown(
    population: i64,
    dimensions: BTreeMap<Dimension, BTreeMap<String, i64>>,
    t: Thresholds,
) -> Breakdown {
    if population < t.min_audience {
        return Breakdown::Withheld;
    }
    let dimensions = dimensions
        .into_iter()
        .map(|(d, counts)| {
            let buckets = fold(&counts, t.min_bucket)
                .into_iter()
                .map(|(key, count)| Bucket {
                    key,
                    count,
                    share: count as f64 / population as f64,
                })
                .collect();
            (d, buckets)
        })
        .collect();
    Breakdown::Shown {
        population,
        dimensions,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn counts(pairs: &[(&str, i64)]) -> BTreeMap<String, i64> {
        pairs.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect()
    }

    fn keys(folded: &[(String, i64)]) -> Vec<(&str, i64)> {
        folded.iter().map(|(k, n)| (k.as_str(), *n)).collect()
    }

    #[test]
    fn the_window_ends_yesterday_and_holds_n_days() {
        // 2026-06-20T13:30Z: the last complete day is the 19th.
        let now = chrono::DateTime::parse_from_rfc3339("2026-06-20T13:30:00Z")
            .expect("instant")
            .timestamp_micros();
        let day = |y, m, d| {
            chrono::NaiveDate::from_ymd_opt(y, m, d)
                .expect("date")
                .signed_duration_since(chrono::NaiveDate::default())
                .num_days() as i32
        };
        assert_eq!(window(now, 7), (day(2026, 6, 13), day(2026, 6, 19)));
        assert_eq!(window(now, 28), (day(2026, 5, 23), day(2026, 6, 19)));
        assert_eq!(window(now, 1), (day(2026, 6, 19), day(2026, 6, 19)));
        // At midnight exactly, the day that just ended is the last complete one.
        let midnight = i64::from(day(2026, 6, 20)) * DAY_US;
        assert_eq!(window(midnight, 1).1, day(2026, 6, 19));
        assert_eq!(window(midnight - 1, 1).1, day(2026, 6, 18));
        let (first, last) = hours_of(day(2026, 6, 13), day(2026, 6, 19));
        assert_eq!(last - first, (7 * 24 - 1) * HOUR_US);
    }

    #[test]
    fn the_week_starts_on_monday_at_midnight_utc() {
        let at = |s: &str| {
            chrono::DateTime::parse_from_rfc3339(s)
                .expect("instant")
                .timestamp_micros()
        };
        assert_eq!(hour_of_week(at("2026-03-02T00:00:00Z")), 0); // a Monday
        assert_eq!(hour_of_week(at("2026-03-02T05:00:00Z")), 5);
        assert_eq!(hour_of_week(at("2026-03-04T13:00:00Z")), 2 * 24 + 13);
        assert_eq!(hour_of_week(at("2026-03-08T23:00:00Z")), 167); // Sunday
        assert_eq!(hour_of_week(at("1969-12-29T01:00:00Z")), 1); // before 1970
    }

    #[test]
    fn rates_and_percentiles() {
        assert_eq!(rate(3, 0), None);
        assert_eq!(rate(1, 4), Some(0.25));
        assert_eq!(percentile(0.5, []), None);
        assert_eq!(percentile(0.5, [0.1, 0.2, 0.9, 1.0]), Some(50.0));
        assert_eq!(percentile(0.5, [0.5, 0.5]), Some(50.0));
        assert_eq!(percentile(0.5, [0.1, 0.5]), Some(75.0));
        assert_eq!(percentile(2.0, [0.1, 0.5]), Some(100.0));
        assert_eq!(percentile(0.0, [0.1, 0.5]), Some(0.0));
    }

    #[test]
    fn small_buckets_fold_into_other_and_other_grows_to_the_minimum() {
        // Nothing small: nothing folded; by count, then key.
        let c = counts(&[("b", 20), ("a", 20), ("c", 30)]);
        assert_eq!(keys(&fold(&c, 10)), [("c", 30), ("a", 20), ("b", 20)]);
        // Two small buckets make an OTHER of 12.
        let c = counts(&[("a", 50), ("b", 5), ("c", 7)]);
        assert_eq!(keys(&fold(&c, 10)), [("a", 50), ("OTHER", 12)]);
        // One bucket of 9: OTHER would be 9, so the smallest shown (11) joins it.
        let c = counts(&[("a", 50), ("b", 11), ("c", 9)]);
        assert_eq!(keys(&fold(&c, 10)), [("a", 50), ("OTHER", 20)]);
        // Ties among the smallest: the key that sorts last joins first.
        let c = counts(&[("a", 40), ("x", 12), ("y", 12), ("z", 3)]);
        assert_eq!(keys(&fold(&c, 10)), [("a", 40), ("x", 12), ("OTHER", 15)]);
        // Everything small: one OTHER (under the minimum only when the whole is).
        let c = counts(&[("a", 3), ("b", 4)]);
        assert_eq!(keys(&fold(&c, 10)), [("OTHER", 7)]);
    }

    #[test]
    fn a_breakdown_under_the_minimum_audience_is_withheld() {
        let t = Thresholds::default();
        let dims = |n: i64| BTreeMap::from([(Dimension::Region, counts(&[("DE", n)]))]);
        assert_eq!(breakdown(99, dims(99), t), Breakdown::Withheld);
        let Breakdown::Shown {
            population,
            dimensions,
        } = breakdown(100, dims(100), t)
        else {
            panic!("100 accounts are shown");
        };
        assert_eq!(population, 100);
        assert_eq!(
            dimensions[&Dimension::Region],
            [Bucket {
                key: "DE".into(),
                count: 100,
                share: 1.0
            }]
        );
    }

    #[test]
    fn apportioned_estimates_sum_to_the_population() {
        // Exact estimates stay as they are.
        let c = counts(&[("IOS", 60), ("WEB", 40)]);
        assert_eq!(apportion(&c, 100), c);
        // 10 accounts watched on two devices: 110 estimates for 100 accounts.
        let c = counts(&[("IOS", 66), ("WEB", 44)]);
        assert_eq!(apportion(&c, 100), counts(&[("IOS", 60), ("WEB", 40)]));
        // Remainders: 1/3 each of 100 → 34, 33, 33 (the tie goes to the first key).
        let c = counts(&[("a", 1), ("b", 1), ("c", 1)]);
        assert_eq!(
            apportion(&c, 100),
            counts(&[("a", 34), ("b", 33), ("c", 33)])
        );
        assert!(apportion(&counts(&[("a", 0)]), 0).is_empty());
    }

    proptest! {
        #[test]
        fn every_folded_dimension_sums_to_the_population_and_shows_no_small_bucket(
            raw in prop::collection::btree_map("[A-Z]{1,2}", 0..200i64, 0..12),
            min_bucket in 1..30i64,
            min_audience in 1..300i64,
            population_delta in -50..50i64,
        ) {
            let estimates: BTreeMap<String, i64> = raw;
            let population = (estimates.values().sum::<i64>() + population_delta).max(0);
            let t = Thresholds { min_audience, min_bucket };
            let dims = BTreeMap::from([(Dimension::Device, apportion(&estimates, population))]);
            match breakdown(population, dims, t) {
                Breakdown::Withheld => prop_assert!(population < min_audience),
                Breakdown::Shown { population: p, dimensions } => {
                    prop_assert!(p >= min_audience);
                    let buckets = &dimensions[&Dimension::Device];
                    let sum: i64 = buckets.iter().map(|b| b.count).sum();
                    // Estimates that are all zero leave nothing to apportion.
                    if estimates.values().any(|e| *e > 0) {
                        prop_assert_eq!(sum, p);
                    }
                    for b in buckets {
                        // Only a whole population under the minimum bucket can be.
                        prop_assert!(b.count >= min_bucket || p < min_bucket,
                            "{:?} under {}", b, min_bucket);
                    }
                    let others = buckets.iter().filter(|b| b.key == OTHER).count();
                    prop_assert!(others <= 1);
                    if let Some(last) = buckets.last() {
                        if others == 1 { prop_assert_eq!(&last.key, OTHER); }
                    }
                }
            }
        }
    }
}
