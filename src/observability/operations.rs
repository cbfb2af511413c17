//! The GraphQL side of observability: one schema extension that puts each operation in a
//! `graphql` span (its name and type recorded once the document is parsed), each root
//! field in a `resolve` span, and counts operations, their latency and their errors
//! ([`super::metrics`]).
use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use async_graphql::{
    extensions::{
        Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
        NextRequest, NextResolve, NextSubscribe, ResolveInfo,
    },
    parser::types::{DocumentOperations, ExecutableDocument, OperationType},
    Request, Response, ServerResult, Value, Variables,
};
use futures_util::{stream::BoxStream, StreamExt};
use tracing::Instrument;

use super::metrics;

/// The extension factory: registered first, so that it sees every error with its code.
pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(OperationExtension::default())
    }
}

/// One request's: the operation name it asked for, then the operation its document selects.
#[derive(Default)]
struct OperationExtension {
    requested: Mutex<Option<String>>,
    selected: Mutex<Option<Selected>>,
}

#[derive(Clone)]
struct Selected {
    /// `None`: anonymous.
    name: Option<String>,
    kind: OperationType,
}

impl OperationExtension {
    fn selected(&self) -> Option<Selected> {
        self.selected
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The operation of `document` the request runs (what async-graphql will pick): the
    /// one named, or the only one.
    fn select(&self, document: &ExecutableDocument) -> Option<Selected> {
        let requested = self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        match (&document.operations, requested) {
            (DocumentOperations::Single(op), None) => Some(Selected {
                name: None,
                kind: op.node.ty,
            }),
            (DocumentOperations::Multiple(ops), Some(name)) => {
                ops.get(name.as_str()).map(|op| Selected {
                    name: Some(name.clone()),
                    kind: op.node.ty,
                })
            }
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                ops.iter().next().map(|(name, op)| Selected {
                    name: Some(name.to_string()),
                    kind: op.node.ty,
                })
            }
            _ => None,
        }
    }
}

fn kind_label(kind: Option<OperationType>) -> &'static str {
    match kind {
        Some(OperationType::Query) => "query",
        Some(OperationType::Mutation) => "mutation",
        Some(OperationType::Subscription) => "subscription",
        None => "unknown",
    }
}

/// Counts the errors of `response` by their `extensions.code`.
fn count_errors(response: &Response) {
    for error in &response.errors {
        let code = error.extensions.as_ref().and_then(|e| e.get("code"));
        match code {
            Some(Value::String(code)) => metrics::error(code),
            _ => metrics::error(""),
        }
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for OperationExtension {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let span = tracing::info_span!(
            "graphql",
            operation = tracing::field::Empty,
            kind = tracing::field::Empty
        );
        let started = Instant::now();
        let response = next.run(ctx).instrument(span.clone()).await;
        let elapsed = started.elapsed();
        let selected = self.selected();
        let name = match &selected {
            Some(s) => metrics::operation_label(s.name.as_deref()),
            // Never parsed, or naming no operation of its document: not a name to keep.
            None => "other".to_owned(),
        };
        metrics::operation(name, kind_label(selected.map(|s| s.kind)), elapsed);
        count_errors(&response);
        span.in_scope(|| {
            tracing::debug!(
                elapsed_ms = elapsed.as_secs_f64() * 1e3,
                errors = response.errors.len(),
                "operation answered"
            );
        });
        response
    }

    fn subscribe<'s>(
        &self,
        ctx: &ExtensionContext<'_>,
        stream: BoxStream<'s, Response>,
        next: NextSubscribe<'_>,
    ) -> BoxStream<'s, Response> {
        next.run(ctx, stream.inspect(count_errors).boxed())
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        *self
            .requested
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = request.operation_name.clone();
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        if let Some(selected) = self.select(&document) {
            // Only a name the document defines: a well-formed GraphQL name.
            let span = tracing::Span::current();
            let name = selected.name.as_deref().unwrap_or("anonymous");
            span.record("operation", tracing::field::display(name));
            span.record(
                "kind",
                tracing::field::display(kind_label(Some(selected.kind))),
            );
            if selected.kind == OperationType::Subscription {
                metrics::subscription(metrics::operation_label(selected.name.as_deref()));
            }
            *self.selected.lock().unwrap_or_else(PoisonError::into_inner) = Some(selected);
        }
        Ok(document)
    }

    /// A span per root field: the resolvers of interest are the roots' (a nested field is
    /// a part of its root's work, and a span for each would cost more than it tells).
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_some() {
            return next.run(ctx, info).await;
        }
        let span = tracing::info_span!("resolve", field = info.name);
        next.run(ctx, info).instrument(span).await
    }
}
