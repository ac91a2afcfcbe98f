//! Code checkouts under `<code_root>/<type>s/<name>/<name>-<version>` and
//! the `<name>-current` link: deploy (clone into a temporary sibling,
//! checkout, `git clean -ffd`, rename into place), update in place (fetch,
//! checkout, clean) and remove.

use std::path::{Path, PathBuf};
use std::time::Duration;

use atlas_core::{CodeSpec, ExecError};

use crate::config::ShellConfig;
use crate::fs::{
    blocking, ensure_dir, ensure_root, ensure_symlink, entry, io_err, remove_link_to, remove_tree, Entry,
};
use crate::paths::{check_code, refused, Layout};
use crate::process::{run, run_checked, Invocation};

fn git(cfg: &ShellConfig) -> Invocation {
    Invocation::new(
        &cfg.programs,
        &cfg.programs.git,
        Duration::from_secs(cfg.timeouts.program_secs),
    )
    .env("GIT_TERMINAL_PROMPT", "0")
    .args(["-c", "protocol.ext.allow=never", "-c", "protocol.fd.allow=never"])
}

pub(crate) fn git_in(cfg: &ShellConfig, dir: &Path) -> Invocation {
    git(cfg).arg("-C").arg(dir)
}

/// `<name>-<version>` being cloned, beside its final place.
fn partial_dir(final_dir: &Path) -> PathBuf {
    let name = final_dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    final_dir.with_file_name(format!(".{name}.atlas-partial"))
}

/// Whether `dir` is a complete checkout (we only rename complete clones into
/// place, so a `.git` directory means complete).
fn is_checkout(dir: &Path) -> Result<bool, ExecError> {
    Ok(entry(dir)? == Entry::Dir && entry(&dir.join(".git"))? == Entry::Dir)
}

/// Checks out `commit` (fetching first when it is missing), forcibly, and
/// removes untracked files.
async fn checkout(cfg: &ShellConfig, dir: &Path, spec: &CodeSpec, fetch: bool) -> Result<(), ExecError> {
    run_checked(
        &git_in(cfg, dir)
            .args(["remote", "set-url", "origin"])
            .arg(&spec.git_url),
    )
    .await?;
    let have = run(&git_in(cfg, dir)
        .args(["cat-file", "-e"])
        .arg(format!("{}^{{commit}}", spec.commit_hash)))
    .await?
    .success();
    if fetch || !have {
        run_checked(&git_in(cfg, dir).args(["fetch", "--quiet", "--tags", "origin"])).await?;
    }
    run_checked(
        &git_in(cfg, dir)
            .args(["checkout", "--quiet", "--force", "--detach"])
            .arg(&spec.commit_hash),
    )
    .await?;
    run_checked(&git_in(cfg, dir).args(["clean", "-ffd", "--quiet"])).await?;
    Ok(())
}

/// Points (or un-points) `<name>-current` for `spec`.
fn current_link(layout: &Layout, spec: &CodeSpec) -> Result<(), ExecError> {
    let link = layout.code_current(spec);
    let dir = layout.code_dir(spec);
    if spec.is_current {
        ensure_symlink(&layout.code_root, &link, &dir)?;
    } else {
        remove_link_to(&layout.code_root, &link, &dir)?;
    }
    Ok(())
}

/// Deploys `spec` (see the module doc). Idempotent: an existing checkout is
/// brought to the commit; a leftover partial clone is discarded.
pub(crate) async fn deploy(cfg: &ShellConfig, layout: &Layout, spec: &CodeSpec) -> Result<(), ExecError> {
    check_code(spec)?;
    let dir = layout.code_dir(spec);
    let partial = partial_dir(&dir);
    {
        let (layout, dir, partial) = (layout.clone(), dir.clone(), partial.clone());
        let name_dir = layout.code_name_dir(spec.code_type, &spec.name);
        blocking(move || {
            ensure_root(&layout.code_root)?;
            ensure_dir(&layout.code_root, &name_dir)?;
            remove_tree(&layout.code_root, &partial)?;
            match entry(&dir)? {
                Entry::Missing | Entry::Dir => Ok(()),
                _ => Err(refused(
                    "path",
                    format!("{} is in the way of a checkout", dir.display()),
                )),
            }
        })
        .await?;
    }
    let exists = {
        let dir = dir.clone();
        blocking(move || is_checkout(&dir)).await?
    };
    if exists {
        checkout(cfg, &dir, spec, false).await?;
    } else {
        {
            let (root, dir) = (layout.code_root.clone(), dir.clone());
            blocking(move || remove_tree(&root, &dir)).await?;
        }
        let cloned = async {
            run_checked(
                &git(cfg)
                    .args(["clone", "--quiet", "--no-checkout", "--"])
                    .arg(&spec.git_url)
                    .arg(&partial),
            )
            .await?;
            checkout(cfg, &partial, spec, false).await
        }
        .await;
        if let Err(e) = cloned {
            let (root, partial) = (layout.code_root.clone(), partial.clone());
            if let Err(cleanup) = blocking(move || remove_tree(&root, &partial)).await {
                tracing::warn!(error = %cleanup, "removing a failed partial clone");
            }
            return Err(e);
        }
        std::fs::rename(&partial, &dir).map_err(|e| io_err(e, "renaming checkout to", &dir))?;
    }
    let (layout, spec) = (layout.clone(), spec.clone());
    blocking(move || current_link(&layout, &spec)).await
}

/// Moves a deployed item to `next`: removes and redeploys when name,
/// version or type changed; otherwise fetches and checks out in place
/// (deploying when the checkout is missing).
pub(crate) async fn update(
    cfg: &ShellConfig,
    layout: &Layout,
    prev: &CodeSpec,
    next: &CodeSpec,
) -> Result<(), ExecError> {
    check_code(prev)?;
    check_code(next)?;
    if prev.name != next.name || prev.version != next.version || prev.code_type != next.code_type {
        remove(layout, prev).await?;
        return deploy(cfg, layout, next).await;
    }
    let dir = layout.code_dir(next);
    let exists = {
        let dir = dir.clone();
        blocking(move || is_checkout(&dir)).await?
    };
    if !exists {
        return deploy(cfg, layout, next).await;
    }
    checkout(cfg, &dir, next, true).await?;
    let (layout, next) = (layout.clone(), next.clone());
    blocking(move || current_link(&layout, &next)).await
}

/// Removes the checkout of `spec`, its partial clone, and `<name>-current`
/// when it points there; the `<name>` directory goes when empty.
pub(crate) async fn remove(layout: &Layout, spec: &CodeSpec) -> Result<(), ExecError> {
    crate::paths::check_code_name(&spec.name)?;
    crate::paths::check_version(&spec.version)?;
    let layout = layout.clone();
    let spec = spec.clone();
    blocking(move || {
        let root = &layout.code_root;
        let dir = layout.code_dir(&spec);
        remove_link_to(root, &layout.code_current(&spec), &dir)?;
        remove_tree(root, &partial_dir(&dir))?;
        remove_tree(root, &dir)?;
        let name_dir = layout.code_name_dir(spec.code_type, &spec.name);
        crate::fs::prune_empty_dirs(
            root,
            name_dir,
            &root.join(crate::paths::code_type_dir(spec.code_type)),
        )
    })
    .await
}
