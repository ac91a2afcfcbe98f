//! Signing in and out. The sign-in form carries a token that must equal
//! its cookie (double submit: there is no session yet); the credentials go
//! through the API's gate and authenticator ([`atlas_http::SignInGate`]),
//! so a wrong password counts as a failed API login from the same
//! address, throttling answers 429 and a directory that cannot decide
//! 503. A good sign-in starts a new session (never reusing a cookie the
//! visitor brought) and goes to the page asked for.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::Response;
use minijinja::context;
use serde::Deserialize;

use atlas_http::ApiError;

use super::{field, form_fields, see_other, with_cookie, Visit};
use crate::error::UiError;
use crate::session::{cookie, random_token, set_cookie, token_matches, LOGIN_COOKIE, SESSION_COOKIE};
use crate::Ui;

/// Where to go after signing in.
#[derive(Debug, Deserialize)]
pub(crate) struct Next {
    next: Option<String>,
}

/// `GET <prefix>/login`.
pub(crate) async fn form(State(ui): State<Ui>, Query(q): Query<Next>, parts: Parts) -> Response {
    let visit = ui.visit(&parts.headers);
    login_page(&ui, &visit, q.next.as_deref(), None, StatusCode::OK)
}

fn login_page(
    ui: &Ui,
    visit: &Visit,
    next: Option<&str>,
    problem: Option<String>,
    status: StatusCode,
) -> Response {
    let token = random_token();
    let mut res = ui.page(
        visit,
        "login.html",
        context! { title => "Sign in", login_token => token, next => safe_next(ui, next), problem },
    );
    *res.status_mut() = status;
    with_cookie(res, set_cookie(LOGIN_COOKIE, &token, &ui.prefix, Some(3600)))
}

/// Only a path of the dashboard is a place to go back to.
fn safe_next(ui: &Ui, next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with(&format!("{}/", ui.prefix)) && !n.contains("//") && !n.contains('\\') => {
            n.to_owned()
        }
        _ => format!("{}/", ui.prefix),
    }
}

/// `POST <prefix>/login`.
pub(crate) async fn sign_in(State(ui): State<Ui>, parts: Parts, body: Bytes) -> Response {
    let visit = ui.visit(&parts.headers);
    let fields = form_fields(&body);
    let next = field(&fields, "next").map(str::to_owned);
    let expected = cookie(&parts.headers, LOGIN_COOKIE).unwrap_or_default();
    if !token_matches(field(&fields, "login_token"), &expected) {
        return ui.error_page(&visit, &UiError::Csrf);
    }
    let user = field(&fields, "user").unwrap_or("").trim().to_owned();
    let password = field(&fields, "password").unwrap_or("");
    if user.is_empty() || password.is_empty() {
        let problem = "Enter your API user name and password.".to_owned();
        return login_page(
            &ui,
            &visit,
            next.as_deref(),
            Some(problem),
            StatusCode::UNPROCESSABLE_ENTITY,
        );
    }
    match ui.gate.check(&parts.extensions, &user, password).await {
        Ok(name) => {
            if let Some(old) = &visit.session {
                ui.sessions.remove(&old.id);
            }
            let session = ui.sessions.create(&name);
            tracing::info!(user = %name, "signed in to the dashboard");
            let res = see_other(&safe_next(&ui, next.as_deref()));
            let res = with_cookie(res, set_cookie(SESSION_COOKIE, &session.id, &ui.prefix, None));
            with_cookie(res, set_cookie(LOGIN_COOKIE, "", &ui.prefix, Some(0)))
        }
        Err(e) => {
            let (status, problem) = match &e {
                ApiError::Unauthorized => (
                    StatusCode::UNAUTHORIZED,
                    "The user name or password is wrong.".to_owned(),
                ),
                ApiError::TooManyRequests(secs) => (
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("Too many failed sign-ins; try again in {secs} s."),
                ),
                ApiError::AuthUnavailable(u) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    format!("{} cannot check passwords now; try again later.", u.backend),
                ),
                other => (StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
            };
            login_page(&ui, &visit, next.as_deref(), Some(problem), status)
        }
    }
}

/// `POST <prefix>/logout` (with the session's CSRF token).
pub(crate) async fn sign_out(State(ui): State<Ui>, parts: Parts, body: Bytes) -> Response {
    let visit = ui.visit(&parts.headers);
    let fields = form_fields(&body);
    match super::authorize(&visit, &fields) {
        Ok(session) => {
            ui.sessions.remove(&session.id);
            let res = see_other(&format!("{}/", ui.prefix));
            with_cookie(res, set_cookie(SESSION_COOKIE, "", &ui.prefix, Some(0)))
        }
        Err(e) => ui.error_page(&visit, &e),
    }
}
