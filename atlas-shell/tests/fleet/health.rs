//! Host checks and route maps on load balancers over SSH.

use atlas_core::model::{RouteStatus, RouteType};
use atlas_core::{ExecError, Executor, HostReport, RouteMap, RouteMapCheck};
use atlas_shell::agent::PROTOCOL;
use atlas_shell::Role;

use crate::harness::Fleet;
use crate::helpers::route;

#[tokio::test]
async fn check_hosts_reports_each_hosts_roles_and_missing_roots() {
    let Some(f) = Fleet::start(|_, _| {}) else { return };
    for d in ["code", "instances", "web", "files"] {
        std::fs::create_dir_all(f.p("web1", d)).unwrap();
    }
    let report = f.exec.check_hosts().await.unwrap();
    assert_eq!(report.len(), 2);
    assert_eq!(
        report[0],
        HostReport {
            host: "web1".into(),
            roles: vec!["web".into()],
            reachable: true,
            problems: Vec::new(),
        }
    );
    let web2 = &report[1];
    assert_eq!(web2.host, "web2");
    assert!(web2.reachable && !web2.healthy());
    assert_eq!(web2.problems.len(), 4, "{web2:?}");
    assert!(
        web2.problems[0].starts_with("code_root ") && web2.problems[0].contains("web2/code"),
        "{web2:?}"
    );

    for d in ["code", "instances", "web", "files"] {
        std::fs::create_dir_all(f.p("web2", d)).unwrap();
    }
    let report = f.exec.check_hosts().await.unwrap();
    assert!(report.iter().all(HostReport::healthy), "{report:?}");
}

#[tokio::test]
async fn an_unreachable_host_is_reported_unreachable_with_the_reason_naming_it() {
    let Some(mut f) = Fleet::start(|_, _| {}) else {
        return;
    };
    f.hosts[0].kill();
    let report = f.exec.check_hosts().await.unwrap();
    assert_eq!(report[0].host, "web1");
    assert!(!report[0].reachable, "{report:?}");
    assert!(
        report[0].problems[0].contains("host web1") && report[0].problems[0].contains("cannot connect"),
        "{report:?}"
    );
    assert!(report[1].reachable, "web2 is up: {report:?}");
    let web1 = f
        .exec
        .host_states()
        .into_iter()
        .find(|s| s.name == "web1")
        .unwrap();
    assert!(!web1.reachable && web1.failures == 1, "{web1:?}");
}

/// A stand-in agent of another protocol version: it answers every
/// request with `done`, as protocol 99 of Atlas 9.9.9.
fn foreign_agent(dir: &std::path::Path) -> String {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join("foreign-agent");
    std::fs::write(
        &path,
        "#!/bin/sh\ncat >/dev/null\nprintf '%s' '{\"protocol\":99,\"atlas_version\":\"9.9.9\",\"reply\":\"done\"}'\n",
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

#[tokio::test]
async fn an_agent_of_another_protocol_version_is_refused_naming_the_host_and_both_versions() {
    let dir = tempfile::tempdir().unwrap();
    let agent = foreign_agent(dir.path());
    let Some(f) = Fleet::start(|c, _| c.hosts[1].agent = vec![agent.clone()]) else {
        return;
    };
    let e = f.exec.clear_apc().await.unwrap_err();
    assert!(
        matches!(e, ExecError::Refused { .. }),
        "final, not retried: {e:?}"
    );
    let text = e.to_string();
    assert!(
        text.contains("host web2")
            && text.contains("agent protocol 99 (Atlas 9.9.9)")
            && text.contains(&format!("speaks protocol {PROTOCOL}"))
            && text.contains("install the same Atlas version on host web2"),
        "{text}"
    );
    let report = f.exec.check_hosts().await.unwrap();
    assert!(report[1].reachable, "the host answered: {report:?}");
    assert!(report[1].problems[0].contains("agent protocol 99"), "{report:?}");
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
    let report = f.exec.check_routes(&map).await.unwrap();
    assert_eq!(report.len(), 2);
    assert!(report.iter().all(|c| !c.differs()), "{report:?}");

    std::fs::write(
        f.p("web2", "lb/routes.map"),
        "\"/\" := \"poolb-homepage\",\n\"/stale\" := \"legacy\",\n",
    )
    .unwrap();
    let report = f.exec.check_routes(&map).await.unwrap();
    assert_eq!(
        report[0],
        RouteMapCheck {
            host: "web1".into(),
            ..RouteMapCheck::default()
        }
    );
    assert_eq!(
        report[1].differences,
        [
            "missing on the load balancer: \"/lab/atlas\" := \"poolb-express\",",
            "not in the records: \"/stale\" := \"legacy\","
        ]
    );
}

#[tokio::test]
async fn an_unreachable_load_balancer_is_a_route_check_entry_with_its_error() {
    let Some(mut f) = Fleet::start(|c, _| {
        for h in &mut c.hosts {
            h.roles.push(Role::Lb);
        }
    }) else {
        return;
    };
    f.hosts[1].kill();
    let report = f.exec.check_routes(&RouteMap::default()).await.unwrap();
    assert!(
        !report[0].differs(),
        "web1's missing map is an empty one: {report:?}"
    );
    let err = report[1].error.as_deref().unwrap_or_default();
    assert!(report[1].differs() && err.contains("host web2"), "{report:?}");
}
