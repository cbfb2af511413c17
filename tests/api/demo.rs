//! `--demo`'s history (issue 12, "Demo"): seeded at a fixed clock, the creator's dashboard
//! has real numbers under the production thresholds — views every day with more at
//! weekends, a peak in the evening, viewers and followers shown with buckets folded into
//! `OTHER`, the likers withheld — and the `#dance` niche gives a percentile.
use serde_json::{json, Value};
use tally::{clock::Clock, demo, domain::social::visible_user_by_handle};

use crate::helpers::{fresh_db, ids, sketch_buffer, tokens, Harness};

const NOW: &str = "2026-06-20T13:30:00Z";

#[tokio::test]
async fn the_demo_history_makes_a_dashboard_with_one_breakdown_withheld() {
    let db = fresh_db().await;
    let at = chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("instant")
        .with_timezone(&chrono::Utc);
    let clock = Clock::Fixed(at);
    demo::seed_and_print(&db, &sketch_buffer(), clock, &tokens(), &ids())
        .await
        .expect("demo");
    let maya = visible_user_by_handle(&db, None, "maya.creates")
        .await
        .map_err(|e| e.message())
        .expect("lookup")
        .expect("maya")
        .id;
    let mut h = Harness::with_db(db);
    h.clock = clock;
    let q = "{ creatorAnalytics(window: LAST_28_DAYS) { from to \
        totals { views likes newFollowers followerCount engagementRate } \
        daily { day views likes } peakHours { dayOfWeek hour views followerViews } \
        audience { viewers { available population ageBrackets { key count } devices { key count } } \
                   likers { available withheldReason population } \
                   followers { available population regions { key count } } } \
        hashtags { tag videos views } \
        topVideos(first: 3, by: VIEWS) { stats { views nichePercentile niche } } } }";
    let got = h.ok(Some(maya), q, json!({})).await;
    let a = &got["creatorAnalytics"];
    assert_eq!(a["from"], "2026-05-23");
    assert_eq!(a["to"], "2026-06-19");
    let daily = a["daily"].as_array().expect("daily");
    assert_eq!(daily.len(), 28);
    assert!(
        daily.iter().all(|d| d["views"].as_i64() > Some(20)),
        "views every day: {daily:?}"
    );
    let sum: i64 = daily.iter().filter_map(|d| d["views"].as_i64()).sum();
    assert_eq!(a["totals"]["views"].as_i64(), Some(sum));
    assert!(a["totals"]["likes"].as_i64() > Some(20), "{a}");
    // Weekends are busier than weekdays, evenings than early mornings.
    let hours = a["peakHours"].as_array().expect("hours");
    let views = |f: &dyn Fn(&Value) -> bool| -> i64 {
        hours
            .iter()
            .filter(|h| f(h))
            .filter_map(|h| h["views"].as_i64())
            .sum()
    };
    let weekend = views(&|h| h["dayOfWeek"].as_i64() >= Some(6));
    let weekday = views(&|h| h["dayOfWeek"].as_i64() <= Some(5));
    assert!(
        weekend * 5 > weekday * 2,
        "weekend {weekend}, weekdays {weekday}"
    );
    let evening = views(&|h| (18..=21).contains(&h["hour"].as_i64().unwrap_or(0)));
    let night = views(&|h| (2..=5).contains(&h["hour"].as_i64().unwrap_or(0)));
    assert!(evening > night * 3, "evening {evening}, night {night}");
    let audience = &a["audience"];
    assert_eq!(audience["viewers"]["available"], true, "{audience}");
    assert_eq!(audience["followers"]["available"], true, "{audience}");
    assert!(audience["followers"]["population"].as_i64() >= Some(100));
    assert_eq!(audience["likers"]["available"], false, "{audience}");
    assert_eq!(
        audience["likers"]["withheldReason"],
        "BELOW_MINIMUM_AUDIENCE"
    );
    let regions = audience["followers"]["regions"]
        .as_array()
        .expect("regions");
    assert!(
        regions.iter().any(|b| b["key"] == "OTHER"),
        "small regions folded: {regions:?}"
    );
    assert!(regions.iter().all(|b| b["count"].as_i64() >= Some(10)));
    let tags = a["hashtags"].as_array().expect("tags");
    assert!(tags.iter().any(|t| t["tag"] == "dance"), "{tags:?}");
    let top = a["topVideos"].as_array().expect("top");
    assert!(
        top.iter()
            .any(|e| e["stats"]["niche"] == "dance" && e["stats"]["nichePercentile"].is_number()),
        "a #dance video ranks in its niche: {top:?}"
    );
}
