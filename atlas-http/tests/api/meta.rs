//! `GET /`, `GET /version` and the OpenAPI document.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::{error_message, TestApp};

#[tokio::test]
async fn home_lists_every_resource_as_a_child_link() {
    let app = TestApp::spawn().await;
    let v = app.get_json("/").await;
    let children: Vec<&str> = v["_links"]["child"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["href"].as_str().unwrap())
        .collect();
    assert_eq!(
        children,
        [
            "code",
            "instance",
            "route",
            "commands",
            "statistics",
            "site",
            "backup",
            "rollout"
        ]
    );
    assert_eq!(v["_links"]["child"][0]["title"], "code");
}

#[tokio::test]
async fn version_is_the_crate_version_as_plain_text() {
    let app = TestApp::spawn().await;
    let res = app.get("/version").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    assert_eq!(res.text().await.unwrap(), env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn unknown_urls_are_the_generic_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/nope",
        "/codes",
        "/code/6b063bb73e47cec0540baa24/extra/x",
        "/code/not-an-id",
        "/code/6B063BB73E47CEC0540BAA24",
    ] {
        let message = error_message(app.get(path).await, 404).await;
        assert!(
            message.starts_with("The requested URL was not found on the server."),
            "{path}: {message}"
        );
    }
}

#[tokio::test]
async fn openapi_document_parses_as_3_1_and_lists_every_route() {
    let app = TestApp::spawn().await;
    let raw = app.get("/openapi.json").await.text().await.unwrap();
    let spec = oas3::from_json(&raw).expect("a valid OpenAPI 3.1 document");
    assert!(spec.openapi.starts_with("3.1"), "{}", spec.openapi);
    let paths = spec.paths.as_ref().expect("paths");
    let mut expected: Vec<(String, Vec<&str>)> = vec![
        ("/".into(), vec!["get"]),
        ("/version".into(), vec!["get"]),
        ("/openapi.json".into(), vec!["get"]),
        ("/jobs".into(), vec!["get"]),
        ("/jobs/{id}".into(), vec!["get"]),
        ("/jobs/{id}/retry".into(), vec!["post"]),
        ("/jobs/{id}/cancel".into(), vec!["post"]),
        ("/commands/{id}/execute".into(), vec!["post"]),
        ("/backup/{id}/restore".into(), vec!["post"]),
        ("/rollout/{id}/pause".into(), vec!["post"]),
        ("/rollout/{id}/resume".into(), vec!["post"]),
        ("/rollout/{id}/abort".into(), vec!["post"]),
        ("/instance/{id}/jobs".into(), vec!["get"]),
        ("/instance/{id}/verify".into(), vec!["post"]),
        ("/instance/{id}/heal".into(), vec!["post"]),
        ("/healthz".into(), vec!["get"]),
    ];
    for res in [
        "code",
        "instance",
        "route",
        "commands",
        "statistics",
        "site",
        "backup",
        "rollout",
    ] {
        expected.push((format!("/{res}"), vec!["get", "post"]));
        expected.push((format!("/{res}/{{id}}"), vec!["get", "patch", "put", "delete"]));
    }
    for (path, methods) in &expected {
        let item = paths.get(path).unwrap_or_else(|| panic!("{path} missing"));
        for m in methods {
            let op = match *m {
                "get" => item.get.as_ref(),
                "post" => item.post.as_ref(),
                "patch" => item.patch.as_ref(),
                "put" => item.put.as_ref(),
                _ => item.delete.as_ref(),
            };
            assert!(op.is_some(), "{m} {path} missing");
        }
    }
    assert_eq!(paths.len(), expected.len());
    let json: Value = serde_json::from_str(&raw).unwrap();
    for res in [
        "code",
        "instance",
        "route",
        "commands",
        "statistics",
        "site",
        "backup",
        "rollout",
    ] {
        for suffix in ["", "Input", "Patch", "Collection"] {
            assert!(
                json["components"]["schemas"][format!("{res}{suffix}")].is_object(),
                "{res}{suffix}"
            );
        }
    }
    for param in [
        "where",
        "sort",
        "page",
        "max_results",
        "projection",
        "embedded",
        "version",
        "show_deleted",
        "force",
    ] {
        assert!(json["components"]["parameters"][param].is_object(), "{param}");
    }
    for code in [
        "400", "401", "404", "405", "409", "412", "413", "415", "422", "428", "500",
    ] {
        assert!(
            json["paths"]["/code/{id}"]["patch"]["responses"][code].is_object(),
            "{code}"
        );
    }
}

#[tokio::test]
async fn openapi_types_json_parameters_requires_if_match_and_documents_429() {
    let app = TestApp::spawn().await;
    let json = app.get_json("/openapi.json").await;
    let params = &json["components"]["parameters"];
    for p in ["where", "projection", "embedded"] {
        let schema = &params[p]["content"]["application/json"]["schema"];
        assert!(schema.is_object(), "{p} is JSON: {}", params[p]);
        assert!(params[p].get("schema").is_none(), "{p} is not a free string");
    }
    assert!(params["sort"]["schema"]["pattern"].is_string());
    assert_eq!(params["If-Match"]["required"], true);
    let delete = &json["paths"]["/code/{id}"]["delete"];
    assert!(delete["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["$ref"] == "#/components/parameters/If-Match"));
    assert!(delete["responses"]["429"].is_object());
    assert!(json["paths"]["/jobs/{id}/retry"]["post"]["responses"]["409"].is_object());
}

#[tokio::test]
async fn options_answers_200_with_allow_and_eves_empty_body_content_type() {
    let app = TestApp::spawn().await;
    let res = app.request(Method::OPTIONS, "/code").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["allow"], "POST, GET, HEAD, OPTIONS");
    assert_eq!(res.headers()["content-type"], "text/html; charset=utf-8");
    let res = app
        .request(Method::OPTIONS, "/code/6b063bb73e47cec0540baa24")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["allow"], "GET, HEAD, PATCH, PUT, DELETE, OPTIONS");
    assert!(res.text().await.unwrap().is_empty());
}
