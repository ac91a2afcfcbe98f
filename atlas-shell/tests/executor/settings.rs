//! write_settings and the rendered settings files.

use atlas_core::model::{Pool, Status};
use atlas_core::Executor;

use crate::helpers::{mode, TestEnv, SERVICE_PASSWORD};

const SID: &str = "p1settings01";

fn read(env: &TestEnv, file: &str) -> String {
    std::fs::read_to_string(env.p(&format!("instances/{SID}/{SID}/sites/default/{file}"))).unwrap()
}

#[tokio::test]
async fn settings_files_carry_the_instance_facts_with_php_escaping() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();

    let pre = read(&env, "settings.local_pre.php");
    assert!(pre.starts_with("<?php\n// This file is owned by Atlas"), "{pre}");
    for line in [
        "$conf['install_profile'] = 'express';",
        "$conf['cu_sid'] = 'p1settings01';",
        &format!("$conf['atlas_id'] = '{}';", spec.id),
        "$conf['atlas_url'] = 'https://atlas.example.invalid/atlas/';",
        "$conf['atlas_username'] = 'atlas_svc';",
        &format!("$conf['atlas_password'] = '{SERVICE_PASSWORD}';"),
        "$conf['atlas_status'] = 'pending';",
        &format!(
            "$conf['atlas_statistics_id'] = '{}';",
            spec.statistics_id.unwrap()
        ),
        "$conf['atlas_pool'] = 'poolb-express';",
        "$conf['atlas_environment'] = 'test';",
        "$conf['siteimprove_site'] = 1234;",
        "$conf['siteimprove_group'] = NULL;",
        "$path = 'p1settings01';",
        "$launched = FALSE;",
    ] {
        assert!(pre.contains(line), "missing {line} in\n{pre}");
    }
    assert!(!pre.contains("cu_path"));

    let post = read(&env, "settings.local_post.php");
    for line in [
        "$conf['page_cache_maximum_age'] = 300;",
        "'database' => 'p1settings01',",
        "'username' => 'p1settings01',",
        r#"'password' => 'pw\'with"q\\uote$x',"#,
        "'host' => 'db-primary',",
        "'port' => 3307,",
        "$databases['default']['slave'][] = array(",
        "'host' => 'db-replica-1',",
        "'10.0.0.5:11211' => 'default',",
        "$conf['varnish_control_terminal'] = '10.0.0.9:6082';",
    ] {
        assert!(post.contains(line), "missing {line} in\n{post}");
    }

    let main = read(&env, "settings.php");
    for line in [
        "include __DIR__ . '/settings.local_pre.php';",
        "include __DIR__ . '/settings.local_post.php';",
        "$conf['reverse_proxy_addresses'] = array('10.0.0.9');",
        &format!(
            "$conf['file_temporary_path'] = '{}';",
            env.p(&format!("files/sitefiles/{SID}/tmp")).display()
        ),
        "ini_set('session.cookie_path', '/' . 'p1settings01');",
    ] {
        assert!(main.contains(line), "missing {line} in\n{main}");
    }
    assert!(main.contains("// This file is owned by Atlas"));
}

#[tokio::test]
async fn settings_use_the_primary_route_as_path_when_launching() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    spec.status = Status::Launching;
    spec.primary_route = Some("lab/atlas".into());
    env.exec.write_settings(&spec).await.unwrap();
    let pre = read(&env, "settings.local_pre.php");
    assert!(pre.contains("$path = 'lab/atlas';"), "{pre}");
    assert!(pre.contains("$launched = TRUE;"));
    assert!(pre.contains("$conf['cu_path'] = 'lab/atlas';"));
    assert!(pre.contains("$conf['atlas_status'] = 'launching';"));
}

#[tokio::test]
async fn settings_of_a_launched_homepage_have_an_empty_path() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    spec.status = Status::Launched;
    spec.pool = Pool::PoolbHomepage;
    spec.primary_route = Some("domainroot".into());
    env.exec.write_settings(&spec).await.unwrap();
    assert!(read(&env, "settings.local_pre.php").contains("$path = '';"));
    assert!(read(&env, "settings.php").contains("ini_set('session.cookie_path', '/');"));
}

#[tokio::test]
async fn write_settings_is_atomic_idempotent_and_mode_0664() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    let once = env.snapshot();
    env.exec.write_settings(&spec).await.unwrap();
    assert_eq!(env.snapshot(), once);
    let dir = env.p(&format!("instances/{SID}/{SID}/sites/default"));
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains("atlas-tmp")), "{names:?}");
    assert_eq!(mode(&dir.join("settings.local_post.php")), 0o640);
}
