//! The stylesheet and the refresh script (compiled in), and the redirect
//! from the bare prefix to the overview.

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};

use crate::render::{SCRIPT, STYLE};
use crate::Ui;

/// `<prefix>` → `<prefix>/`.
pub(crate) async fn to_home(State(ui): State<Ui>) -> Response {
    Redirect::permanent(&format!("{}/", ui.prefix)).into_response()
}

/// `<prefix>/static/style.css`.
pub(crate) async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        STYLE,
    )
        .into_response()
}

/// `<prefix>/static/refresh.js`.
pub(crate) async fn script() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        SCRIPT,
    )
        .into_response()
}
