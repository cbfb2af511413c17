//! Values only a visibility-checked query may produce.
//!
//! A [`Visible`] is what a query that applied the visibility rules for the request's viewer
//! returned: a video the viewer may see (Rule V), or an account not separated from it by a
//! block. Only this module's parent, `domain`, can make one ([`Visible::checked`]), inside
//! the queries that apply the rules; a function that assumes a rule was applied takes a
//! `Visible` instead of saying so in a comment, and a caller cannot hand it anything else.
use uuid::Uuid;

use super::{counters::CountedVideo, page::Page};

/// `T`, produced by a query that applied the visibility rules for the viewer of the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Visible<T>(T);

impl<T> Visible<T> {
    /// `value`, which the calling query has just checked for the viewer.
    pub(super) fn checked(value: T) -> Self {
        Visible(value)
    }

    /// The value, no longer marked as checked.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// A video's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VideoId(pub Uuid);

/// An account's ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UserId(pub Uuid);

impl Visible<CountedVideo> {
    /// The video's ID.
    pub fn id(&self) -> Visible<VideoId> {
        Visible(VideoId(self.0.video.id))
    }

    /// Its author, whom the viewer may see too: Rule V shows no video across a block.
    pub fn author(&self) -> Visible<UserId> {
        Visible(UserId(self.0.video.author_id))
    }
}

impl<T> Page<T> {
    /// The page, each item checked by the query that read it.
    pub(super) fn checked(self) -> Page<Visible<T>> {
        Page {
            items: self
                .items
                .into_iter()
                .map(|(k, item)| (k, Visible::checked(item)))
                .collect(),
            has_next: self.has_next,
        }
    }
}

impl<T> std::ops::Deref for Visible<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}
