//! Rows to core values, through private newtypes: [`DocRow`] for record
//! rows (current and history) and [`JobRow`] for jobs.

use atlas_core::jobs::Job;
use atlas_core::model::{Body, Doc, Etag, Id, Timestamp};
use rusqlite::Row;

use crate::error::{Error, Result};

/// The columns a [`DocRow`] reads, in order (`body` as JSON text).
pub(crate) const DOC_SELECT: &str = "id, etag, created, updated, version, deleted, json(body)";

/// A record row: [`DOC_SELECT`].
#[derive(Debug)]
pub(crate) struct DocRow(pub(crate) Doc);

impl DocRow {
    /// Reads [`DOC_SELECT`] from `row`, starting at column 0.
    pub(crate) fn read(row: &Row<'_>) -> Result<DocRow> {
        let id: String = row.get(0)?;
        let etag: String = row.get(1)?;
        let version: i64 = row.get(4)?;
        let body: String = row.get(6)?;
        Ok(DocRow(Doc {
            id: parse_id(&id)?,
            etag: Etag::from_client(&etag),
            created: Timestamp::from_unix(row.get(2)?),
            updated: Timestamp::from_unix(row.get(3)?),
            version: u64::try_from(version).map_err(|_| Error::Corrupt(format!("version {version}")))?,
            deleted: row.get(5)?,
            body: serde_json::from_str::<Body>(&body)?,
        }))
    }
}

/// A job row: its document as JSON text.
#[derive(Debug)]
pub(crate) struct JobRow(pub(crate) Job);

impl JobRow {
    /// Reads the job JSON in column `i`.
    pub(crate) fn read(row: &Row<'_>, i: usize) -> Result<JobRow> {
        let json: String = row.get(i)?;
        Ok(JobRow(serde_json::from_str(&json)?))
    }
}

/// A stored id.
pub(crate) fn parse_id(s: &str) -> Result<Id> {
    Id::parse(s).map_err(|e| Error::Corrupt(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;

    #[test]
    fn doc_rows_keep_body_key_order_and_meta() {
        let c = Connection::open_in_memory().unwrap();
        let d: Doc = c
            .query_row(
                &format!(
                    "SELECT {DOC_SELECT} FROM (SELECT '6b063bb73e47cec0540baa24' AS id, 'ab' AS etag, 5 AS created,
                     6 AS updated, 2 AS version, 1 AS deleted, jsonb('{{\"z\":1,\"a\":[1.5,\"x\"]}}') AS body)"
                ),
                [],
                |r| Ok(DocRow::read(r)),
            )
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(d.version, 2);
        assert!(d.deleted);
        assert_eq!(d.updated, Timestamp::from_unix(6));
        let keys: Vec<&String> = d.body.keys().collect();
        assert_eq!(keys, ["z", "a"]);
        assert_eq!(d.body["a"][0], serde_json::json!(1.5));
    }

    #[test]
    fn bad_ids_are_reported_as_corrupt_rows() {
        assert!(matches!(parse_id("nope"), Err(Error::Corrupt(_))));
    }
}
