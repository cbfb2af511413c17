//! Analytics (the creator analytics issue): `Video.durationMs`.
use async_graphql::Object;

use super::nodes::Video;

/// `Video`'s analytics fields.
pub struct VideoAnalytics(pub Video);

#[Object]
impl VideoAnalytics {
    /// Length in milliseconds, as given to `createVideo`; `null` when not given.
    async fn duration_ms(&self) -> Option<i32> {
        self.0.model().duration_ms
    }
}
