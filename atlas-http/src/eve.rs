//! Eve's wire format: JSON written the way Python's `json.dumps` writes it
//! (`", "` and `": "` separators, insertion order, non-ASCII escaped), and
//! the envelopes of docs/http.md "Envelopes": item, write, collection and version
//! envelopes with their `_links`, and the pagination link rules.
//!
//! # Contracts
//! - hrefs are relative (`code/<id>`), never URL-encoded; only `Location`
//!   is absolute (built by the handlers).
//! - A link query string is rebuilt as `max_results` (only if ≠ 500), then
//!   `where`, `sort`, `version`, `page` (only if > 1), then unknown
//!   parameters; `projection` and `embedded` are dropped.
//! - `_deleted` appears only on soft-delete resources (not `commands`).

use std::io;

use atlas_core::model::{Doc, Resource};
use atlas_core::query::DEFAULT_MAX_RESULTS;
use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde_json::ser::Formatter;
use serde_json::{json, Map, Value};

/// `application/json`, without a charset (as Eve sends it).
pub(crate) const JSON: HeaderValue = HeaderValue::from_static("application/json");

/// serde_json formatter reproducing Python's `json.dumps` defaults.
struct PyFormatter;

impl Formatter for PyFormatter {
    fn begin_array_value<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_key<W: ?Sized + io::Write>(&mut self, w: &mut W, first: bool) -> io::Result<()> {
        if first {
            Ok(())
        } else {
            w.write_all(b", ")
        }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }

    /// `ensure_ascii=True`: every non-ASCII character as `\uXXXX` (UTF-16
    /// surrogate pairs beyond the BMP), lowercase hex.
    fn write_string_fragment<W: ?Sized + io::Write>(&mut self, w: &mut W, fragment: &str) -> io::Result<()> {
        if fragment.is_ascii() {
            return w.write_all(fragment.as_bytes());
        }
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            if c.is_ascii() {
                continue;
            }
            w.write_all(&fragment.as_bytes()[start..i])?;
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                write!(w, "\\u{u:04x}")?;
            }
            start = i + c.len_utf8();
        }
        w.write_all(&fragment.as_bytes()[start..])
    }
}

/// `v` as Python's `json.dumps(v)` writes it.
pub(crate) fn to_python_json<T: Serialize + ?Sized>(v: &T) -> Vec<u8> {
    // Most envelopes (an item with its links) fit without regrowing.
    let mut out = Vec::with_capacity(1024);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, PyFormatter);
    // Serialising a `Value` (or plain data) into a Vec cannot fail.
    if v.serialize(&mut ser).is_err() {
        out.clear();
        out.extend_from_slice(b"null");
    }
    out
}

/// A JSON response with `status` and `body`.
pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    let mut res = Response::new(Body::from(to_python_json(body)));
    *res.status_mut() = status;
    res.headers_mut().insert(header::CONTENT_TYPE, JSON);
    res
}

/// `200` with a page envelope and `X-Total-Count: total` (when counted).
pub(crate) fn page_response(body: &Value, total: Total) -> Response {
    let mut res = json_response(StatusCode::OK, body);
    if let Some(total) = total.exact() {
        res.headers_mut()
            .insert("x-total-count", HeaderValue::from(total));
    }
    res
}

/// `{"title": title, "href": href}`.
pub(crate) fn link(title: &str, href: impl Into<String>) -> Value {
    let mut m = Map::with_capacity(2);
    m.insert("title".into(), Value::String(title.to_owned()));
    m.insert("href".into(), Value::String(href.into()));
    Value::Object(m)
}

/// The home link, `{"title": "home", "href": "/"}`.
pub(crate) fn home_link() -> Value {
    link("home", "/")
}

/// `<res>/<id>`.
pub(crate) fn item_href(res: Resource, id: &str) -> String {
    format!("{res}/{id}")
}

/// The document's fields and meta fields (`Doc::to_json`), without
/// `_deleted` where the resource has no soft delete.
pub(crate) fn doc_json(res: Resource, doc: &Doc) -> Map<String, Value> {
    into_doc_json(res, doc.clone())
}

/// [`doc_json`], consuming the document.
fn into_doc_json(res: Resource, doc: Doc) -> Map<String, Value> {
    let Value::Object(mut m) = doc.into_json() else {
        return Map::new();
    };
    if !res.soft_delete() {
        m.shift_remove("_deleted");
    }
    m
}

/// An item as `GET /<res>/<id>` returns it: fields, meta fields,
/// `_links {self, parent, collection}`, `_latest_version`.
pub(crate) fn item(res: Resource, doc: Doc) -> Value {
    let (id, version) = (doc.id, doc.version);
    let mut m = into_doc_json(res, doc);
    let mut links = Map::with_capacity(3);
    links.insert("self".into(), link(res.as_str(), item_href(res, &id.to_string())));
    links.insert("parent".into(), home_link());
    links.insert("collection".into(), link(res.as_str(), res.as_str()));
    m.insert("_links".into(), Value::Object(links));
    m.insert("_latest_version".into(), Value::from(version));
    Value::Object(m)
}

/// An item inside a collection's `_items`: fields, meta fields,
/// `_links {self}` (with `?version=N` when `version` is given),
/// `_latest_version`.
pub(crate) fn listed_item(res: Resource, doc: Doc, version: Option<u64>, latest: u64) -> Value {
    let id = doc.id;
    let mut m = into_doc_json(res, doc);
    let mut href = item_href(res, &id.to_string());
    if let Some(v) = version {
        href.push_str(&format!("?version={v}"));
    }
    m.insert("_links".into(), json!({ "self": link(res.as_str(), href) }));
    m.insert("_latest_version".into(), Value::from(latest));
    Value::Object(m)
}

/// The write envelope of POST 201 and PATCH/PUT 200 (`BANDWIDTH_SAVER`):
/// `_updated, _created, _deleted, _version, _etag, _id, _links,
/// _latest_version, _status`; on PUT `_id` comes before `_version`.
pub(crate) fn write_envelope(res: Resource, doc: &Doc, put: bool) -> Value {
    let id = Value::String(doc.id.to_string());
    let mut m = Map::with_capacity(9);
    m.insert("_updated".into(), Value::String(doc.updated.to_string()));
    m.insert("_created".into(), Value::String(doc.created.to_string()));
    if res.soft_delete() {
        m.insert("_deleted".into(), Value::Bool(doc.deleted));
    }
    if put {
        m.insert("_id".into(), id.clone());
    }
    m.insert("_version".into(), Value::from(doc.version));
    m.insert("_etag".into(), Value::String(doc.etag.to_string()));
    if !put {
        m.insert("_id".into(), id);
    }
    m.insert(
        "_links".into(),
        json!({ "self": link(res.as_str(), item_href(res, &doc.id.to_string())) }),
    );
    m.insert("_latest_version".into(), Value::from(doc.version));
    m.insert("_status".into(), Value::String("OK".into()));
    Value::Object(m)
}

/// The query parameters that links carry, as the client sent them.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkQuery {
    /// Effective page size (after the cap).
    pub(crate) max_results: u64,
    /// `where`, raw.
    pub(crate) where_: Option<String>,
    /// `sort`, raw.
    pub(crate) sort: Option<String>,
    /// `version`, raw.
    pub(crate) version: Option<String>,
    /// Every other parameter, in request order.
    pub(crate) other: Vec<(String, String)>,
}

impl LinkQuery {
    /// Eve's `querydef`: `?max_results=…&where=…&sort=…&version=…&page=…&k=v`,
    /// or the empty string.
    pub(crate) fn query_string(&self, page: u64) -> String {
        let mut parts: Vec<String> = Vec::new();
        if self.max_results != DEFAULT_MAX_RESULTS {
            parts.push(format!("max_results={}", self.max_results));
        }
        let mut push = |k: &str, v: &Option<String>| {
            if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
                parts.push(format!("{k}={v}"));
            }
        };
        push("where", &self.where_);
        push("sort", &self.sort);
        push("version", &self.version);
        if page > 1 {
            parts.push(format!("page={page}"));
        }
        for (k, v) in &self.other {
            parts.push(format!("{k}={v}"));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("?{}", parts.join("&"))
        }
    }
}

/// What a page knows of the matches in all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Total {
    /// Counted (or told by a page that is not full).
    Exact(u64),
    /// Not counted (`http.optimize_pagination_for_speed`): only whether
    /// this page is full, so that a next page may hold more.
    Uncounted {
        /// The page holds `max_results` items.
        full: bool,
    },
}

impl Total {
    /// The exact total, when counted.
    pub(crate) fn exact(self) -> Option<u64> {
        match self {
            Total::Exact(n) => Some(n),
            Total::Uncounted { .. } => None,
        }
    }
}

/// The `_links` of a page: `parent`, `self`, then `next` and `last` when
/// there is a next page, `prev` when `page > 1`. `base` is the href the
/// page is served at (`code`, or `instance/<id>` for versions) and
/// `title` the title of its self link. Uncounted, as Eve's
/// `OPTIMIZE_PAGINATION_FOR_SPEED`: no `last`, and `next` after every
/// full page.
pub(crate) fn page_links(
    mut links: Map<String, Value>,
    title: &str,
    base: &str,
    q: &LinkQuery,
    page: u64,
    total: Total,
) -> Value {
    let self_href = if total != Total::Exact(0) {
        format!("{base}{}", q.query_string(page))
    } else {
        base.to_owned()
    };
    links.insert("self".into(), link(title, self_href));
    let next = match total {
        Total::Exact(total) => page.saturating_mul(q.max_results) < total,
        Total::Uncounted { full } => full,
    };
    if next {
        links.insert(
            "next".into(),
            link("next page", format!("{base}{}", q.query_string(page + 1))),
        );
    }
    if let (true, Total::Exact(total)) = (next, total) {
        let last = total.div_ceil(q.max_results.max(1));
        links.insert(
            "last".into(),
            link("last page", format!("{base}{}", q.query_string(last))),
        );
    }
    if page > 1 {
        links.insert(
            "prev".into(),
            link("previous page", format!("{base}{}", q.query_string(page - 1))),
        );
    }
    Value::Object(links)
}

/// The `_links` of a collection page of `res`.
pub(crate) fn collection_links(res: Resource, q: &LinkQuery, page: u64, total: Total) -> Value {
    let mut links = Map::new();
    links.insert("parent".into(), home_link());
    page_links(links, res.as_str(), res.as_str(), q, page, total)
}

/// The `_links` of `?version=all|diffs` on item `id`: `parent` is the
/// collection, `self` the item with the query, `collection` the item.
pub(crate) fn versions_links(res: Resource, id: &str, q: &LinkQuery, page: u64, total: u64) -> Value {
    let base = item_href(res, id);
    let mut links = Map::new();
    links.insert("parent".into(), link(res.as_str(), res.as_str()));
    links.insert("self".into(), Value::Null);
    links.insert("collection".into(), link(res.as_str(), base.clone()));
    page_links(links, res.as_str(), &base, q, page, Total::Exact(total))
}

/// The `_links` of `?version=N` on item `id`.
pub(crate) fn version_links(res: Resource, id: &str, n: u64) -> Value {
    let base = item_href(res, id);
    let mut links = Map::new();
    links.insert("self".into(), link(res.as_str(), format!("{base}?version={n}")));
    links.insert("parent".into(), link(res.as_str(), base.clone()));
    links.insert(
        "collection".into(),
        link(res.as_str(), format!("{base}?version=all")),
    );
    Value::Object(links)
}

/// `{"_items": items, "_links": links, "_meta": {page, max_results, total}}`
/// (no `total` when it was not counted).
pub(crate) fn page_envelope(
    items: Vec<Value>,
    links: Value,
    page: u64,
    max_results: u64,
    total: Total,
) -> Value {
    let mut m = Map::with_capacity(3);
    m.insert("_items".into(), Value::Array(items));
    m.insert("_links".into(), links);
    let meta = match total.exact() {
        Some(total) => json!({ "page": page, "max_results": max_results, "total": total }),
        None => json!({ "page": page, "max_results": max_results }),
    };
    m.insert("_meta".into(), meta);
    Value::Object(m)
}

/// The fields `version=diffs` compares, in Eve's order: the schema's
/// top-level fields, then `_id _version _updated _created _etag _links`
/// (and `_deleted` on soft-delete resources).
pub(crate) fn diff(res: Resource, previous: &Value, current: &Value) -> Value {
    let (Some(old), Some(new)) = (previous.as_object(), current.as_object()) else {
        return current.clone();
    };
    let schema_fields = atlas_core::schema::schema(res).fields().iter().map(|f| f.name);
    let meta = ["_id", "_version", "_updated", "_created", "_etag", "_links"];
    let deleted = res.soft_delete().then_some("_deleted");
    let mut out = Map::new();
    for field in schema_fields.chain(meta).chain(deleted) {
        if let Some(v) = new.get(field) {
            if old.get(field) != Some(v) {
                out.insert(field.to_owned(), v.clone());
            }
        }
    }
    Value::Object(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use atlas_core::model::{Id, Timestamp};

    fn doc() -> Doc {
        let now = Timestamp::parse("2026-11-25 01:36:55 GMT").unwrap();
        let body = json!({"meta": {"name": "drupal"}, "git_url": "x"})
            .as_object()
            .unwrap()
            .clone();
        Doc::new(Id::parse("6b063bb73e47cec0540baa24").unwrap(), body, now)
    }

    fn keys(v: &Value) -> Vec<&str> {
        v.as_object().unwrap().keys().map(String::as_str).collect()
    }

    #[test]
    fn python_json_uses_spaced_separators_and_keeps_key_order() {
        let v = json!({"b": [1, 2, {"x": null}], "a": true, "c": 1.5});
        assert_eq!(
            String::from_utf8(to_python_json(&v)).unwrap(),
            r#"{"b": [1, 2, {"x": null}], "a": true, "c": 1.5}"#
        );
    }

    #[test]
    fn python_json_escapes_non_ascii_like_ensure_ascii() {
        let v = json!({"name": "café 😀", "q": "a\"b\\c\n\u{1f}"});
        assert_eq!(
            String::from_utf8(to_python_json(&v)).unwrap(),
            r#"{"name": "caf\u00e9 \ud83d\ude00", "q": "a\"b\\c\n\u001f"}"#
        );
    }

    #[test]
    fn write_envelope_keys_follow_eves_post_order() {
        let v = write_envelope(Resource::Code, &doc(), false);
        assert_eq!(
            keys(&v),
            [
                "_updated",
                "_created",
                "_deleted",
                "_version",
                "_etag",
                "_id",
                "_links",
                "_latest_version",
                "_status"
            ]
        );
        assert_eq!(
            v["_links"],
            json!({"self": {"title": "code", "href": "code/6b063bb73e47cec0540baa24"}})
        );
    }

    #[test]
    fn put_envelope_puts_id_before_version() {
        let v = write_envelope(Resource::Instance, &doc(), true);
        assert_eq!(
            keys(&v),
            [
                "_updated",
                "_created",
                "_deleted",
                "_id",
                "_version",
                "_etag",
                "_links",
                "_latest_version",
                "_status"
            ]
        );
    }

    #[test]
    fn commands_have_no_deleted_field() {
        assert!(!keys(&write_envelope(Resource::Commands, &doc(), false)).contains(&"_deleted"));
        assert!(!keys(&item(Resource::Commands, doc())).contains(&"_deleted"));
    }

    #[test]
    fn item_has_body_then_meta_then_links_then_latest_version() {
        let v = item(Resource::Code, doc());
        assert_eq!(
            keys(&v),
            [
                "meta",
                "git_url",
                "_updated",
                "_created",
                "_deleted",
                "_version",
                "_etag",
                "_id",
                "_links",
                "_latest_version"
            ]
        );
        assert_eq!(keys(&v["_links"]), ["self", "parent", "collection"]);
        assert_eq!(v["_links"]["parent"], json!({"title": "home", "href": "/"}));
        assert_eq!(
            v["_links"]["collection"],
            json!({"title": "code", "href": "code"})
        );
    }

    #[test]
    fn query_string_follows_eves_order_and_omits_defaults() {
        let q = LinkQuery {
            max_results: 1,
            where_: Some(r#"{"a":1}"#.into()),
            sort: Some("-_created".into()),
            version: None,
            other: vec![("show_deleted".into(), String::new())],
        };
        assert_eq!(
            q.query_string(2),
            r#"?max_results=1&where={"a":1}&sort=-_created&page=2&show_deleted="#
        );
        assert_eq!(
            q.query_string(1),
            r#"?max_results=1&where={"a":1}&sort=-_created&show_deleted="#
        );
        assert_eq!(
            LinkQuery {
                max_results: 500,
                ..Default::default()
            }
            .query_string(1),
            ""
        );
    }

    #[test]
    fn collection_links_have_next_and_last_only_when_a_next_page_exists() {
        let q = LinkQuery {
            max_results: 1,
            ..Default::default()
        };
        let links = collection_links(Resource::Code, &q, 2, Total::Exact(3));
        assert_eq!(keys(&links), ["parent", "self", "next", "last", "prev"]);
        assert_eq!(links["self"]["href"], "code?max_results=1&page=2");
        assert_eq!(links["next"]["href"], "code?max_results=1&page=3");
        assert_eq!(links["last"]["href"], "code?max_results=1&page=3");
        assert_eq!(links["prev"]["href"], "code?max_results=1");
        let past_end = collection_links(Resource::Code, &q, 5, Total::Exact(3));
        assert_eq!(keys(&past_end), ["parent", "self", "prev"]);
    }

    #[test]
    fn empty_collection_self_link_has_no_query() {
        let q = LinkQuery {
            max_results: 1,
            where_: Some("{}".into()),
            ..Default::default()
        };
        assert_eq!(
            collection_links(Resource::Code, &q, 1, Total::Exact(0))["self"],
            json!({"title": "code", "href": "code"})
        );
    }

    #[test]
    fn versions_links_point_parent_at_the_collection_and_collection_at_the_item() {
        let q = LinkQuery {
            max_results: 500,
            version: Some("all".into()),
            ..Default::default()
        };
        let links = versions_links(Resource::Instance, "6b063bb73e47cec0540baa24", &q, 1, 2);
        assert_eq!(keys(&links), ["parent", "self", "collection"]);
        assert_eq!(links["parent"], json!({"title": "instance", "href": "instance"}));
        assert_eq!(
            links["self"]["href"],
            "instance/6b063bb73e47cec0540baa24?version=all"
        );
        assert_eq!(links["collection"]["href"], "instance/6b063bb73e47cec0540baa24");
    }

    #[test]
    fn diff_keeps_changed_fields_in_eves_order() {
        let a = json!({"status": "pending", "sid": "p1", "_version": 1, "_etag": "a", "_updated": "t1", "_links": 1});
        let b = json!({"status": "installed", "sid": "p1", "_version": 2, "_etag": "b", "_updated": "t1", "_links": 2});
        let d = diff(Resource::Instance, &a, &b);
        assert_eq!(
            d,
            json!({"status": "installed", "_version": 2, "_etag": "b", "_links": 2})
        );
    }
}
