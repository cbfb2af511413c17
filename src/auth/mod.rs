//! Who is asking: token issue and verification, password hashing, the [`Viewer`].
pub mod password;
pub mod token;

use uuid::Uuid;

use crate::error::{AppError, AppResult};

/// The viewer of a request: anonymous, or an account proven by a valid token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Viewer(pub Option<Uuid>);

impl Viewer {
    /// No token.
    pub const ANONYMOUS: Viewer = Viewer(None);

    /// The account, if signed in.
    pub fn id(self) -> Option<Uuid> {
        self.0
    }

    /// The account, or `UNAUTHENTICATED` for operations that need one.
    pub fn require(self) -> AppResult<Uuid> {
        self.0
            .ok_or_else(|| AppError::Unauthenticated("sign in to do this".to_owned()))
    }
}
