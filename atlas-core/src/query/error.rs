//! [`QueryError`]: why a `where`, `sort`, `projection`, `embedded`, `page` or
//! `max_results` parameter was refused. Every variant renders (via
//! `Display`) the message the HTTP layer sends back with a 400.

/// A query parameter the client sent cannot be used. Each variant's
/// `Display` is the client-facing message (Eve's wording where Eve has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// `where` is not JSON (Eve's message, then what the JSON parser
    /// found and what to send instead).
    #[error(
        "Unable to parse `where` clause: it is not JSON ({detail}); send JSON such as \
         {{\"status\": \"installed\"}}, URL-encoded"
    )]
    WhereNotJson {
        /// Where the JSON parser stopped (`expected value at line 1 column 2`).
        detail: String,
    },
    /// `where` looks like Eve's Python syntax (`meta.name=="drupal"`), which
    /// Atlas does not accept.
    #[error(
        "Unable to parse `where` clause: `where` must be JSON, e.g. {{\"status\": \"installed\"}}; \
         Python syntax such as `meta.name==\"drupal\"` is not supported"
    )]
    WherePythonSyntax,
    /// `where` is JSON but not a valid query; the reason says what is wrong.
    #[error("Unable to parse `where` clause: {0}")]
    InvalidWhere(String),
    /// `where` uses `$where` (Eve's blacklist message).
    #[error("Query contains operators banned in MONGO_QUERY_BLACKLIST")]
    BannedOperator,
    /// `where` uses an operator Atlas does not know (Eve's message).
    #[error("Query contains unknown or unsupported operators: {0}")]
    UnknownOperator(String),
    /// `sort` is not one of the accepted syntaxes (Eve's message).
    #[error("Unable to parse `sort` clause")]
    Sort,
    /// `sort` names more keys than the cap (32).
    #[error("`sort` names {got} keys; at most {max} are allowed: sort by fewer fields")]
    TooManySortKeys {
        /// The cap.
        max: usize,
        /// How many keys the request named.
        got: usize,
    },
    /// `projection` is not a valid projection (Eve's message).
    #[error("Unable to parse `projection` clause")]
    Projection,
    /// `embedded` is not a valid embedding request (Eve's message).
    #[error("Unable to parse `embedded` clause")]
    Embedded,
    /// `page` or `max_results` is not a positive integer.
    #[error("`{param}` must be a positive integer{hint}, got '{value}'")]
    Paging {
        /// `page` or `max_results`.
        param: &'static str,
        /// What else is worth knowing about the parameter (may be empty).
        hint: &'static str,
        /// The value as sent.
        value: String,
    },
    /// A clause names a field that is never returned (`db_key`): it can
    /// be neither queried, sorted nor projected, or its value could be
    /// guessed by bisection.
    #[error("`{clause}` may not use '{field}': the field is never returned, so it cannot be queried, sorted or projected")]
    HiddenField {
        /// `where`, `sort` or `projection`.
        clause: &'static str,
        /// The dotted path as sent.
        field: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_match_eves_wording() {
        assert!(QueryError::WhereNotJson {
            detail: "key must be a string at line 1 column 2".into()
        }
        .to_string()
        .starts_with(
            "Unable to parse `where` clause: it is not JSON (key must be a string at line 1 column 2)"
        ));
        assert_eq!(
            QueryError::BannedOperator.to_string(),
            "Query contains operators banned in MONGO_QUERY_BLACKLIST"
        );
        assert_eq!(
            QueryError::UnknownOperator("$bogus".into()).to_string(),
            "Query contains unknown or unsupported operators: $bogus"
        );
        assert_eq!(QueryError::Sort.to_string(), "Unable to parse `sort` clause");
        assert_eq!(
            QueryError::Projection.to_string(),
            "Unable to parse `projection` clause"
        );
        assert_eq!(
            QueryError::Embedded.to_string(),
            "Unable to parse `embedded` clause"
        );
    }

    #[test]
    fn python_syntax_message_asks_for_json_with_an_example() {
        let msg = QueryError::WherePythonSyntax.to_string();
        assert!(
            msg.contains("`where` must be JSON, e.g. {\"status\": \"installed\"}"),
            "{msg}"
        );
    }

    #[test]
    fn paging_message_names_the_parameter_and_the_value() {
        let e = QueryError::Paging {
            param: "page",
            hint: "",
            value: "abc".into(),
        };
        assert_eq!(e.to_string(), "`page` must be a positive integer, got 'abc'");
    }
}
