//! Host checks and route maps on load balancers over SSH.

use atlas_core::model::{RouteStatus, RouteType};
use atlas_core::{Executor, RouteMap};
use atlas_shell::Role;

use crate::harness::Fleet;
use crate::helpers::route;

#[tokio::test]
async fn check_hosts_reports_each_hosts_missing_roots() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    for d in ["code", "instances", "web", "files"] {
        std::fs::create_dir_all(f.p("web1", d)).unwrap();
    }
    let report = f.exec.check_hosts().await;
    assert_eq!(report.len(), 2);
    assert_eq!(report[0], ("web1".to_owned(), Vec::<String>::new()));
    let (name, problems) = &report[1];
    assert_eq!(name, "web2");
    assert_eq!(problems.len(), 4, "{problems:?}");
    assert!(
        problems[0].starts_with("code_root ") && problems[0].contains("web2/code"),
        "{problems:?}"
    );
    assert_eq!(
        f.exec.last_all_healthy(),
        0,
        "no check found every host healthy yet"
    );

    for d in ["code", "instances", "web", "files"] {
        std::fs::create_dir_all(f.p("web2", d)).unwrap();
    }
    assert!(f.exec.check_hosts().await.iter().all(|(_, p)| p.is_empty()));
    assert!(
        f.exec.last_all_healthy() > 0,
        "the readiness beat moves once every host is healthy"
    );
}

#[tokio::test]
async fn an_unreachable_host_is_a_problem_of_the_check_naming_it() {
    let Some(mut f) = Fleet::start(|_, _| {}) else {
        return;
    };
    f.hosts[0].kill();
    let report = f.exec.check_hosts().await;
    assert_eq!(report[0].0, "web1");
    assert!(
        report[0].1[0].contains("host web1") && report[0].1[0].contains("cannot connect"),
        "{report:?}"
    );
    let web1 = f
        .exec
        .host_states()
        .into_iter()
        .find(|s| s.name == "web1")
        .unwrap();
    assert!(!web1.reachable && web1.failures == 1, "{web1:?}");
}

#[tokio::test]
async fn route_maps_go_to_every_load_balancer_and_the_check_reports_drift() {
    let Some(f) = Fleet::start(|c, _| {
        for h in &mut c.hosts {
            h.roles.push(Role::Lb);
        }
    }) else {
        return;
    };
    let map = RouteMap {
        routes: vec![
            route(
                "lab/atlas",
                RouteType::PoolbExpress,
                RouteStatus::Active,
                Some("p1abcdef0123"),
            ),
            route("domainroot", RouteType::PoolbHomepage, RouteStatus::Active, None),
        ],
    };
    f.exec.publish_routes(&map).await.unwrap();
    for h in ["web1", "web2"] {
        let text = std::fs::read_to_string(f.p(h, "lb/routes.map")).unwrap();
        assert_eq!(
            text, "\"/lab/atlas\" := \"poolb-express\",\n\"/\" := \"poolb-homepage\",\n",
            "{h}"
        );
    }
    assert_eq!(
        f.env.calls_of("reload").len(),
        2,
        "reloaded on each load balancer"
    );
    let report = f.exec.check_route_maps(&map).await.unwrap();
    assert!(report.iter().all(|(_, d)| d.is_empty()), "{report:?}");

    std::fs::write(
        f.p("web2", "lb/routes.map"),
        "\"/\" := \"poolb-homepage\",\n\"/stale\" := \"legacy\",\n",
    )
    .unwrap();
    let report = f.exec.check_route_maps(&map).await.unwrap();
    assert_eq!(report[0], ("web1".to_owned(), Vec::<String>::new()));
    assert_eq!(
        report[1].1,
        [
            "missing on the load balancer: \"/lab/atlas\" := \"poolb-express\",",
            "not in the records: \"/stale\" := \"legacy\","
        ]
    );
}
