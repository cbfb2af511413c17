//! The schema's two node types as data: the account or video whose fields a slice resolves.
//!
//! `User` and `Video` get fields from several slices (an account's profile from `accounts`,
//! its follows from `social`, its videos from `videos`, what it liked from `likes`), and
//! those slices return users and videos to each other. So that no slice imports another
//! for that, a slice names a node by this data alone; its GraphQL type is merged from every
//! slice's fields in [`super::objects`], the one module that knows them all.
use std::sync::Arc;

use entity::{user, video};

use super::prefetch::VideoBatch;
use crate::domain::{
    counters::CountedVideo,
    visible::{UserId, VideoId, Visible},
    PublicUser,
};

/// An account as a viewer sees it.
#[derive(Clone, Debug)]
pub struct User(pub PublicUser);

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User(u.into())
    }
}

/// A video the viewer can see (only visibility-checked queries make a [`Visible`] one), with
/// the answers prefetched for the page it belongs to, if any.
#[derive(Clone, Debug)]
pub struct Video {
    video: Visible<CountedVideo>,
    batch: Option<Arc<VideoBatch>>,
}

impl From<Visible<CountedVideo>> for Video {
    fn from(video: Visible<CountedVideo>) -> Self {
        Video { video, batch: None }
    }
}

impl Video {
    /// The video, with `batch` prefetched for the page it is on.
    pub fn on_page(video: Visible<CountedVideo>, batch: Arc<VideoBatch>) -> Self {
        Video {
            video,
            batch: Some(batch),
        }
    }

    /// Its row.
    pub fn model(&self) -> &video::Model {
        &self.video.video
    }

    /// Every like, whoever may see it.
    pub fn like_count(&self) -> i64 {
        self.video.like_count
    }

    /// Its ID, for questions about a visible video.
    pub fn id(&self) -> Visible<VideoId> {
        self.video.id()
    }

    /// Its author, whom the viewer may see.
    pub fn author(&self) -> Visible<UserId> {
        self.video.author()
    }

    /// What was prefetched for its page, if it is on one.
    pub fn batch(&self) -> Option<&VideoBatch> {
        self.batch.as_deref()
    }
}
