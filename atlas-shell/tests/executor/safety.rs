//! Refusals happen before anything is touched.

use atlas_core::model::{RouteStatus, RouteType, Sid};
use atlas_core::{ExecError, Executor};

use crate::helpers::{route, TestEnv};

const SID: &str = "p1safety0001";

#[test]
fn a_sid_with_a_slash_cannot_even_be_built() {
    assert!(Sid::parse("p1abc/defgh").is_err());
    assert!(Sid::parse("../../etc").is_err());
}

#[tokio::test]
async fn launch_refuses_a_traversal_source_before_touching_anything() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    env.clear_calls();
    let before = env.snapshot();
    for bad in ["../etc", "/etc", "lab/../../x", "a b"] {
        spec.primary_route = Some(bad.into());
        let res = env.exec.launch(&spec).await;
        assert!(matches!(res, Err(ExecError::Refused { .. })), "{bad}: {res:?}");
    }
    spec.primary_route = Some("fine".into());
    spec.routes = vec![route(
        "../etc",
        RouteType::PoolbExpress,
        RouteStatus::Active,
        Some(SID),
    )];
    assert!(matches!(
        env.exec.launch(&spec).await,
        Err(ExecError::Refused { .. })
    ));
    assert!(matches!(
        env.exec.remove_instance(&spec).await,
        Err(ExecError::Refused { .. })
    ));
    assert_eq!(env.snapshot(), before);
    assert!(env.calls().is_empty());
}

#[tokio::test]
async fn provision_refuses_unsafe_database_and_code_names_before_touching_anything() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let before = env.snapshot();
    let mut bad_db = env.instance(SID);
    bad_db.database.name = "p1/../mysql".into();
    let mut bad_pkg = env.instance(SID);
    bad_pkg.packages[0].name = "../../etc".into();
    let mut bad_version = env.instance(SID);
    bad_version.core.version = "7.1/../../..".into();
    let mut wrong_type = env.instance(SID);
    wrong_type.core = env.profile_spec();
    for spec in [bad_db, bad_pkg, bad_version, wrong_type] {
        let res = env.exec.provision(&spec).await;
        assert!(matches!(res, Err(ExecError::Refused { .. })), "{res:?}");
    }
    assert_eq!(env.snapshot(), before);
    assert!(env.calls().is_empty());
}

#[tokio::test]
async fn deploy_code_refuses_unsafe_names_urls_and_commits_before_touching_anything() {
    let env = TestEnv::new();
    let before = env.snapshot();
    let mut name = env.core_v1();
    name.name = "../drupal".into();
    let mut url = env.core_v1();
    url.git_url = "ext::sh -c touch% /tmp/pwned".into();
    let mut commit = env.core_v1();
    commit.commit_hash = "--upload-pack=touch".into();
    for spec in [name, url, commit] {
        let res = env.exec.deploy_code(&spec).await;
        assert!(matches!(res, Err(ExecError::Refused { .. })), "{res:?}");
    }
    assert_eq!(env.snapshot(), before);
}

#[tokio::test]
async fn launch_refuses_a_nested_source_behind_another_sites_link() {
    let env = TestEnv::new();
    env.deploy_all().await;
    let mut spec = env.instance(SID);
    env.exec.provision(&spec).await.unwrap();
    let elsewhere = env.t().join("other-site");
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, env.p("web/express/lab")).unwrap();
    let before = env.snapshot();
    spec.primary_route = Some("lab/atlas".into());
    assert!(matches!(
        env.exec.launch(&spec).await,
        Err(ExecError::Refused { .. })
    ));
    assert_eq!(env.snapshot(), before);
    assert!(
        std::fs::read_dir(&elsewhere).unwrap().next().is_none(),
        "nothing written through the link"
    );
}
