//! Drift on this host: what an instance's files, links and checkouts here
//! hold against what its spec says, and whether its database exists and
//! its user logs in. Only reads: nothing is changed. Each difference is a
//! [`DriftFinding`] naming this host (`local`; a fleet renames it).
//!
//! What is compared:
//! - checkouts: every code item's checkout exists and its `HEAD` is the
//!   recorded commit (`checkout_head`, healed by a redeploy);
//! - code links: the tree's links to the core's top-level entries, to the
//!   profile and to each package (`code_link`, healed by the code
//!   switch's re-link; a missing tree is not healable: it needs a
//!   provision);
//! - settings: each settings file's SHA-256 against what the spec renders
//!   to (`settings`; the detail names hashes, never contents);
//! - web links: `current` → the tree (the down page when `down`), the web
//!   link → `current`, and for a launched instance each launch link →
//!   `current` (`web_link`; healable for `launched` and, for `current`,
//!   `down` instances; a real file or directory in a link's place is not,
//!   nor anything on a host without the instance's tree);
//! - database: it exists (admin account) and the instance's user logs in
//!   to it with its password (`database`; never healable).

use std::path::{Path, PathBuf};

use atlas_core::model::Status;
use atlas_core::{CodeSpec, DriftFinding, DriftKind, ExecError, InstanceSpec};
use sha2::{Digest, Sha256};

use crate::config::ShellConfig;
use crate::database;
use crate::fs::{entry, list_dir, Entry};
use crate::instance::launch_links;
use crate::paths::{package_dir, Layout};
use crate::process::run;
use crate::settings;

/// `what` of an entry, for details.
fn describe(e: &Entry) -> String {
    match e {
        Entry::Link(t) => format!("a link to {}", t.display()),
        Entry::Dir => "a directory".into(),
        Entry::File => "a file".into(),
        Entry::Missing => "nothing".into(),
    }
}

/// A finding when `link` is not a link to `target` (`None` when it is).
fn link_finding(
    host: &str,
    kind: DriftKind,
    link: &Path,
    target: &Path,
) -> Result<Option<DriftFinding>, ExecError> {
    let found = entry(link)?;
    if found == Entry::Link(target.to_path_buf()) {
        return Ok(None);
    }
    let f = DriftFinding::new(
        host,
        kind,
        format!(
            "{}: expected a link to {}, found {}",
            link.display(),
            target.display(),
            describe(&found)
        ),
    );
    // A real file or directory in a link's place is someone's data: the
    // link operations refuse to replace it.
    Ok(Some(if matches!(found, Entry::Dir | Entry::File) {
        f.not_healable()
    } else {
        f
    }))
}

/// The code items of `spec`, each once.
fn code_items(spec: &InstanceSpec) -> Vec<&CodeSpec> {
    let mut out: Vec<&CodeSpec> = Vec::new();
    for c in [&spec.core, &spec.profile]
        .into_iter()
        .chain(spec.packages.iter())
    {
        if !out.iter().any(|o| o.id == c.id) {
            out.push(c);
        }
    }
    out
}

/// The checkouts of `spec` on this host (`git rev-parse HEAD` in each).
pub(crate) async fn verify_checkouts(
    cfg: &ShellConfig,
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
) -> Result<Vec<DriftFinding>, ExecError> {
    let mut out = Vec::new();
    for c in code_items(spec) {
        let dir = layout.code_dir(c);
        let complete = entry(&dir)? == Entry::Dir && entry(&dir.join(".git"))? == Entry::Dir;
        let label = format!("{} {}-{}", c.code_type.as_str(), c.name, c.version);
        if !complete {
            out.push(
                DriftFinding::new(
                    host,
                    DriftKind::CheckoutHead,
                    format!("{label}: no checkout at {}", dir.display()),
                )
                .about_code(c.id),
            );
            continue;
        }
        let inv = crate::code::git_in(cfg, &dir).args(["rev-parse", "--verify", "HEAD"]);
        let done = run(&inv).await?;
        let head = done.stdout.trim().to_ascii_lowercase();
        let want = c.commit_hash.to_ascii_lowercase();
        if !done.success() || head.is_empty() || !head.starts_with(&want) {
            let found = if done.success() && !head.is_empty() {
                head
            } else {
                "unreadable".into()
            };
            out.push(
                DriftFinding::new(
                    host,
                    DriftKind::CheckoutHead,
                    format!(
                        "{label} at {}: HEAD is {found}, expected {}",
                        dir.display(),
                        c.commit_hash
                    ),
                )
                .about_code(c.id),
            );
        }
    }
    Ok(out)
}

/// The top-level entries of the core at its recorded commit (`git
/// ls-tree`), so a checkout moved to another commit does not change what
/// the tree should link; `None` when the commit cannot be read there (the
/// checkout's own finding says why).
pub(crate) async fn core_entries(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
) -> Result<Option<Vec<String>>, ExecError> {
    let dir = layout.code_dir(&spec.core);
    if entry(&dir.join(".git"))? != Entry::Dir {
        return Ok(None);
    }
    let inv = crate::code::git_in(cfg, &dir)
        .args(["ls-tree", "--name-only"])
        .arg(&spec.core.commit_hash);
    let done = run(&inv).await?;
    if !done.success() {
        return Ok(None);
    }
    Ok(Some(done.stdout.lines().map(str::to_owned).collect()))
}

/// The tree's code links (blocking); `core_entries` as [`core_entries`]
/// found them (else the checkout's directory is listed).
fn verify_code_links(
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
    core_entries: Option<Vec<String>>,
) -> Result<Vec<DriftFinding>, ExecError> {
    let tree = layout.tree(&spec.sid);
    if entry(&tree)? != Entry::Dir {
        return Ok(vec![DriftFinding::new(
            host,
            DriftKind::CodeLink,
            format!(
                "{}: the instance's tree is missing (a provision creates it)",
                tree.display()
            ),
        )
        .not_healable()]);
    }
    let mut out = Vec::new();
    let core = layout.code_dir(&spec.core);
    let mut wanted: Vec<(PathBuf, PathBuf)> = Vec::new();
    let names = match core_entries {
        Some(names) => names,
        None if entry(&core)? == Entry::Dir => list_dir(&core)?,
        None => Vec::new(),
    };
    for name in names {
        if name == ".git" || name == "sites" || name == "profiles" {
            continue;
        }
        let link = tree.join(&name);
        // A real file there on purpose (homepage extra files) is kept
        // by the re-link too.
        if matches!(entry(&link)?, Entry::Dir | Entry::File) {
            continue;
        }
        wanted.push((link, core.join(&name)));
    }
    wanted.push((
        tree.join("profiles").join(&spec.profile.name),
        layout.code_dir(&spec.profile),
    ));
    for p in &spec.packages {
        if let Some(kind) = package_dir(p.code_type) {
            wanted.push((
                tree.join("sites/all").join(kind).join(&p.name),
                layout.code_dir(p),
            ));
        }
    }
    for (link, target) in wanted {
        out.extend(link_finding(host, DriftKind::CodeLink, &link, &target)?);
    }
    Ok(out)
}

fn short(hash: &[u8]) -> String {
    hex::encode(&hash[..8])
}

/// The settings files against what `spec` renders to (blocking).
fn verify_settings(
    cfg: &ShellConfig,
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
) -> Result<Vec<DriftFinding>, ExecError> {
    let default = layout.site_default(&spec.sid);
    let mut out = Vec::new();
    for (name, text) in settings::render(cfg, layout, spec)? {
        let path = default.join(name);
        let want = short(&Sha256::digest(text.as_bytes()));
        let found = match entry(&path)? {
            Entry::File => {
                let bytes = std::fs::read(&path).map_err(|e| crate::fs::io_err(e, "reading", &path))?;
                let have = short(&Sha256::digest(&bytes));
                if have == want {
                    continue;
                }
                format!("sha256 {have}…")
            }
            other => describe(&other),
        };
        out.push(DriftFinding::new(
            host,
            DriftKind::Settings,
            format!(
                "{}: expected the rendered settings (sha256 {want}…), found {found}",
                path.display()
            ),
        ));
    }
    Ok(out)
}

/// `current`, the web link and (launched) the launch links (blocking).
fn verify_web_links(
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
) -> Result<Vec<DriftFinding>, ExecError> {
    let launched = spec.status == Status::Launched;
    let down = spec.status == Status::Down;
    let current = layout.current(&spec.sid);
    let mut out = Vec::new();
    let target = if down {
        layout.down_page.clone()
    } else {
        layout.tree(&spec.sid)
    };
    let heals = |f: DriftFinding, yes: bool| if yes { f } else { f.not_healable() };
    if let Some(f) = link_finding(host, DriftKind::WebLink, &current, &target)? {
        out.push(heals(f, launched || down));
    }
    let web = layout.web_sid(spec.instance_type, &spec.sid);
    if let Some(f) = link_finding(host, DriftKind::WebLink, &web, &current)? {
        out.push(heals(f, launched));
    }
    if launched {
        for l in launch_links(layout, spec)? {
            out.extend(link_finding(host, DriftKind::WebLink, &l, &current)?);
        }
    }
    Ok(out)
}

/// Everything but the checkouts and the database, on this host
/// (blocking); `core_entries` from [`core_entries`].
pub(crate) fn verify_files(
    cfg: &ShellConfig,
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
    core_entries: Option<Vec<String>>,
) -> Result<Vec<DriftFinding>, ExecError> {
    let mut out = verify_code_links(layout, host, spec, core_entries)?;
    let provisioned = entry(&layout.tree(&spec.sid))? == Entry::Dir;
    if provisioned {
        out.extend(verify_settings(cfg, layout, host, spec)?);
    }
    let web = verify_web_links(layout, host, spec)?;
    // Without the tree the link operations refuse to run: nothing here
    // heals until the instance is provisioned on this host again.
    out.extend(
        web.into_iter()
            .map(|f| if provisioned { f } else { f.not_healable() }),
    );
    Ok(out)
}

/// The instance's database: it exists, and its user logs in to it.
pub(crate) async fn verify_database(
    cfg: &ShellConfig,
    host: &str,
    spec: &InstanceSpec,
) -> Result<Vec<DriftFinding>, ExecError> {
    let db = &spec.database;
    if !database::exists(cfg, db).await? {
        return Ok(vec![DriftFinding::new(
            host,
            DriftKind::Database,
            format!(
                "database {} does not exist on {}:{}; restore it from a backup (a heal never recreates it)",
                db.name, cfg.database.host, cfg.database.port
            ),
        )]);
    }
    if let Some(why) = database::login_refused(cfg, db).await? {
        return Ok(vec![DriftFinding::new(
            host,
            DriftKind::Database,
            format!("user {} cannot log in to database {}: {why}", db.user, db.name),
        )]);
    }
    Ok(Vec::new())
}
