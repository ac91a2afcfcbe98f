//! Backups in a fleet: taken on the first `db_client` host through its
//! agent over SSH (real MariaDB, real `mysqldump`), restored and removed
//! there; refused, before any host is contacted, when the files would not
//! reach every web host or no host may use the database admin account.

use atlas_core::model::Sid;
use atlas_core::testing::service;
use atlas_core::{BackupArtifact, ExecError, Executor};
use atlas_shell::{ConfigSecret, Role};

use crate::harness::Fleet;
use crate::helpers::{id, root_sql};

#[tokio::test]
async fn a_backup_is_taken_restored_and_removed_on_the_db_client_web_host_through_its_agent() {
    let Some(addr) = service::service_addr("mariadb", "ATLAS_TEST_MARIADB", "127.0.0.1:3306") else {
        return;
    };
    let (host, port) = addr.rsplit_once(':').unwrap();
    let (host, port) = (host.to_owned(), port.to_owned());
    let Some(f) = Fleet::start(|c, _| {
        c.shared_files = true;
        c.hosts[0].roles = vec![Role::Web, Role::DbClient];
        c.programs.mysql = "mysql".into();
        c.database.host = host.clone();
        c.database.port = port.parse().unwrap();
        c.database.replicas.clear();
        c.database.admin_user = "root".into();
        c.database.admin_password =
            ConfigSecret::new(std::env::var("ATLAS_TEST_MARIADB_ROOT_PASSWORD").unwrap_or_default());
    }) else {
        return;
    };
    f.deploy_all().await;
    let sid = Sid::generate().to_string();
    let spec = f.env.instance(&sid);
    f.exec.provision(&spec).await.unwrap();
    root_sql(
        &host,
        &port,
        &format!("CREATE TABLE `{sid}`.node (nid INT PRIMARY KEY, title VARCHAR(20)); INSERT INTO `{sid}`.node VALUES (1, 'one'), (2, 'two');"),
    );
    let files = f.p("web1", &format!("files/sitefiles/{sid}/files"));
    std::fs::write(files.join("a.txt"), "original").unwrap();

    let artifact = f.exec.backup_instance(&spec, &id(1)).await.unwrap();
    assert_eq!(artifact.host, "web1", "the first db_client host holds it");
    let dir = f.p("web1", &format!("backups/{}", artifact.dir));
    assert!(dir.join("database.sql.gz").is_file() && dir.join("files.tar.gz").is_file());
    assert!(!f.p("web2", "backups").exists());

    root_sql(
        &host,
        &port,
        &format!("DELETE FROM `{sid}`.node WHERE nid = 2; CREATE TABLE `{sid}`.later (x INT);"),
    );
    std::fs::write(files.join("a.txt"), "changed").unwrap();
    f.exec.restore_instance(&spec, &artifact).await.unwrap();
    let rows = root_sql(
        &host,
        &port,
        &format!("SELECT nid, title FROM `{sid}`.node ORDER BY nid;"),
    );
    assert_eq!(rows, "1\tone\n2\ttwo\n");
    let tables = root_sql(
        &host,
        &port,
        &format!("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{sid}';"),
    );
    assert_eq!(tables, "node\n");
    assert_eq!(std::fs::read_to_string(files.join("a.txt")).unwrap(), "original");

    f.exec.remove_backup(&artifact).await.unwrap();
    f.exec.remove_backup(&artifact).await.unwrap();
    assert!(!dir.exists());
    f.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn fleet_backups_are_refused_when_files_would_not_reach_every_web_host() {
    let Some(f) = Fleet::start(|c, _| {
        c.hosts[0].roles = vec![Role::Web, Role::DbClient];
    }) else {
        return;
    };
    let spec = f.env.instance("p1fleetbk01");
    let err = f.exec.backup_instance(&spec, &id(1)).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Refused { reason, .. } if reason.contains("shared_files")),
        "{err:?}"
    );
    let artifact = BackupArtifact {
        host: "web1".into(),
        dir: format!("p1fleetbk01/{}", id(1)),
        parts: Vec::new(),
    };
    let err = f.exec.restore_instance(&spec, &artifact).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Refused { reason, .. } if reason.contains("shared_files")),
        "{err:?}"
    );
    let gone = BackupArtifact {
        host: "web9".into(),
        ..artifact
    };
    let err = f.exec.remove_backup(&gone).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Refused { reason, .. } if reason.contains("web9")),
        "{err:?}"
    );
}

#[tokio::test]
async fn fleet_backups_need_a_db_client_host_that_is_a_web_host() {
    let Some(f) = Fleet::start(|c, _| c.shared_files = true) else {
        return;
    };
    let spec = f.env.instance("p1fleetbk02");
    let err = f.exec.backup_instance(&spec, &id(1)).await.unwrap_err();
    assert!(
        matches!(&err, ExecError::Refused { reason, .. } if reason.contains("db_client")),
        "{err:?}"
    );
}
