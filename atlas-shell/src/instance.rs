//! Instance work on the file system and through `drush`: assembling the
//! Drupal tree from symlinks, files directories, settings, web and launch
//! links, the down page, removal and permissions.
//!
//! The tree `<instances_code_root>/<sid>/<sid>`:
//! - every top-level entry of the core checkout (but `.git`, `sites`,
//!   `profiles`) is a link into the core checkout;
//! - `profiles/` is a directory: the core's profiles linked, plus
//!   `profiles/<profile>` → the profile checkout;
//! - `sites/` is a directory: the core's entries linked, `sites/all/{modules,
//!   themes,libraries}/<pkg>` → package checkouts, `sites/default/` a real
//!   directory holding copies of the core's default files, the settings
//!   files, and `files` → `<files_root>/sitefiles/<sid>/files`.
//!
//! Links nobody wants any more (a previous core's entries, removed
//! packages) are removed, so re-running converges on the spec.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_core::model::RouteType;
use atlas_core::{CodeSpec, ExecError, InstanceSpec};

use crate::config::ShellConfig;
use crate::fs::{
    ensure_dir, ensure_root, ensure_symlink, entry, io_err, list_dir, prune_empty_dirs, remove_link,
    remove_link_to, remove_tree, set_mode, write_atomic, Entry,
};
use crate::paths::{check_source, confined, package_dir, refused, Layout};
use crate::perms::{apply_recursive, group_id, Modes};
use crate::process::{run_checked, Invocation};
use crate::settings;

/// Files in `sites/default` that Atlas writes or links itself.
const OWNED_IN_DEFAULT: [&str; 4] = [
    "settings.php",
    "settings.local_pre.php",
    "settings.local_post.php",
    "files",
];

const PACKAGE_DIRS: [&str; 3] = ["modules", "themes", "libraries"];

fn not_deployed(what: &str, c: &CodeSpec, dir: &Path) -> ExecError {
    ExecError::Io(std::io::Error::new(
        std::io::ErrorKind::NotFound,
        format!(
            "{what} {}-{} is not deployed at {}",
            c.name,
            c.version,
            dir.display()
        ),
    ))
}

/// Checks that the core, profile and package checkouts exist.
pub(crate) fn require_code(layout: &Layout, spec: &InstanceSpec) -> Result<(), ExecError> {
    let mut all = vec![("core", &spec.core), ("profile", &spec.profile)];
    all.extend(spec.packages.iter().map(|p| ("package", p)));
    for (what, c) in all {
        let dir = layout.code_dir(c);
        if entry(&dir)? != Entry::Dir {
            return Err(not_deployed(what, c, &dir));
        }
    }
    Ok(())
}

/// Checks that the instance's tree exists (it was provisioned).
pub(crate) fn require_tree(layout: &Layout, spec: &InstanceSpec) -> Result<PathBuf, ExecError> {
    let tree = layout.tree(&spec.sid);
    confined(&layout.instances_code_root, &tree)?;
    if entry(&tree)? != Entry::Dir {
        return Err(ExecError::Io(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            format!(
                "instance {} is not provisioned here ({} is missing)",
                spec.sid,
                tree.display()
            ),
        )));
    }
    Ok(tree)
}

/// Links `dir/<name>` → `src/<name>` for every entry of `src` not in
/// `skip`, and records the names in `desired`.
fn link_entries(
    root: &Path,
    dir: &Path,
    src: &Path,
    skip: &[&str],
    desired: &mut BTreeSet<String>,
    keep_real: bool,
) -> Result<(), ExecError> {
    for name in list_dir(src)? {
        if name == ".git" || skip.contains(&name.as_str()) {
            continue;
        }
        let link = dir.join(&name);
        desired.insert(name.clone());
        if keep_real && matches!(entry(&link)?, Entry::Dir | Entry::File) {
            // A real file put here on purpose (homepage extra files).
            continue;
        }
        ensure_symlink(root, &link, &src.join(&name))?;
    }
    Ok(())
}

/// Removes the links in `dir` whose names are not `desired`.
fn remove_stale_links(root: &Path, dir: &Path, desired: &BTreeSet<String>) -> Result<(), ExecError> {
    for name in list_dir(dir)? {
        if !desired.contains(&name) {
            if let Entry::Link(_) = entry(&dir.join(&name))? {
                remove_link(root, &dir.join(&name))?;
            }
        }
    }
    Ok(())
}

/// Assembles (or re-assembles) the tree for `spec` (see the module doc).
pub(crate) fn assemble_tree(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
) -> Result<(), ExecError> {
    require_code(layout, spec)?;
    let root = &layout.instances_code_root;
    let tree = layout.tree(&spec.sid);
    let core = layout.code_dir(&spec.core);
    ensure_root(root)?;
    ensure_dir(root, &tree)?;

    let mut desired: BTreeSet<String> = ["sites", "profiles"].into_iter().map(String::from).collect();
    link_entries(root, &tree, &core, &["sites", "profiles"], &mut desired, true)?;
    remove_stale_links(root, &tree, &desired)?;

    let profiles = tree.join("profiles");
    ensure_dir(root, &profiles)?;
    let mut desired = BTreeSet::from([spec.profile.name.clone()]);
    link_entries(
        root,
        &profiles,
        &core.join("profiles"),
        &[spec.profile.name.as_str()],
        &mut desired,
        false,
    )?;
    ensure_symlink(
        root,
        &profiles.join(&spec.profile.name),
        &layout.code_dir(&spec.profile),
    )?;
    remove_stale_links(root, &profiles, &desired)?;

    let sites = tree.join("sites");
    ensure_dir(root, &sites)?;
    let mut desired = BTreeSet::from(["default".to_owned(), "all".to_owned()]);
    link_entries(
        root,
        &sites,
        &core.join("sites"),
        &["default", "all"],
        &mut desired,
        false,
    )?;
    remove_stale_links(root, &sites, &desired)?;

    let all = sites.join("all");
    ensure_dir(root, &all)?;
    let mut desired: BTreeSet<String> = PACKAGE_DIRS.iter().map(|s| s.to_string()).collect();
    link_entries(
        root,
        &all,
        &core.join("sites/all"),
        &PACKAGE_DIRS,
        &mut desired,
        false,
    )?;
    remove_stale_links(root, &all, &desired)?;
    for kind in PACKAGE_DIRS {
        let dir = all.join(kind);
        ensure_dir(root, &dir)?;
        let mine: Vec<&CodeSpec> = spec
            .packages
            .iter()
            .filter(|p| package_dir(p.code_type) == Some(kind))
            .collect();
        let names: Vec<&str> = mine.iter().map(|p| p.name.as_str()).collect();
        let mut desired: BTreeSet<String> = names.iter().map(|s| s.to_string()).collect();
        link_entries(
            root,
            &dir,
            &core.join("sites/all").join(kind),
            &names,
            &mut desired,
            false,
        )?;
        for p in mine {
            ensure_symlink(root, &dir.join(&p.name), &layout.code_dir(p))?;
        }
        remove_stale_links(root, &dir, &desired)?;
    }

    let default = sites.join("default");
    ensure_dir(root, &default)?;
    let core_default = core.join("sites/default");
    for name in list_dir(&core_default)? {
        if OWNED_IN_DEFAULT.contains(&name.as_str()) {
            continue;
        }
        let src = core_default.join(&name);
        if entry(&src)? != Entry::File {
            continue;
        }
        let bytes = std::fs::read(&src).map_err(|e| io_err(e, "reading", &src))?;
        let dest = default.join(&name);
        let same = entry(&dest)? == Entry::File && std::fs::read(&dest).map(|b| b == bytes).unwrap_or(false);
        if !same {
            write_atomic(root, &dest, &bytes, cfg.permissions.file_mode)?;
        }
    }
    Ok(())
}

/// Creates `<files_root>/sitefiles/<sid>/{files,tmp}` and links
/// `sites/default/files` to the first.
/// `own_files` false (shared storage, another host owns it): only the link.
pub(crate) fn files_dirs(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
    own_files: bool,
) -> Result<(), ExecError> {
    let base = layout.files_dir(&spec.sid);
    if own_files {
        let froot = &layout.files_root;
        ensure_root(froot)?;
        for sub in ["files", "tmp"] {
            let d = base.join(sub);
            ensure_dir(froot, &d)?;
            set_mode(&d, cfg.permissions.dir_mode)?;
        }
    }
    let link = layout.site_default(&spec.sid).join("files");
    let root = &layout.instances_code_root;
    confined(root, &link)?;
    if entry(&link)? == Entry::Dir {
        // An empty directory left by a core or an installer is replaced.
        std::fs::remove_dir(&link).map_err(|e| io_err(e, "replacing directory", &link))?;
    }
    ensure_symlink(root, &link, &base.join("files"))?;
    Ok(())
}

/// The gid of the configured web group (`None`: none configured, or no
/// such group here — logged).
fn web_gid(cfg: &ShellConfig) -> Result<Option<u32>, ExecError> {
    let Some(g) = &cfg.permissions.web_group else {
        return Ok(None);
    };
    match group_id(g) {
        Ok(Some(gid)) => Ok(Some(gid)),
        Ok(None) => {
            tracing::warn!(group = %g, "web group not found; leaving group ownership alone");
            Ok(None)
        }
        Err(e) => Err(io_err(e, "reading", Path::new("/etc/group"))),
    }
}

/// Renders and writes the three settings files atomically, readable by
/// their owner and the web server's group only (`settings_mode`, 0640 by
/// default: they hold database and service-account passwords).
pub(crate) fn write_settings(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
) -> Result<(), ExecError> {
    let files = settings::render(cfg, layout, spec)?;
    let root = &layout.instances_code_root;
    let default = layout.site_default(&spec.sid);
    ensure_dir(root, &default)?;
    let gid = web_gid(cfg)?;
    for (name, text) in files {
        let path = default.join(name);
        write_atomic(root, &path, text.as_bytes(), cfg.permissions.settings_mode)?;
        if let Some(gid) = gid {
            std::os::unix::fs::lchown(&path, None, Some(gid))
                .map_err(|e| io_err(e, "changing group of", &path))?;
        }
    }
    Ok(())
}

/// `current` → the tree.
pub(crate) fn point_current_at_tree(layout: &Layout, spec: &InstanceSpec) -> Result<(), ExecError> {
    ensure_symlink(
        &layout.instances_code_root,
        &layout.current(&spec.sid),
        &layout.tree(&spec.sid),
    )?;
    Ok(())
}

/// `current` → the down page.
pub(crate) fn point_current_at_down_page(layout: &Layout, spec: &InstanceSpec) -> Result<(), ExecError> {
    let root = &layout.instances_code_root;
    ensure_dir(root, &layout.instance_dir(&spec.sid))?;
    ensure_symlink(root, &layout.current(&spec.sid), &layout.down_page)?;
    Ok(())
}

/// `<instances_web_root>/<type>/<sid>` → `current`.
pub(crate) fn web_link(layout: &Layout, spec: &InstanceSpec) -> Result<(), ExecError> {
    let root = &layout.instances_web_root;
    ensure_root(root)?;
    ensure_dir(root, &layout.web_type(spec.instance_type))?;
    ensure_symlink(
        root,
        &layout.web_sid(spec.instance_type, &spec.sid),
        &layout.current(&spec.sid),
    )?;
    Ok(())
}

/// The launch links of `spec` (validated): where each lives.
pub(crate) fn launch_links(layout: &Layout, spec: &InstanceSpec) -> Result<Vec<PathBuf>, ExecError> {
    let mut links = Vec::new();
    for s in crate::paths::launch_sources(spec)? {
        let l = layout.launch_link(spec.instance_type, spec.pool, &s);
        if !links.contains(&l) {
            links.push(l);
        }
    }
    if spec.pool == atlas_core::model::Pool::PoolbHomepage && links.is_empty() {
        links.push(layout.homepage());
    }
    Ok(links)
}

/// Points `current` at the tree and links each launch source to it.
/// Every link is checked before any is made: none may sit behind a
/// symlink or replace a real file. Re-running re-applies a launched
/// instance's links (what a drift heal does).
pub(crate) fn launch(layout: &Layout, spec: &InstanceSpec) -> Result<(), ExecError> {
    let root = &layout.instances_web_root;
    let links = launch_links(layout, spec)?;
    for l in &links {
        confined(root, l)?;
        if matches!(entry(l)?, Entry::Dir | Entry::File) {
            return Err(refused(
                "route source",
                format!("{} exists and is not a link", l.display()),
            ));
        }
    }
    point_current_at_tree(layout, spec)?;
    web_link(layout, spec)?;
    let current = layout.current(&spec.sid);
    for l in links {
        if let Some(parent) = l.parent() {
            if parent != root {
                ensure_dir(root, parent)?;
            }
        }
        ensure_symlink(root, &l, &current)?;
    }
    Ok(())
}

/// Every place a launch link of this instance may live (any status), for
/// removal.
fn all_launch_links(layout: &Layout, spec: &InstanceSpec) -> Result<Vec<PathBuf>, ExecError> {
    let mut sources = Vec::new();
    if let Some(p) = &spec.primary_route {
        sources.push(check_source(p)?);
    }
    for r in &spec.routes {
        let mine = !matches!(&r.instance_sid, Some(s) if s != &spec.sid);
        if mine && r.route_type != RouteType::Redirect && !r.regex {
            sources.push(check_source(&r.source)?);
        }
    }
    let mut links: Vec<PathBuf> = sources
        .iter()
        .map(|s| layout.launch_link(spec.instance_type, spec.pool, s))
        .collect();
    links.push(layout.homepage());
    // `path` is free text in the spec: used only when it is a valid source.
    if let Ok(s) = check_source(&spec.path) {
        links.push(layout.launch_link(spec.instance_type, spec.pool, &s));
    }
    links.dedup();
    Ok(links)
}

/// Removes links (only those pointing at this instance), files (when
/// `own_files`) and code.
pub(crate) fn remove(layout: &Layout, spec: &InstanceSpec, own_files: bool) -> Result<(), ExecError> {
    let web = &layout.instances_web_root;
    let current = layout.current(&spec.sid);
    let links = all_launch_links(layout, spec)?;
    remove_link(web, &layout.web_sid(spec.instance_type, &spec.sid))?;
    let type_dir = layout.web_type(spec.instance_type);
    for l in links {
        if remove_link_to(web, &l, &current)? {
            if let Some(parent) = l.parent() {
                prune_empty_dirs(web, parent.to_path_buf(), &type_dir)?;
            }
        }
    }
    if own_files {
        remove_tree(&layout.files_root, &layout.files_dir(&spec.sid))?;
    }
    remove_tree(&layout.instances_code_root, &layout.instance_dir(&spec.sid))?;
    Ok(())
}

/// Resets group and modes of `sites/default` and (when `own_files`) the
/// files directories.
pub(crate) fn correct_permissions(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
    own_files: bool,
) -> Result<(), ExecError> {
    let p = &cfg.permissions;
    let gid = web_gid(cfg)?;
    let modes = Modes {
        dir: p.dir_mode,
        file: p.file_mode,
        gid,
    };
    let default = layout.site_default(&spec.sid);
    confined(&layout.instances_code_root, &default)?;
    apply_recursive(&default, modes)?;
    for name in settings::FILES {
        set_mode(&default.join(name), p.settings_mode)?;
    }
    if own_files {
        files_permissions(cfg, layout, spec)?;
    }
    Ok(())
}

/// Resets group and modes of the instance's files directories
/// (`<files_root>/sitefiles/<sid>`).
pub(crate) fn files_permissions(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
) -> Result<(), ExecError> {
    let p = &cfg.permissions;
    let modes = Modes {
        dir: p.dir_mode,
        file: p.file_mode,
        gid: web_gid(cfg)?,
    };
    let files = layout.files_dir(&spec.sid);
    confined(&layout.files_root, &files)?;
    apply_recursive(&files, modes)
}

/// A `drush` run against the instance's tree.
pub(crate) fn drush(cfg: &ShellConfig, tree: &Path, args: &[&str]) -> Invocation {
    Invocation::new(
        &cfg.programs,
        &cfg.programs.drush,
        Duration::from_secs(cfg.timeouts.program_secs),
    )
    .arg("-r")
    .arg(tree)
    .args(args.iter().copied())
    .cwd(tree)
}

/// Runs `drush` commands in order, stopping at the first failure.
pub(crate) async fn drush_all(cfg: &ShellConfig, tree: &Path, commands: &[&[&str]]) -> Result<(), ExecError> {
    for args in commands {
        run_checked(&drush(cfg, tree, args)).await?;
    }
    Ok(())
}

/// Copies the regular files of `src` into the launched homepage's tree
/// (through `<instances_web_root>/homepage`, which must resolve inside the
/// instances code root). Returns the files copied.
pub(crate) fn homepage_extra_files(
    cfg: &ShellConfig,
    layout: &Layout,
    src: &Path,
) -> Result<Vec<String>, ExecError> {
    let link = layout.homepage();
    if !matches!(entry(&link)?, Entry::Link(_)) {
        tracing::warn!(link = %link.display(), "no homepage is launched; no extra files copied");
        return Ok(Vec::new());
    }
    let target = std::fs::canonicalize(&link).map_err(|e| io_err(e, "resolving", &link))?;
    let root = std::fs::canonicalize(&layout.instances_code_root)
        .map_err(|e| io_err(e, "resolving", &layout.instances_code_root))?;
    confined(&root, &target)?;
    let mut copied = Vec::new();
    for name in list_dir(src)? {
        let from = src.join(&name);
        if entry(&from)? != Entry::File {
            continue;
        }
        let bytes = std::fs::read(&from).map_err(|e| io_err(e, "reading", &from))?;
        write_atomic(&root, &target.join(&name), &bytes, cfg.permissions.file_mode)?;
        copied.push(name);
    }
    Ok(copied)
}
