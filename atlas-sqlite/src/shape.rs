//! The shape catalog: for every table and dotted path, how many stored
//! documents hold an array or an object there. The query translator reads it
//! (in the same read transaction as the query) to know when the simple SQL
//! for a path is exact: a path that never crosses an array resolves to one
//! value per document, so `json_extract` says everything, indexes apply, and
//! sorting needs no min/max over elements. Paths reached through arrays of
//! objects are recorded the way the query language walks them
//! (`a: [{b: [..]}]` records an array at `a` and at `a.b`).
//!
//! The writer keeps the counts exact: every write adds the new document's
//! shape and removes the old one's, batch by batch, and the group's net
//! change is stored in the group's transaction.

use std::collections::{BTreeSet, HashMap, HashSet};

use rusqlite::{params, Connection};
use serde_json::{Map, Value};

use crate::error::Result;

/// What a path holds in some document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    /// An array.
    Array,
    /// An object.
    Object,
}

/// The (path, kind) pairs of one document, each once.
pub(crate) fn shape_of(doc: &Map<String, Value>) -> BTreeSet<(String, Kind)> {
    let mut out = BTreeSet::new();
    for (k, v) in doc {
        walk(k, v, &mut out);
    }
    out
}

fn walk(path: &str, v: &Value, out: &mut BTreeSet<(String, Kind)>) {
    match v {
        Value::Object(map) => {
            out.insert((path.to_owned(), Kind::Object));
            for (k, child) in map {
                walk(&format!("{path}.{k}"), child, out);
            }
        }
        Value::Array(items) => {
            out.insert((path.to_owned(), Kind::Array));
            for item in items {
                if let Value::Object(map) = item {
                    for (k, child) in map {
                        walk(&format!("{path}.{k}"), child, out);
                    }
                }
            }
        }
        _ => {}
    }
}

/// Net count changes, per (table, path, kind).
#[derive(Debug, Default)]
pub(crate) struct ShapeDelta {
    counts: HashMap<(&'static str, String, Kind), i64>,
}

impl ShapeDelta {
    /// Records that `table` stops holding `old` and holds `new` instead
    /// (`None` = no document).
    pub(crate) fn replace(
        &mut self,
        table: &'static str,
        old: Option<&Map<String, Value>>,
        new: Option<&Map<String, Value>>,
    ) {
        let old = old.map(shape_of).unwrap_or_default();
        let new = new.map(shape_of).unwrap_or_default();
        for (path, kind) in old.difference(&new) {
            *self.counts.entry((table, path.clone(), *kind)).or_default() -= 1;
        }
        for (path, kind) in new.difference(&old) {
            *self.counts.entry((table, path.clone(), *kind)).or_default() += 1;
        }
    }

    /// Adds `other`'s changes to these.
    pub(crate) fn merge(&mut self, other: ShapeDelta) {
        for (k, n) in other.counts {
            *self.counts.entry(k).or_default() += n;
        }
    }

    /// Whether nothing changes.
    pub(crate) fn is_empty(&self) -> bool {
        self.counts.values().all(|n| *n == 0)
    }

    /// Stores the changes (inside the caller's transaction).
    pub(crate) fn flush(self, conn: &Connection) -> Result<()> {
        if self.is_empty() {
            return Ok(());
        }
        let mut stmt = conn.prepare_cached(
            "INSERT INTO shape(tbl, path, arrays, objects) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(tbl, path) DO UPDATE
             SET arrays = arrays + excluded.arrays, objects = objects + excluded.objects",
        )?;
        for ((table, path, kind), n) in self.counts {
            if n == 0 {
                continue;
            }
            let (arrays, objects) = match kind {
                Kind::Array => (n, 0),
                Kind::Object => (0, n),
            };
            stmt.execute(params![table, path, arrays, objects])?;
        }
        Ok(())
    }
}

/// The catalog of one table as a reader sees it.
#[derive(Debug, Default, Clone)]
pub(crate) struct Shape {
    arrays: HashSet<String>,
    objects: HashSet<String>,
}

impl Shape {
    /// Reads the catalog of `table`.
    pub(crate) fn load(conn: &Connection, table: &str) -> Result<Shape> {
        let mut stmt = conn.prepare_cached(
            "SELECT path, arrays > 0, objects > 0 FROM shape
             WHERE tbl = ?1 AND (arrays > 0 OR objects > 0)",
        )?;
        let mut shape = Shape::default();
        let mut rows = stmt.query([table])?;
        while let Some(row) = rows.next()? {
            let path: String = row.get(0)?;
            if row.get::<_, bool>(1)? {
                shape.arrays.insert(path.clone());
            }
            if row.get::<_, bool>(2)? {
                shape.objects.insert(path);
            }
        }
        Ok(shape)
    }

    /// Whether some document holds an array at `path`.
    pub(crate) fn array_at(&self, path: &str) -> bool {
        self.arrays.contains(path)
    }

    /// Whether some document holds an object at `path`.
    pub(crate) fn object_at(&self, path: &str) -> bool {
        self.objects.contains(path)
    }

    /// Whether some document holds an array at a proper prefix of `path`
    /// (so the path may reach several values).
    pub(crate) fn crosses_array(&self, path: &str) -> bool {
        path.match_indices('.')
            .any(|(i, _)| self.arrays.contains(&path[..i]))
    }

    /// A shape with the given array and object paths (tests).
    #[cfg(test)]
    pub(crate) fn with(arrays: &[&str], objects: &[&str]) -> Shape {
        Shape {
            arrays: arrays.iter().map(|s| (*s).to_owned()).collect(),
            objects: objects.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

/// Rebuilds the catalog of `table` from its documents (migrations). `docs`
/// yields each document's JSON.
pub(crate) fn rebuild(
    conn: &Connection,
    table: &'static str,
    docs: impl Iterator<Item = Value>,
) -> Result<()> {
    conn.execute("DELETE FROM shape WHERE tbl = ?1", [table])?;
    let mut delta = ShapeDelta::default();
    for d in docs {
        delta.replace(table, None, d.as_object());
    }
    delta.flush(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
    }

    #[test]
    fn shape_records_arrays_and_objects_along_query_paths() {
        let s = shape_of(&obj(json!({"a": [{"b": [1]}, 3], "c": {"d": {"e": 1}}, "f": 1})));
        let got: Vec<(String, Kind)> = s.into_iter().collect();
        assert_eq!(
            got,
            vec![
                ("a".into(), Kind::Array),
                ("a.b".into(), Kind::Array),
                ("c".into(), Kind::Object),
                ("c.d".into(), Kind::Object),
            ]
        );
    }

    #[test]
    fn replacing_a_document_with_the_same_shape_changes_nothing() {
        let mut d = ShapeDelta::default();
        d.replace(
            "t",
            Some(&obj(json!({"tag": ["a"]}))),
            Some(&obj(json!({"tag": ["b", "c"]}))),
        );
        assert!(d.is_empty());
        d.replace(
            "t",
            Some(&obj(json!({"tag": ["a"]}))),
            Some(&obj(json!({"tag": "a"}))),
        );
        assert!(!d.is_empty());
    }

    #[test]
    fn crosses_array_looks_at_proper_prefixes_only() {
        let s = Shape::with(&["code.package", "a"], &[]);
        assert!(!s.crosses_array("code.package"));
        assert!(s.array_at("code.package"));
        assert!(s.crosses_array("a.b"));
        assert!(!s.crosses_array("ab.c"));
    }

    #[test]
    fn flushed_counts_add_up_and_load_back() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE shape(tbl TEXT, path TEXT, arrays INTEGER NOT NULL DEFAULT 0,
             objects INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(tbl, path)) WITHOUT ROWID;",
        )
        .unwrap();
        let mut d = ShapeDelta::default();
        d.replace("t", None, Some(&obj(json!({"tag": ["a"], "m": {}}))));
        d.replace("t", None, Some(&obj(json!({"tag": []}))));
        d.flush(&conn).unwrap();
        let mut d = ShapeDelta::default();
        d.replace("t", Some(&obj(json!({"tag": ["a"], "m": {}}))), None);
        d.flush(&conn).unwrap();
        let s = Shape::load(&conn, "t").unwrap();
        assert!(s.array_at("tag"));
        assert!(!s.object_at("m"));
    }
}
