//! `verify_instance` on a real tree with real git: tampering with a code
//! link, a settings file, a checkout's `HEAD` or a web link is found
//! exactly (and nothing else is); re-applying what core's heal plan asks
//! for with the executor's own operations fixes it, and a second
//! verification is clean. Against the real MariaDB: a revoked grant or a
//! dropped database is a database finding, which no heal step touches.

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use atlas_core::model::{RouteStatus, RouteType, Status};
use atlas_core::{heal_plan, DriftFinding, DriftKind, Executor, HealStep, InstanceSpec};

use crate::helpers::{route, TestEnv};
use crate::mariadb::{fresh_sid, Server};

const SID: &str = "p1d81f70a01";

/// A launched instance at `lab/drift` whose servers match its spec.
async fn launched(env: &TestEnv, sid: &str) -> InstanceSpec {
    env.deploy_all().await;
    let mut spec = env.instance(sid);
    env.exec.provision(&spec).await.unwrap();
    spec.status = Status::Launched;
    spec.primary_route = Some("lab/drift".into());
    spec.routes = vec![route(
        "lab/drift",
        RouteType::PoolbExpress,
        RouteStatus::Active,
        Some(sid),
    )];
    env.exec.write_settings(&spec).await.unwrap();
    env.exec.launch(&spec).await.unwrap();
    spec
}

/// Re-applies what core's heal plan asks for, as the engine does.
async fn heal(env: &TestEnv, spec: &InstanceSpec, findings: &[DriftFinding]) -> Vec<&'static str> {
    let mut ran = Vec::new();
    for step in heal_plan(findings, spec.status) {
        match step {
            HealStep::Deploy(code) => {
                let item = [&spec.core, &spec.profile]
                    .into_iter()
                    .chain(spec.packages.iter())
                    .find(|c| c.id == code)
                    .expect("a finding about one of the instance's items");
                env.exec.deploy_code(item).await.unwrap();
            }
            HealStep::Relink => env.exec.switch_code(spec).await.unwrap(),
            HealStep::WriteSettings => env.exec.write_settings(spec).await.unwrap(),
            HealStep::Launch => env.exec.launch(spec).await.unwrap(),
            HealStep::TakeDown => env.exec.take_down(spec).await.unwrap(),
        }
        ran.push(step.operation());
    }
    ran
}

fn relink(link: &Path, target: &Path) {
    std::fs::remove_file(link).unwrap();
    symlink(target, link).unwrap();
}

fn git_checkout(dir: &Path, commit: &str) {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["checkout", "-q", "--detach", commit])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn kinds(findings: &[DriftFinding]) -> Vec<DriftKind> {
    let mut k: Vec<DriftKind> = findings.iter().map(|f| f.kind).collect();
    k.sort();
    k
}

#[tokio::test]
async fn a_deployed_launched_instance_has_no_drift() {
    let env = TestEnv::new();
    let spec = launched(&env, SID).await;
    assert_eq!(env.exec.verify_instance(&spec).await.unwrap(), []);
}

#[tokio::test]
async fn verify_finds_exactly_a_tampered_link_settings_file_and_checkout_and_heal_fixes_them() {
    let env = TestEnv::new();
    let spec = launched(&env, SID).await;
    let tree = env.p(&format!("instances/{SID}/{SID}"));
    let core_dir = env.code_dir(&spec.core);

    // Arrange: three tamperings on this host.
    relink(&tree.join("index.php"), &env.p("elsewhere/index.php"));
    let settings = tree.join("sites/default/settings.php");
    let mut text = std::fs::read_to_string(&settings).unwrap();
    text.push_str("\n$conf['hand_edit'] = 1;\n");
    std::fs::write(&settings, text).unwrap();
    git_checkout(&core_dir, &env.core.commits[1]);

    // Act
    let found = env.exec.verify_instance(&spec).await.unwrap();

    // Assert: exactly those, on this host, each healable and precise.
    assert_eq!(
        kinds(&found),
        [DriftKind::CodeLink, DriftKind::CheckoutHead, DriftKind::Settings],
        "{found:#?}"
    );
    assert!(found.iter().all(|f| f.host == "local" && f.heals()), "{found:#?}");
    let by = |k| found.iter().find(|f| f.kind == k).unwrap();
    assert!(by(DriftKind::CodeLink).detail.contains("index.php"), "{found:#?}");
    assert!(by(DriftKind::CodeLink).detail.contains("elsewhere"), "{found:#?}");
    let head = by(DriftKind::CheckoutHead);
    assert_eq!(head.code, Some(spec.core.id));
    assert!(head.detail.contains(&env.core.commits[1]), "{}", head.detail);
    assert!(head.detail.contains(&spec.core.commit_hash), "{}", head.detail);
    let s = by(DriftKind::Settings);
    assert!(
        s.detail.contains("settings.php") && s.detail.contains("sha256"),
        "{}",
        s.detail
    );
    assert!(!s.detail.contains("hand_edit"), "contents never reach a finding");

    let ran = heal(&env, &spec, &found).await;
    assert_eq!(ran, ["deploy_code", "switch_code", "write_settings"]);
    assert_eq!(env.exec.verify_instance(&spec).await.unwrap(), []);
}

#[tokio::test]
async fn verify_finds_missing_web_links_and_a_moved_current_and_launch_heals_them() {
    let env = TestEnv::new();
    let spec = launched(&env, SID).await;
    std::fs::remove_file(env.p("web/express/lab/drift")).unwrap();
    relink(&env.p(&format!("instances/{SID}/current")), &env.p("code/down"));
    let found = env.exec.verify_instance(&spec).await.unwrap();
    assert_eq!(
        kinds(&found),
        [DriftKind::WebLink, DriftKind::WebLink],
        "{found:#?}"
    );
    assert!(found.iter().any(|f| f.detail.contains("lab/drift")), "{found:#?}");
    assert!(found.iter().any(|f| f.detail.contains("current")), "{found:#?}");

    assert_eq!(heal(&env, &spec, &found).await, ["launch"]);
    assert_eq!(env.exec.verify_instance(&spec).await.unwrap(), []);
}

#[tokio::test]
async fn a_directory_in_place_of_a_web_link_is_reported_and_never_healed() {
    let env = TestEnv::new();
    let spec = launched(&env, SID).await;
    let link = env.p("web/express/lab/drift");
    std::fs::remove_file(&link).unwrap();
    std::fs::create_dir(&link).unwrap();
    let found = env.exec.verify_instance(&spec).await.unwrap();
    assert_eq!(kinds(&found), [DriftKind::WebLink]);
    assert!(!found[0].heals(), "someone's directory is not replaced");
    assert!(heal_plan(&found, spec.status).is_empty());
}

#[tokio::test]
async fn a_revoked_grant_or_a_dropped_database_is_a_database_finding_no_heal_touches() {
    let Some(db) = Server::connect() else { return };
    let env = db.env();
    env.deploy_all().await;
    let sid = fresh_sid();
    let mut spec = env.instance(&sid);
    env.exec.provision(&spec).await.unwrap();
    spec.status = Status::Installed;
    env.exec.write_settings(&spec).await.unwrap();
    assert_eq!(env.exec.verify_instance(&spec).await.unwrap(), []);

    db.admin_sql(&format!("REVOKE ALL PRIVILEGES ON `{sid}`.* FROM '{sid}'@'%';"));
    let found = env.exec.verify_instance(&spec).await.unwrap();
    assert_eq!(kinds(&found), [DriftKind::Database], "{found:#?}");
    assert!(found[0].detail.contains("cannot log in"), "{}", found[0].detail);
    assert!(!found[0].heals());
    assert!(heal_plan(&found, spec.status).is_empty(), "never recreated");
    env.assert_no_password_in_argv();

    db.admin_sql(&format!("DROP DATABASE `{sid}`;"));
    let found = env.exec.verify_instance(&spec).await.unwrap();
    assert_eq!(kinds(&found), [DriftKind::Database], "{found:#?}");
    assert!(found[0].detail.contains("does not exist"), "{}", found[0].detail);
    assert!(!db.database_exists(&sid), "verification changed nothing");

    env.exec.remove_instance(&spec).await.unwrap();
}

#[tokio::test]
async fn a_host_without_the_instance_tree_reports_findings_no_heal_can_fix() {
    let env = TestEnv::new();
    let spec = launched(&env, SID).await;
    // The instance's directory (tree and `current`) is gone from this host.
    std::fs::remove_dir_all(env.p(&format!("instances/{SID}"))).unwrap();
    let found = env.exec.verify_instance(&spec).await.unwrap();
    assert!(found.iter().any(|f| f.kind == DriftKind::CodeLink), "{found:#?}");
    assert!(found.iter().any(|f| f.kind == DriftKind::WebLink), "{found:#?}");
    assert!(found.iter().all(|f| !f.heals()), "{found:#?}");
    assert!(heal_plan(&found, spec.status).is_empty());
}
