//! `atlas demo [DIR]`: a self-contained stand-in for a real installation,
//! so a newcomer can walk the whole lifecycle on one machine without
//! network, Drupal, drush or a database server.
//!
//! It writes, under a new directory: two local git repositories (a tiny
//! "drupal" core and "express" profile, one commit each), three **stub**
//! programs standing in for `drush`, `mysql` and `mysqldump` (they install
//! and dump nothing; they record each call in `stub-calls.log` and succeed), the roots of the
//! shell executor, a configuration `atlas.toml` pointing at all of it, the
//! JSON bodies of the two code items (`core.json`, `profile.json`), and
//! the API user `admin` with its password in `admin-password` (mode 0600).
//! A real installation needs none of these stand-ins but real ones:
//! repositories its web servers can reach, drush, and a MySQL/MariaDB
//! server with an admin account.

use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context};

use crate::config::AtlasConfig;
use crate::users::{random_password, UsersFile};

/// The demo's API user.
const USER: &str = "admin";

/// A stub program: says what it is, records its call next to itself
/// (`<dir>/stub-calls.log`, found from its own path, so no path is written
/// into the script) and succeeds. Input (mysql's SQL) is read and dropped.
fn stub_script(name: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # STUB written by `atlas demo`: it stands in for {name} and installs\n\
         # nothing. It records how Atlas called it in stub-calls.log beside\n\
         # this directory, reads and drops its input, and succeeds. A real\n\
         # installation points [shell.programs] {name} at the real program.\n\
         log=\"$(dirname \"$0\")/../stub-calls.log\"\n\
         echo \"{name} $*\" >> \"$log\"\n\
         cat > /dev/null 2>&1 || true\n\
         exit 0\n"
    )
}

/// Runs git with an argument vector in `dir`; answers its trimmed stdout.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Atlas demo")
        .env("GIT_AUTHOR_EMAIL", "demo@example.invalid")
        .env("GIT_COMMITTER_NAME", "Atlas demo")
        .env("GIT_COMMITTER_EMAIL", "demo@example.invalid")
        .output()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                anyhow::anyhow!(
                    "atlas demo needs git: install it (Debian: apt-get install git) and run it again"
                )
            } else {
                anyhow::anyhow!("cannot run git: {e}")
            }
        })?;
    if !out.status.success() {
        bail!(
            "git {} failed in {}: {}",
            args.join(" "),
            dir.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A bare repository `<repos>/<name>.git` with `files` in one commit;
/// answers its path and commit hash.
fn repository(repos: &Path, name: &str, files: &[(&str, &str)]) -> anyhow::Result<(PathBuf, String)> {
    let work = repos.join("work").join(name);
    for (path, text) in files {
        let p = work.join(path);
        std::fs::create_dir_all(p.parent().unwrap_or(&work))
            .with_context(|| format!("creating {}", work.display()))?;
        std::fs::write(&p, text).with_context(|| format!("writing {}", p.display()))?;
    }
    git(&work, &["init", "--quiet"])?;
    git(&work, &["add", "."])?;
    git(&work, &["commit", "--quiet", "-m", "demo"])?;
    let commit = git(&work, &["rev-parse", "HEAD"])?;
    let bare = repos.join(format!("{name}.git"));
    git(
        repos,
        &["clone", "--quiet", "--bare", "--", &utf8(&work)?, &utf8(&bare)?],
    )?;
    Ok((bare, commit))
}

fn utf8(p: &Path) -> anyhow::Result<String> {
    p.to_str()
        .map(str::to_owned)
        .with_context(|| format!("{} is not valid UTF-8: pick another directory", p.display()))
}

/// A TOML string literal of `p`.
fn toml_path(p: &Path) -> anyhow::Result<String> {
    Ok(toml::Value::String(utf8(p)?).to_string())
}

/// The demo's configuration: everything under `dir`, stubs for drush and
/// mysql, a pool of two.
fn config_text(dir: &Path) -> anyhow::Result<String> {
    let p = |rel: &str| toml_path(&dir.join(rel));
    Ok(format!(
        "# Written by `atlas demo`: a local stand-in for a real installation.\n\
         # drush and mysql below are STUBS that install nothing (see bin/);\n\
         # the code items' repositories are local (see repos/). A real\n\
         # installation needs reachable git repositories, drush, and a\n\
         # MySQL/MariaDB server with an admin account in [shell.database].\n\
         data_dir = {data}\n\
         environment = \"local\"\n\
         \n\
         [service]\n\
         pool_size = 2\n\
         \n\
         [shell]\n\
         code_root = {code}\n\
         instances_code_root = {instances}\n\
         instances_web_root = {web}\n\
         files_root = {files}\n\
         down_page = {down}\n\
         \n\
         [shell.programs]\n\
         drush = {drush}  # STUB\n\
         mysql = {mysql}  # STUB\n\
         mysqldump = {mysqldump}  # STUB\n\
         \n\
         [shell.database]\n\
         # The stub mysql accepts any account.\n\
         admin_user = \"demo\"\n\
         \n\
         [shell.route_map]\n\
         path = {map}\n",
        data = p("data")?,
        code = p("code")?,
        instances = p("instances")?,
        web = p("web")?,
        files = p("files")?,
        down = p("down")?,
        drush = p("bin/drush")?,
        mysql = p("bin/mysql")?,
        mysqldump = p("bin/mysqldump")?,
        map = p("route-map.txt")?,
    ))
}

/// The body of a code item for `repo` at `commit`.
fn code_body(
    repo: &Path,
    commit: &str,
    name: &str,
    version: &str,
    code_type: &str,
) -> anyhow::Result<String> {
    let body = serde_json::json!({
        "git_url": utf8(repo)?,
        "commit_hash": commit,
        "meta": {"name": name, "version": version, "code_type": code_type, "is_current": true},
    });
    Ok(format!("{body:#}\n"))
}

/// Writes a file that only its owner may read.
fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}

/// Sets up the demo in `dir` (which must not exist or be empty) and says
/// how to run it.
///
/// # Errors
/// `dir` in use, git missing or failing, I/O.
pub fn run(dir: &Path) -> anyhow::Result<()> {
    if dir.exists()
        && std::fs::read_dir(dir)
            .with_context(|| format!("reading {}", dir.display()))?
            .next()
            .is_some()
    {
        bail!(
            "{} already exists and is not empty: remove it, or name another directory (atlas demo DIR)",
            dir.display()
        );
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    for sub in [
        "repos",
        "bin",
        "code",
        "instances",
        "web",
        "files",
        "down",
        "data",
    ] {
        let p = dir.join(sub);
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
    }

    let repos = dir.join("repos");
    let (core_repo, core_commit) = repository(
        &repos,
        "drupal",
        &[
            ("index.php", "<?php // Drupal (demo)\n"),
            ("includes/bootstrap.inc", "<?php\n"),
            ("modules/system/system.module", "<?php\n"),
            ("sites/default/default.settings.php", "<?php\n"),
        ],
    )?;
    let (profile_repo, profile_commit) =
        repository(&repos, "express", &[("express.info", "name = Express (demo)\n")])?;

    for name in ["drush", "mysql", "mysqldump"] {
        let p = dir.join("bin").join(name);
        std::fs::write(&p, stub_script(name)).with_context(|| format!("writing {}", p.display()))?;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("making {} executable", p.display()))?;
    }

    let config = dir.join("atlas.toml");
    std::fs::write(&config, config_text(&dir)?).with_context(|| format!("writing {}", config.display()))?;
    std::fs::write(
        dir.join("core.json"),
        code_body(&core_repo, &core_commit, "drupal", "7.42", "core")?,
    )?;
    std::fs::write(
        dir.join("profile.json"),
        code_body(&profile_repo, &profile_commit, "express", "2.2.5", "profile")?,
    )?;

    // The configuration we wrote must load like any operator's.
    let cfg = AtlasConfig::load(Some(&config), None)
        .with_context(|| format!("checking the written configuration {}", config.display()))?;
    let password = random_password();
    UsersFile::at(cfg.users_file()).add(USER, &password)?;
    write_private(&dir.join("admin-password"), &format!("{password}\n"))?;

    println!("Atlas demo set up in {}", dir.display());
    println!("  repositories  repos/drupal.git (core 7.42), repos/express.git (profile 2.2.5)");
    println!("  code items    core.json, profile.json (bodies for POST /code)");
    println!("  stubs         bin/drush, bin/mysql, bin/mysqldump: STUBS that install nothing;");
    println!("                their calls are recorded in stub-calls.log");
    println!("  configuration atlas.toml");
    println!("  API user      {USER}, password in admin-password");
    println!();
    println!("Run Atlas on it:  atlas --config {} serve", config.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_sets_up_repositories_stubs_and_a_configuration_that_loads() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("demo");
        run(&dir).unwrap();
        let cfg = AtlasConfig::load(Some(&dir.join("atlas.toml")), None).unwrap();
        let dir = dir.canonicalize().unwrap();
        assert_eq!(cfg.data_dir, dir.join("data"));
        assert_eq!(
            cfg.shell.programs.drush,
            dir.join("bin/drush").display().to_string()
        );
        let core: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("core.json")).unwrap()).unwrap();
        let hash = core["commit_hash"].as_str().unwrap();
        assert_eq!(hash.len(), 40, "{core}");
        // The commit is really in the repository the body names.
        let repo = PathBuf::from(core["git_url"].as_str().unwrap());
        git(&repo, &["cat-file", "-e", &format!("{hash}^{{commit}}")]).unwrap();
        // The stub records its call and succeeds; it says it is a stub.
        let stub = dir.join("bin/drush");
        assert!(std::fs::read_to_string(&stub).unwrap().contains("STUB"));
        let st = Command::new(&stub)
            .args(["site-install", "express"])
            .status()
            .unwrap();
        assert!(st.success());
        let log = std::fs::read_to_string(dir.join("stub-calls.log")).unwrap();
        assert_eq!(log, "drush site-install express\n");
        // The password file is private and its password is the user's.
        let mode = std::fs::metadata(dir.join("admin-password"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let users = UsersFile::at(cfg.users_file()).load().unwrap();
        assert!(users.users.contains_key(USER));
    }

    #[test]
    fn demo_refuses_a_directory_in_use() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("keep.txt"), "mine").unwrap();
        let err = run(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("already exists and is not empty"), "{err}");
        assert_eq!(
            std::fs::read_to_string(tmp.path().join("keep.txt")).unwrap(),
            "mine"
        );
    }
}
