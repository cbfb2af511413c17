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
use crate::domain::{counters::CountedVideo, PublicUser};

/// An account as a viewer sees it.
#[derive(Clone, Debug)]
pub struct User(pub PublicUser);

impl From<user::Model> for User {
    fn from(u: user::Model) -> Self {
        User(u.into())
    }
}

/// A video the viewer can see (only visibility-checked queries construct one), with the
/// answers prefetched for the page it belongs to, if any.
#[derive(Clone, Debug)]
pub struct Video {
    pub model: video::Model,
    pub like_count: i64,
    pub batch: Option<Arc<VideoBatch>>,
}

impl From<CountedVideo> for Video {
    fn from(v: CountedVideo) -> Self {
        Video {
            model: v.video,
            like_count: v.like_count,
            batch: None,
        }
    }
}
