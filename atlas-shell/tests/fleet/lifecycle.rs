//! An instance's whole life across two SSH hosts: every host gets the
//! code, tree, settings and links; database and drush work happen once;
//! commands run on every host or on one.

use std::time::Duration;

use atlas_core::model::Status;
use atlas_core::Executor;

use crate::harness::Fleet;
use crate::helpers::{command, link, DB_PASSWORD};

const SID: &str = "p1fleet00001";

#[tokio::test]
async fn an_instance_lives_on_both_hosts_from_provision_to_delete() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    f.deploy_all().await;
    for h in ["web1", "web2"] {
        assert!(f.p(h, "code/cores/drupal/drupal-7.2/index.php").is_file(), "{h}");
        assert_eq!(
            link(&f.p(h, "code/cores/drupal/drupal-current")),
            f.p(h, "code/cores/drupal/drupal-7.2")
        );
    }

    let mut spec = f.env.instance(SID);
    f.exec.provision(&spec).await.unwrap();
    for h in ["web1", "web2"] {
        let tree = f.p(h, &format!("instances/{SID}/{SID}"));
        assert!(tree.join("index.php").exists(), "{h}: tree assembled");
        assert_eq!(link(&f.p(h, &format!("instances/{SID}/current"))), tree, "{h}");
        let post = std::fs::read_to_string(tree.join("sites/default/settings.local_post.php")).unwrap();
        assert!(post.contains("'database' => 'p1fleet00001'"), "{h}");
        assert!(f.p(h, &format!("files/sitefiles/{SID}/files")).is_dir(), "{h}");
        assert!(
            link(&f.p(h, &format!("web/express/{SID}"))).ends_with("current"),
            "{h}"
        );
    }
    let mysql = f.env.calls_of("mysql");
    assert_eq!(mysql.len(), 1, "the database is created once");
    assert!(mysql[0]
        .stdin
        .iter()
        .any(|l| l.contains("CREATE DATABASE IF NOT EXISTS `p1fleet00001`")));
    f.env.assert_no_password_in_argv();

    f.env.clear_calls();
    f.exec.install(&spec).await.unwrap();
    let drush = f.drush_calls();
    assert_eq!(drush.len(), 2, "{drush:?}");
    assert_eq!(
        drush[0].0, "web1",
        "site install runs once, on the first web host"
    );
    assert!(drush[0]
        .1
        .ends_with(&["site-install".into(), "-y".into(), "express".into()]));
    assert!(drush[1].1.ends_with(&["rr".into()]));

    spec.status = Status::Launched;
    spec.primary_route = Some("lab/fleet".into());
    f.exec.write_settings(&spec).await.unwrap();
    f.exec.launch(&spec).await.unwrap();
    for h in ["web1", "web2"] {
        assert_eq!(
            link(&f.p(h, "web/express/lab/fleet")),
            f.p(h, &format!("instances/{SID}/current")),
            "{h}"
        );
        let pre = std::fs::read_to_string(f.p(
            h,
            &format!("instances/{SID}/{SID}/sites/default/settings.local_pre.php"),
        ))
        .unwrap();
        assert!(pre.contains("$path = 'lab/fleet';"), "{h}");
    }

    // A command on every host: each runs in its own web directory.
    let mut everywhere = command(
        "pwd; echo \"$ATLAS_SID\"",
        Some(spec.clone()),
        Duration::from_secs(30),
    );
    everywhere.single_server = false;
    let out = f.exec.run_command(&everywhere).await.unwrap();
    assert_eq!(out.exit_status, Some(0));
    assert_eq!(out.servers, ["web1", "web2"]);
    assert_eq!(out.hosts.len(), 2);
    for h in &out.hosts {
        assert_eq!(h.exit_status, Some(0), "{h:?}");
        assert!(
            h.stdout.contains(&format!("{}/web/express/{SID}", h.host)),
            "{h:?}"
        );
        assert!(h.stdout.contains(SID));
    }
    // single_server: one host.
    let out = f
        .exec
        .run_command(&command("exit 4", Some(spec.clone()), Duration::from_secs(30)))
        .await
        .unwrap();
    assert_eq!(
        (out.exit_status, out.servers.clone()),
        (Some(4), vec!["web1".to_owned()])
    );
    assert_eq!(out.hosts.len(), 1);

    f.exec.take_down(&spec).await.unwrap();
    for h in ["web1", "web2"] {
        assert_eq!(
            link(&f.p(h, &format!("instances/{SID}/current"))),
            f.p(h, "down"),
            "{h}"
        );
    }
    f.env.clear_calls();
    f.exec.restore(&spec).await.unwrap();
    for h in ["web1", "web2"] {
        assert_eq!(
            link(&f.p(h, &format!("instances/{SID}/current"))),
            f.p(h, &format!("instances/{SID}/{SID}")),
            "{h}"
        );
    }
    let drush = f.drush_calls();
    assert_eq!(drush.len(), 1, "updb runs once: {drush:?}");
    assert!(drush[0].1.ends_with(&["updb".into(), "-y".into()]));

    f.env.clear_calls();
    f.exec.remove_instance(&spec).await.unwrap();
    assert_eq!(f.env.calls_of("mysql").len(), 1, "the database is dropped once");
    for h in ["web1", "web2"] {
        assert!(!f.p(h, &format!("instances/{SID}")).exists(), "{h}");
        assert!(!f.p(h, &format!("files/sitefiles/{SID}")).exists(), "{h}");
        assert!(
            std::fs::symlink_metadata(f.p(h, "web/express/lab/fleet")).is_err(),
            "{h}"
        );
    }
    // Secrets travel on the agent's stdin, never on a command line.
    assert!(!DB_PASSWORD.is_empty());
    f.env.assert_no_password_in_argv();
}

#[tokio::test]
async fn shared_files_are_created_and_removed_by_the_first_web_host_only() {
    let Some(f) = Fleet::start(|c, _| {
        c.shared_files = true;
        let shared = c.hosts[0].roots.files_root.clone();
        for h in &mut c.hosts {
            h.roots.files_root.clone_from(&shared);
        }
    }) else {
        return;
    };
    f.deploy_all().await;
    let spec = f.env.instance(SID);
    f.exec.provision(&spec).await.unwrap();
    let files = f.p("web1", &format!("files/sitefiles/{SID}/files"));
    assert!(files.is_dir());
    assert!(
        !f.p("web2", "files").exists(),
        "web2 never writes a files root of its own"
    );
    for h in ["web1", "web2"] {
        assert_eq!(
            link(&f.p(h, &format!("instances/{SID}/{SID}/sites/default/files"))),
            files,
            "{h}"
        );
    }
    f.exec.remove_instance(&spec).await.unwrap();
    assert!(!f.p("web1", &format!("files/sitefiles/{SID}")).exists());
}

#[tokio::test]
async fn a_local_host_and_an_ssh_db_client_host_share_the_work() {
    let Some(f) = Fleet::start(|c, _| {
        c.hosts[0].address = "local".into();
        c.hosts[1].roles.push(atlas_shell::Role::DbClient);
    }) else {
        return;
    };
    f.deploy_all().await;
    let spec = f.env.instance(SID);
    f.exec.provision(&spec).await.unwrap();
    for h in ["web1", "web2"] {
        assert!(
            f.p(h, &format!("instances/{SID}/{SID}/index.php")).exists(),
            "{h}"
        );
    }
    // The database is created once, by web2's agent, with the admin
    // password in its option file (never in argv).
    let mysql = f.env.calls_of("mysql");
    assert_eq!(mysql.len(), 1);
    assert!(
        mysql[0]
            .opts
            .iter()
            .any(|o| o.contains(crate::helpers::ADMIN_PASSWORD)),
        "{mysql:?}"
    );
    assert_eq!(mysql[0].optmode.as_deref(), Some("600"));
    f.env.assert_no_password_in_argv();
}
