//! A request made with an identity-provider token whose subject is linked to no account
//! may do one thing: `provisionAccount`. Everything else (reads included, which would
//! otherwise quietly run as anonymous) is `UNAUTHENTICATED`, so the client learns that it
//! has to provision the account first.
use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery},
    parser::types::{ExecutableDocument, OperationType, Selection},
    ServerError, ServerResult, Variables,
};

use crate::{
    auth::{ExternalSubject, Viewer},
    error::AppError,
};

/// The root field an unlinked identity may call.
const PROVISION: &str = "provisionAccount";

/// Installs the check on every request.
pub struct UnlinkedIdentityGuard;

impl ExtensionFactory for UnlinkedIdentityGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(UnlinkedIdentityGuard)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for UnlinkedIdentityGuard {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let unlinked = ctx.data_opt::<ExternalSubject>().is_some()
            && ctx.data_opt::<Viewer>().and_then(|v| v.id()).is_none();
        if unlinked && !only_provisions(&document) {
            let e = AppError::Unauthenticated("no account is linked to this identity".into())
                .to_graphql();
            let mut error = ServerError::new(e.message, None);
            error.extensions = e.extensions;
            return Err(error);
        }
        Ok(document)
    }
}

/// Whether every operation of `document` is a mutation selecting `provisionAccount` (and
/// at most `__typename`) directly; fragments at the root are refused rather than resolved.
fn only_provisions(document: &ExecutableDocument) -> bool {
    document.operations.iter().all(|(_, operation)| {
        let operation = &operation.node;
        operation.ty == OperationType::Mutation
            && operation
                .selection_set
                .node
                .items
                .iter()
                .all(|item| match &item.node {
                    Selection::Field(field) => {
                        matches!(field.node.name.node.as_str(), PROVISION | "__typename")
                    }
                    Selection::FragmentSpread(_) | Selection::InlineFragment(_) => false,
                })
    })
}
