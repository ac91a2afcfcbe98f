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
//! change is stored in the group's transaction. When a table's set of
//! array or object paths changes (a count leaves or reaches zero), the
//! writer bumps the table's generation in `shape_gen`; readers keep the
//! loaded catalog in a [`ShapeCache`] and reload it only when the
//! generation their snapshot sees differs from the cached one.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::{params, Connection, OptionalExtension};
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

    /// Records that `table` holds one more document of `shape`.
    pub(crate) fn add(&mut self, table: &'static str, shape: &BTreeSet<(String, Kind)>) {
        for (path, kind) in shape {
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

    /// Stores the changes (inside the caller's transaction), and bumps
    /// the generation of every table whose set of paths changed.
    pub(crate) fn flush(self, conn: &Connection) -> Result<()> {
        let reshaped = self.store_counts(conn)?;
        let mut bump = conn.prepare_cached(
            "INSERT INTO shape_gen(tbl, gen) VALUES (?1, 1)
             ON CONFLICT(tbl) DO UPDATE SET gen = gen + 1",
        )?;
        for table in reshaped {
            bump.execute([table])?;
        }
        Ok(())
    }

    /// Stores the counts; returns the tables whose set of paths changed.
    fn store_counts(self, conn: &Connection) -> Result<BTreeSet<&'static str>> {
        let mut reshaped = BTreeSet::new();
        if self.is_empty() {
            return Ok(reshaped);
        }
        let mut stmt = conn.prepare_cached(
            "INSERT INTO shape(tbl, path, arrays, objects) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(tbl, path) DO UPDATE
             SET arrays = arrays + excluded.arrays, objects = objects + excluded.objects
             RETURNING arrays, objects",
        )?;
        for ((table, path, kind), n) in self.counts {
            if n == 0 {
                continue;
            }
            let (arrays, objects) = match kind {
                Kind::Array => (n, 0),
                Kind::Object => (0, n),
            };
            let (now_arrays, now_objects): (i64, i64) = stmt
                .query_row(params![table, path, arrays, objects], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let now = match kind {
                Kind::Array => now_arrays,
                Kind::Object => now_objects,
            };
            if (now > 0) != (now - n > 0) {
                reshaped.insert(table);
            }
        }
        Ok(reshaped)
    }
}

/// Loaded catalogs, per table, with the generation they were loaded at;
/// shared by the reader connections.
#[derive(Debug, Default)]
pub(crate) struct ShapeCache {
    tables: Mutex<HashMap<String, (i64, Arc<Shape>)>>,
}

impl ShapeCache {
    /// The catalog of `table` as the read transaction open on `conn`
    /// sees it: the cached one when its generation is current, otherwise
    /// loaded (and cached).
    pub(crate) fn get(&self, conn: &Connection, table: &str) -> Result<Arc<Shape>> {
        let gen: i64 = conn
            .prepare_cached("SELECT gen FROM shape_gen WHERE tbl = ?1")?
            .query_row([table], |r| r.get(0))
            .optional()?
            .unwrap_or(0);
        {
            let cached = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((g, shape)) = cached.get(table) {
                if *g == gen {
                    return Ok(Arc::clone(shape));
                }
            }
        }
        let shape = Arc::new(Shape::load(conn, table)?);
        let mut cached = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        // Generations only grow: never replace a newer entry with an older one.
        if cached.get(table).is_none_or(|(g, _)| *g <= gen) {
            cached.insert(table.to_owned(), (gen, Arc::clone(&shape)));
        }
        Ok(shape)
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
    // Runs before `shape_gen` exists (version 2); readers of a freshly
    // opened store have no cached catalog to invalidate.
    delta.store_counts(conn).map(drop)
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
        let conn = catalog_db();
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

    fn catalog_db() -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE shape(tbl TEXT, path TEXT, arrays INTEGER NOT NULL DEFAULT 0,
             objects INTEGER NOT NULL DEFAULT 0, PRIMARY KEY(tbl, path)) WITHOUT ROWID;
             CREATE TABLE shape_gen(tbl TEXT PRIMARY KEY, gen INTEGER NOT NULL) WITHOUT ROWID;",
        )
        .unwrap();
        conn
    }

    fn apply(conn: &Connection, old: Option<Value>, new: Option<Value>) {
        let mut d = ShapeDelta::default();
        d.replace(
            "t",
            old.as_ref().and_then(Value::as_object),
            new.as_ref().and_then(Value::as_object),
        );
        d.flush(conn).unwrap();
    }

    #[test]
    fn cached_catalog_is_reused_until_a_path_appears_or_disappears() {
        let conn = catalog_db();
        let cache = ShapeCache::default();
        let empty = cache.get(&conn, "t").unwrap();
        assert!(!empty.array_at("tag"));

        apply(&conn, None, Some(json!({"tag": ["a"]})));
        let first = cache.get(&conn, "t").unwrap();
        assert!(first.array_at("tag"), "a new array path reloads the catalog");

        // Only counts change: the cached catalog is still exact.
        apply(&conn, None, Some(json!({"tag": ["b"]})));
        apply(&conn, Some(json!({"tag": ["b"]})), None);
        assert!(Arc::ptr_eq(&first, &cache.get(&conn, "t").unwrap()));

        apply(
            &conn,
            Some(json!({"tag": ["a"]})),
            Some(json!({"tag": "a", "m": {}})),
        );
        let last = cache.get(&conn, "t").unwrap();
        assert!(
            !last.array_at("tag"),
            "the last array at a path going away reloads it"
        );
        assert!(last.object_at("m"));
    }

    #[test]
    fn generations_are_per_table() {
        let conn = catalog_db();
        let cache = ShapeCache::default();
        let other = cache.get(&conn, "other").unwrap();
        apply(&conn, None, Some(json!({"tag": ["a"]})));
        assert!(Arc::ptr_eq(&other, &cache.get(&conn, "other").unwrap()));
        assert!(cache.get(&conn, "t").unwrap().array_at("tag"));
    }
}
