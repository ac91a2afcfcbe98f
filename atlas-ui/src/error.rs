//! [`UiError`]: why a page or an action failed, rendered as an error page
//! with the API's status and message (what to do is the API's message:
//! it names the field, record or status).

use axum::http::StatusCode;

use crate::api::Answer;

/// A page or an action that failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UiError {
    /// The API refused or failed: its status and message.
    #[error("{message}")]
    Api {
        /// The API's status.
        status: StatusCode,
        /// The API's message (and its field issues).
        message: String,
    },
    /// A form without the session's CSRF token.
    #[error("this form is out of date or was not sent by the dashboard; reload the page and try again")]
    Csrf,
    /// An action needs a signed-in user.
    #[error("sign in first: changes need an API user")]
    SignInNeeded,
    /// The dashboard itself failed (logged, generic to the user).
    #[error("{0}")]
    Internal(String),
}

impl UiError {
    /// The error of a non-2xx API answer.
    pub(crate) fn from_answer(a: &Answer) -> Self {
        let mut message = a.body["_error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| format!("the API answered {}", a.status));
        if let Some(issues) = a.body["_issues"].as_object() {
            for (field, issue) in issues {
                let text = issue
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| issue.to_string());
                message.push_str(&format!("; {field}: {text}"));
            }
        }
        UiError::Api {
            status: a.status,
            message,
        }
    }

    /// The status of the error page.
    pub(crate) fn status(&self) -> StatusCode {
        match self {
            UiError::Api { status, .. } => *status,
            UiError::Csrf => StatusCode::FORBIDDEN,
            UiError::SignInNeeded => StatusCode::UNAUTHORIZED,
            UiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}
