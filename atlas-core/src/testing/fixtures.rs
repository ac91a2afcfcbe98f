//! Builders of realistic record bodies for tests: [`code()`], [`instance()`],
//! [`route()`] and [`statistics()`]. Each builds a [`Body`] that is valid per
//! docs/http.md "Resources", with defaults a test only overrides where it cares:
//!
//! ```
//! use atlas_core::model::{Id, Status, Timestamp};
//! use atlas_core::testing::fixtures;
//!
//! let core = fixtures::code().core("drupal", "7.42").current().build();
//! let inst = fixtures::instance()
//!     .sid("p1abcdef0123")
//!     .status(Status::Installed)
//!     .packages([Id::generate(Timestamp::from_unix(0))])
//!     .build();
//! assert_eq!(core["meta"]["code_type"], "core");
//! assert_eq!(inst["path"], "p1abcdef0123");
//! ```
//!
//! Defaults that must be unique (`commit_hash`, `sid`, route `source`) are
//! random, so two default builds never clash.

use serde_json::{json, Map, Value};

use crate::model::{Body, CodeType, Id, InstanceType, Pool, RouteStatus, RouteType, Sid, Status, Timestamp};

/// The date fixtures stamp in `dates.created` unless told otherwise
/// (`2026-11-25 00:00:00 GMT`).
pub fn fixture_time() -> Timestamp {
    Timestamp::from_unix(1_795_564_800)
}

fn random_hex(bytes: usize) -> String {
    let raw: Vec<u8> = (0..bytes).map(|_| rand::random::<u8>()).collect();
    hex::encode(raw)
}

fn ids(ids: impl IntoIterator<Item = Id>) -> Value {
    Value::Array(ids.into_iter().map(|i| Value::String(i.to_string())).collect())
}

fn strings(xs: impl IntoIterator<Item = impl Into<String>>) -> Value {
    Value::Array(xs.into_iter().map(|s| Value::String(s.into())).collect())
}

/// A `code` item builder; defaults to a non-current module
/// `google_analytics 7.x-2.3` from a GitHub URL with a random commit hash.
pub fn code() -> CodeBuilder {
    CodeBuilder {
        name: "google_analytics".into(),
        version: "7.x-2.3".into(),
        code_type: CodeType::Module,
        label: None,
        is_current: false,
        tag: Vec::new(),
        dependency: Vec::new(),
        git_url: None,
        commit_hash: None,
    }
}

/// Builds a `code` body (see [`code()`]).
#[derive(Debug, Clone)]
pub struct CodeBuilder {
    name: String,
    version: String,
    code_type: CodeType,
    label: Option<String>,
    is_current: bool,
    tag: Vec<String>,
    dependency: Vec<Id>,
    git_url: Option<String>,
    commit_hash: Option<String>,
}

impl CodeBuilder {
    /// Sets `meta.name`, `meta.version` and `meta.code_type`.
    pub fn item(mut self, code_type: CodeType, name: &str, version: &str) -> Self {
        self.code_type = code_type;
        self.name = name.into();
        self.version = version.into();
        self
    }

    /// A core (`drupal`, `7.42`).
    pub fn core(self, name: &str, version: &str) -> Self {
        self.item(CodeType::Core, name, version)
    }

    /// An install profile.
    pub fn profile(self, name: &str, version: &str) -> Self {
        self.item(CodeType::Profile, name, version)
    }

    /// A module package.
    pub fn module(self, name: &str, version: &str) -> Self {
        self.item(CodeType::Module, name, version)
    }

    /// A theme package.
    pub fn theme(self, name: &str, version: &str) -> Self {
        self.item(CodeType::Theme, name, version)
    }

    /// A library package.
    pub fn library(self, name: &str, version: &str) -> Self {
        self.item(CodeType::Library, name, version)
    }

    /// Marks it `meta.is_current: true`.
    pub fn current(mut self) -> Self {
        self.is_current = true;
        self
    }

    /// Sets `meta.is_current`.
    pub fn is_current(mut self, yes: bool) -> Self {
        self.is_current = yes;
        self
    }

    /// Sets `meta.label`.
    pub fn label(mut self, label: &str) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds to `meta.tag`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag.push(tag.into());
        self
    }

    /// Adds code ids to `meta.dependency`.
    pub fn dependencies(mut self, deps: impl IntoIterator<Item = Id>) -> Self {
        self.dependency.extend(deps);
        self
    }

    /// Sets `git_url` (default `https://github.com/CuBoulder/<name>.git`).
    pub fn git_url(mut self, url: &str) -> Self {
        self.git_url = Some(url.into());
        self
    }

    /// Sets `commit_hash` (default: 40 random hex characters).
    pub fn commit_hash(mut self, hash: &str) -> Self {
        self.commit_hash = Some(hash.into());
        self
    }

    /// The body.
    pub fn build(self) -> Body {
        let mut meta = Map::new();
        meta.insert("name".into(), json!(self.name));
        meta.insert("version".into(), json!(self.version));
        meta.insert("code_type".into(), json!(self.code_type.as_str()));
        if let Some(label) = self.label {
            meta.insert("label".into(), json!(label));
        }
        meta.insert("is_current".into(), json!(self.is_current));
        if !self.tag.is_empty() {
            meta.insert("tag".into(), strings(self.tag));
        }
        if !self.dependency.is_empty() {
            meta.insert("dependency".into(), ids(self.dependency));
        }
        let mut body = Body::new();
        let git_url = self
            .git_url
            .unwrap_or_else(|| format!("https://github.com/CuBoulder/{}.git", self.name));
        body.insert("meta".into(), Value::Object(meta));
        body.insert("git_url".into(), json!(git_url));
        body.insert(
            "commit_hash".into(),
            json!(self.commit_hash.unwrap_or_else(|| random_hex(20))),
        );
        body.insert("created_by".into(), json!("atlas_test"));
        body
    }
}

/// An `instance` builder; defaults to a `pending` express instance in the
/// express pool with a random sid, `path` equal to the sid, update group 0,
/// page cache 300 and `dates.created` at [`fixture_time`].
pub fn instance() -> InstanceBuilder {
    InstanceBuilder {
        sid: Sid::generate().to_string(),
        path: None,
        instance_type: InstanceType::Express,
        status: Status::Pending,
        pool: Pool::PoolbExpress,
        update_group: 0,
        core: None,
        profile: None,
        packages: Vec::new(),
        tag: Vec::new(),
        primary_route: None,
        statistics: None,
        dates: vec![("created", fixture_time())],
        page_cache_maximum_age: 300,
        siteimprove_site: None,
    }
}

/// Builds an `instance` body (see [`instance()`]).
#[derive(Debug, Clone)]
pub struct InstanceBuilder {
    sid: String,
    path: Option<String>,
    instance_type: InstanceType,
    status: Status,
    pool: Pool,
    update_group: u8,
    core: Option<Id>,
    profile: Option<Id>,
    packages: Vec<Id>,
    tag: Vec<String>,
    primary_route: Option<Id>,
    statistics: Option<Id>,
    dates: Vec<(&'static str, Timestamp)>,
    page_cache_maximum_age: u32,
    siteimprove_site: Option<i64>,
}

impl InstanceBuilder {
    /// Sets `sid` (and `path`, unless [`InstanceBuilder::path`] sets it).
    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = sid.into();
        self
    }

    /// Sets `path` (default: the sid).
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.into());
        self
    }

    /// Sets `type`.
    pub fn instance_type(mut self, t: InstanceType) -> Self {
        self.instance_type = t;
        self
    }

    /// Sets `status`.
    pub fn status(mut self, status: Status) -> Self {
        self.status = status;
        self
    }

    /// Sets `pool`.
    pub fn pool(mut self, pool: Pool) -> Self {
        self.pool = pool;
        self
    }

    /// Sets `update_group`.
    pub fn update_group(mut self, g: u8) -> Self {
        self.update_group = g;
        self
    }

    /// Sets `code.core`.
    pub fn core(mut self, id: Id) -> Self {
        self.core = Some(id);
        self
    }

    /// Sets `code.profile`.
    pub fn profile(mut self, id: Id) -> Self {
        self.profile = Some(id);
        self
    }

    /// Sets `code.package`.
    pub fn packages(mut self, ids: impl IntoIterator<Item = Id>) -> Self {
        self.packages = ids.into_iter().collect();
        self
    }

    /// Adds to `tag`.
    pub fn tag(mut self, tag: &str) -> Self {
        self.tag.push(tag.into());
        self
    }

    /// Sets `routes.primary_route`.
    pub fn primary_route(mut self, id: Id) -> Self {
        self.primary_route = Some(id);
        self
    }

    /// Sets `statistics`.
    pub fn statistics(mut self, id: Id) -> Self {
        self.statistics = Some(id);
        self
    }

    /// Sets `dates.created`.
    pub fn created(self, at: Timestamp) -> Self {
        self.date("created", at)
    }

    /// Sets `dates.<which>` (`created`, `assigned`, `launched`, `taken_down`).
    pub fn date(mut self, which: &'static str, at: Timestamp) -> Self {
        self.dates.retain(|(w, _)| *w != which);
        self.dates.push((which, at));
        self
    }

    /// Sets `settings.page_cache_maximum_age`.
    pub fn page_cache_maximum_age(mut self, secs: u32) -> Self {
        self.page_cache_maximum_age = secs;
        self
    }

    /// Sets `settings.siteimprove_site`.
    pub fn siteimprove_site(mut self, site: i64) -> Self {
        self.siteimprove_site = Some(site);
        self
    }

    /// The body.
    pub fn build(self) -> Body {
        let mut code = Map::new();
        if let Some(core) = self.core {
            code.insert("core".into(), json!(core.to_string()));
        }
        if let Some(profile) = self.profile {
            code.insert("profile".into(), json!(profile.to_string()));
        }
        code.insert("package".into(), ids(self.packages));
        let mut settings = Map::new();
        settings.insert(
            "page_cache_maximum_age".into(),
            json!(self.page_cache_maximum_age),
        );
        if let Some(site) = self.siteimprove_site {
            settings.insert("siteimprove_site".into(), json!(site));
        }
        let dates: Map<String, Value> = self
            .dates
            .into_iter()
            .map(|(w, t)| (w.to_owned(), json!(t.to_string())))
            .collect();

        let mut body = Body::new();
        body.insert(
            "path".into(),
            json!(self.path.unwrap_or_else(|| self.sid.clone())),
        );
        body.insert("sid".into(), json!(self.sid));
        body.insert("type".into(), json!(self.instance_type.as_str()));
        body.insert("status".into(), json!(self.status.as_str()));
        body.insert("pool".into(), json!(self.pool.as_str()));
        body.insert("update_group".into(), json!(self.update_group));
        body.insert("settings".into(), Value::Object(settings));
        body.insert("code".into(), Value::Object(code));
        if !self.tag.is_empty() {
            body.insert("tag".into(), strings(self.tag));
        }
        if let Some(route) = self.primary_route {
            body.insert("routes".into(), json!({ "primary_route": route.to_string() }));
        }
        if let Some(stats) = self.statistics {
            body.insert("statistics".into(), json!(stats.to_string()));
        }
        body.insert("dates".into(), Value::Object(dates));
        body.insert("created_by".into(), json!("atlas_test"));
        body
    }
}

/// A `route` builder; defaults to an inactive `poolb-express` route with a
/// random source (`site-<hex>`), `active_on_launch: true`, and
/// `dates.created` at [`fixture_time`].
pub fn route() -> RouteBuilder {
    RouteBuilder {
        // 64 random bits: tests create tens of thousands of routes, and
        // 32 bits made a clash on the unique `source` a 1-in-100 flake.
        source: format!("site-{}", random_hex(8)),
        route_type: RouteType::PoolbExpress,
        route_status: RouteStatus::Inactive,
        active_on_launch: true,
        instance: None,
        redirect: None,
        regex: false,
        path_preserving: false,
    }
}

/// Builds a `route` body (see [`route()`]).
#[derive(Debug, Clone)]
pub struct RouteBuilder {
    source: String,
    route_type: RouteType,
    route_status: RouteStatus,
    active_on_launch: bool,
    instance: Option<Id>,
    redirect: Option<(String, u16)>,
    regex: bool,
    path_preserving: bool,
}

impl RouteBuilder {
    /// Sets `source` (`domainroot` is the domain root; `lab/atlas` nests).
    pub fn source(mut self, source: &str) -> Self {
        self.source = source.into();
        self
    }

    /// Sets `route_type`.
    pub fn route_type(mut self, t: RouteType) -> Self {
        self.route_type = t;
        self
    }

    /// Sets `route_status`.
    pub fn status(mut self, s: RouteStatus) -> Self {
        self.route_status = s;
        self
    }

    /// Sets `active_on_launch`.
    pub fn active_on_launch(mut self, yes: bool) -> Self {
        self.active_on_launch = yes;
        self
    }

    /// Sets `instance_id`.
    pub fn instance(mut self, id: Id) -> Self {
        self.instance = Some(id);
        self
    }

    /// Makes it a redirect to `destination` with `response_code`.
    pub fn redirect(mut self, destination: &str, response_code: u16) -> Self {
        self.route_type = RouteType::Redirect;
        self.redirect = Some((destination.into(), response_code));
        self
    }

    /// Sets `regex`.
    pub fn regex(mut self, yes: bool) -> Self {
        self.regex = yes;
        self
    }

    /// Sets `path_preserving`.
    pub fn path_preserving(mut self, yes: bool) -> Self {
        self.path_preserving = yes;
        self
    }

    /// The body.
    pub fn build(self) -> Body {
        let mut body = Body::new();
        body.insert("route_type".into(), json!(self.route_type.as_str()));
        body.insert("route_status".into(), json!(self.route_status.as_str()));
        body.insert("active_on_launch".into(), json!(self.active_on_launch));
        body.insert("source".into(), json!(self.source));
        if let Some((dest, code)) = self.redirect {
            body.insert("destination".into(), json!(dest));
            body.insert("response_code".into(), json!(code));
        }
        body.insert("regex".into(), json!(self.regex));
        body.insert("path_preserving".into(), json!(self.path_preserving));
        if let Some(inst) = self.instance {
            body.insert("instance_id".into(), json!(inst.to_string()));
        }
        body.insert("dates".into(), json!({ "created": fixture_time().to_string() }));
        body
    }
}

/// A `statistics` builder; defaults to no instance and a few counts.
pub fn statistics() -> StatisticsBuilder {
    StatisticsBuilder {
        instance: None,
        nodes_total: 12,
        users: 3,
    }
}

/// Builds a `statistics` body (see [`statistics()`]).
#[derive(Debug, Clone)]
pub struct StatisticsBuilder {
    instance: Option<Id>,
    nodes_total: u64,
    users: u64,
}

impl StatisticsBuilder {
    /// Sets `instance` (unique among live statistics records).
    pub fn instance(mut self, id: Id) -> Self {
        self.instance = Some(id);
        self
    }

    /// Sets `nodes_total`.
    pub fn nodes_total(mut self, n: u64) -> Self {
        self.nodes_total = n;
        self
    }

    /// The body.
    pub fn build(self) -> Body {
        let mut body = Body::new();
        if let Some(inst) = self.instance {
            body.insert("instance".into(), json!(inst.to_string()));
        }
        body.insert("nodes_total".into(), json!(self.nodes_total));
        body.insert(
            "nodes_by_type".into(),
            json!({ "page": self.nodes_total, "article": 0 }),
        );
        body.insert(
            "users".into(),
            json!({ "counts": { "total": self.users, "site_owner": 1 } }),
        );
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_builder_sets_meta_and_a_40_hex_commit_hash() {
        let b = code().core("drupal", "7.42").current().tag("stable").build();
        assert_eq!(
            b["meta"],
            json!({"name": "drupal", "version": "7.42", "code_type": "core",
                   "is_current": true, "tag": ["stable"]})
        );
        let hash = b["commit_hash"].as_str().unwrap_or_default();
        assert_eq!(hash.len(), 40);
        assert_ne!(code().build()["commit_hash"], code().build()["commit_hash"]);
    }

    #[test]
    fn instance_builder_defaults_path_to_sid_and_generates_valid_sids() {
        let b = instance().build();
        let sid = b["sid"].as_str().unwrap_or_default();
        assert!(Sid::parse(sid).is_ok());
        assert_eq!(b["path"], b["sid"]);
        assert_eq!(b["status"], "pending");
        assert_eq!(b["dates"]["created"], "2026-11-25 00:00:00 GMT");
        let p = instance()
            .sid("p1abcdef0123")
            .path("lab")
            .status(Status::Installed)
            .build();
        assert_eq!(
            (p["sid"].clone(), p["path"].clone()),
            (json!("p1abcdef0123"), json!("lab"))
        );
        assert_eq!(p["status"], "installed");
    }

    #[test]
    fn route_builder_makes_redirects() {
        let r = route()
            .source("old")
            .redirect("https://example.org/new", 301)
            .build();
        assert_eq!(r["route_type"], "redirect");
        assert_eq!(r["response_code"], 301);
    }
}
