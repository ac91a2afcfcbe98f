//! Validation of everything that becomes a path or an argument (sids, code
//! names and versions, commit hashes, git URLs, route sources, database
//! identifiers), and the layout: where each checkout, instance tree, web
//! link and files directory lives under its root.

use std::path::{Component, Path, PathBuf};

use atlas_core::model::{CodeType, InstanceType, Pool, RouteType, Sid};
use atlas_core::{CodeSpec, ExecError, InstanceSpec, RouteSpec};

use crate::config::ShellConfig;

/// The route source that means the domain root.
pub(crate) const DOMAIN_ROOT: &str = "domainroot";

/// Name of the homepage link under the web root.
pub(crate) const HOMEPAGE_DIR: &str = "homepage";

/// An [`ExecError::Refused`].
pub(crate) fn refused(what: impl Into<String>, reason: impl Into<String>) -> ExecError {
    ExecError::Refused {
        what: what.into(),
        reason: reason.into(),
    }
}

/// Re-validates a sid (defence in depth: a [`Sid`] is validated when built).
pub(crate) fn check_sid(sid: &str) -> Result<Sid, ExecError> {
    Sid::parse(sid).map_err(|e| refused("sid", e.to_string()))
}

/// A code item name, by core's rule ([`atlas_core::schema::check_code_name`]).
pub(crate) fn check_code_name(name: &str) -> Result<(), ExecError> {
    atlas_core::schema::check_code_name(name).map_err(|e| refused("code name", e.to_string()))
}

/// A code version, by core's rule ([`atlas_core::schema::check_version`]).
pub(crate) fn check_version(version: &str) -> Result<(), ExecError> {
    atlas_core::schema::check_version(version).map_err(|e| refused("code version", e.to_string()))
}

/// A commit hash, by core's rule ([`atlas_core::schema::check_commit_hash`]).
pub(crate) fn check_commit(commit: &str) -> Result<(), ExecError> {
    atlas_core::schema::check_commit_hash(commit).map_err(|e| refused("commit hash", e.to_string()))
}

/// A git URL: `ssh://`, `git://`, `http(s)://`, `file://`, `user@host:path`
/// or an absolute path; no whitespace, no leading `-`, no `<transport>::`
/// remote helpers (`ext::` runs commands).
pub(crate) fn check_git_url(url: &str) -> Result<(), ExecError> {
    let bad = |reason: &str| Err(refused("git url", format!("'{url}': {reason}")));
    if url.is_empty() || url.starts_with('-') {
        return bad("must not be empty or start with '-'");
    }
    if url
        .bytes()
        .any(|c| c.is_ascii_whitespace() || c.is_ascii_control())
    {
        return bad("must not contain whitespace or control characters");
    }
    if url.contains("::") {
        return bad("remote helpers ('<transport>::') are not allowed");
    }
    let schemes = ["ssh://", "git://", "http://", "https://", "file://"];
    if schemes.iter().any(|s| url.starts_with(s)) || url.starts_with('/') {
        return Ok(());
    }
    // scp-like: user@host:path
    if let Some((user_host, path)) = url.split_once(':') {
        if let Some((user, host)) = user_host.split_once('@') {
            let word = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c))
            };
            if word(user) && word(host) && !path.is_empty() {
                return Ok(());
            }
        }
    }
    bad("use ssh://, git://, http(s)://, file://, user@host:path or an absolute path")
}

/// A database name or user: 1–64 (users: 32) of `[A-Za-z0-9_]`.
pub(crate) fn check_db_identifier(what: &str, s: &str, max: usize) -> Result<(), ExecError> {
    if (1..=max).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        Ok(())
    } else {
        Err(refused(
            what,
            format!("'{s}': use 1-{max} characters of A-Z a-z 0-9 _"),
        ))
    }
}

/// A validated, non-regex route source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// `domainroot`.
    DomainRoot,
    /// A relative path of safe segments (`lab/atlas`).
    Path(String),
}

/// Validates a route source: `domainroot`, or `/`-separated segments of
/// `[A-Za-z0-9._~-]`, no empty, `.` or `..` segment, no leading `/`.
pub(crate) fn check_source(source: &str) -> Result<Source, ExecError> {
    if source == DOMAIN_ROOT {
        return Ok(Source::DomainRoot);
    }
    let bad = |reason: &str| Err(refused("route source", format!("'{source}': {reason}")));
    if source.is_empty() || source.len() > 255 {
        return bad("must be 1-255 characters");
    }
    if source.starts_with('/') {
        return bad("must not start with '/'");
    }
    for seg in source.split('/') {
        if seg.is_empty() {
            return bad("has an empty segment");
        }
        if seg == "." || seg == ".." || seg.starts_with('.') {
            return bad("segments must not be '.', '..' or start with '.'");
        }
        if !seg
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"._~-".contains(&c))
        {
            return bad("use letters, digits and . _ ~ - between '/'");
        }
    }
    Ok(Source::Path(source.to_owned()))
}

/// Validates a regex route source for the route map: printable ASCII without
/// whitespace or the quote, comment and separator characters of the map
/// formats.
pub(crate) fn check_regex_source(source: &str) -> Result<(), ExecError> {
    let ok = (1..=255).contains(&source.len())
        && source
            .bytes()
            .all(|c| c.is_ascii_graphic() && !b"\"'`;#".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(refused(
            "route source",
            format!("regex '{source}': no whitespace, quotes, ';' or '#'"),
        ))
    }
}

/// Validates every route of `routes` (regex ones with [`check_regex_source`]).
pub(crate) fn check_routes(routes: &[RouteSpec]) -> Result<(), ExecError> {
    for r in routes {
        if r.regex {
            check_regex_source(&r.source)?;
        } else {
            check_source(&r.source)?;
        }
        if let Some(sid) = &r.instance_sid {
            check_sid(sid.as_str())?;
        }
    }
    Ok(())
}

/// Validates a code item as far as paths and arguments are concerned.
pub(crate) fn check_code(spec: &CodeSpec) -> Result<(), ExecError> {
    check_code_name(&spec.name)?;
    check_version(&spec.version)?;
    check_commit(&spec.commit_hash)?;
    check_git_url(&spec.git_url)
}

/// Validates everything of an instance spec that reaches a path or an
/// argument: sid, database identifiers, core/profile/package names,
/// versions and types, route sources.
pub(crate) fn check_instance(spec: &InstanceSpec) -> Result<(), ExecError> {
    check_sid(spec.sid.as_str())?;
    check_db_identifier("database name", &spec.database.name, 64)?;
    check_db_identifier("database user", &spec.database.user, 32)?;
    let pw = spec.database.password.expose();
    if pw.is_empty() || pw.chars().any(char::is_control) {
        return Err(refused(
            "database password",
            "must be non-empty without control characters",
        ));
    }
    let typed = |c: &CodeSpec, ok: bool, want: &str| -> Result<(), ExecError> {
        check_code_name(&c.name)?;
        check_version(&c.version)?;
        if ok {
            Ok(())
        } else {
            Err(refused(
                "code",
                format!("{} is a {}, expected {want}", c.name, c.code_type),
            ))
        }
    };
    typed(&spec.core, spec.core.code_type == CodeType::Core, "core")?;
    typed(
        &spec.profile,
        spec.profile.code_type == CodeType::Profile,
        "profile",
    )?;
    let mut seen = std::collections::BTreeSet::new();
    for p in &spec.packages {
        typed(p, p.code_type.is_package(), "module, theme or library")?;
        if !seen.insert((p.code_type, p.name.as_str())) {
            return Err(refused(
                "packages",
                format!("{} {} is listed twice", p.code_type, p.name),
            ));
        }
    }
    check_routes(&spec.routes)?;
    if let Some(primary) = &spec.primary_route {
        check_source(primary)?;
    }
    Ok(())
}

/// The directory under the code root for a code type.
pub(crate) fn code_type_dir(t: CodeType) -> &'static str {
    match t {
        CodeType::Core => "cores",
        CodeType::Profile => "profiles",
        CodeType::Module => "modules",
        CodeType::Theme => "themes",
        CodeType::Library => "libraries",
    }
}

/// The directory under the web root for an instance type. Homepage-type
/// instances live in `homepage-instances`, because `homepage` itself is the
/// link to the launched homepage.
pub(crate) fn web_type_dir(t: InstanceType) -> &'static str {
    match t {
        InstanceType::Express => "express",
        InstanceType::Custom => "custom",
        InstanceType::Legacy => "legacy",
        InstanceType::Homepage => "homepage-instances",
    }
}

/// The directory under `sites/all` for a package type.
pub(crate) fn package_dir(t: CodeType) -> Option<&'static str> {
    match t {
        CodeType::Module => Some("modules"),
        CodeType::Theme => Some("themes"),
        CodeType::Library => Some("libraries"),
        CodeType::Core | CodeType::Profile => None,
    }
}

/// Where things live, computed from the configuration. Every path is built
/// from validated names only.
#[derive(Debug, Clone)]
pub(crate) struct Layout {
    pub(crate) code_root: PathBuf,
    pub(crate) instances_code_root: PathBuf,
    pub(crate) instances_web_root: PathBuf,
    pub(crate) files_root: PathBuf,
    pub(crate) backup_root: PathBuf,
    pub(crate) down_page: PathBuf,
}

impl Layout {
    pub(crate) fn new(cfg: &ShellConfig) -> Self {
        Self {
            code_root: cfg.code_root.clone(),
            instances_code_root: cfg.instances_code_root.clone(),
            instances_web_root: cfg.instances_web_root.clone(),
            files_root: cfg.files_root.clone(),
            backup_root: cfg.backup_root.clone(),
            down_page: cfg.down_page.clone(),
        }
    }

    /// `<code_root>/<type>s/<name>`.
    pub(crate) fn code_name_dir(&self, t: CodeType, name: &str) -> PathBuf {
        self.code_root.join(code_type_dir(t)).join(name)
    }

    /// `<code_root>/<type>s/<name>/<name>-<version>`.
    pub(crate) fn code_dir(&self, c: &CodeSpec) -> PathBuf {
        self.code_name_dir(c.code_type, &c.name)
            .join(format!("{}-{}", c.name, c.version))
    }

    /// `<code_root>/<type>s/<name>/<name>-current`.
    pub(crate) fn code_current(&self, c: &CodeSpec) -> PathBuf {
        self.code_name_dir(c.code_type, &c.name)
            .join(format!("{}-current", c.name))
    }

    /// `<instances_code_root>/<sid>`.
    pub(crate) fn instance_dir(&self, sid: &Sid) -> PathBuf {
        self.instances_code_root.join(sid.as_str())
    }

    /// `<instances_code_root>/<sid>/<sid>`: the assembled Drupal tree.
    pub(crate) fn tree(&self, sid: &Sid) -> PathBuf {
        self.instance_dir(sid).join(sid.as_str())
    }

    /// `<instances_code_root>/<sid>/current`.
    pub(crate) fn current(&self, sid: &Sid) -> PathBuf {
        self.instance_dir(sid).join("current")
    }

    /// `<instances_code_root>/<sid>/<sid>/sites/default`.
    pub(crate) fn site_default(&self, sid: &Sid) -> PathBuf {
        self.tree(sid).join("sites").join("default")
    }

    /// `<files_root>/sitefiles/<sid>`.
    pub(crate) fn files_dir(&self, sid: &Sid) -> PathBuf {
        self.files_root.join("sitefiles").join(sid.as_str())
    }

    /// `<instances_web_root>/<type>`.
    pub(crate) fn web_type(&self, t: InstanceType) -> PathBuf {
        self.instances_web_root.join(web_type_dir(t))
    }

    /// `<instances_web_root>/<type>/<sid>`.
    pub(crate) fn web_sid(&self, t: InstanceType, sid: &Sid) -> PathBuf {
        self.web_type(t).join(sid.as_str())
    }

    /// `<instances_web_root>/homepage`.
    pub(crate) fn homepage(&self) -> PathBuf {
        self.instances_web_root.join(HOMEPAGE_DIR)
    }

    /// Where a launch link for `source` lives for an instance of type `t`
    /// in pool `pool`: the homepage link for the homepage pool and for
    /// `domainroot`, else `<instances_web_root>/<type>/<source>`.
    pub(crate) fn launch_link(&self, t: InstanceType, pool: Pool, source: &Source) -> PathBuf {
        match source {
            _ if pool == Pool::PoolbHomepage => self.homepage(),
            Source::DomainRoot => self.homepage(),
            Source::Path(p) => self.web_type(t).join(p),
        }
    }
}

/// The route sources an instance is linked at when launched: its primary
/// route and its active, non-redirect, non-regex routes (first occurrence
/// wins; order kept).
pub(crate) fn launch_sources(spec: &InstanceSpec) -> Result<Vec<Source>, ExecError> {
    let mut out = Vec::new();
    if let Some(p) = &spec.primary_route {
        out.push(check_source(p)?);
    }
    for r in &spec.routes {
        let mine = !matches!(&r.instance_sid, Some(s) if s != &spec.sid);
        let served = r.route_type != RouteType::Redirect && !r.regex;
        if mine && served && r.route_status == atlas_core::model::RouteStatus::Active {
            let s = check_source(&r.source)?;
            if !out.contains(&s) {
                out.push(s);
            }
        }
    }
    Ok(out)
}

/// Checks that `p` lies strictly under `root` (lexically, through normal
/// components only) and that no existing component between `root` and `p`
/// (excluding `p` itself) is a symbolic link, so nothing done at `p` can
/// follow a link out of the root.
pub(crate) fn confined(root: &Path, p: &Path) -> Result<(), ExecError> {
    let rel = p
        .strip_prefix(root)
        .map_err(|_| refused("path", format!("{} is not under {}", p.display(), root.display())))?;
    let comps: Vec<_> = rel.components().collect();
    if comps.is_empty() || !comps.iter().all(|c| matches!(c, Component::Normal(_))) {
        return Err(refused(
            "path",
            format!("{} is not strictly under {}", p.display(), root.display()),
        ));
    }
    let mut cur = root.to_path_buf();
    for c in &comps[..comps.len() - 1] {
        cur.push(c);
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refused(
                    "path",
                    format!(
                        "{} is a symbolic link; refusing to follow it from {}",
                        cur.display(),
                        root.display()
                    ),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_sid_refuses_slashes_and_dots() {
        assert!(check_sid("p1/abcdefgh").is_err());
        assert!(check_sid("../etc/pass").is_err());
        assert!(check_sid("p1abcdef01").is_ok());
    }

    #[test]
    fn code_names_and_versions_refuse_path_tricks() {
        for bad in ["", "../x", "a/b", "-rf", "a b", "a.b"] {
            assert!(check_code_name(bad).is_err(), "{bad}");
        }
        check_code_name("cu_express-2").unwrap();
        for bad in ["", "..", ".hidden", "1/2", "1..2", "-1", "7.x 1"] {
            assert!(check_version(bad).is_err(), "{bad}");
        }
        check_version("7.x-2.1+rc1").unwrap();
    }

    #[test]
    fn commits_must_be_hex_and_git_urls_safe() {
        check_commit("0123abcdef").unwrap();
        assert!(check_commit("0123").is_err(), "shorter than git abbreviates");
        assert!(check_commit("--upload-pack=x").is_err());
        assert!(check_commit("main").is_err());
        for ok in [
            "https://github.com/a/b.git",
            "git@github.com:a/b.git",
            "/srv/git/core.git",
            "file:///x",
        ] {
            check_git_url(ok).unwrap();
        }
        for bad in [
            "ext::sh -c touch% /tmp/x",
            "-u x",
            "relative/path",
            "fd::3",
            "https://x y",
            "",
        ] {
            assert!(check_git_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn route_sources_refuse_traversal_leading_slash_and_odd_characters() {
        assert_eq!(check_source("domainroot").unwrap(), Source::DomainRoot);
        assert_eq!(
            check_source("lab/atlas").unwrap(),
            Source::Path("lab/atlas".into())
        );
        for bad in [
            "../etc", "/etc", "a/../b", "a//b", "a/", ".git", "a b", "a;b", "a/./b", "",
        ] {
            assert!(check_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn regex_sources_refuse_quotes_and_whitespace() {
        check_regex_source("^old/(.*)$").unwrap();
        check_regex_source(r"^a\.b$").unwrap();
        for bad in ["a b", "a\"b", "a;b", "a#b", "a'b", ""] {
            assert!(check_regex_source(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn db_identifiers_are_word_characters() {
        check_db_identifier("database name", "p1abcdef01", 64).unwrap();
        assert!(check_db_identifier("database name", "a`b", 64).is_err());
        assert!(check_db_identifier("database user", &"a".repeat(33), 32).is_err());
    }

    #[test]
    fn confined_refuses_escapes_and_symlinked_parents() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        std::fs::create_dir(&root).unwrap();
        let outside = tmp.path().join("outside");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("link")).unwrap();
        confined(&root, &root.join("a/b")).unwrap();
        confined(&root, &root.join("link")).unwrap();
        assert!(confined(&root, &root.join("link/x")).is_err());
        assert!(confined(&root, &root).is_err());
        assert!(confined(&root, &tmp.path().join("outside/x")).is_err());
        assert!(confined(&root, &root.join("a/../../outside")).is_err());
    }
}
