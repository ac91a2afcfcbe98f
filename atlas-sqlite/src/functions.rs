//! SQL functions Atlas registers on every connection:
//! - `regexp(pattern, text)` (so `text REGEXP pattern` works): the `regex`
//!   crate, compiled once per statement; `pattern` carries its `$options`
//!   as inline flags (`(?i)…`).
//! - `atlas_ts(text)`: the Unix seconds of a string that parses as a
//!   [`Timestamp`] (`DATE_FORMAT` or RFC 3339), else `NULL` — how a date
//!   operand meets stored strings.
//! - `atlas_fmt(seconds)`: a timestamp column rendered as the document shows
//!   it (`DATE_FORMAT`).
//! - `atlas_match_doc(token, id, etag, created, updated, version, deleted,
//!   body)` and `atlas_match_json(token, json)`: the reference evaluator
//!   ([`Filter::matches`]) on one row, for the rare conditions the translator
//!   does not express in SQL. `token` names a filter registered in
//!   [`Residuals`] for the duration of the query.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use atlas_core::model::{Body, Doc, Etag, Id, Timestamp};
use atlas_core::query::Filter;
use regex::Regex;
use rusqlite::functions::{Context, FunctionFlags};
use rusqlite::types::ValueRef;
use rusqlite::Connection;
use serde_json::Value;

use crate::error::Result;

/// Filters the SQL functions evaluate in Rust, by token.
#[derive(Debug, Default)]
pub(crate) struct Residuals {
    next: AtomicI64,
    map: Mutex<HashMap<i64, Arc<Filter>>>,
}

impl Residuals {
    /// Registers `f` until the returned guard drops; the guard's token is
    /// what the SQL passes.
    pub(crate) fn register(self: &Arc<Self>, f: Filter) -> ResidualGuard {
        let token = self.next.fetch_add(1, Ordering::Relaxed);
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(token, Arc::new(f));
        ResidualGuard {
            owner: Arc::clone(self),
            token,
        }
    }

    fn get(&self, token: i64) -> Option<Arc<Filter>> {
        self.map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&token)
            .cloned()
    }
}

/// Keeps a residual filter registered.
#[derive(Debug)]
pub(crate) struct ResidualGuard {
    owner: Arc<Residuals>,
    token: i64,
}

impl ResidualGuard {
    /// The token to bind.
    pub(crate) fn token(&self) -> i64 {
        self.token
    }
}

impl Drop for ResidualGuard {
    fn drop(&mut self) {
        self.owner
            .map
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.token);
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FnError(String);

fn user_err(msg: impl Into<String>) -> rusqlite::Error {
    rusqlite::Error::UserFunctionError(Box::new(FnError(msg.into())))
}

fn text<'a>(ctx: &'a Context<'_>, i: usize) -> Option<&'a str> {
    match ctx.get_raw(i) {
        ValueRef::Text(b) => std::str::from_utf8(b).ok(),
        _ => None,
    }
}

/// Registers the functions on `conn`.
pub(crate) fn register(conn: &Connection, residuals: &Arc<Residuals>) -> Result<()> {
    let det = FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC;
    conn.create_scalar_function("regexp", 2, det, |ctx| {
        let re = ctx.get_or_create_aux(0, |v| -> std::result::Result<Regex, FnError> {
            let src = v.as_str().map_err(|e| FnError(e.to_string()))?;
            Regex::new(src).map_err(|e| FnError(e.to_string()))
        })?;
        Ok(text(ctx, 1).map(|s| re.is_match(s)))
    })?;
    conn.create_scalar_function("atlas_ts", 1, det, |ctx| {
        Ok(text(ctx, 0)
            .and_then(|s| Timestamp::parse(s).ok())
            .map(|t| t.unix_seconds()))
    })?;
    conn.create_scalar_function("atlas_fmt", 1, det, |ctx| {
        Ok(match ctx.get_raw(0) {
            ValueRef::Integer(n) => Some(Timestamp::from_unix(n).to_string()),
            _ => None,
        })
    })?;
    let r = Arc::clone(residuals);
    conn.create_scalar_function("atlas_match_doc", 8, det, move |ctx| {
        let f = residual(ctx, &r)?;
        // `None`: SQLite's constant propagation handed a meta column's
        // value from an `AND`ed equality with a non-integer operand
        // (`_version $in [2.5]`); no stored row has it, so nothing matches.
        Ok(doc_from_args(ctx)?.is_some_and(|doc| f.matches(&doc.to_json())))
    })?;
    let r = Arc::clone(residuals);
    conn.create_scalar_function("atlas_match_json", 2, det, move |ctx| {
        let f = residual(ctx, &r)?;
        let json = text(ctx, 1).ok_or_else(|| user_err("atlas_match_json: no JSON"))?;
        let v: Value = serde_json::from_str(json).map_err(|e| user_err(e.to_string()))?;
        Ok(f.matches(&v))
    })?;
    Ok(())
}

fn residual(ctx: &Context<'_>, r: &Arc<Residuals>) -> rusqlite::Result<Arc<Filter>> {
    let r = Arc::clone(r);
    let f = ctx.get_or_create_aux(0, move |v| -> std::result::Result<Arc<Filter>, FnError> {
        let token = v.as_i64().map_err(|e| FnError(e.to_string()))?;
        r.get(token)
            .ok_or_else(|| FnError(format!("no residual filter #{token}")))
    })?;
    Ok(Arc::clone(&f))
}

/// An integer argument; a real with an integral value counts (SQLite may
/// substitute an equality's operand for a column), any other value is
/// `None`.
fn int_arg(ctx: &Context<'_>, i: usize) -> Option<i64> {
    match ctx.get_raw(i) {
        ValueRef::Integer(n) => Some(n),
        #[allow(clippy::cast_possible_truncation)]
        ValueRef::Real(r) if r.fract() == 0.0 && r.abs() < 9.0e15 => Some(r as i64),
        _ => None,
    }
}

/// The row's document; `None` when a meta column holds a value no stored
/// document can have.
fn doc_from_args(ctx: &Context<'_>) -> rusqlite::Result<Option<Doc>> {
    let id = text(ctx, 1)
        .and_then(|s| Id::parse(s).ok())
        .ok_or_else(|| user_err("atlas_match_doc: bad id"))?;
    let etag = Etag::from_client(text(ctx, 2).unwrap_or_default());
    let (Some(created), Some(updated), Some(version), Some(deleted)) =
        (int_arg(ctx, 3), int_arg(ctx, 4), int_arg(ctx, 5), int_arg(ctx, 6))
    else {
        return Ok(None);
    };
    let (created, updated) = (Timestamp::from_unix(created), Timestamp::from_unix(updated));
    let version = u64::try_from(version).unwrap_or_default();
    let deleted = deleted != 0;
    let body: Body =
        serde_json::from_str(text(ctx, 7).unwrap_or("{}")).map_err(|e| user_err(e.to_string()))?;
    Ok(Some(Doc {
        id,
        etag,
        created,
        updated,
        version,
        deleted,
        body,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn conn() -> (Connection, Arc<Residuals>) {
        let c = Connection::open_in_memory().unwrap();
        let r = Arc::new(Residuals::default());
        register(&c, &r).unwrap();
        (c, r)
    }

    #[test]
    fn regexp_operator_uses_the_regex_crate_with_inline_flags() {
        let (c, _) = conn();
        let hit: bool = c
            .query_row("SELECT 'Mod_x' REGEXP ?1", ["(?i)^mod_"], |r| r.get(0))
            .unwrap();
        assert!(hit);
        let miss: bool = c
            .query_row("SELECT 'Mod_x' REGEXP ?1", ["^mod_"], |r| r.get(0))
            .unwrap();
        assert!(!miss);
    }

    #[test]
    fn atlas_ts_parses_dates_and_gives_null_otherwise() {
        let (c, _) = conn();
        let t: Option<i64> = c
            .query_row("SELECT atlas_ts('2026-11-25 00:00:00 GMT')", [], |r| r.get(0))
            .unwrap();
        assert_eq!(t, Some(1_795_564_800));
        let n: Option<i64> = c.query_row("SELECT atlas_ts('nope')", [], |r| r.get(0)).unwrap();
        assert_eq!(n, None);
        let s: String = c
            .query_row("SELECT atlas_fmt(1795564800)", [], |r| r.get(0))
            .unwrap();
        assert_eq!(s, "2026-11-25 00:00:00 GMT");
    }

    #[test]
    fn residual_filters_evaluate_in_rust_while_registered() {
        let (c, r) = conn();
        let guard = r.register(Filter::eq("a.0", "x"));
        let hit: bool = c
            .query_row(
                "SELECT atlas_match_json(?1, ?2)",
                rusqlite::params![guard.token(), r#"{"a":["x"]}"#],
                |row| row.get(0),
            )
            .unwrap();
        assert!(hit);
        let token = guard.token();
        drop(guard);
        let gone = c.query_row("SELECT atlas_match_json(?1, '{}')", [token], |row| {
            row.get::<_, bool>(0)
        });
        assert!(gone.is_err());
    }

    #[test]
    fn residual_doc_match_takes_integral_reals_and_matches_nothing_for_other_values() {
        let (c, r) = conn();
        let guard = r.register(Filter::eq("_version", json!(2)));
        let at = |version: &str| -> bool {
            c.query_row(
                &format!(
                    "SELECT atlas_match_doc(?1, '6b063bb73e47cec0540baa24', 'e', 0, 0, {version}, 0, '{{}}')"
                ),
                [guard.token()],
                |row| row.get(0),
            )
            .unwrap()
        };
        assert!(at("2.0"), "an integral real is the integer");
        assert!(!at("2.5"), "no stored version is 2.5: no match, no error");
        assert!(!at("'2'"), "text is no version either");
    }

    #[test]
    fn residual_doc_match_sees_meta_fields() {
        let (c, r) = conn();
        let guard = r.register(Filter::eq("_version", json!(2)));
        let hit: bool = c
            .query_row(
                "SELECT atlas_match_doc(?1, '6b063bb73e47cec0540baa24', 'e', 0, 0, 2, 0, '{}')",
                [guard.token()],
                |row| row.get(0),
            )
            .unwrap();
        assert!(hit);
    }
}
