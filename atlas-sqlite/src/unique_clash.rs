//! Naming a unique clash: when SQLite refuses a record write with a
//! constraint violation, [`unique_error`] finds which unique key (of
//! [`unique_keys`], in schema order, as the reference store reports it)
//! another live record already holds `doc`'s values for, and makes it the
//! caller's [`StoreError::Unique`]. Which values a record holds for a key
//! is the core rule, [`unique_values`].

use atlas_core::model::{Doc, Resource};
use atlas_core::schema::{unique_keys, unique_values, UniqueKey};
use atlas_core::StoreError;
use rusqlite::types::Value as SqlValue;
use rusqlite::{params_from_iter, Connection, ErrorCode, OptionalExtension};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::tables::{json_type, json_value, table_name, unique_key_by_index};

/// Maps a failed write of `doc` (write number `write` of its batch): a
/// unique clash becomes [`StoreError::Unique`] naming the first clashing
/// key in schema order, anything else stays a backend error.
pub(crate) fn unique_error(
    conn: &Connection,
    e: rusqlite::Error,
    write: usize,
    res: Resource,
    doc: &Doc,
) -> Error {
    let is_unique = matches!(
        &e,
        rusqlite::Error::SqliteFailure(f, _) if f.code == ErrorCode::ConstraintViolation
    );
    if !is_unique {
        return e.into();
    }
    for key in unique_keys(res) {
        match clashes(conn, res, key, doc) {
            Ok(Some(value)) => {
                return StoreError::Unique {
                    write,
                    res,
                    field: key.field.to_owned(),
                    value,
                }
                .into()
            }
            Ok(None) => {}
            Err(other) => return other,
        }
    }
    // Not found by value (exotic JSON): fall back to the index SQLite named.
    let index = e
        .to_string()
        .split("index '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .map(str::to_owned);
    match index.and_then(|i| unique_key_by_index(res, &i)) {
        Some(key) => StoreError::Unique {
            write,
            res,
            field: key.field.to_owned(),
            value: unique_values(key, doc).map(|v| v.to_string()).unwrap_or_default(),
        }
        .into(),
        None => e.into(),
    }
}

/// The rendered values when another live record has `doc`'s values of `key`.
fn clashes(conn: &Connection, res: Resource, key: &UniqueKey, doc: &Doc) -> Result<Option<String>> {
    let Some(values) = unique_values(key, doc) else {
        return Ok(None);
    };
    let t = table_name(res);
    let mut sql = format!("SELECT 1 FROM {t} WHERE deleted = 0 AND id <> ?1");
    let mut args = vec![SqlValue::Text(doc.id.to_string())];
    for (p, v) in key.paths.iter().zip(values.as_slice()) {
        args.push(match v {
            Value::Bool(b) => SqlValue::Integer(i64::from(*b)),
            Value::Number(n) => match n.as_i64() {
                Some(i) => SqlValue::Integer(i),
                None => SqlValue::Real(n.as_f64().unwrap_or(0.0)),
            },
            Value::String(s) => SqlValue::Text(s.clone()),
            other => SqlValue::Text(other.to_string()),
        });
        sql.push_str(&format!(" AND {} = ?{}", json_value("body", p), args.len()));
    }
    if let Some(flag) = key.only_when_true {
        sql.push_str(&format!(" AND {} = 'true'", json_type("body", flag)));
    }
    let found = conn
        .prepare_cached(&sql)?
        .query_row(params_from_iter(args), |_| Ok(()))
        .optional()?;
    Ok(found.map(|()| values.to_string()))
}
