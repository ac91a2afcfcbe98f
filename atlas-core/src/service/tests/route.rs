//! Route hooks: the activation rule, launching an installed instance by an
//! `active_on_launch` route, republishing on changes to active routes, and
//! safe `source` paths.

use serde_json::json;

use super::{conflict, issues_at, route_body, Env};
use crate::model::{Resource, Status};
use crate::task::ROUTES_KEY;

#[tokio::test]
async fn an_active_route_for_an_instance_that_is_not_launched_is_refused() {
    let env = Env::new();
    for status in [Status::Available, Status::Installed, Status::Down] {
        let inst = env.instance_in(status).await;
        let e = env
            .create_err(
                Resource::Route,
                route_body("lab/atlas", &inst.id, "active", false),
            )
            .await;
        let (field, message) = conflict(e);
        assert_eq!(field, "route_status");
        assert!(message.contains(&format!("'{status}'")), "{message}");
    }
    assert!(env.all(Resource::Route).await.is_empty());
    assert!(env.jobs_of("routes_publish").await.is_empty());
}

#[tokio::test]
async fn an_active_on_launch_route_for_an_installed_instance_launches_it() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let route = env
        .create(Resource::Route, route_body("lab/atlas", &inst.id, "active", true))
        .await;
    assert_eq!(
        route.str_field("route_status"),
        Some("inactive"),
        "the launch activates it"
    );
    let after = env.stored(Resource::Instance, &inst.id).await;
    assert_eq!(after.str_field("status"), Some("launching"));
    assert_eq!(
        after.str_field("routes.primary_route"),
        Some(route.id.to_string().as_str())
    );
    let launches = env.jobs_of("launch").await;
    assert_eq!(launches.len(), 1);
    assert_eq!(launches[0].key, Some(format!("instance:{}", inst.id)));
    assert!(
        env.jobs_of("routes_publish").await.is_empty(),
        "the launch publishes"
    );
}

#[tokio::test]
async fn launching_by_route_keeps_an_existing_primary_route() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let primary = env
        .create(
            Resource::Route,
            route_body("lab/primary", &inst.id, "inactive", true),
        )
        .await;
    let inst = env
        .patch(
            Resource::Instance,
            &inst,
            json!({"routes": {"primary_route": primary.id.to_string()}}),
        )
        .await
        .unwrap();
    env.create(
        Resource::Route,
        route_body("lab/second", &inst.id, "active", true),
    )
    .await;
    let after = env.stored(Resource::Instance, &inst.id).await;
    assert_eq!(after.str_field("status"), Some("launching"));
    assert_eq!(
        after.str_field("routes.primary_route"),
        Some(primary.id.to_string().as_str())
    );
}

#[tokio::test]
async fn an_active_route_without_active_on_launch_for_an_installed_instance_is_refused() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let (field, _) = conflict(
        env.create_err(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await,
    );
    assert_eq!(field, "route_status");
    assert_eq!(env.stored(Resource::Instance, &inst.id).await, inst);
    assert!(env.jobs_of("launch").await.is_empty());
}

#[tokio::test]
async fn an_active_route_for_a_launched_instance_republishes_the_route_map() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    assert_eq!(route.str_field("route_status"), Some("active"));
    assert_eq!(
        route.str_field("dates.created"),
        Some(route.created.to_string().as_str())
    );
    let jobs = env.jobs_of("routes_publish").await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].key.as_deref(), Some(ROUTES_KEY));
}

#[tokio::test]
async fn an_inactive_route_does_not_republish() {
    let env = Env::new();
    let inst = env.instance_in(Status::Available).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "inactive", false),
        )
        .await;
    env.patch(Resource::Route, &route, json!({"tag": ["law"]}))
        .await
        .unwrap();
    let route = env.stored(Resource::Route, &route.id).await;
    env.delete(Resource::Route, &route).await.unwrap();
    assert!(env.jobs_of("routes_publish").await.is_empty());
}

#[tokio::test]
async fn an_active_redirect_without_an_instance_republishes() {
    let env = Env::new();
    let body = json!({
        "route_type": "redirect",
        "source": "lab/old",
        "destination": "https://www.colorado.edu/lab/new",
        "response_code": 301,
        "route_status": "active",
    });
    env.create(Resource::Route, body).await;
    assert_eq!(env.jobs_of("routes_publish").await.len(), 1);
}

#[tokio::test]
async fn changing_an_active_route_republishes() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    env.patch(Resource::Route, &route, json!({"source": "lab/atlas2"}))
        .await
        .unwrap();
    assert_eq!(env.jobs_of("routes_publish").await.len(), 2);
}

#[tokio::test]
async fn deactivating_an_active_route_republishes() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    let after = env
        .patch(Resource::Route, &route, json!({"route_status": "inactive"}))
        .await
        .unwrap();
    assert_eq!(after.str_field("route_status"), Some("inactive"));
    assert_eq!(env.jobs_of("routes_publish").await.len(), 2);
}

#[tokio::test]
async fn activating_a_route_of_a_launched_instance_republishes() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "inactive", false),
        )
        .await;
    assert!(env.jobs_of("routes_publish").await.is_empty());
    env.patch(Resource::Route, &route, json!({"route_status": "active"}))
        .await
        .unwrap();
    assert_eq!(env.jobs_of("routes_publish").await.len(), 1);
}

#[tokio::test]
async fn deleting_an_active_route_republishes() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "active", false),
        )
        .await;
    env.delete(Resource::Route, &route).await.unwrap();
    assert!(env.stored(Resource::Route, &route.id).await.deleted);
    assert_eq!(env.jobs_of("routes_publish").await.len(), 2);
}

#[tokio::test]
async fn route_sources_escaping_the_web_root_are_invalid() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    for bad in [
        "../etc",
        "/etc",
        "lab/../../etc",
        "lab/",
        ".hidden",
        "lab atlas",
        "lab;rm",
    ] {
        let e = env
            .create_err(Resource::Route, route_body(bad, &inst.id, "inactive", false))
            .await;
        let msgs = issues_at(e, "source");
        assert_eq!(msgs.len(), 1, "{bad}: {msgs:?}");
        assert!(
            msgs[0].starts_with("value does not match regex"),
            "{bad}: {msgs:?}"
        );
    }
    for good in ["domainroot", "lab/atlas", "lab/atlas.v2", "p1abcdef0123"] {
        env.create(Resource::Route, route_body(good, &inst.id, "inactive", false))
            .await;
    }
}

#[tokio::test]
async fn a_taken_source_is_invalid() {
    let env = Env::new();
    let inst = env.instance_in(Status::Launched).await;
    env.create(
        Resource::Route,
        route_body("lab/atlas", &inst.id, "inactive", false),
    )
    .await;
    let e = env
        .create_err(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "inactive", false),
        )
        .await;
    assert_eq!(issues_at(e, "source"), ["value 'lab/atlas' is not unique"]);
}

#[tokio::test]
async fn activating_an_active_on_launch_route_of_an_installed_instance_launches_it() {
    let env = Env::new();
    let inst = env.instance_in(Status::Installed).await;
    let route = env
        .create(
            Resource::Route,
            route_body("lab/atlas", &inst.id, "inactive", true),
        )
        .await;
    let after = env
        .patch(Resource::Route, &route, json!({"route_status": "active"}))
        .await
        .unwrap();
    assert_eq!(
        after.str_field("route_status"),
        Some("inactive"),
        "the launch activates it"
    );
    let inst = env.stored(Resource::Instance, &inst.id).await;
    assert_eq!(inst.str_field("status"), Some("launching"));
    assert_eq!(
        inst.str_field("routes.primary_route"),
        Some(route.id.to_string().as_str())
    );
    assert_eq!(env.jobs_of("launch").await.len(), 1);
    assert!(env.jobs_of("routes_publish").await.is_empty());
}

#[tokio::test]
async fn a_route_source_may_not_be_another_instances_sid_or_path() {
    let env = Env::new();
    let a = env.instance_in(Status::Installed).await;
    let b = env.instance_in(Status::Launched).await;
    let b_sid = b.str_field("sid").unwrap().to_owned();
    let e = env
        .create_err(Resource::Route, route_body(&b_sid, &a.id, "inactive", true))
        .await;
    let msgs = issues_at(e, "source");
    assert!(
        msgs[0].contains(&format!("is the sid of instance '{b_sid}'")),
        "{msgs:?}"
    );
    let b = env
        .force(Resource::Instance, &b.id, json!({"path": "lab/b"}))
        .await;
    let e = env
        .create_err(Resource::Route, route_body("lab/b", &a.id, "inactive", true))
        .await;
    assert!(issues_at(e, "source")[0].contains("is the path of instance"));
    // Its own sid is the instance's to route.
    let a_sid = a.str_field("sid").unwrap().to_owned();
    env.create(Resource::Route, route_body(&a_sid, &a.id, "inactive", false))
        .await;
    // Moving a route onto another instance's path is refused too.
    let r = env
        .create(
            Resource::Route,
            route_body("lab/a-news", &a.id, "inactive", false),
        )
        .await;
    let e = env
        .patch(Resource::Route, &r, json!({"source": "lab/b"}))
        .await
        .unwrap_err();
    assert!(issues_at(e, "source")[0].contains(b.id.to_string().as_str()));
}

#[tokio::test]
async fn an_instance_path_may_not_be_another_instances_route_source() {
    let env = Env::new();
    let a = env.instance_in(Status::Installed).await;
    let b = env.instance_in(Status::Installed).await;
    env.create(Resource::Route, route_body("lab/a", &a.id, "inactive", false))
        .await;
    let e = env
        .patch(Resource::Instance, &b, json!({"path": "lab/a"}))
        .await
        .unwrap_err();
    assert!(issues_at(e, "path")[0].contains("is the source of route"));
    // The route's own instance may take that path.
    env.patch(Resource::Instance, &a, json!({"path": "lab/a"}))
        .await
        .unwrap();
}

#[tokio::test]
async fn a_new_instance_may_not_take_another_instances_route_source_as_sid_or_path() {
    let env = Env::new();
    let a = env.instance_in(Status::Installed).await;
    env.create(Resource::Route, route_body("lab/a", &a.id, "inactive", false))
        .await;
    env.create(
        Resource::Route,
        route_body("p1abcdef0123", &a.id, "inactive", false),
    )
    .await;
    // A path of its own choosing.
    let e = env.create_err(Resource::Instance, json!({"path": "lab/a"})).await;
    assert!(issues_at(e, "path")[0].contains("is the source of route"));
    // A sid of its own choosing, the path derived from it.
    let e = env
        .create_err(Resource::Instance, json!({"sid": "p1abcdef0123"}))
        .await;
    assert!(issues_at(e, "path")[0].contains("is the source of route"));
    // A sid that is a route source, with another path.
    let e = env
        .create_err(
            Resource::Instance,
            json!({"sid": "p1abcdef0123", "path": "lab/c"}),
        )
        .await;
    assert!(issues_at(e, "path")[0].contains("is the source of route"));
    env.create(
        Resource::Instance,
        json!({"sid": "p1abcdef0456", "path": "lab/c"}),
    )
    .await;
}
