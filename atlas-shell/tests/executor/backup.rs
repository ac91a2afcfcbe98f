//! Backups against a real MariaDB (see `mariadb.rs` for the server and the
//! skip rule): a backup dumps the instance database and archives its files
//! directory with sizes and SHA-256; a restore brings rows, tables and
//! files back (also into another instance), refuses a damaged part before
//! touching anything, and leaves the live database as it was when the
//! dump does not load; removal is idempotent. Plus the checks that need no
//! server: the admin password reaches `mysqldump` only through the option
//! file, and a local executor refuses another host's backup.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use atlas_core::{BackupArtifact, BackupPartKind, ExecError, Executor};

use crate::helpers::{id, TestEnv, ADMIN_PASSWORD};
use crate::mariadb::{fresh_sid, Server};

fn files_dir(env: &TestEnv, sid: &str) -> PathBuf {
    env.srv.join("files/sitefiles").join(sid).join("files")
}

fn backup_dir(env: &TestEnv, a: &BackupArtifact) -> PathBuf {
    env.srv.join("backups").join(&a.dir)
}

fn sha256(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().expect("sha256sum runs");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// Every row of the test tables, as the mysql client prints them.
fn rows(db: &Server, name: &str) -> String {
    db.admin_sql(&format!(
        "SET NAMES utf8mb4;\nSELECT nid, title, HEX(body) FROM `{name}`.node ORDER BY nid;\n\
         SELECT cid, data FROM `{name}`.cache ORDER BY cid;"
    ))
}

fn tables(db: &Server, name: &str) -> Vec<String> {
    db.admin_sql(&format!(
        "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{name}' ORDER BY 1;"
    ))
    .lines()
    .map(str::to_owned)
    .collect()
}

/// Fills the instance database with two tables (binary data and
/// multi-byte text included) and its files directory with two files.
fn fill(db: &Server, env: &TestEnv, sid: &str) {
    db.admin_sql(&format!(
        "SET NAMES utf8mb4;\nCREATE TABLE `{sid}`.node (nid INT PRIMARY KEY, title VARCHAR(100) CHARACTER SET utf8mb4, body BLOB);\n\
         INSERT INTO `{sid}`.node VALUES (1, 'Première', X'00FF10'), (2, 'Zweite 🙂', NULL), (3, 'it''s', X'');\n\
         CREATE TABLE `{sid}`.cache (cid VARCHAR(20) PRIMARY KEY, data TEXT);\n\
         INSERT INTO `{sid}`.cache VALUES ('a', 'alpha'), ('b', 'line\\nbreak');"
    ));
    let files = files_dir(env, sid);
    std::fs::create_dir_all(files.join("sub")).unwrap();
    std::fs::write(files.join("a.txt"), "original a").unwrap();
    std::fs::write(files.join("sub/b.txt"), "original b").unwrap();
}

fn assert_no_scratch_databases(db: &Server, sid: &str) {
    for scratch in [format!("{sid}_restore"), format!("{sid}_old")] {
        assert!(!db.database_exists(&scratch), "{scratch} was left behind");
    }
}

#[tokio::test]
async fn a_restore_brings_back_rows_tables_and_files_as_they_were_at_the_backup() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    fill(&db, &env, &sid);
    let before = rows(&db, &sid);
    assert!(
        before.contains("Première") && before.contains("00FF10"),
        "{before}"
    );

    let artifact = env.exec.backup_instance(&spec, &id(1)).await.unwrap();
    assert_eq!(artifact.host, "local");
    assert_eq!(artifact.dir, format!("{sid}/{}", id(1)));
    let kinds: Vec<_> = artifact.parts.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [BackupPartKind::Database, BackupPartKind::Files]);
    let dir = backup_dir(&env, &artifact);
    for p in &artifact.parts {
        let f = dir.join(&p.file);
        assert_eq!(std::fs::metadata(&f).unwrap().len(), p.size, "{}", p.file);
        assert_eq!(sha256(&f), p.sha256, "{}", p.file);
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} holds the whole database or files", p.file);
    }
    assert!(!dir.with_file_name(format!("{}.partial", id(1))).exists());

    // Change everything after the backup.
    db.admin_sql(&format!(
        "UPDATE `{sid}`.node SET title = 'changed' WHERE nid = 1;\n\
         DELETE FROM `{sid}`.node WHERE nid = 2;\n\
         DROP TABLE `{sid}`.cache;\n\
         CREATE TABLE `{sid}`.added_later (x INT);"
    ));
    let files = files_dir(&env, &sid);
    std::fs::write(files.join("a.txt"), "changed a").unwrap();
    std::fs::remove_file(files.join("sub/b.txt")).unwrap();
    std::fs::write(files.join("added-later.txt"), "new").unwrap();

    env.exec.restore_instance(&spec, &artifact).await.unwrap();
    assert_eq!(rows(&db, &sid), before);
    assert_eq!(
        tables(&db, &sid),
        ["cache", "node"],
        "the table added later is gone"
    );
    assert_eq!(
        std::fs::read_to_string(files.join("a.txt")).unwrap(),
        "original a"
    );
    assert_eq!(
        std::fs::read_to_string(files.join("sub/b.txt")).unwrap(),
        "original b"
    );
    assert!(!files.join("added-later.txt").exists());
    assert_no_scratch_databases(&db, &sid);
    // The instance user still owns its (restored) database.
    let seen = db
        .sql(
            &sid,
            crate::helpers::DB_PASSWORD,
            &format!("SELECT COUNT(*) FROM `{sid}`.node;"),
        )
        .unwrap();
    assert_eq!(seen.trim(), "3");

    // A restore runs again to the same result.
    env.exec.restore_instance(&spec, &artifact).await.unwrap();
    assert_eq!(rows(&db, &sid), before);

    env.exec.remove_backup(&artifact).await.unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn a_backup_restores_into_another_instance() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let (sid, other) = (fresh_sid(), fresh_sid());
    let spec = env.instance(&sid);
    let mut other_spec = env.instance(&other);
    other_spec.id = id(8);
    env.exec.provision(&spec).await.unwrap();
    env.exec.provision(&other_spec).await.unwrap();
    fill(&db, &env, &sid);
    db.admin_sql(&format!("CREATE TABLE `{other}`.own (x INT);"));

    let artifact = env.exec.backup_instance(&spec, &id(2)).await.unwrap();
    env.exec.restore_instance(&other_spec, &artifact).await.unwrap();
    assert_eq!(rows(&db, &other), rows(&db, &sid));
    assert_eq!(tables(&db, &other), ["cache", "node"]);
    assert_eq!(
        std::fs::read_to_string(files_dir(&env, &other).join("sub/b.txt")).unwrap(),
        "original b"
    );
    assert_no_scratch_databases(&db, &other);

    env.exec.remove_backup(&artifact).await.unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
    env.exec.remove_instance(&other_spec).await.unwrap();
}

#[tokio::test]
async fn a_damaged_part_is_refused_by_its_checksum_and_nothing_is_touched() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    fill(&db, &env, &sid);
    let artifact = env.exec.backup_instance(&spec, &id(3)).await.unwrap();
    db.admin_sql(&format!("UPDATE `{sid}`.node SET title = 'after the backup';"));
    let changed = rows(&db, &sid);
    std::fs::write(files_dir(&env, &sid).join("a.txt"), "after the backup").unwrap();

    for part in &artifact.parts {
        let f = backup_dir(&env, &artifact).join(&part.file);
        let mut bytes = std::fs::read(&f).unwrap();
        let i = bytes.len() / 2;
        bytes[i] ^= 0x01;
        std::fs::write(&f, &bytes).unwrap();
        let err = env.exec.restore_instance(&spec, &artifact).await.unwrap_err();
        match &err {
            ExecError::Refused { what, reason } => {
                assert_eq!(what, &format!("backup part {}", part.file));
                assert!(reason.contains("does not match"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(rows(&db, &sid), changed, "the live database is untouched");
        assert_eq!(
            std::fs::read_to_string(files_dir(&env, &sid).join("a.txt")).unwrap(),
            "after the backup"
        );
        assert!(!db.database_exists(&format!("{sid}_restore")));
        bytes[i] ^= 0x01;
        std::fs::write(&f, &bytes).unwrap();
    }

    env.exec.remove_backup(&artifact).await.unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn a_dump_that_does_not_load_leaves_the_live_database_and_files_as_they_were() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    fill(&db, &env, &sid);
    let mut artifact = env.exec.backup_instance(&spec, &id(4)).await.unwrap();
    db.admin_sql(&format!("UPDATE `{sid}`.node SET title = 'live';"));
    let live = rows(&db, &sid);
    std::fs::write(files_dir(&env, &sid).join("a.txt"), "live a").unwrap();

    // A well-formed gzip of SQL that fails halfway, recorded with its true
    // checksum: the checksum passes, the load fails.
    let dump = backup_dir(&env, &artifact).join("database.sql.gz");
    let mut gz = Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    gz.stdin
        .take()
        .unwrap()
        .write_all(b"CREATE TABLE node (nid INT);\nINSERT INTO node VALUES (1);\nTHIS IS NOT SQL;\n")
        .unwrap();
    let out = gz.wait_with_output().unwrap();
    std::fs::write(&dump, &out.stdout).unwrap();
    let part = artifact
        .parts
        .iter_mut()
        .find(|p| p.kind == BackupPartKind::Database)
        .unwrap();
    part.size = out.stdout.len() as u64;
    part.sha256 = sha256(&dump);

    let err = env.exec.restore_instance(&spec, &artifact).await.unwrap_err();
    assert!(matches!(err, ExecError::Failed { .. }), "{err:?}");
    assert!(err.to_string().contains("syntax"), "{err}");
    assert_eq!(rows(&db, &sid), live, "the live database is untouched");
    assert_eq!(tables(&db, &sid), ["cache", "node"]);
    assert_no_scratch_databases(&db, &sid);
    let files = files_dir(&env, &sid);
    assert_eq!(std::fs::read_to_string(files.join("a.txt")).unwrap(), "live a");
    assert!(
        !files.with_file_name(".files-restore").exists(),
        "the staged files are removed"
    );

    env.exec.remove_backup(&artifact).await.unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn a_files_swap_that_fails_after_the_database_swap_takes_the_database_back() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    fill(&db, &env, &sid);
    let artifact = env.exec.backup_instance(&spec, &id(5)).await.unwrap();
    db.admin_sql(&format!("UPDATE `{sid}`.node SET title = 'live';"));
    db.admin_sql(&format!("CREATE TABLE `{sid}`.added (x INT);"));
    let live = rows(&db, &sid);
    // The files directory replaced by a plain file: the database swap
    // succeeds, then the files swap refuses to replace it.
    let files = files_dir(&env, &sid);
    std::fs::remove_dir_all(&files).unwrap();
    std::fs::write(&files, "not a directory").unwrap();

    let err = env.exec.restore_instance(&spec, &artifact).await.unwrap_err();
    assert!(err.to_string().contains("not a directory"), "{err}");
    assert_eq!(rows(&db, &sid), live, "the database swap was taken back");
    assert_eq!(tables(&db, &sid), ["added", "cache", "node"]);
    assert_no_scratch_databases(&db, &sid);
    assert_eq!(std::fs::read_to_string(&files).unwrap(), "not a directory");
    assert!(
        !files.with_file_name(".files-restore").exists(),
        "the staged files are removed"
    );

    std::fs::remove_file(&files).unwrap();
    env.exec.remove_backup(&artifact).await.unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn removing_a_backup_is_idempotent_and_a_retry_replaces_a_partial_backup() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    fill(&db, &env, &sid);

    // What a killed backup leaves: a partial directory.
    let partial = env
        .srv
        .join("backups")
        .join(&sid)
        .join(format!("{}.partial", id(5)));
    std::fs::create_dir_all(&partial).unwrap();
    std::fs::write(partial.join("database.sql.gz"), "half").unwrap();
    let artifact = env.exec.backup_instance(&spec, &id(5)).await.unwrap();
    assert!(!partial.exists(), "the partial directory was replaced");
    let dir = backup_dir(&env, &artifact);
    assert!(dir.join("database.sql.gz").is_file() && dir.join("files.tar.gz").is_file());
    // Taking the same backup again converges on a complete one.
    let again = env.exec.backup_instance(&spec, &id(5)).await.unwrap();
    assert_eq!(again.dir, artifact.dir);

    env.exec.remove_backup(&again).await.unwrap();
    assert!(!dir.exists());
    assert!(
        !env.srv.join("backups").join(&sid).exists(),
        "the empty sid directory is pruned"
    );
    env.exec
        .remove_backup(&again)
        .await
        .expect("removing a removed backup succeeds");
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn a_wrong_admin_password_fails_the_backup_without_leaking_it_or_leaving_a_backup() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    let wrong = TestEnv::with(|c| {
        c.programs.mysql = "mysql".into();
        c.database.host = env.cfg.database.host.clone();
        c.database.port = env.cfg.database.port;
        c.database.admin_user = env.cfg.database.admin_user.clone();
        c.database.admin_password = atlas_shell::ConfigSecret::new("not-the-admin-password");
        c.files_root = env.cfg.files_root.clone();
        c.backup_root = env.cfg.backup_root.clone();
    });
    let err = wrong.exec.backup_instance(&spec, &id(6)).await.unwrap_err();
    assert!(matches!(err, ExecError::Failed { .. }), "{err:?}");
    assert!(!err.to_string().contains("not-the-admin-password"), "{err}");
    let sid_dir = env.srv.join("backups").join(&sid);
    assert!(!sid_dir.join(id(6).to_string()).exists());
    assert!(
        !sid_dir.join(format!("{}.partial", id(6))).exists(),
        "a failed backup leaves no partial directory"
    );
    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn mysqldump_gets_the_admin_password_only_through_a_private_option_file() {
    let env = TestEnv::new();
    let log = env.t().join("mysqldump.log");
    let stub = env.t().join("bin/mysqldump");
    std::fs::write(
        &stub,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do printf 'arg: %s\\n' \"$a\" >> '{log}'; \
             case \"$a\" in --defaults-extra-file=*) f=\"${{a#--defaults-extra-file=}}\"; \
             printf 'optmode: %s\\n' \"$(stat -c %a \"$f\")\" >> '{log}'; sed 's/^/opt: /' \"$f\" >> '{log}';; esac; done\n\
             echo 'CREATE TABLE t (x INT);'\n",
            log = log.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    let env = TestEnv::with(|c| c.programs.mysqldump = stub.display().to_string());
    env.deploy_all().await;
    let sid = "p1dumpargv";
    let spec = env.instance(sid);
    std::fs::create_dir_all(files_dir(&env, sid)).unwrap();

    let artifact = env.exec.backup_instance(&spec, &id(7)).await.unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    let args: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("arg: ")).collect();
    assert!(args[0].starts_with("--defaults-extra-file="), "{args:?}");
    for flag in ["--single-transaction", "--routines", "--triggers", sid] {
        assert!(args.contains(&flag), "{flag} in {args:?}");
    }
    assert!(!args.contains(&"--databases"), "the dump loads into any database");
    assert!(args.iter().all(|a| !a.contains(ADMIN_PASSWORD)), "{args:?}");
    assert!(text.contains("optmode: 600"), "{text}");
    assert!(
        text.contains(&format!("opt: password=\"{ADMIN_PASSWORD}\"")),
        "{text}"
    );
    let dump = backup_dir(&env, &artifact).join("database.sql.gz");
    let out = Command::new("gzip").args(["-dc"]).arg(&dump).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "CREATE TABLE t (x INT);\n");
}

#[tokio::test]
async fn a_local_executor_refuses_a_backup_held_by_another_host() {
    let env = TestEnv::new();
    let spec = env.instance("p1elsewhere");
    let artifact = BackupArtifact {
        host: "web2".into(),
        dir: format!("p1elsewhere/{}", id(1)),
        parts: Vec::new(),
    };
    for err in [
        env.exec.restore_instance(&spec, &artifact).await.unwrap_err(),
        env.exec.remove_backup(&artifact).await.unwrap_err(),
    ] {
        assert!(
            matches!(&err, ExecError::Refused { reason, .. } if reason.contains("web2")),
            "{err:?}"
        );
    }
    let err = env.exec.backup_instance(&spec, &id(1)).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Refused { reason, .. } if reason.contains("provision")),
        "a missing files directory is named: {err:?}"
    );
}
