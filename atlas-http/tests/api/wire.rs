//! What goes over the socket below the JSON: header names spelled as Eve's
//! server wrote them, and URLs with raw `"` or spaces read as Eve read them.

use crate::helpers::{base64_credentials, module_body, raw_request, TestApp};

#[tokio::test]
async fn http1_header_names_are_spelled_as_eve_sent_them() {
    let app = TestApp::spawn().await;
    let v = app.create("code", &module_body("views", "7.x-3.1")).await;
    let id = v["_id"].as_str().unwrap();
    let answer = raw_request(
        &app,
        &format!("GET /code/{id} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    )
    .await;
    let head = answer.split("\r\n\r\n").next().unwrap();
    for name in [
        "Content-Type: application/json",
        "ETag: \"",
        "Last-Modified: ",
        "Content-Length: ",
        "Date: ",
    ] {
        assert!(head.contains(&format!("\r\n{name}")), "{name} in {head}");
    }
    let answer = raw_request(
        &app,
        "POST /code HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 401"), "{answer}");
    assert!(
        answer.contains("\r\nWWW-Authenticate: Basic realm=\"eve\"\r\n"),
        "{answer}"
    );
    let answer = raw_request(&app, "GET /code HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").await;
    assert!(answer.contains("\r\nX-Total-Count: 1\r\n"), "{answer}");
}

#[tokio::test]
async fn a_raw_quote_or_space_in_the_query_is_read_as_its_percent_encoding() {
    let app = TestApp::spawn().await;
    app.create("code", &module_body("alpha", "7.x-1.0")).await;
    app.create("code", &module_body("beta", "7.x-1.0")).await;
    // curl "$A/code?where={"meta.name": "alpha"}" (quotes and a space unencoded)
    let answer = raw_request(
        &app,
        "GET /code?where={\"meta.name\": \"alpha\"} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"total\": 1}"), "{answer}");
    assert!(answer.contains("\"name\": \"alpha\""), "{answer}");
}

#[tokio::test]
async fn raw_quotes_are_read_on_every_request_of_a_kept_alive_connection() {
    let app = TestApp::spawn().await;
    let auth = base64_credentials();
    // A POST whose body holds a request-like line, then two GETs with raw
    // quotes on the same connection: only the request lines are read as
    // URLs, the body reaches the handler unchanged.
    let body = "{\"name\": \"GET /\\\"x\\\" HTTP/1.1\", \"command\": \"uptime\"}";
    let requests = format!(
        "POST /commands HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}\
         GET /commands?where={{\"command\":\"uptime\"}} HTTP/1.1\r\nHost: x\r\n\r\n\
         GET /commands?where={{\"name\":\"GET /\\\"x\\\" HTTP/1.1\"}} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let answer = raw_request(&app, &requests).await;
    let statuses: Vec<&str> = answer
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &answer[i..i + 12])
        .collect();
    assert_eq!(
        statuses,
        ["HTTP/1.1 201", "HTTP/1.1 200", "HTTP/1.1 200"],
        "{answer}"
    );
    assert_eq!(answer.matches("\"total\": 1}").count(), 2, "{answer}");
}
