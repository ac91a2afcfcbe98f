//! Test environment: a temp dir with real git repositories (a core, a
//! profile, two packages — one depending on the other), stub `drush`,
//! `mysql` and reload programs that record their calls, a config rooted in
//! the temp dir, and spec builders.

use std::collections::BTreeMap;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use atlas_core::model::{
    CodeType, Environment, Id, InstanceType, Pool, RouteStatus, RouteType, Secret, Sid, Status,
};
use atlas_core::{CodeSpec, CommandSpec, DatabaseSpec, Executor, InstanceSpec, RouteSpec, SiteSettings};
use atlas_shell::{ConfigSecret, RouteMapFormat, ShellConfig, ShellExecutor};
use tempfile::TempDir;

/// The database password every test instance uses: quotes, a backslash and
/// a dollar, to prove escaping.
pub const DB_PASSWORD: &str = "pw'with\"q\\uote$x";
/// The admin password of the config.
pub const ADMIN_PASSWORD: &str = "Adm1n-secret";
/// The service account password.
pub const SERVICE_PASSWORD: &str = "svc-secret";

/// A git repository made by the test, with its commits (oldest first).
#[derive(Debug, Clone)]
pub struct Repo {
    pub path: PathBuf,
    pub commits: Vec<String>,
}

/// One recorded call of a stub program.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Call {
    pub program: String,
    pub cwd: String,
    pub args: Vec<String>,
    pub stdin: Vec<String>,
    pub opts: Vec<String>,
    pub optmode: Option<String>,
    pub env_mysql_pwd: String,
}

pub struct TestEnv {
    pub tmp: TempDir,
    pub srv: PathBuf,
    pub cfg: ShellConfig,
    pub exec: ShellExecutor,
    pub core: Repo,
    pub profile: Repo,
    pub base: Repo,
    pub feature: Repo,
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.invalid",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Makes a repository at `dir` with one commit per file set.
fn make_repo(dir: &Path, commits: &[&[(&str, Option<&str>)]]) -> Repo {
    std::fs::create_dir_all(dir).unwrap();
    git(dir, &["init", "-q"]);
    let mut hashes = Vec::new();
    for files in commits {
        for (name, content) in *files {
            match content {
                Some(c) => write(&dir.join(name), c),
                None => {
                    git(dir, &["rm", "-q", "-r", name]);
                }
            }
        }
        git(dir, &["add", "-A"]);
        git(dir, &["commit", "-q", "-m", "commit"]);
        hashes.push(git(dir, &["rev-parse", "HEAD"]));
    }
    Repo {
        path: dir.to_path_buf(),
        commits: hashes,
    }
}

fn write_script(path: &Path, text: &str) {
    write(path, text);
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

impl TestEnv {
    pub fn new() -> Self {
        Self::with(|_| {})
    }

    /// A fresh environment; `tweak` adjusts the config before the executor
    /// is built.
    pub fn with(tweak: impl FnOnce(&mut ShellConfig)) -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let t = tmp.path().to_path_buf();
        let core = make_repo(
            &t.join("git/drupal.git"),
            &[
                &[
                    ("index.php", Some("<?php // core 1\n")),
                    (".htaccess", Some("# core htaccess\n")),
                    ("robots.txt", Some("User-agent: *\n")),
                    ("includes/bootstrap.inc", Some("<?php\n")),
                    ("misc/drupal.js", Some("// js\n")),
                    ("modules/system/system.module", Some("<?php\n")),
                    ("profiles/standard/standard.profile", Some("<?php\n")),
                    ("profiles/minimal/minimal.profile", Some("<?php\n")),
                    ("sites/example.sites.php", Some("<?php\n")),
                    ("sites/all/README.txt", Some("all\n")),
                    ("sites/all/modules/README.txt", Some("modules\n")),
                    (
                        "sites/default/default.settings.php",
                        Some("<?php // default settings\n"),
                    ),
                ],
                &[
                    ("index.php", Some("<?php // core 2\n")),
                    ("update.php", Some("<?php // updates\n")),
                    ("misc", None),
                ],
            ],
        );
        let profile = make_repo(
            &t.join("git/express.git"),
            &[&[
                ("express.info", Some("name = Express\n")),
                ("express.profile", Some("<?php\n")),
            ]],
        );
        let base = make_repo(
            &t.join("git/cu_base.git"),
            &[&[
                ("cu_base.info", Some("name = Base\n")),
                ("cu_base.module", Some("<?php\n")),
            ]],
        );
        let feature = make_repo(
            &t.join("git/cu_feature.git"),
            &[&[
                (
                    "cu_feature.info",
                    Some("name = Feature\ndependencies[] = cu_base\n"),
                ),
                ("cu_feature.module", Some("<?php\n")),
            ]],
        );

        let log = t.join("calls.log");
        let fail = t.join("drush-fail");
        write_script(
            &t.join("bin/drush"),
            &format!(
                r#"#!/bin/sh
{{
  printf '=== drush\n'
  printf 'cwd: %s\n' "$(pwd -P)"
  for a in "$@"; do printf 'arg: %s\n' "$a"; done
  printf 'env MYSQL_PWD: %s\n' "${{MYSQL_PWD-}}"
  printf 'end\n'
}} >> '{log}'
if [ -e '{fail}' ]; then echo "drush: simulated failure" >&2; exit 3; fi
exit 0
"#,
                log = log.display(),
                fail = fail.display()
            ),
        );
        write_script(
            &t.join("bin/mysql"),
            &format!(
                r#"#!/bin/sh
extra=""
for a in "$@"; do case "$a" in --defaults-extra-file=*) extra="${{a#--defaults-extra-file=}}";; esac; done
{{
  printf '=== mysql\n'
  printf 'cwd: %s\n' "$(pwd -P)"
  for a in "$@"; do printf 'arg: %s\n' "$a"; done
  printf 'env MYSQL_PWD: %s\n' "${{MYSQL_PWD-}}"
  if [ -n "$extra" ]; then printf 'optmode: %s\n' "$(stat -c %a "$extra")"; sed 's/^/opt: /' "$extra"; fi
  sed 's/^/stdin: /'
  printf 'end\n'
}} >> '{log}'
"#,
                log = log.display()
            ),
        );
        write_script(
            &t.join("bin/reload"),
            &format!(
                r#"#!/bin/sh
{{
  printf '=== reload\n'
  printf 'cwd: %s\n' "$(pwd -P)"
  for a in "$@"; do printf 'arg: %s\n' "$a"; done
  printf 'end\n'
}} >> '{log}'
"#,
                log = log.display()
            ),
        );

        let srv = t.join("srv");
        let mut cfg = ShellConfig {
            code_root: srv.join("code"),
            instances_code_root: srv.join("instances"),
            instances_web_root: srv.join("web"),
            files_root: srv.join("files"),
            backup_root: srv.join("backups"),
            down_page: srv.join("down"),
            environment: Environment::Test,
            atlas_url: "https://atlas.example.invalid/atlas/".into(),
            memcache_servers: vec!["10.0.0.5:11211".into()],
            varnish_servers: vec!["10.0.0.9".into()],
            server_name: Some("web-test-1".into()),
            ..ShellConfig::default()
        };
        cfg.programs.mysql = t.join("bin/mysql").display().to_string();
        cfg.programs.drush = t.join("bin/drush").display().to_string();
        cfg.database.host = "db-primary".into();
        cfg.database.port = 3307;
        cfg.database.replicas = vec!["db-replica-1".into()];
        cfg.database.admin_user = "atlas_admin".into();
        cfg.database.admin_password = ConfigSecret::new(ADMIN_PASSWORD);
        cfg.service_account.username = "atlas_svc".into();
        cfg.service_account.password = ConfigSecret::new(SERVICE_PASSWORD);
        cfg.route_map.format = RouteMapFormat::F5;
        cfg.route_map.path = srv.join("lb/routes.map");
        cfg.route_map.reload_command = vec![t.join("bin/reload").display().to_string(), "--sync".into()];
        cfg.timeouts.program_secs = 60;
        tweak(&mut cfg);
        let exec = ShellExecutor::new(cfg.clone()).expect("valid config");
        Self {
            tmp,
            srv,
            cfg,
            exec,
            core,
            profile,
            base,
            feature,
        }
    }

    pub fn t(&self) -> &Path {
        self.tmp.path()
    }

    /// Makes the stub drush fail from now on.
    pub fn fail_drush(&self) {
        std::fs::write(self.t().join("drush-fail"), b"").unwrap();
    }

    /// The recorded calls so far.
    pub fn calls(&self) -> Vec<Call> {
        let text = std::fs::read_to_string(self.t().join("calls.log")).unwrap_or_default();
        let mut calls = Vec::new();
        let mut cur: Option<Call> = None;
        for line in text.lines() {
            if let Some(p) = line.strip_prefix("=== ") {
                cur = Some(Call {
                    program: p.to_owned(),
                    ..Call::default()
                });
            } else if line == "end" {
                calls.extend(cur.take());
            } else if let Some(c) = cur.as_mut() {
                if let Some(v) = line.strip_prefix("cwd: ") {
                    c.cwd = v.to_owned();
                } else if let Some(v) = line.strip_prefix("arg: ") {
                    c.args.push(v.to_owned());
                } else if let Some(v) = line.strip_prefix("stdin: ") {
                    c.stdin.push(v.to_owned());
                } else if let Some(v) = line.strip_prefix("opt: ") {
                    c.opts.push(v.to_owned());
                } else if let Some(v) = line.strip_prefix("optmode: ") {
                    c.optmode = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("env MYSQL_PWD: ") {
                    c.env_mysql_pwd = v.to_owned();
                }
            }
        }
        calls
    }

    /// Recorded calls of one program.
    pub fn calls_of(&self, program: &str) -> Vec<Call> {
        self.calls()
            .into_iter()
            .filter(|c| c.program == program)
            .collect()
    }

    /// Forgets recorded calls.
    pub fn clear_calls(&self) {
        let _ = std::fs::remove_file(self.t().join("calls.log"));
    }

    /// Asserts no recorded argument holds a password.
    pub fn assert_no_password_in_argv(&self) {
        for c in self.calls() {
            for a in &c.args {
                for pw in [DB_PASSWORD, ADMIN_PASSWORD, SERVICE_PASSWORD] {
                    assert!(!a.contains(pw), "password in argv of {}: {a}", c.program);
                }
            }
            assert!(c.env_mysql_pwd.is_empty(), "MYSQL_PWD set for {}", c.program);
        }
    }

    pub fn code(
        &self,
        name: &str,
        version: &str,
        code_type: CodeType,
        repo: &Repo,
        commit: usize,
    ) -> CodeSpec {
        CodeSpec {
            id: id(name.len() as u8 + commit as u8),
            name: name.into(),
            version: version.into(),
            code_type,
            git_url: repo.path.display().to_string(),
            commit_hash: repo.commits[commit].clone(),
            is_current: true,
        }
    }

    pub fn core_v1(&self) -> CodeSpec {
        self.code("drupal", "7.1", CodeType::Core, &self.core, 0)
    }

    pub fn core_v2(&self) -> CodeSpec {
        self.code("drupal", "7.2", CodeType::Core, &self.core, 1)
    }

    pub fn profile_spec(&self) -> CodeSpec {
        self.code("express", "2.0", CodeType::Profile, &self.profile, 0)
    }

    pub fn base_spec(&self) -> CodeSpec {
        self.code("cu_base", "1.0", CodeType::Module, &self.base, 0)
    }

    pub fn feature_spec(&self) -> CodeSpec {
        self.code("cu_feature", "1.0", CodeType::Module, &self.feature, 0)
    }

    /// Deploys the core (v1 and v2), the profile and both packages.
    pub async fn deploy_all(&self) {
        let mut v1 = self.core_v1();
        v1.is_current = false;
        for c in [
            v1,
            self.core_v2(),
            self.profile_spec(),
            self.base_spec(),
            self.feature_spec(),
        ] {
            self.exec.deploy_code(&c).await.unwrap();
        }
        self.clear_calls();
    }

    /// An instance on core v1 with the profile and both packages (the
    /// feature's dependency closure), status pending.
    pub fn instance(&self, sid: &str) -> InstanceSpec {
        let mut v1 = self.core_v1();
        v1.is_current = false;
        InstanceSpec {
            id: id(7),
            sid: Sid::parse(sid).unwrap(),
            path: sid.into(),
            instance_type: InstanceType::Express,
            status: Status::Pending,
            pool: Pool::PoolbExpress,
            update_group: 1,
            statistics_id: Some(id(9)),
            core: v1,
            profile: self.profile_spec(),
            packages: vec![self.feature_spec(), self.base_spec()],
            settings: SiteSettings {
                page_cache_maximum_age: 300,
                siteimprove_site: Some(1234),
                siteimprove_group: None,
            },
            database: DatabaseSpec {
                name: sid.into(),
                user: sid.into(),
                password: Secret::new(DB_PASSWORD),
            },
            routes: Vec::new(),
            primary_route: None,
        }
    }

    /// Path under the temp dir's `srv`.
    pub fn p(&self, rel: &str) -> PathBuf {
        self.srv.join(rel)
    }

    pub fn code_dir(&self, c: &CodeSpec) -> PathBuf {
        let t = match c.code_type {
            CodeType::Core => "cores",
            CodeType::Profile => "profiles",
            CodeType::Module => "modules",
            CodeType::Theme => "themes",
            CodeType::Library => "libraries",
        };
        self.p(&format!("code/{t}/{}/{}-{}", c.name, c.name, c.version))
    }

    /// Everything under `srv` (no `.git` internals): path → kind, link
    /// target, mode and contents.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        snapshot(&self.srv)
    }
}

pub fn snapshot(top: &Path) -> BTreeMap<String, String> {
    // Link targets are absolute; name the temp dir `$T` so two
    // environments compare equal.
    let tmp = top.parent().unwrap().display().to_string();
    let mut out = BTreeMap::new();
    let mut stack = vec![top.to_path_buf()];
    while let Some(p) = stack.pop() {
        let Ok(m) = std::fs::symlink_metadata(&p) else {
            continue;
        };
        let rel = p.strip_prefix(top).unwrap().display().to_string();
        let mode = m.permissions().mode() & 0o7777;
        if m.file_type().is_symlink() {
            let target = std::fs::read_link(&p)
                .unwrap()
                .display()
                .to_string()
                .replace(&tmp, "$T");
            out.insert(rel, format!("link -> {target}"));
        } else if m.is_dir() {
            out.insert(rel, format!("dir {mode:o}"));
            if p.file_name().is_some_and(|n| n == ".git") {
                continue;
            }
            for e in std::fs::read_dir(&p).unwrap() {
                stack.push(e.unwrap().path());
            }
        } else {
            let body = std::fs::read(&p).unwrap();
            out.insert(rel, format!("file {mode:o} {}", String::from_utf8_lossy(&body)));
        }
    }
    out
}

pub fn id(n: u8) -> Id {
    Id::parse(&format!("5a1b2c3d4e5f6a7b8c9d0e{n:02x}")).unwrap()
}

pub fn link(p: &Path) -> PathBuf {
    std::fs::read_link(p).unwrap_or_else(|e| panic!("{} is not a link: {e}", p.display()))
}

pub fn mode(p: &Path) -> u32 {
    std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
}

pub fn is_real_dir(p: &Path) -> bool {
    std::fs::symlink_metadata(p).map(|m| m.is_dir()).unwrap_or(false)
}

pub fn route(source: &str, ty: RouteType, status: RouteStatus, sid: Option<&str>) -> RouteSpec {
    RouteSpec {
        id: id(source.len() as u8),
        source: source.into(),
        route_type: ty,
        route_status: status,
        destination: None,
        response_code: None,
        regex: false,
        path_preserving: false,
        instance_sid: sid.map(|s| Sid::parse(s).unwrap()),
        instance_type: sid.map(|_| InstanceType::Express),
    }
}

pub fn command(cmd: &str, instance: Option<InstanceSpec>, timeout: Duration) -> CommandSpec {
    CommandSpec {
        name: "test command".into(),
        command: cmd.into(),
        instance,
        single_server: true,
        timeout,
    }
}

/// Runs `sql` with the `mysql` client as the test MariaDB's root account
/// (`ATLAS_TEST_MARIADB_ROOT_PASSWORD`, through the environment) at
/// `host`:`port`; answers its standard output (batch mode, no column
/// names). Panics when the client fails. (For the fleet tests and the
/// backup bench; the executor tests go through `mariadb::Server`.)
#[allow(dead_code)]
pub fn root_sql(host: &str, port: &str, sql: &str) -> String {
    let mut child = Command::new("mysql")
        .args(["--batch", "--skip-column-names", "-uroot", "-h", host, "-P", port])
        .env(
            "MYSQL_PWD",
            std::env::var("ATLAS_TEST_MARIADB_ROOT_PASSWORD").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the mysql client runs");
    child.stdin.take().unwrap().write_all(sql.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
