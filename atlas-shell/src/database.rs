//! Instance databases through the `mysql` client: `CREATE … IF NOT EXISTS`
//! and `GRANT` on provision, `DROP … IF EXISTS` on removal, and the helpers
//! backups use (option file, queries, identifier quoting). The SQL goes on
//! stdin; the admin credentials go in a temporary option file (mode 0600,
//! `--defaults-extra-file`), so no password ever appears in an argument.

use std::io::Write;
use std::time::Duration;

use atlas_core::{DatabaseSpec, ExecError};

use crate::config::ShellConfig;
use crate::paths::check_db_identifier;
use crate::process::{run, run_checked, run_streamed, Invocation};

/// A string inside a MySQL option file value (double-quoted).
fn option_value(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// A single-quoted SQL string literal.
pub(crate) fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// The option file: client section with host, port and the admin account.
fn option_file(cfg: &ShellConfig) -> String {
    let db = &cfg.database;
    let mut s = String::from("[client]\n");
    s.push_str(&format!("host={}\nport={}\n", option_value(&db.host), db.port));
    if !db.admin_user.is_empty() {
        s.push_str(&format!("user={}\n", option_value(&db.admin_user)));
    }
    if db.admin_password.is_set() {
        s.push_str(&format!(
            "password={}\n",
            option_value(db.admin_password.expose())
        ));
    }
    s
}

/// SQL that creates the database and its user (or brings an existing user's
/// password and grants up to date).
pub(crate) fn create_sql(cfg: &ShellConfig, db: &DatabaseSpec) -> Result<String, ExecError> {
    check_db_identifier("database name", &db.name, 64)?;
    check_db_identifier("database user", &db.user, 32)?;
    let user = format!("{}@{}", sql_string(&db.user), sql_string(&cfg.database.user_host));
    let pw = sql_string(db.password.expose());
    Ok(format!(
        "CREATE DATABASE IF NOT EXISTS `{name}`;\n\
         CREATE USER IF NOT EXISTS {user} IDENTIFIED BY {pw};\n\
         ALTER USER {user} IDENTIFIED BY {pw};\n\
         GRANT ALL PRIVILEGES ON `{name}`.* TO {user};\n",
        name = db.name
    ))
}

/// SQL that drops the database and its user.
pub(crate) fn drop_sql(cfg: &ShellConfig, db: &DatabaseSpec) -> Result<String, ExecError> {
    check_db_identifier("database name", &db.name, 64)?;
    check_db_identifier("database user", &db.user, 32)?;
    let user = format!("{}@{}", sql_string(&db.user), sql_string(&cfg.database.user_host));
    Ok(format!(
        "DROP DATABASE IF EXISTS `{}`;\nDROP USER IF EXISTS {user};\n",
        db.name
    ))
}

/// A backquoted SQL identifier (backquotes doubled).
pub(crate) fn ident(s: &str) -> String {
    format!("`{}`", s.replace('`', "``"))
}

/// The admin option file in a temporary file (mode 0600, removed when
/// dropped); hand it as `--defaults-extra-file` (see [`defaults_arg`]).
pub(crate) fn option_file_temp(cfg: &ShellConfig) -> Result<tempfile::NamedTempFile, ExecError> {
    let mut file = tempfile::Builder::new()
        .prefix("atlas-mysql-")
        .suffix(".cnf")
        .tempfile()?;
    file.write_all(option_file(cfg).as_bytes())?;
    file.flush()?;
    Ok(file)
}

/// The `--defaults-extra-file=` argument for an option file (it must be
/// the first argument of `mysql` and `mysqldump`).
pub(crate) fn defaults_arg(file: &tempfile::NamedTempFile) -> String {
    format!("--defaults-extra-file={}", file.path().display())
}

/// A `mysql` run with the admin option file, in batch mode.
pub(crate) fn mysql(cfg: &ShellConfig, file: &tempfile::NamedTempFile) -> Invocation {
    Invocation::new(
        &cfg.programs,
        &cfg.programs.mysql,
        Duration::from_secs(cfg.timeouts.program_secs),
    )
    .arg(defaults_arg(file))
    .arg("--batch")
}

/// Runs `sql` with the configured `mysql` client.
pub(crate) async fn run_sql(cfg: &ShellConfig, sql: String) -> Result<(), ExecError> {
    let file = option_file_temp(cfg)?;
    let inv = mysql(cfg, &file).stdin(sql.into_bytes());
    run_checked(&inv).await?;
    drop(file);
    Ok(())
}

/// Runs the query `sql` and answers its whole standard output (tab
/// separated, no column names).
pub(crate) async fn query(cfg: &ShellConfig, sql: String) -> Result<String, ExecError> {
    let file = option_file_temp(cfg)?;
    let inv = mysql(cfg, &file).arg("--skip-column-names");
    let input: Box<dyn std::io::Read + Send> = Box::new(std::io::Cursor::new(sql.into_bytes()));
    let (_, out) = run_streamed(&inv, Some(input), Vec::new()).await?;
    drop(file);
    String::from_utf8(out).map_err(|_| {
        ExecError::Io(std::io::Error::other(
            "the mysql client answered bytes that are not UTF-8",
        ))
    })
}

/// Whether the database of `db` exists (asked with the admin account).
pub(crate) async fn exists(cfg: &ShellConfig, db: &DatabaseSpec) -> Result<bool, ExecError> {
    check_db_identifier("database name", &db.name, 64)?;
    let out = query(
        cfg,
        format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = {};\n",
            sql_string(&db.name)
        ),
    )
    .await?;
    Ok(out.trim() != "0")
}

/// The option file of the instance's own account: host, port, its user,
/// password and database.
fn user_option_file(cfg: &ShellConfig, db: &DatabaseSpec) -> String {
    format!(
        "[client]\nhost={}\nport={}\nuser={}\npassword={}\ndatabase={}\n",
        option_value(&cfg.database.host),
        cfg.database.port,
        option_value(&db.user),
        option_value(db.password.expose()),
        option_value(&db.name)
    )
}

/// Logs in as the instance's user to its database and runs `SELECT 1`:
/// `None` when that works, else why not (the client's first error line).
/// The password goes in a mode-0600 option file, never in an argument.
pub(crate) async fn login_refused(cfg: &ShellConfig, db: &DatabaseSpec) -> Result<Option<String>, ExecError> {
    check_db_identifier("database name", &db.name, 64)?;
    check_db_identifier("database user", &db.user, 32)?;
    let mut file = tempfile::Builder::new()
        .prefix("atlas-mysql-")
        .suffix(".cnf")
        .tempfile()?;
    file.write_all(user_option_file(cfg, db).as_bytes())?;
    file.flush()?;
    let inv = Invocation::new(
        &cfg.programs,
        &cfg.programs.mysql,
        Duration::from_secs(cfg.timeouts.program_secs),
    )
    .arg(defaults_arg(&file))
    .arg("--batch")
    .stdin(b"SELECT 1;\n".to_vec());
    let done = run(&inv).await?;
    drop(file);
    if done.success() {
        return Ok(None);
    }
    let why = done
        .stderr
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("the mysql client failed without a message")
        .trim()
        .to_owned();
    Ok(Some(why))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ConfigSecret;
    use atlas_core::model::Secret;

    fn db() -> DatabaseSpec {
        DatabaseSpec {
            name: "p1abcdef01".into(),
            user: "p1abcdef01".into(),
            password: Secret::new("pa'ss\\word"),
        }
    }

    #[test]
    fn create_sql_is_idempotent_and_escapes_the_password() {
        let sql = create_sql(&ShellConfig::default(), &db()).unwrap();
        assert!(sql.contains("CREATE DATABASE IF NOT EXISTS `p1abcdef01`;"));
        assert!(sql.contains("CREATE USER IF NOT EXISTS 'p1abcdef01'@'%' IDENTIFIED BY 'pa\\'ss\\\\word';"));
        assert!(sql.contains("GRANT ALL PRIVILEGES ON `p1abcdef01`.* TO 'p1abcdef01'@'%';"));
    }

    #[test]
    fn drop_sql_uses_if_exists() {
        let sql = drop_sql(&ShellConfig::default(), &db()).unwrap();
        assert_eq!(
            sql,
            "DROP DATABASE IF EXISTS `p1abcdef01`;\nDROP USER IF EXISTS 'p1abcdef01'@'%';\n"
        );
    }

    #[test]
    fn sql_refuses_unsafe_identifiers() {
        let mut bad = db();
        bad.name = "x`; DROP DATABASE mysql; --".into();
        assert!(matches!(
            create_sql(&ShellConfig::default(), &bad),
            Err(ExecError::Refused { .. })
        ));
    }

    #[test]
    fn option_file_holds_the_admin_account() {
        let mut cfg = ShellConfig::default();
        cfg.database.admin_user = "atlas".into();
        cfg.database.admin_password = ConfigSecret::new("se\"cret");
        let text = option_file(&cfg);
        assert_eq!(
            text,
            "[client]\nhost=\"127.0.0.1\"\nport=3306\nuser=\"atlas\"\npassword=\"se\\\"cret\"\n"
        );
    }
}
