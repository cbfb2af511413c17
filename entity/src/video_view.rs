//! One recorded view: an append-only event row holding only what the aggregates need
//! (PRIVACY.md "No identity"): the UTC hour, the watch time and, for a signed-in viewer, its
//! age bracket, region, language, device class and whether it follows the creator. Never
//! the viewer's account, handle or address, and no fine time or ordered ID either: the row's
//! ID is random, so neither it nor the hour orders views within an hour.
use sea_orm::entity::prelude::*;

use crate::{AgeBracket, DeviceClass};

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "video_views")]
pub struct Model {
    /// Random (UUIDv4): carries no time and no order.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub video_id: Uuid,
    /// The video's author (whose analytics the view feeds).
    pub creator_id: Uuid,
    /// Start of the UTC hour of the view, in microseconds since the Unix epoch.
    pub hour: i64,
    /// Milliseconds watched, 0..=3,600,000.
    pub watch_ms: i32,
    /// Whether the viewer was signed in. The columns below are null when not.
    pub signed_in: bool,
    /// Whether the viewer follows the creator (an approved follow); false when anonymous.
    pub follows_creator: bool,
    pub age_bracket: Option<AgeBracket>,
    /// ISO 3166-1 alpha-2, upper-case, or `UNKNOWN`.
    pub region: Option<String>,
    /// BCP 47 primary language subtag, lower-case, or `UNKNOWN`.
    pub language: Option<String>,
    pub device: Option<DeviceClass>,
    /// Whether the rollup job has folded this row into its rollups (0 or 1); new rows are 0.
    pub folded: i16,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
