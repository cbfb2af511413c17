//! The one error type of the API and its stable `extensions.code`s.
use async_graphql::ErrorExtensions;

/// The documented `extensions.code`s (README, "Errors"): every code an error of the API
/// carries. [`AppError::code`] spells each through [`ErrorCode::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Unauthenticated,
    Forbidden,
    NotFound,
    BadUserInput,
    Conflict,
    RateLimited,
    Internal,
    BudgetExhausted,
    PersistedQueryNotFound,
    PersistedQueryNotSupported,
    LimitExceeded,
}

impl ErrorCode {
    /// Every code, in the order the README lists them.
    pub const ALL: [ErrorCode; 11] = [
        ErrorCode::Unauthenticated,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::BadUserInput,
        ErrorCode::Conflict,
        ErrorCode::RateLimited,
        ErrorCode::Internal,
        ErrorCode::BudgetExhausted,
        ErrorCode::PersistedQueryNotFound,
        ErrorCode::PersistedQueryNotSupported,
        ErrorCode::LimitExceeded,
    ];

    /// The code as clients see it in `extensions.code`.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthenticated => "UNAUTHENTICATED",
            ErrorCode::Forbidden => "FORBIDDEN",
            ErrorCode::NotFound => "NOT_FOUND",
            ErrorCode::BadUserInput => "BAD_USER_INPUT",
            ErrorCode::Conflict => "CONFLICT",
            ErrorCode::RateLimited => "RATE_LIMITED",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::BudgetExhausted => "BUDGET_EXHAUSTED",
            ErrorCode::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            ErrorCode::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
            ErrorCode::LimitExceeded => "LIMIT_EXCEEDED",
        }
    }
}

// `ALL` holds each code once, in declaration order (a code added to the enum and not to
// `ALL` would be refused as undocumented by the HTTP fuzz test).
const _: () = {
    let mut i = 0;
    while i < ErrorCode::ALL.len() {
        assert!(
            ErrorCode::ALL[i] as usize == i,
            "ErrorCode::ALL out of order"
        );
        i += 1;
    }
};

/// Every failure a client can see. Internal detail is logged, never shown.
///
/// Deliberately not `Display`: async-graphql converts any `Display` type into an error
/// without a code, and `?` must never silently take that path.
#[derive(Debug)]
pub enum AppError {
    /// No valid viewer where one is needed, or a bad token / bad credentials.
    Unauthenticated(String),
    /// The viewer is known but may not do this (own-only fields).
    Forbidden(String),
    /// Absent, or hidden from this viewer (never distinguished).
    NotFound,
    /// An input fails validation; `field` names it.
    BadInput { field: String, message: String },
    /// A uniqueness rule is violated (e.g. handle taken); `field` may be empty when no
    /// input is at fault (an identity already linked to an account).
    Conflict { field: String, message: String },
    /// Too many requests; retry after the given seconds.
    RateLimited { retry_after_secs: u64 },
    /// The operation ran past the execution timeout and was stopped (code `INTERNAL`).
    Timeout { after_ms: u64 },
    /// Anything else; the detail stays in the log.
    Internal(anyhow::Error),
    /// A new question of an app would spend more ε than its daily budget for the creator
    /// has left; the budget is whole again at `resets_at` (the next UTC midnight).
    BudgetExhausted {
        resets_at: chrono::DateTime<chrono::Utc>,
    },
    /// A request named a persisted query by its hash alone, and this instance does not
    /// have it: send the query with its hash once (Apollo clients do so on this code).
    PersistedQueryNotFound,
    /// Persisted queries are turned off (`TALLY_PERSISTED_QUERIES=0`): send the query.
    PersistedQueryNotSupported,
    /// A live limit is reached (subscriptions of a connection, connections of a principal);
    /// the message names it.
    LimitExceeded(String),
}

impl AppError {
    /// Shorthand for a validation failure of `field`.
    pub fn bad_input(field: &str, message: impl Into<String>) -> Self {
        AppError::BadInput {
            field: field.to_owned(),
            message: message.into(),
        }
    }

    /// The message shown to the client.
    pub fn message(&self) -> String {
        match self {
            AppError::Unauthenticated(m) | AppError::Forbidden(m) | AppError::LimitExceeded(m) => {
                m.clone()
            }
            AppError::NotFound => "not found".to_owned(),
            AppError::BadInput { message, .. } | AppError::Conflict { message, .. } => {
                message.clone()
            }
            AppError::RateLimited { retry_after_secs } => {
                format!("rate limited, retry after {retry_after_secs} s")
            }
            AppError::Timeout { after_ms } => {
                format!("the operation did not finish within {after_ms} ms and was stopped")
            }
            AppError::Internal(_) => "internal error".to_owned(),
            AppError::BudgetExhausted { resets_at } => format!(
                "today's privacy budget is spent: new questions are answered again from {}",
                resets_at.to_rfc3339()
            ),
            // The messages Apollo's clients also recognise.
            AppError::PersistedQueryNotFound => "PersistedQueryNotFound".to_owned(),
            AppError::PersistedQueryNotSupported => "PersistedQueryNotSupported".to_owned(),
        }
    }

    /// What a log line says of this error: for an internal one, the chain of its causes as
    /// they display; else its code. Never their `Debug` (a database error's holds the
    /// database's detail, which may quote a row's values) nor a client-facing message
    /// (which may quote an input).
    pub fn log_detail(&self) -> String {
        match self {
            AppError::Internal(source) => format!("{source:#}"),
            other => other.code().to_owned(),
        }
    }

    /// Wraps any unexpected failure.
    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        AppError::Internal(e.into())
    }

    /// The stable code clients switch on.
    pub fn code(&self) -> &'static str {
        self.error_code().as_str()
    }

    /// [`AppError::code`] as an [`ErrorCode`].
    pub fn error_code(&self) -> ErrorCode {
        match self {
            AppError::Unauthenticated(_) => ErrorCode::Unauthenticated,
            AppError::Forbidden(_) => ErrorCode::Forbidden,
            AppError::NotFound => ErrorCode::NotFound,
            AppError::BadInput { .. } => ErrorCode::BadUserInput,
            AppError::Conflict { .. } => ErrorCode::Conflict,
            AppError::RateLimited { .. } => ErrorCode::RateLimited,
            AppError::Timeout { .. } => ErrorCode::Internal,
            AppError::Internal(_) => ErrorCode::Internal,
            AppError::BudgetExhausted { .. } => ErrorCode::BudgetExhausted,
            AppError::PersistedQueryNotFound => ErrorCode::PersistedQueryNotFound,
            AppError::PersistedQueryNotSupported => ErrorCode::PersistedQueryNotSupported,
            AppError::LimitExceeded(_) => ErrorCode::LimitExceeded,
        }
    }
}

impl From<sea_orm::DbErr> for AppError {
    fn from(e: sea_orm::DbErr) -> Self {
        AppError::Internal(e.into())
    }
}

impl AppError {
    /// The GraphQL error with `extensions.code` (and `field` / `retryAfter`).
    pub fn to_graphql(&self) -> async_graphql::Error {
        if let AppError::Internal(source) = self {
            tracing::error!(error = %format_args!("{source:#}"), "internal error");
        }
        async_graphql::Error::new(self.message()).extend_with(|_, e| {
            e.set("code", self.code());
            match self {
                AppError::BadInput { field, .. } | AppError::Conflict { field, .. }
                    if !field.is_empty() =>
                {
                    e.set("field", field.as_str())
                }
                AppError::RateLimited { retry_after_secs } => {
                    e.set("retryAfter", *retry_after_secs)
                }
                // As a `DateTime` of the schema is written.
                AppError::BudgetExhausted { resets_at } => {
                    e.set("resetsAt", resets_at.to_rfc3339())
                }
                _ => {}
            }
        })
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        e.to_graphql()
    }
}

/// Result of domain operations.
pub type AppResult<T> = Result<T, AppError>;
