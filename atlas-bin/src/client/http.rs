//! Requests to the server: the base URL, Basic credentials only where the
//! API needs them, the server's error envelope turned into a message
//! (`server says 409: …`), connection failures that name the URL and what
//! to do, and writes that fetch the record's `_etag`, send it in
//! `If-Match`, and on a 412 read the record again and retry once.

use std::sync::OnceLock;

use anyhow::bail;
use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::client::profile::Target;

/// The server refused a request: its status and its message.
#[derive(Debug)]
pub struct ServerSaid {
    /// The HTTP status.
    pub status: StatusCode,
    /// The server's message (`_error.message`), with the field issues of a
    /// 422.
    pub message: String,
}

impl std::fmt::Display for ServerSaid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "server says {}: {}", self.status.as_u16(), self.message)
    }
}

impl std::error::Error for ServerSaid {}

/// The status of a refusal in `e`, when the server refused.
pub fn status_of(e: &anyhow::Error) -> Option<StatusCode> {
    e.downcast_ref::<ServerSaid>().map(|s| s.status)
}

/// `"field: message; other.field: message"` of a 422's `_issues`.
fn issues_text(prefix: &str, v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                issues_text(&p, v, out);
            }
        }
        Value::Array(items) => {
            let texts: Vec<String> = items.iter().map(plain).collect();
            out.push(format!("{prefix}: {}", texts.join(", ")));
        }
        other => out.push(format!("{prefix}: {}", plain(other))),
    }
}

/// A JSON value as text: strings without quotes.
pub fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A client of one server as one user.
pub struct Client {
    target: Target,
    http: reqwest::Client,
    password: OnceLock<String>,
}

impl Client {
    /// A client of `target`.
    ///
    /// # Errors
    /// The HTTP client cannot be built (no TLS roots).
    pub fn new(target: Target) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("atlas-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(60))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot set up the HTTP client: {e}"))?;
        Ok(Self {
            target,
            http,
            password: OnceLock::new(),
        })
    }

    /// The server's base URL.
    pub fn url(&self) -> &str {
        &self.target.url
    }

    fn password(&self) -> anyhow::Result<&str> {
        if let Some(p) = self.password.get() {
            return Ok(p);
        }
        let p = self.target.read_password()?;
        Ok(self.password.get_or_init(|| p))
    }

    /// Sends one request; answers the JSON body of a 2xx (`null` when
    /// empty). `auth`: send the credentials (every write, and the reads of
    /// jobs and command items).
    ///
    /// # Errors
    /// [`ServerSaid`] for any other status; unreachable server; a body
    /// that is not JSON.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        body: Option<&Value>,
        if_match: Option<&str>,
        auth: bool,
    ) -> anyhow::Result<Value> {
        let url = format!("{}/{}", self.target.url, path.trim_start_matches('/'));
        let mut req = self.http.request(method.clone(), &url);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        if let Some(etag) = if_match {
            req = req.header("If-Match", etag);
        }
        if auth {
            req = req.basic_auth(&self.target.user, Some(self.password()?));
        }
        let resp = req.send().await.map_err(|e| self.unreachable(&e))?;
        let status = resp.status();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer of {method} {url}: {e}"))?;
        let json: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        if status.is_success() {
            return Ok(json);
        }
        let mut message = json
            .pointer("/_error/message")
            .map(plain)
            .or_else(|| json.as_str().map(str::to_owned))
            .unwrap_or_else(|| status.canonical_reason().unwrap_or("error").to_owned());
        if let Some(issues) = json.get("_issues") {
            let mut parts = Vec::new();
            issues_text("", issues, &mut parts);
            if !parts.is_empty() {
                message = format!("{message} ({})", parts.join("; "));
            }
        }
        if status == StatusCode::UNAUTHORIZED {
            message = format!(
                "{message}: check the user ({}) and its password (ATLAS_PASSWORD_FILE, --password-file or the profile)",
                self.target.user
            );
        }
        Err(ServerSaid { status, message }.into())
    }

    fn unreachable(&self, e: &reqwest::Error) -> anyhow::Error {
        let mut cause: &dyn std::error::Error = e;
        while let Some(next) = cause.source() {
            cause = next;
        }
        if e.is_connect() {
            anyhow::anyhow!(
                "cannot connect to Atlas at {}: {cause}. Is the server running? Start it with `atlas serve`, \
                 or point the CLI at it with --url or ATLAS_URL",
                self.target.url
            )
        } else if e.is_timeout() {
            anyhow::anyhow!(
                "Atlas at {} did not answer in time: check that the server is healthy (GET /readyz)",
                self.target.url
            )
        } else {
            anyhow::anyhow!("request to Atlas at {} failed: {cause}", self.target.url)
        }
    }

    /// `GET path?query`.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn get(&self, path: &str, query: &[(&str, String)], auth: bool) -> anyhow::Result<Value> {
        self.send(Method::GET, path, query, None, None, auth).await
    }

    /// `POST path` with a JSON body (credentials sent).
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn post(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(Method::POST, path, &[], Some(body), None, true).await
    }

    /// Every item of a collection (`where` and `sort` in `query`), page by
    /// page, at most `limit` when given.
    ///
    /// # Errors
    /// As [`Client::send`].
    pub async fn list(
        &self,
        path: &str,
        query: &[(&str, String)],
        auth: bool,
        limit: Option<usize>,
    ) -> anyhow::Result<Vec<Value>> {
        let per_page = limit.map_or(500, |l| l.clamp(1, 500));
        let mut out = Vec::new();
        for page in 1.. {
            let mut q = query.to_vec();
            q.push(("max_results", per_page.to_string()));
            q.push(("page", page.to_string()));
            let answer = self.get(path, &q, auth).await?;
            let items = answer["_items"].as_array().cloned().unwrap_or_default();
            let n = items.len();
            out.extend(items);
            let total = answer.pointer("/_meta/total").and_then(Value::as_u64);
            let done = n < per_page
                || total.is_some_and(|t| out.len() as u64 >= t)
                || limit.is_some_and(|l| out.len() >= l);
            if done {
                break;
            }
        }
        if let Some(l) = limit {
            out.truncate(l);
        }
        Ok(out)
    }

    /// Changes one record with its current etag: reads `read_path`, builds
    /// the body from the record with `body` (`None`: nothing to change, the
    /// record is answered as read), sends `method` to
    /// `<resource>/<_id>?query` with `If-Match`. On a 412 (someone wrote
    /// the record in between) reads it again and retries once; a second
    /// 412 is reported.
    ///
    /// # Errors
    /// As [`Client::send`]; `body`'s own errors; two 412s.
    pub async fn write_item(
        &self,
        method: Method,
        resource: &str,
        read_path: &str,
        query: &[(&str, String)],
        body: impl Fn(&Value) -> anyhow::Result<Option<Value>>,
    ) -> anyhow::Result<Value> {
        let mut retried = false;
        loop {
            let record = self.get(read_path, &[], false).await?;
            let Some(payload) = body(&record)? else {
                return Ok(record);
            };
            let (Some(id), Some(etag)) = (record["_id"].as_str(), record["_etag"].as_str()) else {
                bail!(
                    "the server answered {read_path} without _id and _etag: is {} an Atlas server?",
                    self.url()
                );
            };
            let path = format!("{resource}/{id}");
            let sent = if method == Method::DELETE {
                None
            } else {
                Some(&payload)
            };
            match self
                .send(method.clone(), &path, query, sent, Some(etag), true)
                .await
            {
                Err(e) if status_of(&e) == Some(StatusCode::PRECONDITION_FAILED) => {
                    if retried {
                        bail!(
                            "{resource} {id} changed again while we wrote it (412 twice): someone else is changing it; \
                             run the command again once it has settled"
                        );
                    }
                    eprintln!(
                        "note: {resource} {id} changed while we wrote it (412); read it again and retried"
                    );
                    retried = true;
                }
                other => return other,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn issues_are_listed_by_dotted_field() {
        let mut out = Vec::new();
        issues_text(
            "",
            &json!({"commit_hash": "required field", "meta": {"code_type": "unallowed value x"}}),
            &mut out,
        );
        assert_eq!(
            out,
            ["commit_hash: required field", "meta.code_type: unallowed value x"]
        );
    }
}
