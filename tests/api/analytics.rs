//! Analytics: `createVideo`'s `durationMs`, `recordView` and `Video.viewCount`.
use entity::{LikesVisibility, Visibility};
use serde_json::json;

use crate::helpers::Harness;

const CREATE: &str =
    "mutation($d: Int) { createVideo(input: {caption: \"c\", durationMs: $d}) { id durationMs } }";

#[tokio::test]
async fn create_video_takes_an_optional_duration_of_1_ms_to_an_hour() {
    let h = Harness::new().await;
    let me = h
        .account("maya", Visibility::Public, LikesVisibility::Everyone)
        .await;
    for d in [json!(1), json!(15_000), json!(3_600_000), json!(null)] {
        let data = h.ok(Some(me), CREATE, json!({ "d": d })).await;
        assert_eq!(data["createVideo"]["durationMs"], d);
    }
    let data = h
        .ok(
            Some(me),
            "mutation { createVideo(input: {caption: \"c\"}) { durationMs } }",
            json!({}),
        )
        .await;
    assert_eq!(data["createVideo"]["durationMs"], json!(null));
    for bad in [0, -1, 3_600_001, i32::MAX] {
        let v = h.run(Some(me), CREATE, json!({ "d": bad })).await;
        let e = &v["errors"][0];
        assert_eq!(e["extensions"]["code"], "BAD_USER_INPUT", "{v}");
        assert_eq!(e["extensions"]["field"], "input.durationMs", "{v}");
        assert!(
            e["message"].as_str().unwrap_or("").contains("durationMs"),
            "{v}"
        );
    }
    // Read back through `video`, too.
    let id = h.ok(Some(me), CREATE, json!({ "d": 42 })).await["createVideo"]["id"].clone();
    let data = h
        .ok(
            None,
            "query($id: ID!) { video(id: $id) { durationMs } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(data["video"]["durationMs"], 42);
}
