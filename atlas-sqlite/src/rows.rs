//! Rows to core values, through private newtypes: [`DocRow`] for record
//! rows (current and history) and [`JobRow`] for jobs; and back,
//! [`to_json`] for the JSON text the writes bind.

use atlas_core::model::{Body, Doc, Etag, Id, Timestamp};
use atlas_core::Job;
use rusqlite::types::ValueRef;
use rusqlite::Row;

use crate::error::{Error, Result};
use crate::jsonb;

/// The columns a [`DocRow`] reads, in order (`body` as stored: JSONB,
/// decoded by [`crate::jsonb`]; JSON text is read too).
pub(crate) const DOC_SELECT: &str = "id, etag, created, updated, version, deleted, body";

/// A record row: [`DOC_SELECT`].
#[derive(Debug)]
pub(crate) struct DocRow(pub(crate) Doc);

impl DocRow {
    /// Reads [`DOC_SELECT`] from `row`, starting at column 0.
    pub(crate) fn read(row: &Row<'_>) -> Result<DocRow> {
        let id: String = row.get(0)?;
        let etag: String = row.get(1)?;
        let version: i64 = row.get(4)?;
        let id = parse_id(&id)?;
        let body = body(row.get_ref(6)?, &id)?;
        Ok(DocRow(Doc {
            etag: Etag::from_client(&etag),
            created: Timestamp::from_unix(row.get(2)?),
            updated: Timestamp::from_unix(row.get(3)?),
            version: u64::try_from(version).map_err(|_| {
                Error::corrupt(
                    format!("the version of record '{id}'"),
                    format!("{version} is negative"),
                )
            })?,
            deleted: row.get(5)?,
            body,
            id,
        }))
    }
}

/// The body in a record row: JSONB as `jsonb()` stores it, or JSON text.
fn body(stored: ValueRef<'_>, id: &Id) -> Result<Body> {
    let what = || format!("the body of record '{id}'");
    match stored {
        ValueRef::Blob(blob) => jsonb::decode_object(blob).map_err(|e| Error::corrupt(what(), e)),
        ValueRef::Text(text) => serde_json::from_slice(text).map_err(|e| Error::corrupt(what(), e)),
        other => Err(Error::corrupt(
            what(),
            format!("it is {}, not JSON", other.data_type().to_string().to_lowercase()),
        )),
    }
}

/// A job row: its document as JSON text.
#[derive(Debug)]
pub(crate) struct JobRow(pub(crate) Job);

impl JobRow {
    /// Reads the job JSON in column `i`.
    pub(crate) fn read(row: &Row<'_>, i: usize) -> Result<JobRow> {
        let json: String = row.get(i)?;
        let job = serde_json::from_str(&json).map_err(|e| Error::corrupt("a job", e))?;
        Ok(JobRow(job))
    }
}

/// `value` as the JSON text to store; `what` names it in the error.
pub(crate) fn to_json<T: serde::Serialize + ?Sized>(what: &'static str, value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|source| Error::Encode { what, source })
}

/// A stored id.
pub(crate) fn parse_id(s: &str) -> Result<Id> {
    Id::parse(s).map_err(|e| Error::corrupt("a record id", e))
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
        let e = parse_id("nope").unwrap_err();
        assert!(
            matches!(&e, Error::Corrupt { what, .. } if what == "a record id"),
            "{e:?}"
        );
        assert!(e.to_string().contains("'nope' is not an id"), "{e}");
    }

    #[test]
    fn a_negative_version_or_a_body_that_is_not_json_is_a_corrupt_row_naming_the_record() {
        let c = Connection::open_in_memory().unwrap();
        let read = |version: i64, body: &str| {
            c.query_row(
                "SELECT '6b063bb73e47cec0540baa24', 'ab', 5, 6, ?1, 0, ?2",
                rusqlite::params![version, body],
                |r| Ok(DocRow::read(r)),
            )
            .unwrap()
            .unwrap_err()
        };
        let e = read(-1, "{}");
        assert!(matches!(&e, Error::Corrupt { .. }), "{e:?}");
        let msg = e.to_string();
        assert!(
            msg.contains("version of record '6b063bb73e47cec0540baa24'") && msg.contains("-1"),
            "{msg}"
        );
        let read_any = |body: rusqlite::types::Value| {
            c.query_row(
                "SELECT '6b063bb73e47cec0540baa24', 'ab', 5, 6, 1, 0, ?1",
                [body],
                |r| Ok(DocRow::read(r)),
            )
            .unwrap()
            .unwrap_err()
            .to_string()
        };
        let msg = read_any(5.into());
        assert!(
            msg.contains("body of record") && msg.contains("it is integer, not JSON"),
            "{msg}"
        );
        let msg = read_any(vec![0x0d_u8].into());
        assert!(
            msg.contains("body of record") && msg.contains("element type 13 is reserved"),
            "{msg}"
        );
        let e = read(1, "{nope");
        assert!(matches!(&e, Error::Corrupt { .. }), "{e:?}");
        assert!(
            e.to_string()
                .contains("body of record '6b063bb73e47cec0540baa24'"),
            "{e}"
        );
    }
}
