//! The database steps against a real MariaDB: `provision` creates the
//! database and its user with the admin account (whose password reaches
//! `mysql` through an option file), the instance user logs in with its own
//! password and sees only its database, a second provision converges (and
//! refreshes a changed password), and `remove_instance` drops both.
//!
//! The server is `ATLAS_TEST_MARIADB` (default `127.0.0.1:3306`), reached
//! as `root` (password `ATLAS_TEST_MARIADB_ROOT_PASSWORD`, default empty)
//! to create a throwaway admin account per test. Skipped with a printed
//! reason when nothing answers, unless `ATLAS_TEST_REQUIRE` names `mariadb`.

use std::io::Write;
use std::process::{Command, Stdio};

use atlas_core::model::{Secret, Sid};
use atlas_core::testing::service;
use atlas_core::{ExecError, Executor};
use atlas_shell::ConfigSecret;

use crate::helpers::{TestEnv, DB_PASSWORD};

/// An admin password with the characters an option file must escape.
pub(crate) const ADMIN_PASSWORD: &str = "adm\"in'p\\w$1";

/// A MariaDB server under test and a throwaway admin account on it,
/// dropped when the test ends.
pub(crate) struct Server {
    host: String,
    port: u16,
    admin: String,
    dir: tempfile::TempDir,
}

fn option_value(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Server {
    /// The server, or `None` (reason printed) when unreachable.
    pub(crate) fn connect() -> Option<Self> {
        let addr = service::service_addr("mariadb", "ATLAS_TEST_MARIADB", "127.0.0.1:3306")?;
        let (host, port) = addr.rsplit_once(':').expect("ATLAS_TEST_MARIADB is host:port");
        let s = Self {
            host: host.to_owned(),
            port: port.parse().expect("a port number"),
            admin: format!("atlas_adm_{}", &Sid::generate().as_str()[2..]),
            dir: tempfile::tempdir().unwrap(),
        };
        let root_pw = std::env::var("ATLAS_TEST_MARIADB_ROOT_PASSWORD").unwrap_or_default();
        s.sql(
            "root",
            &root_pw,
            &format!(
                "CREATE USER '{a}'@'%' IDENTIFIED BY {pw};\n\
                 GRANT ALL PRIVILEGES ON *.* TO '{a}'@'%' WITH GRANT OPTION;\n",
                a = s.admin,
                pw = sql_string(ADMIN_PASSWORD),
            ),
        )
        .expect("root creates the test admin account");
        Some(s)
    }

    /// Runs `sql` as `user` with `password` (through an option file);
    /// standard output, or standard error on failure.
    pub(crate) fn sql(&self, user: &str, password: &str, sql: &str) -> Result<String, String> {
        let opt = self.dir.path().join(format!("{user}.cnf"));
        std::fs::write(
            &opt,
            format!(
                "[client]\nhost={}\nport={}\nuser={}\npassword={}\n",
                option_value(&self.host),
                self.port,
                option_value(user),
                option_value(password)
            ),
        )
        .unwrap();
        let mut child = Command::new("mysql")
            .arg(format!("--defaults-extra-file={}", opt.display()))
            .args(["--batch", "--skip-column-names"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the mysql client runs");
        child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    pub(crate) fn admin_sql(&self, sql: &str) -> String {
        self.sql(&self.admin, ADMIN_PASSWORD, sql)
            .unwrap_or_else(|e| panic!("admin: {sql}: {e}"))
    }

    /// A test environment whose executor uses the real `mysql` client
    /// against this server with the throwaway admin account.
    pub(crate) fn env(&self) -> TestEnv {
        TestEnv::with(|c| {
            c.programs.mysql = "mysql".into();
            c.database.host = self.host.clone();
            c.database.port = self.port;
            c.database.replicas.clear();
            c.database.admin_user = self.admin.clone();
            c.database.admin_password = ConfigSecret::new(ADMIN_PASSWORD);
        })
    }

    pub(crate) fn database_exists(&self, name: &str) -> bool {
        !self
            .admin_sql(&format!("SHOW DATABASES LIKE '{name}';"))
            .trim()
            .is_empty()
    }

    fn user_exists(&self, name: &str) -> bool {
        self.admin_sql(&format!("SELECT COUNT(*) FROM mysql.user WHERE User = '{name}';"))
            .trim()
            != "0"
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let root_pw = std::env::var("ATLAS_TEST_MARIADB_ROOT_PASSWORD").unwrap_or_default();
        let _ = self.sql(
            "root",
            &root_pw,
            &format!("DROP USER IF EXISTS '{}'@'%';", self.admin),
        );
    }
}

fn sql_string(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// A fresh sid, so concurrent runs never share a database.
pub(crate) fn fresh_sid() -> String {
    Sid::generate().to_string()
}

#[tokio::test]
async fn provision_creates_a_database_only_its_user_can_see_and_removal_drops_both() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let spec = env.instance(&sid);

    env.exec.provision(&spec).await.unwrap();
    assert!(db.database_exists(&sid) && db.user_exists(&sid));

    // The instance user logs in with its password (quotes, backslash,
    // dollar) and sees its database and nothing else of the server.
    let seen = db.sql(&sid, DB_PASSWORD, "SHOW DATABASES;").unwrap();
    let mut seen: Vec<&str> = seen.lines().collect();
    seen.sort_unstable();
    assert_eq!(seen, ["information_schema", sid.as_str()]);
    db.sql(
        &sid,
        DB_PASSWORD,
        &format!("CREATE TABLE `{sid}`.t (x INT); INSERT INTO `{sid}`.t VALUES (1); DROP TABLE `{sid}`.t;"),
    )
    .expect("the instance user owns its database");
    let denied = db
        .sql(&sid, DB_PASSWORD, "SELECT COUNT(*) FROM mysql.user;")
        .unwrap_err();
    assert!(denied.contains("denied"), "{denied}");
    assert!(db.sql(&sid, "wrong password", "SELECT 1;").is_err());

    env.exec.remove_instance(&spec).await.unwrap();
    assert!(!db.database_exists(&sid), "database dropped");
    assert!(!db.user_exists(&sid), "user dropped");
    let gone = db.sql(&sid, DB_PASSWORD, "SELECT 1;").unwrap_err();
    assert!(gone.contains("denied"), "{gone}");
}

#[tokio::test]
async fn provision_again_keeps_the_data_and_refreshes_a_changed_password() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let mut spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    db.sql(
        &sid,
        DB_PASSWORD,
        &format!("CREATE TABLE `{sid}`.kept (x INT); INSERT INTO `{sid}`.kept VALUES (42);"),
    )
    .unwrap();

    spec.database.password = Secret::new("n3w'pass\\word");
    env.exec.provision(&spec).await.unwrap();
    let kept = db
        .sql(&sid, "n3w'pass\\word", &format!("SELECT x FROM `{sid}`.kept;"))
        .expect("the new password works");
    assert_eq!(kept.trim(), "42", "a second provision keeps the data");
    assert!(
        db.sql(&sid, DB_PASSWORD, "SELECT 1;").is_err(),
        "the old password no longer works"
    );

    env.exec.remove_instance(&spec).await.unwrap();
    env.exec
        .remove_instance(&spec)
        .await
        .expect("removal is idempotent");
    assert!(!db.database_exists(&sid));
}

#[tokio::test]
async fn a_wrong_admin_password_fails_the_step_without_leaking_it() {
    let Some(db) = Server::connect() else { return };
    let env = TestEnv::with(|c| {
        c.programs.mysql = "mysql".into();
        c.database.host = db.host.clone();
        c.database.port = db.port;
        c.database.admin_user = db.admin.clone();
        c.database.admin_password = ConfigSecret::new("not-the-admin-password");
    });
    env.deploy_all().await;
    let sid = fresh_sid();
    let err = env.exec.provision(&env.instance(&sid)).await.unwrap_err();
    assert!(matches!(err, ExecError::Failed { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.contains("denied"), "{text}");
    assert!(!text.contains("not-the-admin-password"), "{text}");
    assert!(!db.database_exists(&sid));
}
