//! What an in-process front end (the dashboard of `atlas-ui`) needs to
//! sign people in as the API does: [`SignInGate`], the API's own credential
//! gate (remembered logins, failed-login throttling per client address and
//! user, the bound on concurrent checks, 503 when the directory cannot
//! decide) in front of its authenticator (the users file, then LDAP when
//! configured: [`Chain`](crate::Chain)); and [`SignedIn`], the user such a
//! front end vouches for on the requests it passes to the [`router`](crate::router).
//!
//! # Contracts
//! - A sign-in is counted, throttled and refused exactly as a Basic
//!   credential check of the API from the same client address.
//! - [`SignedIn`] lives in request extensions, which only code holding the
//!   router can set; the server inserts none, so no network client can
//!   claim a user with it.

use std::sync::Arc;

use axum::http::Extensions;

use crate::client::Connection;
use crate::gate::AuthGate;
use crate::{ApiError, AppState};

/// A user signed in by an in-process caller of the [`router`](crate::router)
/// (after checking the password with [`SignInGate`]): in a request's
/// extensions, the API takes its name as the authenticated user instead of
/// Basic credentials, and it becomes `created_by`/`modified_by` as with
/// Basic auth.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn(pub String);

/// The API's credential gate, for a front end's sign-in form. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct SignInGate(Arc<AuthGate>);

impl SignInGate {
    /// The gate of `state` (the one its API requests pass through).
    pub fn of(state: &AppState) -> Self {
        Self(state.gate.clone())
    }

    /// The name `user` signs in as (the authenticator's spelling) with
    /// `password`, for a request that reached [`serve`](crate::serve) with
    /// `request` extensions (their client address is throttled as the
    /// API's).
    ///
    /// # Errors
    /// [`ApiError::Unauthorized`] for credentials that do not verify,
    /// [`ApiError::TooManyRequests`] while the address or user is
    /// throttled, [`ApiError::AuthUnavailable`] when the authenticator
    /// cannot decide (the directory is down).
    pub async fn check(&self, request: &Extensions, user: &str, password: &str) -> Result<String, ApiError> {
        let client = Connection::in_extensions(request).map(|c| c.peer.ip());
        self.0.check(client, user, password).await
    }
}
