//! The database part of a backup: dumping an instance database with
//! `mysqldump` (one transaction, compressed on the fly), and restoring a
//! dump by loading it into a scratch database `<db>_restore` and swapping
//! its tables in with one `RENAME TABLE` (atomic in MariaDB: the live
//! tables move to `<db>_old`, the restored ones take their place, all or
//! nothing), then dropping the scratch databases.
//!
//! The dump holds the tables of the database only (no `CREATE DATABASE`,
//! no `USE`), so it loads into any database. Views and triggers cannot
//! move between databases: a restore refuses a dump or a live database
//! that has them (and a dump with stored routines, which a table swap
//! would lose) before the live database is touched.

use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_core::{BackupPart, BackupPartKind, ExecError};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{PartFile, DATABASE_FILE};
use crate::config::ShellConfig;
use crate::database::{defaults_arg, ident, mysql, option_file_temp, query, run_sql, sql_string};
use crate::fs::{blocking, io_err};
use crate::paths::{check_db_identifier, refused};
use crate::process::{run_streamed, Invocation};

/// Dumps database `db` into `<dir>/database.sql.gz`.
pub(super) async fn dump(cfg: &ShellConfig, db: &str, dir: &Path) -> Result<BackupPart, ExecError> {
    check_db_identifier("database name", db, 64)?;
    let opt = option_file_temp(cfg)?;
    let inv = Invocation::new(
        &cfg.programs,
        &cfg.programs.mysqldump,
        Duration::from_secs(cfg.timeouts.program_secs),
    )
    .arg(defaults_arg(&opt))
    .args([
        "--single-transaction",
        "--quick",
        "--routines",
        "--triggers",
        "--hex-blob",
        "--default-character-set=utf8mb4",
        db,
    ]);
    let (part, file) = {
        let dir = dir.to_path_buf();
        blocking(move || PartFile::create(&dir, DATABASE_FILE, BackupPartKind::Database)).await?
    };
    let gz = GzEncoder::new(file, Compression::default());
    let gz = match run_streamed(&inv, None, gz).await {
        Ok((_, gz)) => gz,
        Err(e) => {
            part.discard();
            return Err(e);
        }
    };
    drop(opt);
    blocking(move || match gz.finish() {
        Ok(written) => part.commit(written),
        Err(e) => {
            let err = io_err(e, "compressing", &part.dest);
            part.discard();
            Err(err)
        }
    })
    .await
}

/// The scratch databases of a restore of `db`.
struct Scratch {
    live: String,
    restore: String,
    old: String,
}

impl Scratch {
    fn new(db: &str) -> Result<Self, ExecError> {
        let s = Self {
            live: db.to_owned(),
            restore: format!("{db}_restore"),
            old: format!("{db}_old"),
        };
        check_db_identifier("database name", &s.live, 64)?;
        check_db_identifier("scratch database name (database name + _restore)", &s.restore, 64)?;
        check_db_identifier("scratch database name (database name + _old)", &s.old, 64)?;
        Ok(s)
    }

    /// Drops both scratch databases (after a failure: best effort).
    async fn drop_quietly(&self, cfg: &ShellConfig) {
        let sql = format!(
            "DROP DATABASE IF EXISTS {};\nDROP DATABASE IF EXISTS {};\n",
            ident(&self.restore),
            ident(&self.old)
        );
        if let Err(e) = run_sql(cfg, sql).await {
            tracing::warn!(database = %self.live, error = %e, "dropping the scratch databases of a restore");
        }
    }
}

/// A restored database swapped in, its former tables kept aside until
/// [`Swapped::finish`] drops them or [`Swapped::undo`] puts them back.
pub(super) struct Swapped {
    s: Scratch,
    /// The live database's tables before the swap (now in the `_old`
    /// scratch database).
    before: Vec<String>,
    /// The restored tables (now live).
    restored: Vec<String>,
}

/// Loads the dump at `dump` into a scratch database beside `db` and swaps
/// its tables in with one `RENAME TABLE`. On failure nothing of `db`
/// changed and the scratch databases are dropped.
pub(super) async fn restore(cfg: &ShellConfig, db: &str, dump: PathBuf) -> Result<Swapped, ExecError> {
    let s = Scratch::new(db)?;
    run_sql(
        cfg,
        format!(
            "DROP DATABASE IF EXISTS {r};\nDROP DATABASE IF EXISTS {o};\nCREATE DATABASE {r};\n\
             CREATE DATABASE {o};\nCREATE DATABASE IF NOT EXISTS {l};\n",
            r = ident(&s.restore),
            o = ident(&s.old),
            l = ident(&s.live)
        ),
    )
    .await?;
    let staged = async {
        load(cfg, &s.restore, dump).await?;
        swappable(cfg, &s.restore, true).await?;
        swappable(cfg, &s.live, false).await?;
        let before = tables(cfg, &s.live).await?;
        let restored = tables(cfg, &s.restore).await?;
        if let Some(sql) = swap_sql(&s, &before, &restored) {
            run_sql(cfg, sql).await?;
        }
        Ok((before, restored))
    };
    match staged.await {
        Ok((before, restored)) => Ok(Swapped { s, before, restored }),
        Err(e) => {
            s.drop_quietly(cfg).await;
            Err(e)
        }
    }
}

impl Swapped {
    /// Keeps the restore: drops the former tables and the scratch
    /// databases.
    pub(super) async fn finish(self, cfg: &ShellConfig) -> Result<(), ExecError> {
        run_sql(
            cfg,
            format!(
                "DROP DATABASE {};\nDROP DATABASE {};\n",
                ident(&self.s.old),
                ident(&self.s.restore)
            ),
        )
        .await
    }

    /// Takes the restore back (a later step failed): the former tables
    /// return with one `RENAME TABLE`, then the scratch databases go.
    pub(super) async fn undo(self, cfg: &ShellConfig) -> Result<(), ExecError> {
        let s = &self.s;
        let moves = [
            (&s.live, &s.restore, &self.restored[..]),
            (&s.old, &s.live, &self.before[..]),
        ];
        if let Some(sql) = rename_sql(&moves) {
            run_sql(cfg, sql).await?;
        }
        s.drop_quietly(cfg).await;
        Ok(())
    }
}

/// Loads the compressed dump at `dump` into database `db`.
async fn load(cfg: &ShellConfig, db: &str, dump: PathBuf) -> Result<(), ExecError> {
    let opt = option_file_temp(cfg)?;
    let inv = mysql(cfg, &opt)
        .arg("--default-character-set=utf8mb4")
        .arg(format!("--database={db}"));
    let file = std::fs::File::open(&dump).map_err(|e| io_err(e, "opening", &dump))?;
    let input: Box<dyn std::io::Read + Send> = Box::new(GzDecoder::new(BufReader::new(file)));
    run_streamed(&inv, Some(input), std::io::sink()).await?;
    drop(opt);
    Ok(())
}

/// Refuses a database that has views or triggers (and, for the restored
/// one, stored routines), which a table swap cannot carry.
async fn swappable(cfg: &ShellConfig, db: &str, restored: bool) -> Result<(), ExecError> {
    let name = sql_string(db);
    let out = query(
        cfg,
        format!(
            "SELECT (SELECT COUNT(*) FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {name}), \
             (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {name}), \
             (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {name});\n"
        ),
    )
    .await?;
    let counts: Vec<u64> = out
        .split_whitespace()
        .map(|n| n.parse().unwrap_or(u64::MAX))
        .collect();
    let [views, triggers, routines] = counts[..] else {
        return Err(ExecError::Io(std::io::Error::other(format!(
            "unexpected answer of the mysql client about database {db}: '{}'",
            out.trim()
        ))));
    };
    let routines = if restored { routines } else { 0 };
    if views + triggers + routines == 0 {
        return Ok(());
    }
    let whose = if restored {
        "the backup".to_owned()
    } else {
        format!("the live database {db}")
    };
    Err(refused(
        "backup restore",
        format!(
            "{whose} has {views} view(s), {triggers} trigger(s) and {routines} stored routine(s): \
             a restore swaps tables between databases, which cannot carry them; \
             restore this dump by hand with the mysql client (nothing was changed)"
        ),
    ))
}

/// The tables (of any kind) of database `db`.
async fn tables(cfg: &ShellConfig, db: &str) -> Result<Vec<String>, ExecError> {
    let out = query(
        cfg,
        format!(
            "SELECT HEX(TABLE_NAME) FROM information_schema.TABLES WHERE TABLE_SCHEMA = {} ORDER BY TABLE_NAME;\n",
            sql_string(db)
        ),
    )
    .await?;
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            hex::decode(l.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| {
                    ExecError::Io(std::io::Error::other(format!(
                        "unexpected table name from the mysql client in database {db}: '{l}'"
                    )))
                })
        })
        .collect()
}

/// The `RENAME TABLE` statement that moves `live`'s tables to `old` and
/// `restored`'s into `db` (`None`: nothing to move).
fn swap_sql(s: &Scratch, live: &[String], restored: &[String]) -> Option<String> {
    rename_sql(&[(&s.live, &s.old, live), (&s.restore, &s.live, restored)])
}

/// One `RENAME TABLE` statement making every `(from, to, tables)` move, in
/// order (`None`: nothing to move). MariaDB runs it atomically.
fn rename_sql(moves: &[(&String, &String, &[String])]) -> Option<String> {
    let moves: Vec<String> = moves
        .iter()
        .flat_map(|(from, to, tables)| tables.iter().map(move |t| (from, to, t)))
        .map(|(from, to, t)| format!("{}.{t2} TO {}.{t2}", ident(from), ident(to), t2 = ident(t)))
        .collect();
    (!moves.is_empty()).then(|| format!("RENAME TABLE {};\n", moves.join(",\n  ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_swap_is_one_statement_moving_live_tables_out_and_restored_ones_in() {
        let s = Scratch::new("p1abc").unwrap();
        let sql = swap_sql(&s, &["a".into(), "we`ird".into()], &["a".into()]).unwrap();
        assert_eq!(
            sql,
            "RENAME TABLE `p1abc`.`a` TO `p1abc_old`.`a`,\n  `p1abc`.`we``ird` TO `p1abc_old`.`we``ird`,\n  \
             `p1abc_restore`.`a` TO `p1abc`.`a`;\n"
        );
        assert_eq!(swap_sql(&s, &[], &[]), None);
    }

    #[test]
    fn the_undo_moves_the_restored_tables_out_before_the_former_ones_return() {
        let s = Scratch::new("p1abc").unwrap();
        let restored = ["a".to_owned()];
        let before = ["a".to_owned(), "b".to_owned()];
        let sql = rename_sql(&[
            (&s.live, &s.restore, &restored[..]),
            (&s.old, &s.live, &before[..]),
        ])
        .unwrap();
        assert_eq!(
            sql,
            "RENAME TABLE `p1abc`.`a` TO `p1abc_restore`.`a`,\n  `p1abc_old`.`a` TO `p1abc`.`a`,\n  \
             `p1abc_old`.`b` TO `p1abc`.`b`;\n"
        );
    }

    #[test]
    fn scratch_names_must_fit_the_identifier_limit() {
        let long = "a".repeat(60);
        assert!(matches!(Scratch::new(&long), Err(ExecError::Refused { .. })));
        assert!(matches!(Scratch::new("x`y"), Err(ExecError::Refused { .. })));
    }
}
