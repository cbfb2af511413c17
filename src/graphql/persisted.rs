//! Automatic persisted queries as Apollo's clients send them: `extensions.persistedQuery`
//! `{version: 1, sha256Hash}`. A request with the hash alone runs the stored document, or
//! gets `PERSISTED_QUERY_NOT_FOUND`; one with the query too registers it once its SHA-256
//! matches the hash (else `BAD_USER_INPUT`) and it passed the limits.
//!
//! async-graphql's own `ApolloPersistedQueries` extension is close but does not fit: its
//! refusals carry no `extensions.code`, and it parses a registering query before the limits
//! guard its nesting. Its bounded LRU store is used as it is.
use std::sync::Arc;

use async_graphql::{
    extensions::{
        apollo_persisted_queries::{CacheStorage, LruCacheStorage},
        Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
    },
    Request, ServerResult,
};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::limits::server_error;
use crate::error::AppError;

/// The name of the request extension.
const EXTENSION: &str = "persistedQuery";

#[derive(Deserialize)]
struct PersistedQuery {
    version: i32,
    #[serde(rename = "sha256Hash")]
    sha256_hash: String,
}

/// The documents of one instance, by hash; `None` when persisted queries are off.
#[derive(Clone)]
pub struct PersistedQueries(Option<LruCacheStorage>);

impl PersistedQueries {
    /// A store of at most `capacity` documents (`0`: persisted queries off).
    pub fn new(capacity: usize) -> Self {
        PersistedQueries((capacity > 0).then(|| LruCacheStorage::new(capacity)))
    }

    /// Gives a request naming a stored document by its hash alone that document, so that
    /// what it would run can be told before it runs (a `GET` may run queries only). Any
    /// other request is left as it is; executing it says what is wrong with it.
    pub async fn fill(&self, request: &mut Request) {
        let (Some(store), true) = (&self.0, request.query.is_empty()) else {
            return;
        };
        if let Some(Ok(named)) = request.extensions.get(EXTENSION).map(named) {
            if let Some(document) = store.get(named.sha256_hash).await {
                request.set_parsed_query(document);
            }
        }
    }
}

/// The persisted query a request's extension names, checked.
fn named(value: &async_graphql::Value) -> Result<PersistedQuery, AppError> {
    let field = "extensions.persistedQuery";
    let mut named: PersistedQuery = async_graphql::from_value(value.clone()).map_err(|_| {
        AppError::bad_input(field, "`persistedQuery` must be {version: 1, sha256Hash}")
    })?;
    if named.version != 1 {
        return Err(AppError::bad_input(
            field,
            "only version 1 of persisted queries is supported",
        ));
    }
    named.sha256_hash.make_ascii_lowercase();
    let hex =
        named.sha256_hash.len() == 64 && named.sha256_hash.bytes().all(|b| b.is_ascii_hexdigit());
    if !hex {
        return Err(AppError::bad_input(
            "extensions.persistedQuery.sha256Hash",
            "`sha256Hash` must be 64 hexadecimal characters",
        ));
    }
    Ok(named)
}

impl ExtensionFactory for PersistedQueries {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(self.clone())
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PersistedQueries {
    /// Runs before the limits (it is registered first): a stored document goes through
    /// them like a sent one, on every use; a registering query is stored only after they
    /// let it through.
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        mut request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let Some(value) = request.extensions.remove(EXTENSION) else {
            return next.run(ctx, request).await;
        };
        let named = named(&value).map_err(server_error)?;
        let Some(store) = &self.0 else {
            return match request.query.is_empty() {
                true => Err(server_error(AppError::PersistedQueryNotSupported)),
                false => next.run(ctx, request).await,
            };
        };
        if request.query.is_empty() {
            let document = store
                .get(named.sha256_hash)
                .await
                .ok_or_else(|| server_error(AppError::PersistedQueryNotFound))?;
            request.set_parsed_query(document);
            return next.run(ctx, request).await;
        }
        let actual = hex::encode(Sha256::digest(request.query.as_bytes()));
        if actual != named.sha256_hash {
            return Err(server_error(AppError::bad_input(
                "extensions.persistedQuery.sha256Hash",
                "`sha256Hash` is not the SHA-256 of the query",
            )));
        }
        let mut prepared = next.run(ctx, request).await?;
        let document = prepared.parsed_query()?.clone();
        store.set(actual, document).await;
        Ok(prepared)
    }
}
