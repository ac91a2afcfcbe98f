//! Signing in and out, sessions, and the CSRF rule.

use axum::http::{header, Method, StatusCode};
use serde_json::json;

use crate::harness::{Browser, Harness, PASSWORD, USER};

#[tokio::test]
async fn a_wrong_password_is_refused_and_a_right_one_starts_a_strict_http_only_session() {
    let h = Harness::new().await;
    let wrong = h.try_sign_in("/ui", USER, "not-it").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(
        wrong.html.contains("The user name or password is wrong."),
        "{}",
        wrong.html
    );
    assert!(wrong.cookie("atlas_session").is_none());

    let ok = h.try_sign_in("/ui", USER, PASSWORD).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.location(), "/ui/");
    let set = ok
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|v| v.starts_with("atlas_session="))
        .unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/ui"),
        "{set}"
    );
    let session = ok.cookie("atlas_session").unwrap();
    assert_eq!(session.len(), "atlas_session=".len() + 64);
    assert!(!set.contains(PASSWORD));
}

#[tokio::test]
async fn the_sign_in_form_needs_its_own_token() {
    let h = Harness::new().await;
    let res = h
        .post_form("/ui/login", None, &[("user", USER), ("password", PASSWORD)])
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.cookie("atlas_session").is_none());
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled_by_the_apis_gate() {
    let h = Harness::new().await;
    let mut last = StatusCode::OK;
    for _ in 0..12 {
        last = h.try_sign_in("/ui", USER, "guess").await.status;
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn signing_out_ends_the_session_and_needs_the_token() {
    let h = Harness::new().await;
    let b = h.sign_in().await;
    let page = h.get("/ui/", Some(&b)).await;
    assert!(page.html.contains("Signed in as <strong>alice</strong>"));
    let refused = h.post_form("/ui/logout", Some(&b.cookie), &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert!(h.get("/ui/", Some(&b)).await.html.contains("Signed in as"));

    let out = h.act("/ui/logout", &b, &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let after = h.get("/ui/", Some(&b)).await;
    assert!(!after.html.contains("Signed in as"), "{}", after.html);
}

#[tokio::test]
async fn an_action_without_the_csrf_token_is_refused_and_changes_nothing() {
    let h = Harness::new().await;
    h.seed_code().await;
    let doc = h.installed_instance().await;
    let sid = doc["sid"].as_str().unwrap();
    let b = h.sign_in().await;
    let path = format!("/ui/instances/{sid}/take_down");
    for fields in [vec![], vec![("csrf", "0".repeat(64))]] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let res = h.post_form(&path, Some(&b.cookie), &fields).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.html);
    }
    let other = Browser {
        cookie: String::new(),
        csrf: b.csrf.clone(),
    };
    let res = h.act(&path, &other, &[]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "a token without its session");
    h.settle().await;
    assert_eq!(
        h.record(doc["_id"].as_str().unwrap()).await["status"],
        "installed"
    );
}

#[tokio::test]
async fn pages_get_no_store_no_framing_and_a_script_policy_and_the_api_is_untouched() {
    let h = Harness::new().await;
    let page = h.get("/ui/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
    assert!(page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("script-src 'self'"));
    let (status, body) = h.api(Method::GET, "/code", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["_meta"]["total"], json!(0));
    assert_eq!(h.get("/ui", None).await.status, StatusCode::PERMANENT_REDIRECT);
}

#[tokio::test]
async fn the_dashboard_follows_the_base_path() {
    let h = Harness::with(atlas_core::testing::RecordingExecutor::new(), "/atlas").await;
    let page = h.get("/atlas/ui/", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.html.contains("href=\"/atlas/ui/instances\""));
    let b = h.sign_in_at("/atlas/ui").await;
    assert!(h.get("/atlas/ui/jobs", Some(&b)).await.html.contains("Running ("));
    assert_eq!(h.get("/ui/", None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_stylesheet_and_the_refresh_script_are_served_from_the_dashboard() {
    let h = Harness::new().await;
    let css = h.get("/ui/static/style.css", None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let js = h.get("/ui/static/refresh.js", None).await;
    assert_eq!(js.headers[header::CONTENT_TYPE], "text/javascript; charset=utf-8");
    assert!(js.html.contains("data-refresh"));
    let page = h.get("/ui/", None).await;
    assert!(page
        .html
        .contains("<script src=\"/ui/static/refresh.js\" defer></script>"));
}

/// A directory that is down: it cannot decide any password.
#[derive(Debug)]
struct DirectoryDown;

#[async_trait::async_trait]
impl atlas_http::Authenticator for DirectoryDown {
    async fn authenticate(&self, _: &str, _: &str) -> Result<Option<String>, atlas_http::AuthUnavailable> {
        Err(atlas_http::AuthUnavailable::new(
            "the directory ldap://127.0.0.1:1",
            "connection refused",
        ))
    }
}

#[tokio::test]
async fn a_directory_that_cannot_decide_gets_a_503_naming_it_and_no_session() {
    let h = Harness::with_auth(std::sync::Arc::new(DirectoryDown)).await;
    let res = h.try_sign_in("/ui", USER, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        res.html.contains("127.0.0.1:1 cannot check passwords now"),
        "{}",
        res.html
    );
    assert!(res.cookie("atlas_session").is_none());
}
