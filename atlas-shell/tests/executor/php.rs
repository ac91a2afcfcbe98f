//! The generated settings files checked by the real PHP interpreter: each
//! passes `php -l`, and evaluating `settings.php` (which includes the other
//! two) yields the expected `$databases`, `$conf` and `$base_url`, in every
//! environment. Skipped with a printed reason when `php` is missing, unless
//! `ATLAS_TEST_REQUIRE` names `php`.

use std::path::{Path, PathBuf};
use std::process::Command;

use atlas_core::model::{Environment, Pool, Status};
use atlas_core::testing::service;
use atlas_core::Executor;
use atlas_shell::ConfigSecret;
use serde_json::Value;

use crate::helpers::{TestEnv, DB_PASSWORD, SERVICE_PASSWORD};

const SID: &str = "p1phpcheck01";
const VARNISH_KEY: &str = "varn'ish\\key$1";

/// Prints the globals the settings leave behind as JSON.
const EVAL: &str = r#"<?php
$databases = array();
$conf = array();
include $argv[1];
echo json_encode(array('databases' => $databases, 'conf' => $conf, 'base_url' => $base_url));
"#;

fn php() -> Option<PathBuf> {
    service::program("php", "php")
}

fn settings_dir(env: &TestEnv) -> PathBuf {
    env.p(&format!("instances/{SID}/{SID}/sites/default"))
}

fn lint(php: &Path, file: &Path) {
    let out = Command::new(php).arg("-l").arg(file).output().unwrap();
    assert!(
        out.status.success(),
        "php -l {}: {}{}",
        file.display(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Lints the three files, then evaluates `settings.php`.
fn evaluate(php: &Path, env: &TestEnv) -> Value {
    let dir = settings_dir(env);
    for f in [
        "settings.php",
        "settings.local_pre.php",
        "settings.local_post.php",
    ] {
        lint(php, &dir.join(f));
    }
    let script = env.t().join("eval-settings.php");
    std::fs::write(&script, EVAL).unwrap();
    let out = Command::new(php)
        .args(["-d", "display_errors=stderr", "-d", "error_reporting=-1"])
        .arg(&script)
        .arg(dir.join("settings.php"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success() && stderr.trim().is_empty(), "php: {stderr}");
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
}

fn env_for(environment: Environment) -> TestEnv {
    TestEnv::with(|c| {
        c.environment = environment;
        c.base_url = format!("https://{}.example.edu", environment.as_str());
        c.varnish_servers = vec!["10.0.0.9".into(), "10.0.0.10:6083".into()];
        c.varnish_control_key = ConfigSecret::new(VARNISH_KEY);
    })
}

#[tokio::test]
async fn settings_evaluate_to_the_instance_database_conf_and_base_url_in_every_environment() {
    let Some(php) = php() else { return };
    for &environment in Environment::ALL {
        let env = env_for(environment);
        env.deploy_all().await;
        let spec = env.instance(SID);
        env.exec.provision(&spec).await.unwrap();
        let v = evaluate(&php, &env);
        let e = environment.as_str();

        let db = &v["databases"]["default"]["default"];
        assert_eq!(db["driver"], "mysql", "{e}");
        assert_eq!(db["database"], SID);
        assert_eq!(db["username"], SID);
        assert_eq!(db["password"], DB_PASSWORD, "the password survives PHP quoting");
        assert_eq!(db["host"], "db-primary");
        assert_eq!(db["port"], 3307);
        assert_eq!(v["databases"]["default"]["slave"][0]["host"], "db-replica-1");

        let conf = &v["conf"];
        assert_eq!(conf["atlas_environment"], e);
        assert_eq!(conf["install_profile"], "express");
        assert_eq!(conf["cu_sid"], SID);
        assert_eq!(conf["atlas_password"], SERVICE_PASSWORD);
        assert_eq!(conf["atlas_status"], "pending");
        assert_eq!(conf["page_cache_maximum_age"], 300);
        assert_eq!(conf["siteimprove_site"], 1234);
        assert_eq!(conf["memcache_servers"]["10.0.0.5:11211"], "default");
        assert_eq!(
            conf["reverse_proxy_addresses"],
            serde_json::json!(["10.0.0.9", "10.0.0.10"])
        );
        assert_eq!(
            conf["file_temporary_path"],
            env.p(&format!("files/sitefiles/{SID}/tmp")).display().to_string()
        );
        // Only local and development ask Drupal not to warn about HTTP
        // request failures; only local shows errors.
        let dev = matches!(environment, Environment::Local | Environment::Development);
        assert_eq!(conf.get("drupal_http_request_fails").is_some(), dev, "{e}");
        assert_eq!(
            conf.get("error_level").is_some(),
            environment == Environment::Local
        );

        assert_eq!(v["base_url"], format!("https://{e}.example.edu/{SID}"));
    }
}

#[tokio::test]
async fn settings_purge_varnish_through_its_control_terminal() {
    let Some(php) = php() else { return };
    let env = env_for(Environment::Production);
    env.deploy_all().await;
    env.exec.provision(&env.instance(SID)).await.unwrap();
    let conf = &evaluate(&php, &env)["conf"];
    assert_eq!(
        conf["cache_backends"],
        serde_json::json!([
            "profiles/express/modules/contrib/memcache/memcache.inc",
            "profiles/express/modules/contrib/varnish/varnish.cache.inc"
        ])
    );
    assert_eq!(conf["cache_class_cache_page"], "VarnishCache");
    assert_eq!(conf["varnish_control_terminal"], "10.0.0.9:6082 10.0.0.10:6083");
    assert_eq!(conf["varnish_version"], 4);
    assert_eq!(conf["varnish_control_key"], VARNISH_KEY);
}

#[tokio::test]
async fn base_url_follows_the_primary_route_once_launched() {
    let Some(php) = php() else { return };
    let env = env_for(Environment::Production);
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();

    spec.status = Status::Launched;
    spec.primary_route = Some("lab/atlas".into());
    env.exec.write_settings(&spec).await.unwrap();
    let v = evaluate(&php, &env);
    assert_eq!(v["base_url"], "https://production.example.edu/lab/atlas");
    assert_eq!(v["conf"]["cu_path"], "lab/atlas");

    spec.pool = Pool::PoolbHomepage;
    spec.primary_route = Some("domainroot".into());
    env.exec.write_settings(&spec).await.unwrap();
    assert_eq!(evaluate(&php, &env)["base_url"], "https://production.example.edu");
}

#[tokio::test]
async fn settings_without_caches_have_no_cache_backends() {
    let Some(php) = php() else { return };
    let env = TestEnv::with(|c| {
        c.memcache_servers.clear();
        c.varnish_servers.clear();
    });
    env.deploy_all().await;
    env.exec.provision(&env.instance(SID)).await.unwrap();
    let conf = &evaluate(&php, &env)["conf"];
    assert!(conf.get("cache_backends").is_none(), "{conf}");
    assert!(conf.get("varnish_control_terminal").is_none());
    assert!(conf.get("reverse_proxy").is_none());
}
