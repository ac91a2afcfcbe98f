//! publish_routes in each format, reload, refusal.

use atlas_core::model::{RouteStatus, RouteType};
use atlas_core::{ExecError, Executor, RouteMap};
use atlas_shell::RouteMapFormat;

use crate::helpers::{route, TestEnv};

fn map() -> RouteMap {
    RouteMap {
        routes: vec![
            route(
                "lab/atlas",
                RouteType::PoolbExpress,
                RouteStatus::Active,
                Some("p1abcdef0123"),
            ),
            route("dormant", RouteType::PoolbExpress, RouteStatus::Inactive, None),
            route("domainroot", RouteType::PoolbHomepage, RouteStatus::Active, None),
            route("legacy-dept", RouteType::Legacy, RouteStatus::Active, None),
        ],
    }
}

async fn published(format: RouteMapFormat) -> (TestEnv, String) {
    let env = TestEnv::with(|c| c.route_map.format = format);
    env.exec.publish_routes(&map()).await.unwrap();
    let text = std::fs::read_to_string(env.p("lb/routes.map")).unwrap();
    (env, text)
}

#[tokio::test]
async fn publish_routes_writes_the_f5_format_of_active_routes_and_reloads() {
    let (env, text) = published(RouteMapFormat::F5).await;
    assert_eq!(
        text,
        "\"/lab/atlas\" := \"poolb-express\",\n\"/\" := \"poolb-homepage\",\n\"/legacy-dept\" := \"legacy\",\n"
    );
    let reload = env.calls_of("reload");
    assert_eq!(reload.len(), 1);
    assert_eq!(reload[0].args, vec!["--sync".to_string()]);
}

#[tokio::test]
async fn publish_routes_writes_an_nginx_map() {
    let (_env, text) = published(RouteMapFormat::Nginx).await;
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        vec![
            "\"/lab/atlas\" \"poolb-express\";",
            "\"/\" \"poolb-homepage\";",
            "\"/legacy-dept\" \"legacy\";"
        ]
    );
}

#[tokio::test]
async fn publish_routes_writes_an_haproxy_map() {
    let (_env, text) = published(RouteMapFormat::Haproxy).await;
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(
        body,
        vec![
            "/lab/atlas poolb-express",
            "/ poolb-homepage",
            "/legacy-dept legacy"
        ]
    );
}

#[tokio::test]
async fn publish_routes_twice_gives_the_same_file() {
    let (env, _) = published(RouteMapFormat::F5).await;
    let once = env.snapshot();
    env.exec.publish_routes(&map()).await.unwrap();
    assert_eq!(env.snapshot(), once);
}

#[tokio::test]
async fn publish_routes_refuses_a_bad_source_and_keeps_the_previous_map() {
    let (env, before) = published(RouteMapFormat::F5).await;
    env.clear_calls();
    let mut bad = map();
    bad.routes.push(route(
        "../etc",
        RouteType::PoolbExpress,
        RouteStatus::Active,
        None,
    ));
    assert!(matches!(
        env.exec.publish_routes(&bad).await,
        Err(ExecError::Refused { .. })
    ));
    assert_eq!(std::fs::read_to_string(env.p("lb/routes.map")).unwrap(), before);
    assert!(env.calls().is_empty(), "no reload");
}

#[tokio::test]
async fn the_route_check_compares_the_local_map_without_writing_it() {
    let env = TestEnv::with(|c| c.route_map.format = RouteMapFormat::F5);
    let missing = env.exec.check_routes(&map()).await.unwrap();
    assert_eq!(missing.len(), 1);
    assert_eq!(missing[0].host, "local");
    assert_eq!(missing[0].differences.len(), 3, "{missing:?}");
    assert!(!env.p("lb/routes.map").exists(), "a check writes nothing");
    assert!(env.calls_of("reload").is_empty());

    env.exec.publish_routes(&map()).await.unwrap();
    assert!(!env.exec.check_routes(&map()).await.unwrap()[0].differs());
    std::fs::write(env.p("lb/routes.map"), "\"/extra\" := \"legacy\",\n").unwrap();
    let drift = env.exec.check_routes(&map()).await.unwrap();
    assert!(
        drift[0]
            .differences
            .contains(&"not in the records: \"/extra\" := \"legacy\",".to_owned()),
        "{drift:?}"
    );
}

#[tokio::test]
async fn the_host_check_of_a_single_host_reports_this_host_in_every_role() {
    let env = TestEnv::with(|c| c.programs.drush = "/nonexistent/drush".into());
    let report = env.exec.check_hosts().await.unwrap();
    assert_eq!(report.len(), 1);
    let local = &report[0];
    assert_eq!(local.host, "local");
    assert!(local.reachable && local.is_web());
    assert!(
        local
            .problems
            .iter()
            .any(|p| p.contains("programs.drush '/nonexistent/drush' is not found")),
        "{local:?}"
    );
}
