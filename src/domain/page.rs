//! Keyset pagination shared by every list: newest first, ties broken by ID.
use sea_orm::{ConnectionTrait, FromQueryResult, QueryResult};
use uuid::Uuid;

use crate::{
    db::{col, Frag, Ident, Sql},
    error::{AppError, AppResult},
    frag,
    ids::Keyset,
    privacy::sql as policy,
};

/// Largest `first` a client may ask for.
pub const MAX_FIRST: i32 = 100;

/// A validated request for one page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PageRequest {
    pub first: u64,
    pub after: Option<Keyset>,
}

impl PageRequest {
    /// Checks `first` (0..=100, else `BAD_USER_INPUT` on `first`).
    pub fn new(first: i32, after: Option<Keyset>) -> AppResult<Self> {
        if !(0..=MAX_FIRST).contains(&first) {
            return Err(AppError::bad_input(
                "first",
                format!("`first` must be between 0 and {MAX_FIRST}"),
            ));
        }
        Ok(PageRequest {
            first: first as u64,
            after,
        })
    }

    /// Appends the keyset condition (`AND (time, id) < cursor`), the newest-first order
    /// and the limit (one extra row tells whether another page follows).
    pub fn apply(&self, q: &mut Sql, time_col: &Ident, id_col: &Ident) {
        self.after_cursor(q, time_col, id_col);
        self.order_limit(q, time_col, id_col);
    }

    /// Appends ` AND (time, id) < cursor` when there is a cursor.
    pub fn after_cursor(&self, q: &mut Sql, time_col: &Ident, id_col: &Ident) {
        if let Some(k) = self.after {
            let t = q.bind(k.time);
            let i = q.bind(k.id);
            q.append(frag![
                " AND (", time_col, ", ", id_col, ") < (", t, ", ", i, ")"
            ]);
        }
    }

    /// Appends the newest-first order and the limit of `first + 1` rows.
    pub fn order_limit(&self, q: &mut Sql, time_col: &Ident, id_col: &Ident) {
        let limit = q.bind((self.first + 1) as i64);
        q.append(frag![
            " ORDER BY ",
            time_col,
            " DESC, ",
            id_col,
            " DESC LIMIT ",
            limit
        ]);
    }

    /// [`PageRequest::apply`] with a limit of 0 rows unless `guard` holds
    /// ([`policy::limit_if`]): the page of a list that an account-level rule shows all or
    /// none of, decided before any row is read.
    pub fn apply_if(&self, q: &mut Sql, time_col: &Ident, id_col: &Ident, guard: &Frag) {
        self.after_cursor(q, time_col, id_col);
        let limit = q.bind((self.first + 1) as i64);
        q.append(frag![
            " ORDER BY ",
            time_col,
            " DESC, ",
            id_col,
            " DESC ",
            policy::limit_if(guard, limit)
        ]);
    }
}

/// One page of items, each with its keyset.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub items: Vec<(Keyset, T)>,
    pub has_next: bool,
}

impl<T> Page<T> {
    /// Cuts rows fetched with [`PageRequest::apply`] down to the page.
    pub fn from_rows(mut items: Vec<(Keyset, T)>, req: PageRequest) -> Self {
        let has_next = items.len() as u64 > req.first;
        items.truncate(req.first as usize);
        Page { items, has_next }
    }
}

/// Runs a page query whose rows are `M`'s columns plus `k_time`, the sort time; `id` picks
/// the tie-breaking ID out of the row.
pub async fn fetch<M: FromQueryResult>(
    db: &impl ConnectionTrait,
    q: &Sql,
    req: PageRequest,
    id: impl Fn(&M) -> Uuid,
) -> AppResult<Page<M>> {
    let rows = q.all(db).await?;
    let items = rows
        .iter()
        .map(|row: &QueryResult| {
            let model = M::from_query_result(row, "")?;
            let time: i64 = col(row, "k_time")?;
            Ok((
                Keyset {
                    time,
                    id: id(&model),
                },
                model,
            ))
        })
        .collect::<AppResult<Vec<_>>>()?;
    Ok(Page::from_rows(items, req))
}
