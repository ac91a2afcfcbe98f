//! The dashboard's pages and actions, one module each, and what they
//! share: who is visiting (`Visit`), rendering a page with the layout's
//! values, the error page, reading a form and checking its CSRF token,
//! and the redirect after an action.
//!
//! # Layout
//! - `auth`: sign in (the API's gate) and sign out.
//! - `overview`: counts per status and type, the queue, failed jobs of
//!   the last 24 h, periodic tasks, hosts.
//! - `instances`: the list with filters and search; `instance`: one
//!   instance and its lifecycle actions.
//! - `jobs`: running, queued and dead jobs, retry.
//! - `commands`: command items, running one, its runs and per-instance
//!   outcomes.
//! - `code`: code items by name, which is current, how many instances use
//!   each.
//! - `rollouts`: rollouts, pause and resume.
//! - `assets`: the stylesheet and the refresh script.

mod assets;
mod auth;
mod code;
mod commands;
mod instance;
mod instances;
mod jobs;
mod overview;
mod rollouts;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use minijinja::context;

use crate::error::UiError;
use crate::session::{cookie, token_matches, Session, SESSION_COOKIE};
use crate::Ui;

/// Every dashboard route, under the prefix.
pub(crate) fn routes(ui: Ui) -> Router {
    let p = ui.prefix.clone();
    let at = |path: &str| format!("{p}{path}");
    Router::new()
        .route(&p, get(assets::to_home))
        .route(&at("/"), get(overview::page))
        .route(&at("/static/style.css"), get(assets::style))
        .route(&at("/static/refresh.js"), get(assets::script))
        .route(&at("/login"), get(auth::form).post(auth::sign_in))
        .route(&at("/logout"), post(auth::sign_out))
        .route(&at("/instances"), get(instances::page))
        .route(&at("/instances/{sid}"), get(instance::page))
        .route(&at("/instances/{sid}/{action}"), post(instance::act))
        .route(&at("/backups/{id}/restore"), post(instance::restore_backup))
        .route(&at("/jobs"), get(jobs::page))
        .route(&at("/jobs/{id}/retry"), post(jobs::retry))
        .route(&at("/commands"), get(commands::page))
        .route(&at("/commands/{id}/run"), post(commands::run))
        .route(&at("/runs/{id}"), get(commands::run_page))
        .route(&at("/code"), get(code::page))
        .route(&at("/rollouts"), get(rollouts::page))
        .route(&at("/rollouts/{id}/{action}"), post(rollouts::act))
        .with_state(ui)
}

/// Who is visiting: their live session, if signed in.
#[derive(Debug, Clone, Default)]
pub(crate) struct Visit {
    pub(crate) session: Option<Session>,
}

impl Visit {
    /// The signed-in user's name.
    pub(crate) fn user(&self) -> Option<&str> {
        self.session.as_ref().map(|s| s.user.as_str())
    }
}

impl Ui {
    /// The visitor of a request with `headers`.
    pub(crate) fn visit(&self, headers: &HeaderMap) -> Visit {
        Visit {
            session: cookie(headers, SESSION_COOKIE).and_then(|id| self.sessions.get(&id)),
        }
    }

    /// Page `name` with `ctx` and the layout's values (prefix, user, CSRF
    /// token).
    pub(crate) fn page(&self, visit: &Visit, name: &str, ctx: minijinja::Value) -> Response {
        let s = visit.session.as_ref();
        // The prefix comes from configuration, not from a visitor (and
        // minijinja would write its `/` as `&#x2f;`).
        let all = context! {
            prefix => minijinja::Value::from_safe_string(self.prefix.clone()),
            user => s.map(|s| s.user.clone()),
            csrf => s.map(|s| s.csrf.clone()),
            ..ctx
        };
        match self.views.render(name, all) {
            Ok(html) => Html(html).into_response(),
            Err(e) => {
                tracing::error!(template = name, error = %e, "a dashboard page failed to render");
                (StatusCode::INTERNAL_SERVER_ERROR, "the page failed to render").into_response()
            }
        }
    }

    /// The page of `result`, or the error page.
    pub(crate) fn finish(&self, visit: &Visit, result: Result<Response, UiError>) -> Response {
        match result {
            Ok(res) => res,
            Err(e) => self.error_page(visit, &e),
        }
    }

    /// The error page of `e`, with its status.
    pub(crate) fn error_page(&self, visit: &Visit, e: &UiError) -> Response {
        let message = match e {
            UiError::Internal(detail) => {
                tracing::error!(error = %detail, "a dashboard page failed");
                "Something went wrong; the details are in the server's log.".to_owned()
            }
            other => other.to_string(),
        };
        let title = match e.status() {
            StatusCode::FORBIDDEN => "Refused",
            StatusCode::UNAUTHORIZED => "Sign in needed",
            StatusCode::NOT_FOUND => "Not found",
            _ => "Not done",
        };
        let mut res = self.page(
            visit,
            "error.html",
            context! { title, message, status => e.status().as_u16() },
        );
        *res.status_mut() = e.status();
        res
    }
}

/// A form body's fields.
pub(crate) fn form_fields(body: &Bytes) -> Vec<(String, String)> {
    form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The first value of `name` in `fields`.
pub(crate) fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// The signed-in session of an action whose form carries its CSRF token.
///
/// # Errors
/// [`UiError::Csrf`] without a session or without the session's token.
pub(crate) fn authorize(visit: &Visit, fields: &[(String, String)]) -> Result<Session, UiError> {
    match &visit.session {
        Some(s) if token_matches(field(fields, "csrf"), &s.csrf) => Ok(s.clone()),
        _ => Err(UiError::Csrf),
    }
}

/// 303 to `location` (after an action).
pub(crate) fn see_other(location: &str) -> Response {
    Redirect::to(location).into_response()
}

/// `Set-Cookie` added to `res`.
pub(crate) fn with_cookie(mut res: Response, value: HeaderValue) -> Response {
    res.headers_mut().append(header::SET_COOKIE, value);
    res
}
