//! Rows to core types: a record row to a [`Doc`], a job row to a [`Job`],
//! and the columns every record query selects.

use atlas_core::model::{Body, Doc, Etag, Id, Timestamp};
use atlas_core::Job;
use serde_json::Value;
use tokio_postgres::Row;

use crate::error::{corrupt, Result};

/// The columns of a record row, in the order [`doc`] reads them.
pub(crate) const DOC_COLUMNS: &str = "id, etag, created, updated, version, deleted, body";

/// A record row (selected with [`DOC_COLUMNS`]) as a document.
pub(crate) fn doc(row: &Row) -> Result<Doc> {
    let id: &str = row.try_get(0)?;
    let id = Id::parse(id).map_err(|e| corrupt(format!("the id '{id}'"), e))?;
    let body: Value = row.try_get(6)?;
    let Value::Object(body) = body else {
        return Err(corrupt(
            format!("the body of record '{id}'"),
            "it is not a JSON object",
        ));
    };
    let version: i64 = row.try_get(4)?;
    Ok(Doc {
        id,
        etag: Etag::from_client(row.try_get(1)?),
        created: Timestamp::from_unix(row.try_get(2)?),
        updated: Timestamp::from_unix(row.try_get(3)?),
        version: u64::try_from(version).map_err(|e| corrupt(format!("the version of '{id}'"), e))?,
        deleted: row.try_get(5)?,
        body: body as Body,
    })
}

/// A job row's `doc` column as a job.
pub(crate) fn job(row: &Row, col: usize) -> Result<Job> {
    let v: Value = row.try_get(col)?;
    serde_json::from_value(v).map_err(|e| corrupt("a job", e))
}

/// A job as the JSON its row stores.
pub(crate) fn job_json(job: &Job) -> Value {
    serde_json::to_value(job).unwrap_or(Value::Null)
}

/// A document body as the JSON its row stores.
pub(crate) fn body_json(doc: &Doc) -> Value {
    Value::Object(doc.body.clone())
}

/// Seconds for a timestamp column.
pub(crate) fn secs(t: Timestamp) -> i64 {
    t.unix_seconds()
}

/// A version number for a `bigint` column.
pub(crate) fn version(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
