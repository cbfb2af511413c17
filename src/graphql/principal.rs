//! Who may call which root field, checked once per root field of every operation, for
//! queries and mutations alike (introspection's `__schema` and `__type` included): a
//! third-party app's token may call `appAnalytics` and nothing else, and `appAnalytics` is
//! for apps' tokens only. Every field an app could reach lies under a root field, so nothing
//! below `appAnalytics` — which yields counts, days and bucket keys, never a `User`, a
//! `Video` or a liker — is reachable with an app's token. The one rule is [`may_call`].
use std::sync::Arc;

use async_graphql::{
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
    ServerResult, Value,
};

use crate::{
    auth::{app_token::AppGrant, ExternalSubject, Viewer},
    error::{AppError, AppResult},
};

/// The root field of apps.
pub const APP_ANALYTICS: &str = "appAnalytics";

/// Who a request speaks for, as far as the root fields care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// A third-party app's access token.
    App,
    /// A token of an account or of an identity-provider subject.
    Person,
    /// No token.
    Anonymous,
}

/// THE rule: whether `caller` may call the root field `field`.
pub fn may_call(caller: Caller, field: &str) -> AppResult<()> {
    match (caller, field == APP_ANALYTICS) {
        (Caller::App, true) | (Caller::Person | Caller::Anonymous, false) => Ok(()),
        (Caller::App, false) => Err(AppError::Forbidden(format!(
            "an app's token may call `{APP_ANALYTICS}` only"
        ))),
        (Caller::Person, true) => Err(AppError::Forbidden(format!(
            "`{APP_ANALYTICS}` is for apps' tokens (POST /oauth/token)"
        ))),
        (Caller::Anonymous, true) => Err(AppError::Unauthenticated(format!(
            "`{APP_ANALYTICS}` needs an app's token (POST /oauth/token)"
        ))),
    }
}

/// Installs [`may_call`] on every root field of every request.
pub struct PrincipalGuard;

impl ExtensionFactory for PrincipalGuard {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(PrincipalGuard)
    }
}

fn caller_of(ctx: &ExtensionContext<'_>) -> Caller {
    if ctx.data_opt::<AppGrant>().is_some() {
        Caller::App
    } else if ctx.data_opt::<Viewer>().and_then(|v| v.id()).is_some()
        || ctx.data_opt::<ExternalSubject>().is_some()
    {
        Caller::Person
    } else {
        Caller::Anonymous
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for PrincipalGuard {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.path_node.parent.is_none() {
            if let Err(e) = may_call(caller_of(ctx), info.name) {
                let e = e.to_graphql();
                let mut error =
                    async_graphql::ServerError::new(e.message, Some(info.field.name.pos));
                error.extensions = e.extensions;
                error.path = vec![async_graphql::PathSegment::Field(
                    info.path_node.field_name().to_owned(),
                )];
                return Err(error);
            }
        }
        next.run(ctx, info).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apps_call_app_analytics_only_and_only_apps_call_it() {
        assert!(may_call(Caller::App, APP_ANALYTICS).is_ok());
        for field in [
            "viewer",
            "node",
            "creatorAnalytics",
            "likeVideo",
            "__schema",
        ] {
            let e = may_call(Caller::App, field).expect_err(field);
            assert_eq!(e.code(), "FORBIDDEN");
            assert!(may_call(Caller::Person, field).is_ok());
            assert!(may_call(Caller::Anonymous, field).is_ok());
        }
        assert_eq!(
            may_call(Caller::Person, APP_ANALYTICS)
                .expect_err("person")
                .code(),
            "FORBIDDEN"
        );
        assert_eq!(
            may_call(Caller::Anonymous, APP_ANALYTICS)
                .expect_err("anonymous")
                .code(),
            "UNAUTHENTICATED"
        );
    }
}
