//! The GraphQL specification's null propagation ("Handling Field Errors"), which the
//! library does not do.
//!
//! Since async-graphql 7.1 (PR #1746, "don't bail early on the first error when resolving
//! containers") an object resolves every field and turns each failed one into an entry of
//! `errors` *with its key left out of the object*. So an error in a non-null field never
//! reached its parent: another user's `followRequests` (then `FORBIDDEN`) answered
//! `data.user = {"id": …}`, a key missing where the schema promises a value. (Before 7.1
//! the first error failed the whole object, a nullable field's included, which nulled too
//! much.) This extension restores the rule for every field of every operation:
//!
//! - a field or list item that fails where `null` is allowed resolves to `null`; its error
//!   is reported once, with its path;
//! - one that fails where `null` is not allowed makes its parent `null`, and so on up to the
//!   nearest position that allows `null`; with none, `data` is `null`;
//! - once a root field has failed so that `data` is `null`, the root fields after it (the
//!   mutations of the same operation, which run one after another) are not run: their
//!   answers could not be shown anyway.
use std::{
    collections::HashSet,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc, Mutex, PoisonError,
    },
};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextExecute, NextResolve, ResolveInfo,
    },
    QueryPathNode, Response, ServerError, ServerResult, Value,
};

/// Installs the propagation on every request.
pub struct NullPropagation;

impl ExtensionFactory for NullPropagation {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Propagation::default())
    }
}

/// The state of one request.
#[derive(Default)]
struct Propagation {
    /// Whether `nulled` has ever held anything (spares the common case every lock).
    any: AtomicBool,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Paths of values that must become `null` because a non-null child failed.
    nulled: HashSet<String>,
    /// A non-null root field failed: `data` is `null`.
    root: bool,
    /// Errors of failed nullable positions, which the library would otherwise drop with
    /// the key.
    errors: Vec<ServerError>,
}

impl Propagation {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The value at `node` has to be `null`, and so its parent (or `data`) if `node` is a
    /// non-null position.
    fn null_parent_of(&self, node: &QueryPathNode<'_>) {
        let mut state = self.state();
        match node.parent {
            Some(parent) => {
                state.nulled.insert(parent.to_string());
                self.any.store(true, Ordering::Release);
            }
            None => state.root = true,
        }
    }

    /// Whether a failed child made the value at `node` `null` (and forgets it).
    fn take_nulled(&self, node: &QueryPathNode<'_>) -> bool {
        self.any.load(Ordering::Acquire) && self.state().nulled.remove(&node.to_string())
    }
}

/// Whether a position of the (qualified) type allows `null`.
fn nullable(return_type: &str) -> bool {
    !return_type.ends_with('!')
}

#[async_graphql::async_trait::async_trait]
impl Extension for Propagation {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let mut response = next.run(ctx, operation_name).await;
        let mut state = self.state();
        response.errors.append(&mut state.errors);
        if state.root {
            response.data = Value::Null;
        }
        response
    }

    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        let node = info.path_node;
        if node.parent.is_none() && self.state().root {
            return Ok(Some(Value::Null));
        }
        let nullable = nullable(info.return_type);
        let result = next.run(ctx, info).await;
        let child_failed = self.take_nulled(node);
        match result {
            Ok(value) if !child_failed => Ok(value),
            Ok(_) if nullable => Ok(Some(Value::Null)),
            Ok(_) => {
                // The child's error is reported already; this value's parent pays for it.
                self.null_parent_of(node);
                Ok(Some(Value::Null))
            }
            Err(e) if nullable => {
                self.state().errors.push(e);
                Ok(Some(Value::Null))
            }
            Err(e) => {
                // Reported by the library, which leaves the key out of the parent object.
                self.null_parent_of(node);
                Err(e)
            }
        }
    }
}
