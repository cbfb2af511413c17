//! How mutations serialize where they conflict (PRIVACY.md, "Concurrency").
//!
//! Every mutation that changes an account or a relationship begins by holding the accounts
//! it involves — one statement, before it reads anything its answer depends on — and keeps
//! them until it commits:
//! - [`Hold::Exclusive`] (`FOR UPDATE`): changes to an account's standing, which every
//!   other write about that account must see whole: blocking and unblocking (both accounts),
//!   settings changes, deleting the account.
//! - [`Hold::Shared`]: changes to one edge — like, unlike, follow, unfollow, approve, reject,
//!   remove a follower, create or delete a video. They wait for an exclusive holder and make
//!   it wait. The other account is held `FOR KEY SHARE`, which no other edge change waits
//!   for, so a hot video's likes do not queue on its author's row; the viewer's own account
//!   `FOR NO KEY UPDATE`, so one account's own edge changes run one at a time.
//!
//! The rows are locked in the order of their IDs, so two holders never wait for each other
//! in a cycle. Under PostgreSQL's READ COMMITTED each later statement of the transaction sees
//! every conflicting mutation that committed before the hold was granted, and no conflicting
//! one can commit until this one has: its checks and writes are those of one point in a
//! serial order.
//! SQLite needs no row locks: every write transaction takes the database's single write lock
//! at `BEGIN` ([`crate::db::transaction`]), so write transactions are serial already; the
//! same statement, without its locking clause, tells whether the viewer's account exists.
use sea_orm::{ConnectionTrait, DbBackend};
use uuid::Uuid;

use crate::{
    db::{col, Frag, Sql},
    error::{AppError, AppResult},
    frag,
};

/// How a mutation holds the accounts it involves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// An edge change (like, follow, …): the viewer's own account `FOR NO KEY UPDATE` (so one
    /// account's edge changes run one at a time: a like and an unlike of the same video
    /// cannot overtake each other), the other account `FOR KEY SHARE`.
    Shared,
    /// A change of standing (block, settings, deletion): every account `FOR UPDATE`.
    Exclusive,
}

/// The other account a mutation involves besides the viewer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Other {
    /// This account.
    Account(Uuid),
    /// The author of this video (held only if the video exists).
    AuthorOf(Uuid),
}

/// Holds `viewer`'s account and the `other` one, if any, until the transaction `txn` ends.
/// `UNAUTHENTICATED` when the viewer's own account no longer exists (its token outlived it);
/// an absent other account is the caller's to find out, with the rule it answers by.
pub async fn hold(
    txn: &impl ConnectionTrait,
    mode: Hold,
    viewer: Uuid,
    other: Option<Other>,
) -> AppResult<()> {
    let mut q = Sql::default();
    let me = frag![q.bind(viewer)];
    let other = other.map(|o| match o {
        Other::Account(id) => frag![q.bind(id)],
        Other::AuthorOf(video) => {
            frag![
                "(SELECT author_id FROM videos WHERE id = ",
                q.bind(video),
                ")"
            ]
        }
    });
    let row = |id: &Frag, lock: &'static str| frag!["SELECT id FROM users WHERE id = ", id, lock];
    let text = match (txn.get_database_backend(), mode, other) {
        (DbBackend::Postgres, Hold::Shared, Some(other)) => {
            // One branch per lock mode, run in this order (an `Append` runs its inputs one
            // after another): the viewer's row before the other's when its ID is lower, after
            // it otherwise, so that rows are locked in ID order. (The other may be absent, so
            // the viewer's second branch is the one taken when the comparison is NULL.)
            let mine = |when: Frag| {
                frag![
                    "SELECT * FROM (",
                    row(&me, ""),
                    " AND ",
                    when,
                    " FOR NO KEY UPDATE) m"
                ]
            };
            frag![
                mine(frag![&me, " < ", &other]),
                " UNION ALL SELECT * FROM (",
                row(&other, ""),
                " FOR KEY SHARE) o UNION ALL ",
                mine(frag!["NOT COALESCE(", &me, " < ", &other, ", FALSE)"])
            ]
        }
        (DbBackend::Postgres, Hold::Shared, None) => row(&me, " FOR NO KEY UPDATE"),
        (backend, mode, other) => {
            let lock = if backend == DbBackend::Postgres && mode == Hold::Exclusive {
                " FOR UPDATE"
            } else {
                ""
            };
            let ids = Frag::join(std::iter::once(me).chain(other), ", ");
            frag![
                "SELECT id FROM users WHERE id IN (",
                ids,
                ") ORDER BY id",
                lock
            ]
        }
    };
    q.append(text);
    for row in q.all(txn).await? {
        if col::<Uuid>(&row, "id")? == viewer {
            return Ok(());
        }
    }
    Err(gone())
}

/// `UNAUTHENTICATED`: the account of the token no longer exists.
pub fn gone() -> AppError {
    AppError::Unauthenticated("the account of this token no longer exists".into())
}
