//! provision, install, switch_code, launch, take_down, restore,
//! remove_instance, correct_file_permissions, drush operations.

use std::os::unix::fs::MetadataExt;

use atlas_core::model::{Pool, RouteStatus, RouteType, Status};
use atlas_core::{ExecError, Executor, InstanceSpec};

use crate::helpers::{is_real_dir, link, mode, route, TestEnv, ADMIN_PASSWORD};

const SID: &str = "p1abcdef0123";

async fn provisioned() -> (TestEnv, InstanceSpec) {
    let env = TestEnv::new();
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    env.clear_calls();
    (env, spec)
}

fn tree(env: &TestEnv) -> std::path::PathBuf {
    env.p(&format!("instances/{SID}/{SID}"))
}

#[tokio::test]
async fn provision_assembles_the_tree_from_links_into_the_checkouts() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();

    let t = tree(&env);
    let core = env.code_dir(&spec.core);
    for entry in [
        "index.php",
        ".htaccess",
        "robots.txt",
        "includes",
        "misc",
        "modules",
    ] {
        assert_eq!(link(&t.join(entry)), core.join(entry), "{entry}");
    }
    assert!(!t.join(".git").exists());
    assert!(is_real_dir(&t.join("profiles")));
    assert_eq!(
        link(&t.join("profiles/express")),
        env.code_dir(&env.profile_spec())
    );
    assert_eq!(link(&t.join("profiles/standard")), core.join("profiles/standard"));
    assert!(is_real_dir(&t.join("sites")));
    assert_eq!(
        link(&t.join("sites/example.sites.php")),
        core.join("sites/example.sites.php")
    );
    assert!(is_real_dir(&t.join("sites/all/modules")));
    assert!(is_real_dir(&t.join("sites/all/themes")));
    assert!(is_real_dir(&t.join("sites/all/libraries")));
    assert_eq!(
        link(&t.join("sites/all/README.txt")),
        core.join("sites/all/README.txt")
    );
    assert_eq!(
        link(&t.join("sites/all/modules/cu_base")),
        env.code_dir(&env.base_spec())
    );
    assert_eq!(
        link(&t.join("sites/all/modules/cu_feature")),
        env.code_dir(&env.feature_spec())
    );
    assert!(is_real_dir(&t.join("sites/default")));
    let dflt = std::fs::symlink_metadata(t.join("sites/default/default.settings.php")).unwrap();
    assert!(dflt.is_file(), "default.settings.php is a copy, not a link");
    assert_eq!(
        link(&t.join("sites/default/files")),
        env.p(&format!("files/sitefiles/{SID}/files"))
    );
    assert!(is_real_dir(&env.p(&format!("files/sitefiles/{SID}/tmp"))));
    assert_eq!(link(&env.p(&format!("instances/{SID}/current"))), t);
    assert_eq!(
        link(&env.p(&format!("web/express/{SID}"))),
        env.p(&format!("instances/{SID}/current"))
    );
    for f in [
        "settings.php",
        "settings.local_pre.php",
        "settings.local_post.php",
    ] {
        assert_eq!(
            mode(&t.join("sites/default").join(f)),
            0o640,
            "{f}: owner and web group only"
        );
    }
    assert_eq!(mode(&env.p(&format!("files/sitefiles/{SID}/files"))), 0o775);
}

#[tokio::test]
async fn provision_creates_database_and_user_through_mysql_stdin() {
    let env = TestEnv::new();
    env.deploy_all().await;
    env.exec.provision(&env.instance(SID)).await.unwrap();

    let calls = env.calls();
    assert_eq!(calls.len(), 1, "one mysql call and no drush: {calls:?}");
    let c = &calls[0];
    assert_eq!(c.program, "mysql");
    assert_eq!(c.args.len(), 2);
    assert!(c.args[0].starts_with("--defaults-extra-file="));
    assert_eq!(c.args[1], "--batch");
    assert_eq!(c.optmode.as_deref(), Some("600"));
    assert_eq!(
        c.opts,
        vec![
            "[client]".to_string(),
            "host=\"db-primary\"".into(),
            "port=3307".into(),
            "user=\"atlas_admin\"".into(),
            format!("password=\"{ADMIN_PASSWORD}\""),
        ]
    );
    let pw = "'pw\\'with\"q\\\\uote$x'";
    assert_eq!(
        c.stdin,
        vec![
            format!("CREATE DATABASE IF NOT EXISTS `{SID}`;"),
            format!("CREATE USER IF NOT EXISTS '{SID}'@'%' IDENTIFIED BY {pw};"),
            format!("ALTER USER '{SID}'@'%' IDENTIFIED BY {pw};"),
            format!("GRANT ALL PRIVILEGES ON `{SID}`.* TO '{SID}'@'%';"),
        ]
    );
    env.assert_no_password_in_argv();
}

#[tokio::test]
async fn provision_twice_gives_the_same_tree() {
    let (env, spec) = provisioned().await;
    let first = env.snapshot();
    env.exec.provision(&spec).await.unwrap();
    assert_eq!(env.snapshot(), first);
    assert_eq!(env.calls_of("mysql").len(), 1);
}

#[tokio::test]
async fn provision_converges_after_a_run_killed_midway() {
    let (env, spec) = provisioned().await;
    let clean = env.snapshot();
    let t = tree(&env);
    // Damage as a killed run would leave it: a temp link, a missing link,
    // a missing package link, a missing settings file, a missing web link.
    std::os::unix::fs::symlink("/nowhere", t.join(".index.php.atlas-tmp")).unwrap();
    std::fs::remove_file(t.join("index.php")).unwrap();
    std::fs::remove_file(t.join("sites/all/modules/cu_base")).unwrap();
    std::fs::remove_file(t.join("sites/default/settings.local_post.php")).unwrap();
    std::fs::remove_file(env.p(&format!("web/express/{SID}"))).unwrap();
    std::fs::remove_file(env.p(&format!("instances/{SID}/current"))).unwrap();
    env.exec.provision(&spec).await.unwrap();
    assert_eq!(env.snapshot(), clean);
}

#[tokio::test]
async fn provision_fails_before_touching_anything_when_code_is_not_deployed() {
    let env = TestEnv::new();
    env.exec.deploy_code(&env.core_v1()).await.unwrap();
    let before = env.snapshot();
    env.clear_calls();
    let err = env.exec.provision(&env.instance(SID)).await.unwrap_err();
    assert!(err.to_string().contains("not deployed"), "{err}");
    assert_eq!(env.snapshot(), before);
    assert!(env.calls().is_empty());
}

#[tokio::test]
async fn install_runs_site_install_then_registry_rebuild_in_the_tree() {
    let (env, spec) = provisioned().await;
    env.exec.install(&spec).await.unwrap();
    let t = tree(&env);
    let canonical = std::fs::canonicalize(&t).unwrap().display().to_string();
    let calls = env.calls_of("drush");
    let args: Vec<Vec<String>> = calls.iter().map(|c| c.args.clone()).collect();
    let r = t.display().to_string();
    assert_eq!(
        args,
        vec![
            vec![
                "-r".to_string(),
                r.clone(),
                "site-install".into(),
                "-y".into(),
                "express".into()
            ],
            vec!["-r".to_string(), r, "rr".into()],
        ]
    );
    assert!(calls.iter().all(|c| c.cwd == canonical));
    env.assert_no_password_in_argv();
}

#[tokio::test]
async fn install_reports_a_failing_drush_with_its_stderr() {
    let (env, spec) = provisioned().await;
    env.fail_drush();
    match env.exec.install(&spec).await {
        Err(ExecError::Failed { status, stderr, .. }) => {
            assert_eq!(status, Some(3));
            assert!(stderr.contains("simulated failure"), "{stderr}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(env.calls_of("drush").len(), 1, "stops at the first failure");
}

#[tokio::test]
async fn install_of_an_unprovisioned_instance_is_an_error_without_calls() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let err = env.exec.install(&env.instance(SID)).await.unwrap_err();
    assert!(err.to_string().contains("not provisioned"), "{err}");
    assert!(env.calls().is_empty());
}

#[tokio::test]
async fn switch_code_relinks_core_and_packages_then_rebuilds_and_updates() {
    let (env, mut spec) = provisioned().await;
    spec.core = env.core_v2();
    spec.packages = vec![env.base_spec()];
    env.exec.switch_code(&spec).await.unwrap();

    let t = tree(&env);
    let core = env.code_dir(&spec.core);
    assert_eq!(link(&t.join("index.php")), core.join("index.php"));
    assert_eq!(link(&t.join("update.php")), core.join("update.php"));
    assert!(
        std::fs::symlink_metadata(t.join("misc")).is_err(),
        "the old core's entry is gone"
    );
    assert_eq!(link(&t.join("profiles/standard")), core.join("profiles/standard"));
    assert_eq!(
        link(&t.join("sites/all/modules/cu_base")),
        env.code_dir(&env.base_spec())
    );
    assert!(std::fs::symlink_metadata(t.join("sites/all/modules/cu_feature")).is_err());
    assert!(std::fs::symlink_metadata(t.join("sites/default/files"))
        .unwrap()
        .file_type()
        .is_symlink());
    let args: Vec<Vec<String>> = env
        .calls_of("drush")
        .iter()
        .map(|c| c.args[2..].to_vec())
        .collect();
    assert_eq!(
        args,
        vec![vec!["rr".to_string()], vec!["updb".to_string(), "-y".to_string()]]
    );

    let once = env.snapshot();
    env.exec.switch_code(&spec).await.unwrap();
    assert_eq!(env.snapshot(), once);
}

#[tokio::test]
async fn switch_code_swaps_the_profile_link() {
    let (env, mut spec) = provisioned().await;
    let mut other = env.profile_spec();
    other.version = "2.1".into();
    env.exec.deploy_code(&other).await.unwrap();
    spec.profile = other.clone();
    env.exec.switch_code(&spec).await.unwrap();
    assert_eq!(link(&tree(&env).join("profiles/express")), env.code_dir(&other));
}

#[tokio::test]
async fn launch_links_primary_and_active_routes_with_nested_parents() {
    let (env, mut spec) = provisioned().await;
    spec.status = Status::Launching;
    spec.primary_route = Some("lab/atlas".into());
    spec.routes = vec![
        route(
            "lab/atlas",
            RouteType::PoolbExpress,
            RouteStatus::Active,
            Some(SID),
        ),
        route(
            "atlas-alias",
            RouteType::PoolbExpress,
            RouteStatus::Active,
            Some(SID),
        ),
        route(
            "not-yet",
            RouteType::PoolbExpress,
            RouteStatus::Inactive,
            Some(SID),
        ),
        route("old-name", RouteType::Redirect, RouteStatus::Active, Some(SID)),
    ];
    env.exec.launch(&spec).await.unwrap();
    let current = env.p(&format!("instances/{SID}/current"));
    assert!(is_real_dir(&env.p("web/express/lab")));
    assert_eq!(link(&env.p("web/express/lab/atlas")), current);
    assert_eq!(link(&env.p("web/express/atlas-alias")), current);
    assert!(!env.p("web/express/not-yet").exists());
    assert!(!env.p("web/express/old-name").exists());
    assert!(env.calls().is_empty());
    let once = env.snapshot();
    env.exec.launch(&spec).await.unwrap();
    assert_eq!(env.snapshot(), once);
}

#[tokio::test]
async fn launch_of_the_homepage_pool_links_the_homepage() {
    let (env, mut spec) = provisioned().await;
    spec.pool = Pool::PoolbHomepage;
    spec.primary_route = Some("domainroot".into());
    env.exec.launch(&spec).await.unwrap();
    assert_eq!(
        link(&env.p("web/homepage")),
        env.p(&format!("instances/{SID}/current"))
    );
    assert!(!env.p("web/express/domainroot").exists());
}

#[tokio::test]
async fn take_down_points_current_at_the_down_page_and_restore_points_back() {
    let (env, spec) = provisioned().await;
    let current = env.p(&format!("instances/{SID}/current"));
    env.exec.take_down(&spec).await.unwrap();
    assert_eq!(link(&current), env.p("down"));
    let down = env.snapshot();
    env.exec.take_down(&spec).await.unwrap();
    assert_eq!(env.snapshot(), down);
    assert!(env.calls().is_empty());

    env.exec.restore(&spec).await.unwrap();
    assert_eq!(link(&current), tree(&env));
    let args: Vec<Vec<String>> = env
        .calls_of("drush")
        .iter()
        .map(|c| c.args[2..].to_vec())
        .collect();
    assert_eq!(args, vec![vec!["updb".to_string(), "-y".to_string()]]);
    let restored = env.snapshot();
    env.exec.restore(&spec).await.unwrap();
    assert_eq!(env.snapshot(), restored);
}

#[tokio::test]
async fn remove_instance_drops_database_and_removes_only_its_own_links_files_and_code() {
    let (env, mut spec) = provisioned().await;
    spec.primary_route = Some("lab/atlas".into());
    env.exec.launch(&spec).await.unwrap();
    // Another site's link in the same directories stays.
    std::os::unix::fs::symlink("/elsewhere", env.p("web/express/other-site")).unwrap();
    std::fs::write(env.p(&format!("files/sitefiles/{SID}/files/upload.png")), b"png").unwrap();
    env.clear_calls();

    env.exec.remove_instance(&spec).await.unwrap();
    assert!(!env.p(&format!("instances/{SID}")).exists());
    assert!(!env.p(&format!("files/sitefiles/{SID}")).exists());
    assert!(std::fs::symlink_metadata(env.p(&format!("web/express/{SID}"))).is_err());
    assert!(
        !env.p("web/express/lab").exists(),
        "emptied parent of a nested source is pruned"
    );
    assert_eq!(
        link(&env.p("web/express/other-site")),
        std::path::PathBuf::from("/elsewhere")
    );
    assert!(
        env.code_dir(&spec.core).join("index.php").exists(),
        "code checkouts are untouched"
    );
    let mysql = env.calls_of("mysql");
    assert_eq!(
        mysql[0].stdin,
        vec![
            format!("DROP DATABASE IF EXISTS `{SID}`;"),
            format!("DROP USER IF EXISTS '{SID}'@'%';")
        ]
    );
    let gone = env.snapshot();
    env.exec.remove_instance(&spec).await.unwrap();
    assert_eq!(env.snapshot(), gone);
    env.assert_no_password_in_argv();
}

#[tokio::test]
async fn remove_instance_never_follows_a_link_out_of_the_files_root() {
    let (env, spec) = provisioned().await;
    let outside = env.t().join("precious");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep.txt"), b"keep").unwrap();
    let files = env.p(&format!("files/sitefiles/{SID}"));
    std::fs::remove_dir_all(&files).unwrap();
    std::os::unix::fs::symlink(&outside, &files).unwrap();
    env.exec.remove_instance(&spec).await.unwrap();
    assert!(outside.join("keep.txt").exists());
    assert!(std::fs::symlink_metadata(&files).is_err());
}

#[tokio::test]
async fn correct_file_permissions_resets_modes_and_group() {
    // The group of files this process creates, by name, from /etc/group.
    let probe = tempfile::tempdir().unwrap();
    let gid = std::fs::metadata(probe.path()).unwrap().gid();
    let groups = std::fs::read_to_string("/etc/group").unwrap();
    let group = groups
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == gid.to_string()).then(|| f[0].to_owned())
        })
        .expect("own group listed in /etc/group");
    let env = TestEnv::with(|c| c.permissions.web_group = Some(group.clone()));
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();

    let dflt = tree(&env).join("sites/default");
    let files = env.p(&format!("files/sitefiles/{SID}/files"));
    std::fs::create_dir_all(files.join("styles")).unwrap();
    std::fs::write(files.join("styles/a.png"), b"x").unwrap();
    use std::os::unix::fs::PermissionsExt;
    let set = |p: &std::path::Path, m: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap()
    };
    set(&dflt.join("settings.php"), 0o600);
    set(&dflt, 0o700);
    set(&files.join("styles"), 0o700);
    set(&files.join("styles/a.png"), 0o600);

    env.exec.correct_file_permissions(&spec).await.unwrap();
    assert_eq!(mode(&dflt), 0o775);
    assert_eq!(
        mode(&dflt.join("settings.php")),
        0o640,
        "settings keep their own mode"
    );
    assert_eq!(mode(&dflt.join("default.settings.php")), 0o664);
    assert_eq!(mode(&files.join("styles")), 0o775);
    assert_eq!(mode(&files.join("styles/a.png")), 0o664);
    assert_eq!(std::fs::metadata(files.join("styles/a.png")).unwrap().gid(), gid);
    assert_eq!(std::fs::metadata(dflt.join("settings.php")).unwrap().gid(), gid);
    let core_file = env.code_dir(&spec.core).join("index.php");
    assert_eq!(
        mode(&core_file) & 0o002,
        0,
        "links into checkouts are not followed"
    );
}

#[tokio::test]
async fn clear_caches_cron_registry_and_updates_run_drush_in_the_tree() {
    let (env, spec) = provisioned().await;
    env.exec.clear_caches(&spec).await.unwrap();
    env.exec.drush_cron(&spec).await.unwrap();
    env.exec.rebuild_registry(&spec).await.unwrap();
    env.exec.update_database(&spec).await.unwrap();
    let args: Vec<Vec<String>> = env
        .calls_of("drush")
        .iter()
        .map(|c| c.args[2..].to_vec())
        .collect();
    let want: Vec<Vec<String>> = [vec!["cc", "all"], vec!["cron"], vec!["rr"], vec!["updb", "-y"]]
        .into_iter()
        .map(|v| v.into_iter().map(String::from).collect())
        .collect();
    assert_eq!(args, want);
}

#[tokio::test]
async fn update_homepage_extra_files_copies_into_the_launched_homepage() {
    let env = TestEnv::with(|_| {});
    let extra = env.t().join("homepage-extra");
    std::fs::create_dir_all(&extra).unwrap();
    std::fs::write(extra.join("robots.txt"), b"User-agent: *\nDisallow: /private\n").unwrap();
    std::fs::write(extra.join(".htaccess"), b"# homepage\n").unwrap();
    let mut cfg = env.cfg.clone();
    cfg.homepage_extra_files = Some(extra);
    let exec = atlas_shell::ShellExecutor::new(cfg).unwrap();
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    spec.pool = Pool::PoolbHomepage;
    exec.provision(&spec).await.unwrap();
    exec.launch(&spec).await.unwrap();
    exec.update_homepage_extra_files().await.unwrap();
    let t = tree(&env);
    let robots = std::fs::symlink_metadata(t.join("robots.txt")).unwrap();
    assert!(robots.is_file());
    assert_eq!(
        std::fs::read_to_string(t.join("robots.txt")).unwrap(),
        "User-agent: *\nDisallow: /private\n"
    );
    assert_eq!(
        std::fs::read_to_string(env.code_dir(&spec.core).join("robots.txt")).unwrap(),
        "User-agent: *\n",
        "the core checkout is untouched"
    );
    // A later switch keeps the homepage's own files.
    exec.switch_code(&spec).await.unwrap();
    assert!(std::fs::symlink_metadata(t.join(".htaccess")).unwrap().is_file());
}
