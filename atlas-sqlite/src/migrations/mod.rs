//! Versioned schema migrations, tracked in `PRAGMA user_version`.
//!
//! - Version 1: one table per resource (id, etag, created, updated, version,
//!   deleted, body as JSONB) with the schema's unique constraints as partial
//!   unique indexes (`deleted = 0`, plus `meta.is_current` for the "one
//!   current item per name and type" key), the history table (every version
//!   a write replaced: with the current rows, every version of every
//!   record), the jobs table and its claim indexes.
//! - Version 2: the read paths: hot-path expression indexes (paths that
//!   are a unique key use the key's index), `updated`
//!   indexes, the shape catalog and the `instance_package` side table, both
//!   back-filled from the stored documents.
//! - Version 3: `shape_gen`, each table's shape-catalog generation (bumped
//!   when its set of array or object paths changes), so readers reuse the
//!   catalog they loaded until it does.
//! - Version 4: the `backup` table, with what versions 1 and 2 give every
//!   resource table (unique, hot-path and `updated` indexes).
//! - Version 5: the `rollout` table, the same way.
//! - Version 6: `value_counts`, the cached counts of live rows (see
//!   `tables.rs`): the table, the triggers on every record table that keep
//!   it exact, and the counts back-filled from the stored rows.
//!
//! Versions 1 and 2 create the tables of [`Resource::FIRST_SCHEMA`] only:
//! a resource added later gets its table in its own step, so databases
//! that already ran version 1 receive it too.
//!
//! Opening an older database runs the missing steps, each in its own
//! transaction; opening one whose version is newer than [`LATEST`] is
//! refused with a message naming both versions.
//!
//! # Count triggers
//! The count triggers are generated from `tables::counted_paths`; a step
//! that changes what is counted (or adds a resource table) calls
//! [`rebuild_counts`]. As a safety net, [`migrate`] also compares the
//! triggers stored in the database with this build's and rebuilds any that
//! differ (with their counts), so the counts `find` reads are never those
//! of another list of paths.

use std::collections::BTreeSet;

use atlas_core::model::Resource;
use atlas_core::schema::unique_keys;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::shape;
use crate::tables::{
    count_expr, counted_paths, hot_index_name, hot_indexed_paths, json_type, json_value, table_name,
    unique_index_name, COUNTS, WHOLE_TABLE,
};

/// The migration steps, in order: step `i` brings version `i` to `i + 1`.
const STEPS: [fn(&Connection) -> Result<()>; 6] = [v1, v2, v3, v4, v5, v6];

/// The schema version this build writes: one per step.
pub(crate) const LATEST: i64 = STEPS.len() as i64;

/// The database's schema version.
pub(crate) fn user_version(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Brings the database to [`LATEST`], with this build's count triggers;
/// returns the version it had.
///
/// # Errors
/// As [`migrate_to`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<i64> {
    let found = migrate_to(conn, LATEST)?;
    if stale_counts(conn)?.is_empty() {
        return Ok(found);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Re-read under the write lock: another process may have rebuilt them.
    for res in stale_counts(&tx)? {
        tracing::warn!(%res, "the count triggers differ from this build's: rebuilding the counts");
        rebuild_counts(&tx, res)?;
    }
    tx.commit()?;
    Ok(found)
}

/// Brings the database to `target` (at most [`LATEST`]); returns the
/// version it had.
///
/// # Errors
/// [`Error::NewerSchema`] when the file is newer than this build,
/// [`Error::UnknownSchema`] when its version is one Atlas never writes.
pub(crate) fn migrate_to(conn: &mut Connection, target: i64) -> Result<i64> {
    let target = target.min(LATEST);
    let found = checked_version(conn)?;
    loop {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Re-read under the write lock: another process may have migrated.
        let v = checked_version(&tx)?;
        if v >= target {
            return Ok(found);
        }
        // 0 <= v < LATEST here, so there is a step.
        let step = usize::try_from(v)
            .ok()
            .and_then(|i| STEPS.get(i))
            .ok_or(Error::UnknownSchema { found: v })?;
        tracing::info!(from = v, to = v + 1, "migrating the sqlite store");
        step(&tx)?;
        tx.pragma_update(None, "user_version", v + 1)?;
        tx.commit()?;
    }
}

/// The database's schema version, refused when this build cannot migrate
/// from it.
fn checked_version(conn: &Connection) -> Result<i64> {
    let found = user_version(conn)?;
    if found > LATEST {
        return Err(Error::NewerSchema {
            found,
            supported: LATEST,
        });
    }
    if found < 0 {
        return Err(Error::UnknownSchema { found });
    }
    Ok(found)
}

/// The table of `res` and its unique indexes (what version 1 gives each
/// resource).
fn resource_table(res: Resource) -> String {
    let mut sql = String::new();
    {
        let t = table_name(res);
        sql.push_str(&format!(
            "CREATE TABLE {t} (
                id TEXT PRIMARY KEY NOT NULL,
                etag TEXT NOT NULL,
                created INTEGER NOT NULL,
                updated INTEGER NOT NULL,
                version INTEGER NOT NULL,
                deleted INTEGER NOT NULL DEFAULT 0,
                body BLOB NOT NULL
            );\n"
        ));
        for key in unique_keys(res) {
            let cols: Vec<String> = key.paths.iter().map(|p| json_value("body", p)).collect();
            let mut cond = "deleted = 0".to_owned();
            if let Some(flag) = key.only_when_true {
                cond.push_str(&format!(" AND {} = 'true'", json_type("body", flag)));
            }
            sql.push_str(&format!(
                "CREATE UNIQUE INDEX {} ON {t}({}) WHERE {cond};\n",
                unique_index_name(t, key),
                cols.join(", ")
            ));
        }
    }
    sql
}

/// The read-path indexes of `res` (what version 2 gives each resource).
fn read_indexes(res: Resource) -> String {
    let t = table_name(res);
    let mut sql = String::new();
    for p in hot_indexed_paths(res) {
        sql.push_str(&format!(
            "CREATE INDEX {} ON {t}({}, deleted, id);\n",
            hot_index_name(t, p),
            json_value("body", p)
        ));
    }
    sql.push_str(&format!("CREATE INDEX ix_{t}_updated ON {t}(updated);\n"));
    sql
}

fn v1(conn: &Connection) -> Result<()> {
    let mut sql = String::new();
    for &res in Resource::FIRST_SCHEMA {
        sql.push_str(&resource_table(res));
    }
    sql.push_str(
        "CREATE TABLE history (
            seq INTEGER PRIMARY KEY,
            res TEXT NOT NULL,
            id TEXT NOT NULL,
            version INTEGER NOT NULL,
            etag TEXT NOT NULL,
            created INTEGER NOT NULL,
            updated INTEGER NOT NULL,
            deleted INTEGER NOT NULL,
            body BLOB NOT NULL
        );
        CREATE INDEX history_by_record ON history(res, id, seq);
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY NOT NULL,
            status TEXT NOT NULL,
            key TEXT,
            run_at INTEGER NOT NULL,
            created INTEGER NOT NULL,
            lease_until INTEGER,
            doc BLOB NOT NULL
        );
        CREATE INDEX jobs_claim ON jobs(status, run_at, created, id);
        CREATE INDEX jobs_key ON jobs(key, status, created, id);\n",
    );
    conn.execute_batch(&sql)?;
    Ok(())
}

fn v2(conn: &Connection) -> Result<()> {
    let mut sql = String::new();
    for &res in Resource::FIRST_SCHEMA {
        sql.push_str(&read_indexes(res));
    }
    sql.push_str(
        "CREATE TABLE shape (
            tbl TEXT NOT NULL,
            path TEXT NOT NULL,
            arrays INTEGER NOT NULL DEFAULT 0,
            objects INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (tbl, path)
        ) WITHOUT ROWID;
        CREATE TABLE instance_package (
            pkg TEXT NOT NULL,
            instance_id TEXT NOT NULL,
            PRIMARY KEY (pkg, instance_id)
        ) WITHOUT ROWID;\n",
    );
    conn.execute_batch(&sql)?;
    for &res in Resource::FIRST_SCHEMA {
        let t = table_name(res);
        let docs = read_json(conn, t, &format!("SELECT id, json(body) FROM {t}"))?;
        if res == Resource::Instance {
            let mut ins =
                conn.prepare("INSERT OR IGNORE INTO instance_package(pkg, instance_id) VALUES (?1, ?2)")?;
            for (id, body) in &docs {
                for pkg in body.as_object().map(packages).unwrap_or_default() {
                    ins.execute([pkg.as_str(), id.as_str()])?;
                }
            }
        }
        shape::rebuild(conn, t, docs.into_iter().map(|(_, v)| v))?;
    }
    let jobs = read_json(conn, "jobs", "SELECT id, json(doc) FROM jobs")?;
    shape::rebuild(conn, "jobs", jobs.into_iter().map(|(_, v)| v))?;
    Ok(())
}

fn v3(conn: &Connection) -> Result<()> {
    conn.execute_batch(
        "CREATE TABLE shape_gen (
            tbl TEXT PRIMARY KEY NOT NULL,
            gen INTEGER NOT NULL
        ) WITHOUT ROWID;",
    )?;
    Ok(())
}

fn v4(conn: &Connection) -> Result<()> {
    added_resource(conn, Resource::Backup)
}

fn v5(conn: &Connection) -> Result<()> {
    added_resource(conn, Resource::Rollout)
}

fn v6(conn: &Connection) -> Result<()> {
    // `value` has no declared type, so no affinity: the text '1' and the
    // number 1 stay different values, as they are to the translator's `=`.
    conn.execute_batch(&format!(
        "CREATE TABLE {COUNTS} (
            tbl TEXT NOT NULL,
            field TEXT NOT NULL,
            value NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (tbl, field, value)
        ) WITHOUT ROWID;"
    ))?;
    // The resource tables there are at version 5 (a resource added later
    // gets its triggers in its own step).
    let mut exists = conn.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?1")?;
    for res in Resource::ALL {
        if exists.exists([table_name(res)])? {
            rebuild_counts(conn, res)?;
        }
    }
    Ok(())
}

/// The fields `res`'s rows are counted under: the whole table, then its
/// counted paths.
fn count_fields(res: Resource) -> impl Iterator<Item = &'static str> {
    std::iter::once(WHOLE_TABLE).chain(counted_paths(res).iter().copied())
}

/// The triggers that keep `res`'s counts in `value_counts` exact, as
/// (name, `CREATE TRIGGER` statement): after an insert, an update of
/// `deleted` or `body`, and a delete. A row counts while it is live
/// (`deleted = 0`), under [`count_expr`] of each field when that is not
/// `NULL`; an update that leaves a field's value and liveness alone leaves
/// its count alone. Decrements find their row: the count of a value a live
/// row holds always has one.
pub(crate) fn count_triggers(res: Resource) -> [(String, String); 3] {
    let t = table_name(res);
    // One more row of `field` with value `v` (where `o` is the old value).
    let up = |field: &str, o: &str, when: &str| {
        format!(
            "INSERT INTO {COUNTS}(tbl, field, value, n) \
             SELECT '{t}', '{field}', v, 1 FROM (SELECT {} AS v, {o} AS o) WHERE v IS NOT NULL AND {when} \
             ON CONFLICT(tbl, field, value) DO UPDATE SET n = n + 1;",
            count_expr("new.body", field),
        )
    };
    // One row fewer of `field` with the old row's value.
    let down = |field: &str, when: &str| {
        format!(
            "UPDATE {COUNTS} SET n = n - 1 \
             WHERE tbl = '{t}' AND field = '{field}' AND value = {} AND {when};",
            count_expr("old.body", field),
        )
    };
    let (mut insert, mut update, mut delete) = (Vec::new(), Vec::new(), Vec::new());
    for f in count_fields(res) {
        let (new, old) = (count_expr("new.body", f), count_expr("old.body", f));
        insert.push(up(f, "NULL", "1"));
        update.push(down(
            f,
            &format!("old.deleted = 0 AND NOT (new.deleted = 0 AND {new} IS {old})"),
        ));
        update.push(up(
            f,
            &old,
            "new.deleted = 0 AND NOT (old.deleted = 0 AND v IS o)",
        ));
        delete.push(down(f, "1"));
    }
    let trigger = |event: &str, when: &str, body: Vec<String>| {
        let name = format!(
            "count_{t}_{}",
            event.split(' ').next().unwrap_or(event).to_lowercase()
        );
        let sql = format!(
            "CREATE TRIGGER {name} AFTER {event} ON {t} WHEN {when} BEGIN {} END",
            body.join(" ")
        );
        (name, sql)
    };
    [
        trigger("INSERT", "new.deleted = 0", insert),
        trigger(
            "UPDATE OF deleted, body",
            "old.deleted = 0 OR new.deleted = 0",
            update,
        ),
        trigger("DELETE", "old.deleted = 0", delete),
    ]
}

/// (Re)creates `res`'s count triggers and recounts its rows: the step to
/// call whenever what is counted changes.
pub(crate) fn rebuild_counts(conn: &Connection, res: Resource) -> Result<()> {
    let t = table_name(res);
    let mut sql = String::new();
    for (name, create) in count_triggers(res) {
        sql.push_str(&format!("DROP TRIGGER IF EXISTS {name};\n{create};\n"));
    }
    sql.push_str(&format!("DELETE FROM {COUNTS} WHERE tbl = '{t}';\n"));
    for f in count_fields(res) {
        sql.push_str(&format!(
            "INSERT INTO {COUNTS}(tbl, field, value, n)
             SELECT '{t}', '{f}', v, count(*) FROM (SELECT {} AS v FROM {t} WHERE deleted = 0)
             WHERE v IS NOT NULL GROUP BY v;\n",
            count_expr("body", f)
        ));
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

/// The resources whose count triggers in the database are not this
/// build's.
fn stale_counts(conn: &Connection) -> Result<Vec<Resource>> {
    let mut stmt =
        conn.prepare_cached("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = ?1")?;
    let mut stale = Vec::new();
    for res in Resource::ALL {
        for (name, create) in count_triggers(res) {
            let stored: Option<String> = stmt.query_row([&name], |r| r.get(0)).optional()?;
            if stored.as_deref() != Some(create.as_str()) {
                stale.push(res);
                break;
            }
        }
    }
    Ok(stale)
}

/// Where `value_counts` disagrees with the rows it counts, one line per
/// value (empty when every count is exact): what `integrity_check` adds to
/// SQLite's own check.
pub(crate) fn count_mismatches(conn: &Connection) -> Result<Vec<String>> {
    let mut out = Vec::new();
    for res in Resource::ALL {
        let t = table_name(res);
        for f in count_fields(res) {
            let sql = format!(
                "WITH e(v, n) AS (
                     SELECT v, count(*) FROM (SELECT {} AS v FROM {t} WHERE deleted = 0)
                     WHERE v IS NOT NULL GROUP BY v),
                 c(v, n) AS (SELECT value, n FROM {COUNTS} WHERE tbl = ?1 AND field = ?2)
                 SELECT quote(coalesce(e.v, c.v)), ifnull(e.n, 0), ifnull(c.n, 0)
                 FROM e FULL JOIN c ON e.v = c.v
                 WHERE ifnull(e.n, 0) != ifnull(c.n, 0)",
                count_expr("body", f)
            );
            let mut stmt = conn.prepare(&sql)?;
            let mut rows = stmt.query([t, f])?;
            while let Some(row) = rows.next()? {
                let (v, rows_n, counted): (String, i64, i64) = (row.get(0)?, row.get(1)?, row.get(2)?);
                let what = if f == WHOLE_TABLE {
                    format!("{COUNTS}: {t} has {rows_n} live rows")
                } else {
                    format!("{COUNTS}: {t} has {rows_n} live rows with {f} = {v}")
                };
                out.push(format!("{what}, counted {counted}"));
            }
        }
    }
    Ok(out)
}

/// The table of a resource added after the first schema, with its indexes
/// (a step adding one after version 6 also calls [`rebuild_counts`] for it).
fn added_resource(conn: &Connection, res: Resource) -> Result<()> {
    conn.execute_batch(&format!("{}{}", resource_table(res), read_indexes(res)))?;
    Ok(())
}

/// The (id, document) rows `sql` selects from `table`.
fn read_json(conn: &Connection, table: &str, sql: &str) -> Result<Vec<(String, Value)>> {
    let mut stmt = conn.prepare(sql)?;
    let mut rows = stmt.query([])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        let id: String = row.get(0)?;
        let json: String = row.get(1)?;
        let doc = serde_json::from_str(&json)
            .map_err(|e| Error::corrupt(format!("the document of row '{id}' in table '{table}'"), e))?;
        out.push((id, doc));
    }
    Ok(out)
}

/// The strings `code.package` reaches in an instance body (a string, or the
/// string elements of an array; through arrays of objects as queries walk
/// them): what the `instance_package` side table lists.
pub(crate) fn packages(body: &Map<String, Value>) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    if let Some(code) = body.get("code") {
        strings_at(code, &["package"], &mut out);
    }
    out
}

fn strings_at(v: &Value, path: &[&str], out: &mut BTreeSet<String>) {
    let Some((seg, rest)) = path.split_first() else {
        match v {
            Value::String(s) => {
                out.insert(s.clone());
            }
            Value::Array(items) => out.extend(items.iter().filter_map(|e| e.as_str().map(str::to_owned))),
            _ => {}
        }
        return;
    };
    match v {
        Value::Object(map) => {
            if let Some(child) = map.get(*seg) {
                strings_at(child, rest, out);
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter(|i| i.is_object()) {
                strings_at(item, path, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fresh() -> Connection {
        Connection::open_in_memory().unwrap()
    }

    #[test]
    fn a_new_database_is_migrated_to_the_latest_version() {
        let mut c = fresh();
        assert_eq!(migrate(&mut c).unwrap(), 0);
        assert_eq!(user_version(&c).unwrap(), LATEST);
        // Running again is a no-op.
        assert_eq!(migrate(&mut c).unwrap(), LATEST);
    }

    #[test]
    fn a_newer_database_is_refused_naming_both_versions() {
        let mut c = fresh();
        c.pragma_update(None, "user_version", LATEST + 5).unwrap();
        let e = migrate(&mut c).unwrap_err();
        let msg = e.to_string();
        assert!(matches!(e, Error::NewerSchema { .. }));
        assert!(
            msg.contains(&(LATEST + 5).to_string()) && msg.contains(&LATEST.to_string()),
            "{msg}"
        );
    }

    #[test]
    fn a_negative_schema_version_is_refused_as_not_written_by_atlas() {
        let mut c = fresh();
        c.pragma_update(None, "user_version", -2).unwrap();
        let e = migrate(&mut c).unwrap_err();
        assert!(matches!(e, Error::UnknownSchema { found: -2 }), "{e:?}");
        assert!(e.to_string().contains("-2"), "{e}");
    }

    #[test]
    fn migrating_to_a_version_past_the_latest_stops_at_the_latest() {
        let mut c = fresh();
        assert_eq!(migrate_to(&mut c, LATEST + 1).unwrap(), 0);
        assert_eq!(user_version(&c).unwrap(), LATEST);
    }

    #[test]
    fn a_version_1_database_is_migrated_with_its_side_table_and_catalog_backfilled() {
        let mut c = fresh();
        migrate_to(&mut c, 1).unwrap();
        c.execute(
            "INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa24', 'e', 0, 0, 1, 0, jsonb(?1))",
            [json!({"sid": "p1", "code": {"package": ["a", "b"]}}).to_string()],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 1);
        let pkgs: i64 = c
            .query_row(
                "SELECT count(*) FROM instance_package WHERE instance_id = '6b063bb73e47cec0540baa24'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(pkgs, 2);
        let s = shape::Shape::load(&c, "instance").unwrap();
        assert!(s.array_at("code.package"));
        assert!(s.object_at("code"));
    }

    #[test]
    fn a_version_3_database_gets_the_backup_table_and_keeps_its_records() {
        let mut c = fresh();
        migrate_to(&mut c, 3).unwrap();
        let has_backup = |c: &Connection| -> i64 {
            c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'backup'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(
            has_backup(&c),
            0,
            "the first steps create the original tables only"
        );
        c.execute(
            "INSERT INTO site(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa24', 'e', 0, 0, 1, 0, jsonb('{}'))",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 3);
        assert_eq!(has_backup(&c), 1);
        let sites: i64 = c
            .query_row("SELECT count(*) FROM site", [], |r| r.get(0))
            .unwrap();
        assert_eq!(sites, 1);
        c.execute(
            "INSERT INTO backup(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa25', 'e', 0, 0, 1, 0, jsonb('{\"state\": \"pending\"}'))",
            [],
        )
        .unwrap();
    }

    #[test]
    fn a_version_4_database_gets_the_rollout_table_and_keeps_its_backups() {
        let mut c = fresh();
        migrate_to(&mut c, 4).unwrap();
        let has_rollout = |c: &Connection| -> i64 {
            c.query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'rollout'",
                [],
                |r| r.get(0),
            )
            .unwrap()
        };
        assert_eq!(has_rollout(&c), 0, "version 4 ends with the backup table");
        c.execute(
            "INSERT INTO backup(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa25', 'e', 0, 0, 1, 0, jsonb('{\"state\": \"pending\"}'))",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 4);
        assert_eq!(has_rollout(&c), 1);
        let backups: i64 = c
            .query_row("SELECT count(*) FROM backup", [], |r| r.get(0))
            .unwrap();
        assert_eq!(backups, 1);
        c.execute(
            "INSERT INTO rollout(id, etag, created, updated, version, deleted, body)
             VALUES ('6b063bb73e47cec0540baa26', 'e', 0, 0, 1, 0, jsonb('{\"state\": \"running\"}'))",
            [],
        )
        .unwrap();
        let indexed: i64 = c
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'rollout'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(indexed >= 2, "the state and updated indexes");
    }

    /// `n` of a counts row (`None`: no row).
    fn counted(c: &Connection, field: &str, value: &dyn rusqlite::ToSql) -> Option<i64> {
        c.query_row(
            "SELECT n FROM value_counts WHERE tbl = 'instance' AND field = ?1 AND value = ?2",
            rusqlite::params![field, value],
            |r| r.get(0),
        )
        .optional()
        .unwrap()
    }

    /// The `SELECT count(*)` the cached count of live instances with
    /// `status` = `value` stands for.
    fn live_status(c: &Connection, value: &str) -> i64 {
        c.query_row(
            "SELECT count(*) FROM instance WHERE deleted = 0 AND json_extract(body,'$.status') = ?1",
            [value],
            |r| r.get(0),
        )
        .unwrap()
    }

    fn assert_exact(c: &Connection, step: &str) {
        assert_eq!(count_mismatches(c).unwrap(), Vec::<String>::new(), "after {step}");
        for v in ["pending", "installed", "1"] {
            assert_eq!(
                counted(c, "status", &v).unwrap_or(0),
                live_status(c, v),
                "status {v} after {step}"
            );
        }
    }

    fn ins(c: &Connection, id: &str, deleted: i64, body: Value) {
        c.execute(
            "INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             VALUES (?1, 'e', 0, 0, 1, ?2, jsonb(?3))",
            rusqlite::params![id, deleted, body.to_string()],
        )
        .unwrap();
    }

    #[test]
    fn triggers_keep_the_counts_exact_through_every_kind_of_write() {
        let mut c = fresh();
        migrate(&mut c).unwrap();
        let run = |c: &Connection, step: &str, sql: &str| {
            c.execute_batch(sql).unwrap();
            assert_exact(c, step);
        };
        ins(&c, "a", 0, json!({"status": "pending", "type": "express"}));
        ins(&c, "b", 0, json!({"status": "pending"}));
        ins(&c, "c", 1, json!({"status": "pending"}));
        ins(&c, "d", 0, json!({"type": "custom"}));
        ins(&c, "e", 0, json!({"status": null}));
        ins(&c, "f", 0, json!({"status": 1}));
        ins(&c, "g", 0, json!({"status": "1"}));
        ins(&c, "h", 0, json!({"status": ["pending"]}));
        ins(&c, "i", 0, json!({"status": {"y": "pending"}}));
        assert_exact(&c, "inserts");
        assert_eq!(counted(&c, "status", &"pending"), Some(2));
        assert_eq!(counted(&c, WHOLE_TABLE, &WHOLE_TABLE), Some(8), "live rows");
        assert_eq!(counted(&c, "type", &"custom"), Some(1));
        assert_eq!(
            counted(&c, "status", &"1"),
            Some(1),
            "the text, apart from the number"
        );
        assert_eq!(counted(&c, "status", &1), Some(1));

        run(&c, "a status change", "UPDATE instance SET body = jsonb('{\"status\":\"installed\",\"type\":\"express\"}') WHERE id = 'a'");
        assert_eq!(counted(&c, "status", &"pending"), Some(1));
        assert_eq!(counted(&c, "status", &"installed"), Some(1));
        assert_eq!(counted(&c, "type", &"express"), Some(1));
        run(
            &c,
            "a meta-only update",
            "UPDATE instance SET etag = 'e2', version = 2, deleted = 0 WHERE id = 'b'",
        );
        run(
            &c,
            "a soft delete",
            "UPDATE instance SET deleted = 1 WHERE id = 'b'",
        );
        assert_eq!(counted(&c, "status", &"pending"), Some(0));
        assert_eq!(counted(&c, WHOLE_TABLE, &WHOLE_TABLE), Some(7));
        run(
            &c,
            "an undelete",
            "UPDATE instance SET deleted = 0 WHERE id = 'c'",
        );
        assert_eq!(counted(&c, "status", &"pending"), Some(1));
        run(
            &c,
            "an update of a deleted row",
            "UPDATE instance SET body = jsonb('{\"status\":\"installed\"}') WHERE id = 'b'",
        );
        run(
            &c,
            "a soft delete with a new body",
            "UPDATE instance SET deleted = 1, body = jsonb('{\"status\":\"pending\"}') WHERE id = 'f'",
        );
        run(
            &c,
            "a value appearing",
            "UPDATE instance SET body = jsonb('{\"status\":\"pending\"}') WHERE id = 'e'",
        );
        run(
            &c,
            "a value disappearing",
            "UPDATE instance SET body = jsonb('{}') WHERE id = 'g'",
        );
        run(
            &c,
            "a hard delete of a live row",
            "DELETE FROM instance WHERE id = 'a'",
        );
        run(
            &c,
            "a hard delete of a deleted row",
            "DELETE FROM instance WHERE id = 'b'",
        );
        assert_eq!(counted(&c, "status", &"installed"), Some(0));
        run(
            &c,
            "a rolled-back savepoint",
            "SAVEPOINT s;
             INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             VALUES ('z', 'e', 0, 0, 1, 0, jsonb('{\"status\":\"pending\"}'));
             UPDATE instance SET deleted = 1 WHERE id = 'c';
             ROLLBACK TO s;
             RELEASE s;",
        );
        assert_eq!(counted(&c, "status", &"pending"), Some(2), "c and e");
        run(
            &c,
            "a rolled-back transaction",
            "BEGIN; DELETE FROM instance; ROLLBACK;",
        );
        run(&c, "deleting everything", "DELETE FROM instance");
        assert_eq!(counted(&c, WHOLE_TABLE, &WHOLE_TABLE), Some(0));
        // Writes to tables without counted paths keep their live count.
        c.execute(
            "INSERT INTO site(id, etag, created, updated, version, deleted, body)
             VALUES ('s', 'e', 0, 0, 1, 0, jsonb('{}'))",
            [],
        )
        .unwrap();
        let sites: i64 = c
            .query_row(
                "SELECT n FROM value_counts WHERE tbl = 'site' AND field = ''",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(sites, 1);
        assert_exact(&c, "a site insert");
    }

    #[test]
    fn a_version_5_database_gets_its_existing_rows_counted() {
        let mut c = fresh();
        migrate_to(&mut c, 5).unwrap();
        ins(&c, "a", 0, json!({"status": "pending", "type": "express"}));
        ins(&c, "b", 0, json!({"status": "pending", "type": "custom"}));
        ins(&c, "c", 1, json!({"status": "pending"}));
        ins(&c, "d", 0, json!({"status": "installed"}));
        ins(&c, "e", 0, json!({"status": 1}));
        ins(&c, "f", 0, json!({}));
        c.execute(
            "INSERT INTO rollout(id, etag, created, updated, version, deleted, body)
             VALUES ('r', 'e', 0, 0, 1, 0, jsonb('{}'))",
            [],
        )
        .unwrap();
        assert_eq!(migrate(&mut c).unwrap(), 5);
        assert_eq!(user_version(&c).unwrap(), LATEST);
        assert_exact(&c, "the migration");
        assert_eq!(counted(&c, "status", &"pending"), Some(2));
        assert_eq!(counted(&c, "status", &1), Some(1));
        assert_eq!(counted(&c, "type", &"custom"), Some(1));
        assert_eq!(counted(&c, WHOLE_TABLE, &WHOLE_TABLE), Some(5));
        // And the triggers count from there.
        c.execute("UPDATE instance SET deleted = 1 WHERE id = 'a'", [])
            .unwrap();
        assert_eq!(counted(&c, "status", &"pending"), Some(1));
        assert_exact(&c, "a soft delete after the migration");
    }

    #[test]
    fn count_triggers_that_differ_from_this_builds_are_rebuilt_on_opening() {
        let mut c = fresh();
        migrate(&mut c).unwrap();
        assert!(
            stale_counts(&c).unwrap().is_empty(),
            "the triggers are stored as generated"
        );
        // As if the database had been counted by another list of paths.
        c.execute_batch(
            "DROP TRIGGER count_instance_insert;
             INSERT INTO instance(id, etag, created, updated, version, deleted, body)
             VALUES ('a', 'e', 0, 0, 1, 0, jsonb('{\"status\":\"pending\"}'));",
        )
        .unwrap();
        assert_eq!(stale_counts(&c).unwrap(), [Resource::Instance]);
        assert_eq!(
            count_mismatches(&c).unwrap().len(),
            2,
            "{:?}",
            count_mismatches(&c)
        );
        assert_eq!(migrate(&mut c).unwrap(), LATEST);
        assert!(stale_counts(&c).unwrap().is_empty());
        assert_exact(&c, "the rebuild");
        assert_eq!(counted(&c, "status", &"pending"), Some(1));
    }

    #[test]
    fn a_count_that_disagrees_with_the_rows_is_reported() {
        let mut c = fresh();
        migrate(&mut c).unwrap();
        ins(&c, "a", 0, json!({"status": "pending"}));
        c.execute(
            "UPDATE value_counts SET n = 5 WHERE tbl = 'instance' AND field = 'status'",
            [],
        )
        .unwrap();
        c.execute("INSERT INTO value_counts VALUES ('code', 'x', 'y', 2)", [])
            .unwrap();
        let problems = count_mismatches(&c).unwrap();
        assert_eq!(
            problems,
            ["value_counts: instance has 1 live rows with status = 'pending', counted 5",],
            "a row of a field that is not counted is not checked"
        );
    }

    #[test]
    fn unique_indexes_ignore_deleted_records_and_missing_parts() {
        let mut c = fresh();
        migrate(&mut c).unwrap();
        let ins = |id: &str, deleted: i64, body: Value| {
            c.execute(
                "INSERT INTO instance(id, etag, created, updated, version, deleted, body)
                 VALUES (?1, 'e', 0, 0, 1, ?2, jsonb(?3))",
                rusqlite::params![id, deleted, body.to_string()],
            )
        };
        ins("a", 1, json!({"sid": "x"})).unwrap();
        ins("b", 0, json!({"sid": "x"})).unwrap();
        assert!(ins("c", 0, json!({"sid": "x"})).is_err());
        ins("d", 0, json!({"path": "p"})).unwrap();
        ins("e", 0, json!({"path": "q", "sid": null})).unwrap();
    }

    #[test]
    fn only_one_current_code_item_per_name_and_type() {
        let mut c = fresh();
        migrate(&mut c).unwrap();
        let ins = |id: &str, v: &str, current: bool| {
            c.execute(
                "INSERT INTO code(id, etag, created, updated, version, deleted, body)
                 VALUES (?1, 'e', 0, 0, 1, 0, jsonb(?2))",
                rusqlite::params![
                    id,
                    json!({"meta": {"name": "drupal", "version": v, "code_type": "core", "is_current": current},
                           "commit_hash": id})
                    .to_string()
                ],
            )
        };
        ins("a", "7.1", true).unwrap();
        ins("b", "7.2", false).unwrap();
        let e = ins("c", "7.3", true).unwrap_err();
        assert!(e.to_string().contains("ux_code_meta_is_current"), "{e}");
    }

    #[test]
    fn packages_lists_strings_of_scalar_or_array_values() {
        let p = |v: Value| packages(v.as_object().unwrap());
        assert_eq!(p(json!({"code": {"package": ["a", 1, "b"]}})).len(), 2);
        assert_eq!(p(json!({"code": {"package": "a"}})).len(), 1);
        assert_eq!(
            p(json!({"code": [{"package": "a"}, {"package": ["b"]}]})).len(),
            2
        );
        assert!(p(json!({"code": {}})).is_empty());
    }
}
