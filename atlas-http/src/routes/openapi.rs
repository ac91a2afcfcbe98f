//! `GET /openapi.json`: an OpenAPI 3.1 document generated from the core
//! schemas: every route, every resource's document / input / patch shape,
//! every query parameter, and every response and error envelope.

use std::sync::OnceLock;

use atlas_core::model::Resource;
use atlas_core::schema::{self, Kind, Rules, Schema};
use axum::extract::{Request, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::{json, Map, Value};

use super::{other_method, READ_ALLOW};
use crate::{eve, AppState};

/// `/openapi.json`: under a `http.base_path`, the document names it as its
/// server, so the paths resolve under the prefix.
pub(crate) async fn document(State(state): State<AppState>, req: Request) -> Response {
    let method = req.method();
    if method != Method::GET && method != Method::HEAD {
        return other_method(method, READ_ALLOW);
    }
    static DOC: OnceLock<Value> = OnceLock::new();
    let doc = DOC.get_or_init(openapi);
    let base = &state.config.base_path;
    if base.is_empty() {
        return eve::json_response(StatusCode::OK, doc);
    }
    let mut doc = doc.clone();
    if let Some(m) = doc.as_object_mut() {
        m.shift_insert(1, "servers".into(), json!([{ "url": base }]));
    }
    eve::json_response(StatusCode::OK, &doc)
}

/// Which shape of a resource's fields to describe.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// As returned (no `required`, read-only fields included).
    Output,
    /// A POST / PUT body (`required` as the schema says).
    Input,
    /// A PATCH body (nothing required).
    Patch,
}

fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn response_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/responses/{name}") })
}

fn param_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/parameters/{name}") })
}

fn rules_schema(rules: &Rules, shape: Shape) -> Value {
    let mut m = Map::new();
    let ty = match &rules.kind {
        Kind::String => "string",
        Kind::Integer => "integer",
        Kind::Number => "number",
        Kind::Boolean => "boolean",
        Kind::ObjectId => {
            m.insert("pattern".into(), json!("^[a-f0-9]{24}$"));
            "string"
        }
        Kind::Datetime => {
            m.insert(
                "description".into(),
                json!("`%Y-%m-%d %H:%M:%S GMT`; RFC 3339 is also accepted on input"),
            );
            m.insert("examples".into(), json!(["2026-11-25 01:36:55 GMT"]));
            "string"
        }
        Kind::Dict(inner) => {
            if let Value::Object(o) = object_schema(inner, shape) {
                m.extend(o.into_iter().filter(|(k, _)| k != "type"));
            }
            "object"
        }
        Kind::Map(values) => {
            m.insert("additionalProperties".into(), rules_schema(values, shape));
            "object"
        }
        Kind::List(items) => {
            if let Some(r) = items {
                m.insert("items".into(), rules_schema(r, shape));
            }
            "array"
        }
        _ => "object",
    };
    // A POST / PUT body may send `null` for a field with a default: it
    // takes the default (Cerberus).
    let null_takes_default = shape == Shape::Input && rules.default.is_some();
    let type_value = if rules.nullable || null_takes_default {
        json!([ty, "null"])
    } else {
        json!(ty)
    };
    m.insert("type".into(), type_value);
    if !rules.allowed.is_empty() {
        m.insert("enum".into(), Value::Array(rules.allowed.clone()));
    }
    if let Some(n) = rules.minlength {
        let key = if matches!(rules.kind, Kind::List(_)) {
            "minItems"
        } else {
            "minLength"
        };
        m.insert(key.into(), json!(n));
    }
    if let Some(n) = rules.maxlength {
        let key = if matches!(rules.kind, Kind::List(_)) {
            "maxItems"
        } else {
            "maxLength"
        };
        m.insert(key.into(), json!(n));
    }
    if let Some(p) = &rules.regex {
        m.insert("pattern".into(), json!(format!("^(?:{})$", p.source())));
    }
    if let Some(d) = &rules.default {
        m.insert("default".into(), d.clone());
    }
    if rules.readonly {
        m.insert("readOnly".into(), json!(true));
    }
    if let Some(rel) = rules.relation {
        let mut desc = format!("Id of a live `{}` record.", rel.resource);
        if rel.embeddable {
            desc.push_str(" Embeddable with `?embedded=`.");
        }
        if rules.unique {
            desc.push_str(" Unique.");
        }
        m.insert("description".into(), json!(desc));
    } else if rules.unique {
        m.insert("description".into(), json!("Unique among live records."));
    }
    Value::Object(m)
}

fn object_schema(s: &Schema, shape: Shape) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for f in s.fields() {
        if f.rules.internal || (shape != Shape::Output && f.rules.readonly) {
            continue;
        }
        props.insert(f.name.to_owned(), rules_schema(&f.rules, shape));
        if shape == Shape::Input && f.rules.required && f.rules.default.is_none() {
            required.push(json!(f.name));
        }
    }
    let mut m = Map::new();
    m.insert("type".into(), json!("object"));
    m.insert("properties".into(), Value::Object(props));
    if !required.is_empty() {
        m.insert("required".into(), Value::Array(required));
    }
    m.insert("additionalProperties".into(), json!(shape == Shape::Output));
    Value::Object(m)
}

fn document_schema(res: Resource) -> Value {
    let mut v = object_schema(schema::schema(res), Shape::Output);
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "_id".into(),
            json!({"type": "string", "pattern": "^[a-f0-9]{24}$"}),
        );
        props.insert(
            "_etag".into(),
            json!({"type": "string", "pattern": "^[a-f0-9]{40}$"}),
        );
        props.insert(
            "_created".into(),
            json!({"type": "string", "examples": ["2026-11-25 01:36:55 GMT"]}),
        );
        props.insert(
            "_updated".into(),
            json!({"type": "string", "examples": ["2026-11-25 01:36:55 GMT"]}),
        );
        props.insert("_version".into(), json!({"type": "integer", "minimum": 1}));
        props.insert("_latest_version".into(), json!({"type": "integer", "minimum": 1}));
        if res.soft_delete() {
            props.insert("_deleted".into(), json!({"type": "boolean"}));
        }
        props.insert("_links".into(), schema_ref("Links"));
    }
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "required".into(),
            json!(["_id", "_etag", "_created", "_updated", "_version"]),
        );
    }
    v
}

fn json_content(schema: Value) -> Value {
    json!({ "application/json": { "schema": schema } })
}

fn ok(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": json_content(schema) })
}

fn with_errors(mut responses: Map<String, Value>, codes: &[&str]) -> Value {
    for code in codes {
        let name = match *code {
            "304" => "NotModified",
            "400" => "BadRequest",
            "401" => "Unauthorized",
            "404" => "NotFound",
            "405" => "MethodNotAllowed",
            "409" => "Conflict",
            "412" => "PreconditionFailed",
            "413" => "PayloadTooLarge",
            "415" => "UnsupportedMediaType",
            "422" => "Invalid",
            "428" => "PreconditionRequired",
            "429" => "TooManyRequests",
            "503" => "Timeout",
            _ => "Internal",
        };
        responses.insert((*code).to_owned(), response_ref(name));
    }
    if codes.contains(&"401") {
        responses.insert("429".into(), response_ref("TooManyRequests"));
        responses.insert("503".into(), response_ref("AuthUnavailable"));
    }
    responses.insert("500".into(), response_ref("Internal"));
    Value::Object(responses)
}

fn responses(pairs: Vec<(&str, Value)>, errors: &[&str]) -> Value {
    let mut m = Map::new();
    for (k, v) in pairs {
        m.insert(k.to_owned(), v);
    }
    with_errors(m, errors)
}

fn basic() -> Value {
    json!([{ "basicAuth": [] }])
}

fn public() -> Value {
    json!([{}, { "basicAuth": [] }])
}

/// 24 lowercase hex: a record or job `_id`.
const ID_PATTERN: &str = "^[a-f0-9]{24}$";

fn id_param(description: &str) -> Value {
    id_param_matching(description, ID_PATTERN)
}

fn id_param_matching(description: &str, pattern: &str) -> Value {
    json!({ "name": "id", "in": "path", "required": true, "description": description,
            "schema": {"type": "string", "pattern": pattern} })
}

fn resource_paths(res: Resource, paths: &mut Map<String, Value>) {
    let name = res.as_str();
    let doc = name.to_owned();
    let list_params: Vec<Value> = [
        "where",
        "sort",
        "page",
        "max_results",
        "projection",
        "embedded",
        "show_deleted",
    ]
    .iter()
    .map(|p| param_ref(p))
    .collect();
    paths.insert(
        format!("/{name}"),
        json!({
            "get": {
                "operationId": format!("list_{name}"),
                "summary": format!("List {name} records"),
                "tags": [name],
                "security": public(),
                "parameters": list_params,
                "responses": responses(vec![("200", json!({
                    "description": "A page of records",
                    "headers": {
                        "X-Total-Count": {"description": "Records matching in all (absent with `http.optimize_pagination_for_speed`)", "schema": {"type": "integer"}},
                        "Last-Modified": {"description": "Newest `_updated` of the page (absent on empty pages)", "schema": {"type": "string"}}
                    },
                    "content": json_content(schema_ref(&format!("{doc}Collection")))
                }))], &["400"]),
            },
            "post": {
                "operationId": format!("create_{name}"),
                "summary": format!("Create one {name} record, or several at once (all or nothing)"),
                "tags": [name],
                "security": basic(),
                "requestBody": {
                    "required": true,
                    "content": json_content(json!({"oneOf": [
                        schema_ref(&format!("{doc}Input")),
                        {"type": "array", "minItems": 1, "items": schema_ref(&format!("{doc}Input"))}
                    ]}))
                },
                "responses": responses(vec![("201", json!({
                    "description": "Created; `Location` is the first record's URL",
                    "headers": {"Location": {"description": "Absolute URL of the (first) created record", "schema": {"type": "string"}}},
                    "content": json_content(json!({"oneOf": [schema_ref("WriteEnvelope"), schema_ref("BulkWriteEnvelope")]}))
                }))], &["400", "401", "409", "413", "415", "422"]),
            }
        }),
    );
    let id_desc = "The record's `_id` (24 lowercase hex)";
    let get_id = if res == Resource::Instance {
        id_param_matching(
            "The record's `_id` (24 lowercase hex) or its `sid`",
            "^([a-f0-9]{24}|[a-z0-9_]{9,14})$",
        )
    } else {
        id_param(id_desc)
    };
    let write = |op: &str, summary: String, body: Option<String>, ok_code: &str, ok_body: Value| {
        let mut m = Map::new();
        m.insert("operationId".into(), json!(format!("{op}_{name}")));
        m.insert("summary".into(), json!(summary));
        m.insert("tags".into(), json!([name]));
        m.insert("security".into(), basic());
        m.insert(
            "parameters".into(),
            json!([id_param(id_desc), param_ref("If-Match")]),
        );
        if let Some(b) = body {
            m.insert(
                "requestBody".into(),
                json!({"required": true, "content": json_content(schema_ref(&b))}),
            );
        }
        m.insert(
            "responses".into(),
            responses(
                vec![(ok_code, ok_body)],
                &[
                    "400", "401", "404", "405", "409", "412", "413", "415", "422", "428",
                ],
            ),
        );
        Value::Object(m)
    };
    let envelope_ok = ok("Saved; `ETag` is the new `_etag`", schema_ref("WriteEnvelope"));
    let mut delete = write(
        "delete",
        format!("Delete a {name} record (soft)"),
        None,
        "204",
        json!({"description": "Deleted"}),
    );
    if res == Resource::Instance {
        delete["summary"] = json!(
            "Delete an instance (soft); its removal from the servers takes a `pre_delete` backup first. \
                                   A `launched` instance is refused (409) unless `force=true`"
        );
        if let Some(params) = delete["parameters"].as_array_mut() {
            params.push(param_ref("force"));
        }
    }
    let get_security = if res == Resource::Commands {
        basic()
    } else {
        public()
    };
    let get_errors: &[&str] = if res == Resource::Commands {
        &["304", "400", "401", "404"]
    } else {
        &["304", "400", "404"]
    };
    paths.insert(
        format!("/{name}/{{id}}"),
        json!({
            "get": {
                "operationId": format!("get_{name}"),
                "summary": format!("One {name} record, or its versions with `?version=`"),
                "tags": [name],
                "security": get_security,
                "parameters": [get_id, param_ref("version"), param_ref("projection"), param_ref("embedded"),
                               param_ref("If-None-Match"), param_ref("If-Modified-Since")],
                "responses": responses(vec![("200", json!({
                    "description": "The record (`ETag`, `Last-Modified`), or with `version=all|diffs` a page of versions",
                    "headers": {
                        "ETag": {"description": "`\"<_etag>\"`", "schema": {"type": "string"}},
                        "Last-Modified": {"description": "RFC 1123 `_updated`", "schema": {"type": "string"}}
                    },
                    "content": json_content(json!({"oneOf": [schema_ref(&doc), schema_ref("Versions")]}))
                }))], get_errors),
            },
            "patch": write("update", format!("Merge changes into a {name} record"), Some(format!("{doc}Patch")), "200", envelope_ok.clone()),
            "put": write("replace", format!("Replace a {name} record"), Some(format!("{doc}Input")), "200", envelope_ok),
            "delete": delete,
        }),
    );
}

/// What a path segment never holds (a regex character-class body):
/// whitespace, control characters, quotes, brackets, braces and commas.
const NOT_IN_PATH: &str = "\\s\\u0000-\\u001f\\u007f-\\u009f\"'()\\[\\]{},";

fn parameters() -> Value {
    let q = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let h = |name: &str, description: &str| json!({ "name": name, "in": "header", "required": false, "description": description, "schema": {"type": "string"} });
    // A query parameter holding JSON (OpenAPI `content`, so clients and
    // fuzzers send JSON text, not free strings).
    let qj = |name: &str, description: &str, schema: Value| {
        json!({ "name": name, "in": "query", "required": false, "description": description,
                                                                     "content": {"application/json": {"schema": schema}} })
    };
    // A field path as the parser takes it: non-empty dot-separated
    // segments, not starting with `$`, without whitespace, control
    // characters, quotes, brackets or commas.
    let path = json!({"type": "string", "pattern": format!("^[^$.{NOT_IN_PATH}][^.{NOT_IN_PATH}]*(\\.[^.{NOT_IN_PATH}]+)*$")});
    // A field path: dot-separated non-empty segments, not starting with
    // `$` (which marks operators).
    let plain = json!({"pattern": "^[^$.][^.]*(\\.[^.]+)*$"});
    // The keys of an object compared for equality: anything not starting
    // with `$` (an object of `$` keys is an operator expression).
    let flags = json!({"type": "object", "propertyNames": path, "additionalProperties": {"enum": [0, 1, false, true]}, "maxProperties": 32});
    json!({
        "where": qj("where", "MongoDB-style JSON filter, e.g. `{\"status\": \"installed\"}`. The schema describes equality on (dotted) field names; the operators $and $or $nor $eq $ne $gt $gte $lt $lte $in $nin $exists $regex are accepted too",
                    json!({"type": "object", "propertyNames": plain.clone(),
                           "additionalProperties": schema_ref("WhereLiteral")})),
        "sort": q("sort", "`-field`, `a,-b` (at most 32 keys), or `[(\"a\", -1)]`",
                  json!({"type": "string", "pattern": sort_pattern()})),
        "page": q("page", "1-based page number", json!({"type": "integer", "minimum": 1, "default": 1})),
        "max_results": q("max_results", "Page size; values above 2000 are capped", json!({"type": "integer", "minimum": 1, "default": 500})),
        "projection": qj("projection", "`{\"field\": 1}` (or `true`) to include, `{\"field\": 0}` (or `false`) to exclude (not both); meta fields are always kept", json!({"oneOf": [
            {"type": "object", "propertyNames": path, "additionalProperties": {"enum": [1, true]}, "maxProperties": 32},
            {"type": "object", "propertyNames": path, "additionalProperties": {"enum": [0, false]}, "maxProperties": 32, "minProperties": 1}]})),
        "embedded": qj("embedded", "`{\"path\": 1}` inlines the records a data relation refers to", flags),
        "show_deleted": q("show_deleted", "Include soft-deleted records (presence is enough)", json!({"type": "string"})),
        "version": q("version", "`all`, `diffs`, or a version number", json!({"type": "string", "pattern": "^(all|diffs|[1-9][0-9]{0,8})$"})),
        "force": q("force", "`true` deletes a `launched` instance (otherwise refused with 409)", json!({"type": "boolean"})),
        "If-Match": {"name": "If-Match", "in": "header", "required": true,
                     "description": "The record's current `_etag` (bare, quoted or `W/`); without it a write is 428, stale it is 412",
                     "schema": {"type": "string", "pattern": "^(W/)?\"?[a-f0-9]{40}\"?$"}},
        "If-None-Match": h("If-None-Match", "An `_etag` (bare, quoted or `W/`); 304 when it is current"),
        "If-Modified-Since": h("If-Modified-Since", "RFC 1123 date; 304 when the record has not changed since"),
    })
}

/// What `parse_sort` accepts in its comma syntax, as a regex: up to 32
/// keys, each an optional `-` and a dotted path (non-empty segments, not
/// starting with `$`, without whitespace, control characters, quotes,
/// brackets, braces or commas), spaces around keys allowed.
fn sort_pattern() -> String {
    let seg = r#"[^\s\x00-\x1f\x7f-\x9f"'()\[\]{},.]"#;
    let first = r#"[^\s\x00-\x1f\x7f-\x9f"'()\[\]{},.$]"#;
    let key = format!(r"-?{first}{seg}*(\.{seg}+)*");
    format!(r"^\s*({key}(\s*,\s*{key}){{0,31}})?\s*$")
}

fn error_response(description: &str, schema: &str) -> Value {
    json!({ "description": description, "content": json_content(schema_ref(schema)) })
}

fn components_schemas() -> Map<String, Value> {
    let mut s = Map::new();
    // A value compared for equality in a `where`: no object in it, at any
    // depth, has a key starting with `$` (the parser refuses unknown
    // operators wherever they appear).
    let literal = json!({"pattern": "^([^$][\\s\\S]*)?$"});
    s.insert(
        "WhereLiteral".into(),
        json!({"anyOf": [
            {"type": ["null", "boolean", "number", "string"]},
            {"type": "array", "items": schema_ref("WhereLiteral")},
            {"type": "object", "propertyNames": literal, "additionalProperties": schema_ref("WhereLiteral")}
        ]}),
    );
    s.insert("Link".into(), json!({"type": "object", "properties": {"title": {"type": "string"}, "href": {"type": "string"}}, "required": ["title", "href"]}));
    s.insert(
        "Links".into(),
        json!({"type": "object", "additionalProperties": schema_ref("Link"),
               "description": "HATEOAS links: self, parent, collection, prev, next, last (relative hrefs)"}),
    );
    s.insert(
        "Meta".into(),
        json!({"type": "object", "properties": {"page": {"type": "integer"}, "max_results": {"type": "integer"},
                "total": {"type": "integer", "description": "Records matching in all; absent on collections when the server sets `http.optimize_pagination_for_speed`"}},
               "required": ["page", "max_results"]}),
    );
    s.insert(
        "WriteEnvelope".into(),
        json!({"type": "object", "properties": {
            "_updated": {"type": "string"}, "_created": {"type": "string"}, "_deleted": {"type": "boolean"},
            "_version": {"type": "integer"}, "_etag": {"type": "string"}, "_id": {"type": "string"},
            "_links": schema_ref("Links"), "_latest_version": {"type": "integer"}, "_status": {"const": "OK"}},
            "required": ["_updated", "_created", "_version", "_etag", "_id", "_status"]}),
    );
    s.insert(
        "BulkWriteEnvelope".into(),
        json!({"type": "object", "properties": {"_status": {"const": "OK"}, "_items": {"type": "array", "items": schema_ref("WriteEnvelope")}},
               "required": ["_status", "_items"]}),
    );
    s.insert(
        "ErrorDetail".into(),
        json!({"type": "object", "properties": {"code": {"type": "integer"}, "message": {"type": "string"}}, "required": ["code", "message"]}),
    );
    s.insert(
        "Error".into(),
        json!({"type": "object", "properties": {"_status": {"const": "ERR"}, "_error": schema_ref("ErrorDetail")}, "required": ["_status", "_error"]}),
    );
    s.insert(
        "Issues".into(),
        json!({"type": "object", "description": "Per field: a message, a list of messages, or nested issues (list items by index)",
               "additionalProperties": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"anyOf": [{"type": "string"}, schema_ref("Issues")]}}, schema_ref("Issues")]}}),
    );
    s.insert(
        "ValidationError".into(),
        json!({"type": "object", "properties": {
            "_status": {"const": "ERR"}, "_issues": schema_ref("Issues"), "_error": schema_ref("ErrorDetail"),
            "_items": {"type": "array", "items": {"type": "object", "properties": {"_status": {"enum": ["OK", "ERR"]}, "_issues": schema_ref("Issues")}}}},
            "required": ["_status", "_error"],
            "description": "`_issues` for one document; `_items` (one entry per document) for a bulk POST"}),
    );
    s.insert(
        "Versions".into(),
        json!({"type": "object", "properties": {"_items": {"type": "array", "items": {"type": "object"}}, "_links": schema_ref("Links"), "_meta": schema_ref("Meta")},
               "required": ["_items", "_links", "_meta"]}),
    );
    s.insert(
        "Job".into(),
        json!({"type": "object", "properties": {
            "_id": {"type": "string"}, "kind": {"type": "string"}, "payload": {}, "key": {"type": ["string", "null"]},
            "status": {"enum": ["queued", "running", "succeeded", "dead"]}, "attempts": {"type": "integer"},
            "max_attempts": {"type": "integer"}, "run_at": {"type": "string"}, "created": {"type": "string"}, "updated": {"type": "string"},
            "started": {"type": ["string", "null"]}, "finished": {"type": ["string", "null"]},
            "lease_owner": {"type": ["string", "null"]}, "lease_until": {"type": ["string", "null"]},
            "last_error": {"type": ["string", "null"]}, "result": {}, "_links": schema_ref("Links")},
            "required": ["_id", "kind", "status", "attempts"]}),
    );
    s.insert(
        "JobCollection".into(),
        json!({"type": "object", "properties": {"_items": {"type": "array", "items": schema_ref("Job")}, "_links": schema_ref("Links"), "_meta": schema_ref("Meta")},
               "required": ["_items", "_links", "_meta"]}),
    );
    s.insert(
        "Home".into(),
        json!({"type": "object", "properties": {"_links": {"type": "object", "properties": {"child": {"type": "array", "items": {"type": "object",
               "properties": {"href": {"type": "string"}, "title": {"type": "string"}}}}}}}}),
    );
    for res in Resource::ALL {
        let name = res.as_str();
        s.insert(name.to_owned(), document_schema(res));
        s.insert(
            format!("{name}Input"),
            object_schema(schema::schema(res), Shape::Input),
        );
        s.insert(
            format!("{name}Patch"),
            object_schema(schema::schema(res), Shape::Patch),
        );
        s.insert(
            format!("{name}Collection"),
            json!({"type": "object", "properties": {"_items": {"type": "array", "items": schema_ref(name)}, "_links": schema_ref("Links"), "_meta": schema_ref("Meta")},
                   "required": ["_items", "_links", "_meta"]}),
        );
    }
    s
}

/// The whole document.
pub(crate) fn openapi() -> Value {
    let mut paths = Map::new();
    paths.insert(
        "/".into(),
        json!({"get": {"operationId": "home", "summary": "The resources", "security": public(),
                       "responses": responses(vec![("200", ok("Links to every resource", schema_ref("Home")))], &[])}}),
    );
    paths.insert(
        "/version".into(),
        json!({"get": {"operationId": "version", "summary": "The server version", "security": public(),
                       "responses": responses(vec![("200", json!({"description": "The version", "content": {"text/plain": {"schema": {"type": "string"}}}}))], &[])}}),
    );
    paths.insert(
        "/openapi.json".into(),
        json!({"get": {"operationId": "openapi", "summary": "This document", "security": public(),
                       "responses": responses(vec![("200", ok("OpenAPI 3.1", json!({"type": "object"})))], &[])}}),
    );
    for res in Resource::ALL {
        resource_paths(res, &mut paths);
    }
    paths.insert(
        "/commands/{id}/execute".into(),
        json!({"post": {"operationId": "execute_commands", "summary": "Run a command item on the instances its query selects",
                        "tags": ["commands"], "security": basic(), "parameters": [id_param("The command's `_id`")],
                        "responses": responses(vec![("202", json!({"description": "Queued; `Location` is the job",
                            "headers": {"Location": {"description": "Absolute URL of the job", "schema": {"type": "string"}}},
                            "content": json_content(schema_ref("Job"))}))], &["401", "404", "405"])}}),
    );
    paths.insert(
        "/backup/{id}/restore".into(),
        json!({"post": {"operationId": "restore_backup",
                        "summary": "Restore a complete backup onto its instance (its code switched back first when it changed)",
                        "tags": ["backup"], "security": basic(), "parameters": [id_param("The backup's `_id`")],
                        "responses": responses(vec![("202", json!({"description": "Queued; `Location` is the job",
                            "headers": {"Location": {"description": "Absolute URL of the job", "schema": {"type": "string"}}},
                            "content": json_content(schema_ref("Job"))}))], &["401", "404", "405", "409"])}}),
    );
    for (action, summary) in [
        (
            "verify",
            "Compare the instance on its servers with its records (code links and checkouts, settings, database, web links); the job keeps the findings as the instance's `drift` and notifies new ones (409 unless it is available, installed, launched or down)",
        ),
        (
            "heal",
            "Verify the instance, re-apply the desired state for its healable findings (links, settings, checkouts; never the database), verify again and keep the result as its `drift` (409 unless it is available, installed, launched or down)",
        ),
    ] {
        paths.insert(
            format!("/instance/{{id}}/{action}"),
            json!({"post": {"operationId": format!("{action}_instance"), "summary": summary, "tags": ["instance"],
                            "security": basic(),
                            "parameters": [id_param_matching("The instance's `_id` or `sid`", "^([a-f0-9]{24}|[a-z0-9_]{9,14})$")],
                            "responses": responses(vec![("202", json!({"description": "Queued; `Location` is the job",
                                "headers": {"Location": {"description": "Absolute URL of the job", "schema": {"type": "string"}}},
                                "content": json_content(schema_ref("Job"))}))], &["401", "404", "405", "409"])}}),
        );
    }
    for (action, summary, body) in [
        (
            "pause",
            "Pause a running rollout: the current wave finishes, no new wave starts (409 unless it is running)",
            None,
        ),
        (
            "resume",
            "Resume a paused or halted rollout; a halted one needs `{\"failed\": \"retry\"}` (failed instances back into the plan) or `{\"failed\": \"skip\"}` (recorded in `skipped`, left out), else 409",
            Some(json!({"type": "object", "properties": {"failed": {"type": "string", "enum": ["retry", "skip"]}}})),
        ),
        (
            "abort",
            "Abort a rollout that is not over: it is `aborted` and the queued instance jobs of its current wave are cancelled (409 when it is completed or aborted)",
            None,
        ),
    ] {
        // A body brings the body's own refusals: undecodable (400), too
        // large (413), not JSON or a form (415).
        let errors: &[&str] = if body.is_some() {
            &["400", "401", "404", "405", "409", "413", "415", "422"]
        } else {
            &["401", "404", "405", "409", "422"]
        };
        let mut op = json!({"operationId": format!("{action}_rollout"), "summary": summary, "tags": ["rollout"],
                            "security": basic(), "parameters": [id_param("The rollout's `_id`")],
                            "responses": responses(vec![("200", ok("The rollout as it now is", schema_ref("rollout")))],
                                                   errors)});
        if let Some(body) = body {
            op["requestBody"] = json!({"required": false, "content": json_content(body)});
        }
        paths.insert(format!("/rollout/{{id}}/{action}"), json!({ "post": op }));
    }
    let list_params: Vec<Value> = ["where", "sort", "page", "max_results"]
        .iter()
        .map(|p| param_ref(p))
        .collect();
    paths.insert(
        "/jobs".into(),
        json!({"get": {"operationId": "list_jobs", "summary": "The job queue", "tags": ["jobs"], "security": basic(),
                       "parameters": list_params,
                       "responses": responses(vec![("200", json!({"description": "A page of jobs",
                            "headers": {"X-Total-Count": {"description": "Jobs matching in all", "schema": {"type": "integer"}}},
                            "content": json_content(schema_ref("JobCollection"))}))], &["400", "401"])}}),
    );
    paths.insert(
        "/jobs/{id}".into(),
        json!({"get": {"operationId": "get_job", "summary": "One job", "tags": ["jobs"], "security": basic(),
                       "parameters": [id_param("The job's `_id`")],
                       "responses": responses(vec![("200", ok("The job", schema_ref("Job")))], &["401", "404"])}}),
    );
    for (action, summary) in [
        (
            "retry",
            "Run a dead job again, now, with a full attempt budget (409 unless it is dead)",
        ),
        (
            "cancel",
            "Stop a queued job: it becomes dead, `cancelled by <user>` (409 unless it is queued)",
        ),
    ] {
        paths.insert(
            format!("/jobs/{{id}}/{action}"),
            json!({"post": {"operationId": format!("{action}_job"), "summary": summary, "tags": ["jobs"], "security": basic(),
                            "parameters": [id_param("The job's `_id`")],
                            "responses": responses(vec![("200", ok("The job as it now is", schema_ref("Job")))], &["401", "404", "405", "409"])}}),
        );
    }
    paths.insert(
        "/instance/{id}/jobs".into(),
        json!({"get": {"operationId": "list_instance_jobs",
                       "summary": "An instance's operation log: its jobs, newest first", "tags": ["jobs"],
                       "security": basic(),
                       "parameters": [id_param_matching("The instance's `_id` or `sid`", "^([a-f0-9]{24}|[a-z0-9_]{9,14})$")],
                       "responses": responses(vec![("200", json!({"description": "A page of the instance's jobs",
                            "headers": {"X-Total-Count": {"description": "Jobs matching in all", "schema": {"type": "integer"}}},
                            "content": json_content(schema_ref("JobCollection"))}))], &["400", "401", "404"])}}),
    );
    paths.insert(
        "/healthz".into(),
        json!({"get": {"operationId": "healthz", "summary": "Liveness: the process is up", "tags": ["meta"],
                       "responses": {"200": {"description": "`ok`", "content": {"text/plain": {"schema": {"type": "string"}}}}}}}),
    );
    let responses = json!({
        "NotModified": {"description": "Not modified (only `ETag`)"},
        "BadRequest": error_response("A bad query parameter or malformed JSON", "Error"),
        "Unauthorized": {"description": "Missing or wrong credentials",
                         "headers": {"WWW-Authenticate": {"description": "`Basic realm=\"<http.auth_realm>\"` (`Basic realm=\"eve\"` by default)", "schema": {"type": "string"}}},
                         "content": json_content(schema_ref("Error"))},
        "NotFound": error_response("No such URL or record", "Error"),
        "MethodNotAllowed": {"description": "Not allowed here",
                             "headers": {"Allow": {"description": "The allowed methods", "schema": {"type": "string"}}},
                             "content": json_content(schema_ref("Error"))},
        "Conflict": error_response("A rule refuses the change; the message names what blocks it", "Error"),
        "PreconditionFailed": error_response("`If-Match` is not the current `_etag`", "Error"),
        "PayloadTooLarge": error_response("The body exceeds the configured limit", "Error"),
        "UnsupportedMediaType": error_response("The body is neither JSON nor a form", "Error"),
        "Invalid": error_response("Validation failed", "ValidationError"),
        "PreconditionRequired": error_response("A write without `If-Match`", "Error"),
        "TooManyRequests": {"description": "Too many failed logins from this address or for this user",
                            "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
                            "content": json_content(schema_ref("Error"))},
        "Timeout": error_response("The request ran longer than the configured limit", "Error"),
        "AuthUnavailable": {"description": "The credentials could not be checked (the LDAP directory does not answer; the message names it): retry later. Also a request that ran longer than the configured limit",
                            "headers": {"Retry-After": {"description": "Seconds to wait (only when the credentials could not be checked)", "schema": {"type": "integer"}}},
                            "content": json_content(schema_ref("Error"))},
        "Internal": error_response("Server failure (details only in the server log)", "Error"),
    });
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Atlas",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Provisions and maintains a fleet of Drupal instances. Speaks Python Eve's HTTP dialect. \
                            Write bodies are JSON; as in Eve, a form (`application/x-www-form-urlencoded` or \
                            `multipart/form-data`) is also read, as a document whose fields are all strings."
        },
        "paths": paths,
        "components": {
            "schemas": components_schemas(),
            "parameters": parameters(),
            "responses": responses,
            "securitySchemes": {"basicAuth": {"type": "http", "scheme": "basic"}},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                if let Some(Value::String(r)) = m.get("$ref") {
                    out.push(r.clone());
                }
                m.values().for_each(|x| refs(x, out));
            }
            Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves() {
        let doc = openapi();
        let mut all = Vec::new();
        refs(&doc, &mut all);
        assert!(!all.is_empty());
        for r in all {
            let pointer = r.trim_start_matches('#');
            assert!(doc.pointer(pointer).is_some(), "dangling {r}");
        }
    }

    #[test]
    fn inputs_require_what_the_schema_requires() {
        let code = object_schema(schema::schema(Resource::Code), Shape::Input);
        let required: Vec<&str> = code["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(required.contains(&"commit_hash"), "{required:?}");
        assert!(required.contains(&"git_url"), "{required:?}");
        let patch = object_schema(schema::schema(Resource::Code), Shape::Patch);
        assert!(patch.get("required").is_none());
    }

    #[test]
    fn hidden_fields_are_not_described() {
        let doc = openapi();
        assert!(doc["components"]["schemas"]["instance"]["properties"]
            .get("db_key")
            .is_none());
    }
}
