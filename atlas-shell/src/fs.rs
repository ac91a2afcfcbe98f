//! Idempotent file-system helpers, each confined to a root (see
//! [`crate::paths::confined`]): `mkdir -p`, replace a symlink atomically
//! (temporary link + rename), remove a link or a tree without following
//! links, write a file atomically (temporary file + rename) with a mode.
//!
//! All of them are blocking; the executor calls them through
//! [`blocking`].

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use atlas_core::ExecError;

use crate::paths::{confined, refused};

/// Runs blocking file work off the async runtime.
pub(crate) async fn blocking<T, F>(f: F) -> Result<T, ExecError>
where
    F: FnOnce() -> Result<T, ExecError> + Send + 'static,
    T: Send + 'static,
{
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ExecError::Io(io::Error::other(format!(
            "file work panicked or was cancelled: {e}"
        )))
    })?
}

/// An I/O error that names what was being done to which path.
pub(crate) fn io_err(e: io::Error, doing: &str, p: &Path) -> ExecError {
    ExecError::Io(io::Error::new(e.kind(), format!("{doing} {}: {e}", p.display())))
}

/// What is at a path, without following a final symlink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Entry {
    Missing,
    Link(PathBuf),
    Dir,
    File,
}

pub(crate) fn entry(p: &Path) -> Result<Entry, ExecError> {
    match fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => Ok(Entry::Link(
            fs::read_link(p).map_err(|e| io_err(e, "reading link", p))?,
        )),
        Ok(m) if m.is_dir() => Ok(Entry::Dir),
        Ok(_) => Ok(Entry::File),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Entry::Missing),
        Err(e) => Err(io_err(e, "inspecting", p)),
    }
}

/// `mkdir -p` of `p` under `root`, refusing when `p` or a parent is a link.
pub(crate) fn ensure_dir(root: &Path, p: &Path) -> Result<(), ExecError> {
    confined(root, p)?;
    match entry(p)? {
        Entry::Dir => Ok(()),
        Entry::Missing => fs::create_dir_all(p).map_err(|e| io_err(e, "creating directory", p)),
        Entry::Link(_) => Err(refused(
            "path",
            format!("{} is a symbolic link, expected a directory", p.display()),
        )),
        Entry::File => Err(refused(
            "path",
            format!("{} is a file, expected a directory", p.display()),
        )),
    }
}

/// The root itself, created if missing (roots come from validated config).
pub(crate) fn ensure_root(root: &Path) -> Result<(), ExecError> {
    fs::create_dir_all(root).map_err(|e| io_err(e, "creating root", root))
}

fn temp_sibling(p: &Path) -> Result<PathBuf, ExecError> {
    let name = p
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| refused("path", format!("{} has no file name", p.display())))?;
    Ok(p.with_file_name(format!(".{name}.atlas-tmp")))
}

/// Makes `link` a symlink to `target`, replacing an existing symlink
/// atomically (temporary link, then rename). Refuses to replace a real file
/// or directory. Returns whether anything changed.
pub(crate) fn ensure_symlink(root: &Path, link: &Path, target: &Path) -> Result<bool, ExecError> {
    confined(root, link)?;
    match entry(link)? {
        Entry::Link(t) if t == target => return Ok(false),
        Entry::Link(_) | Entry::Missing => {}
        Entry::Dir | Entry::File => {
            return Err(refused(
                "path",
                format!(
                    "{} exists and is not a symbolic link; not replacing it",
                    link.display()
                ),
            ));
        }
    }
    let tmp = temp_sibling(link)?;
    match entry(&tmp)? {
        Entry::Missing => {}
        Entry::Link(_) | Entry::File => fs::remove_file(&tmp).map_err(|e| io_err(e, "removing", &tmp))?,
        Entry::Dir => return Err(refused("path", format!("{} is in the way", tmp.display()))),
    }
    symlink(target, &tmp).map_err(|e| io_err(e, "creating link", &tmp))?;
    fs::rename(&tmp, link).map_err(|e| io_err(e, "renaming link to", link))?;
    Ok(true)
}

/// Removes `link` if it is a symlink (whatever it points at); refuses a real
/// file or directory; nothing to do when missing.
pub(crate) fn remove_link(root: &Path, link: &Path) -> Result<(), ExecError> {
    confined(root, link)?;
    match entry(link)? {
        Entry::Missing => Ok(()),
        Entry::Link(_) => fs::remove_file(link).map_err(|e| io_err(e, "removing link", link)),
        _ => Err(refused(
            "path",
            format!("{} is not a symbolic link; not removing it", link.display()),
        )),
    }
}

/// Removes `link` only if it is a symlink pointing at `target`. Returns
/// whether it was removed.
pub(crate) fn remove_link_to(root: &Path, link: &Path, target: &Path) -> Result<bool, ExecError> {
    confined(root, link)?;
    match entry(link)? {
        Entry::Link(t) if t == target => {
            fs::remove_file(link).map_err(|e| io_err(e, "removing link", link))?;
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Removes whatever is at `p` (a link is unlinked, never followed; a
/// directory is removed recursively without following links inside).
pub(crate) fn remove_tree(root: &Path, p: &Path) -> Result<(), ExecError> {
    confined(root, p)?;
    match entry(p)? {
        Entry::Missing => Ok(()),
        Entry::Link(_) | Entry::File => fs::remove_file(p).map_err(|e| io_err(e, "removing", p)),
        Entry::Dir => fs::remove_dir_all(p).map_err(|e| io_err(e, "removing directory", p)),
    }
}

/// Removes empty directories from `p` upwards, stopping at `stop` (kept).
pub(crate) fn prune_empty_dirs(root: &Path, mut p: PathBuf, stop: &Path) -> Result<(), ExecError> {
    while p.starts_with(stop) && p != stop {
        confined(root, &p)?;
        if entry(&p)? != Entry::Dir {
            break;
        }
        match fs::remove_dir(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::DirectoryNotEmpty => break,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(io_err(e, "removing directory", &p)),
        }
        if !p.pop() {
            break;
        }
    }
    Ok(())
}

/// Writes `bytes` to `p` atomically (temporary file in the same directory,
/// mode set, synced, renamed over `p`). A link at `p` is replaced, not
/// followed.
pub(crate) fn write_atomic(root: &Path, p: &Path, bytes: &[u8], mode: u32) -> Result<(), ExecError> {
    confined(root, p)?;
    if entry(p)? == Entry::Dir {
        return Err(refused("path", format!("{} is a directory", p.display())));
    }
    let tmp = temp_sibling(p)?;
    match entry(&tmp)? {
        Entry::Missing => {}
        Entry::Dir => return Err(refused("path", format!("{} is in the way", tmp.display()))),
        _ => fs::remove_file(&tmp).map_err(|e| io_err(e, "removing", &tmp))?,
    }
    let write = || -> io::Result<()> {
        let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        f.write_all(bytes)?;
        f.sync_all()
    };
    if let Err(e) = write() {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(e, "writing", &tmp));
    }
    fs::rename(&tmp, p).map_err(|e| io_err(e, "renaming file to", p))?;
    if let Some(dir) = p.parent() {
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Sets the mode of `p` (never through a link).
pub(crate) fn set_mode(p: &Path, mode: u32) -> Result<(), ExecError> {
    if let Entry::Link(_) | Entry::Missing = entry(p)? {
        return Ok(());
    }
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).map_err(|e| io_err(e, "setting mode of", p))
}

/// Names in directory `p` (empty when `p` is missing).
pub(crate) fn list_dir(p: &Path) -> Result<Vec<String>, ExecError> {
    let rd = match fs::read_dir(p) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err(e, "listing", p)),
    };
    let mut names = Vec::new();
    for e in rd {
        let e = e.map_err(|e| io_err(e, "listing", p))?;
        match e.file_name().into_string() {
            Ok(n) => names.push(n),
            Err(n) => tracing::warn!(dir = %p.display(), name = ?n, "skipping a non-UTF-8 name"),
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ensure_symlink_creates_replaces_and_is_idempotent() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        let link = root.join("a/link");
        ensure_dir(root, &root.join("a")).unwrap();
        assert!(ensure_symlink(root, &link, Path::new("/one")).unwrap());
        assert!(!ensure_symlink(root, &link, Path::new("/one")).unwrap());
        assert!(ensure_symlink(root, &link, Path::new("/two")).unwrap());
        assert_eq!(fs::read_link(&link).unwrap(), PathBuf::from("/two"));
        assert_eq!(list_dir(&root.join("a")).unwrap(), vec!["link".to_string()]);
    }

    #[test]
    fn ensure_symlink_refuses_to_replace_a_real_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir(root.join("d")).unwrap();
        assert!(matches!(
            ensure_symlink(root, &root.join("d"), Path::new("/x")),
            Err(ExecError::Refused { .. })
        ));
    }

    #[test]
    fn remove_tree_unlinks_links_without_touching_their_targets() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        let outside = tmp.path().join("outside");
        fs::create_dir_all(root.join("d")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("keep"), b"x").unwrap();
        symlink(&outside, root.join("d/link")).unwrap();
        symlink(&outside, root.join("top")).unwrap();
        remove_tree(&root, &root.join("top")).unwrap();
        remove_tree(&root, &root.join("d")).unwrap();
        assert!(outside.join("keep").exists());
        assert_eq!(list_dir(&root).unwrap(), Vec::<String>::new());
        remove_tree(&root, &root.join("d")).unwrap();
    }

    #[test]
    fn write_atomic_sets_mode_and_replaces_a_link_instead_of_following_it() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("root");
        fs::create_dir_all(&root).unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, b"original").unwrap();
        symlink(&victim, root.join("f")).unwrap();
        write_atomic(&root, &root.join("f"), b"new", 0o640).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"original");
        assert_eq!(fs::read(root.join("f")).unwrap(), b"new");
        let mode = fs::symlink_metadata(root.join("f")).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o640);
        assert_eq!(list_dir(&root).unwrap(), vec!["f".to_string()]);
    }

    #[test]
    fn prune_empty_dirs_stops_at_non_empty_and_at_stop() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path();
        fs::create_dir_all(root.join("t/a/b/c")).unwrap();
        fs::write(root.join("t/a/x"), b"").unwrap();
        prune_empty_dirs(root, root.join("t/a/b/c"), &root.join("t")).unwrap();
        assert!(!root.join("t/a/b").exists());
        assert!(root.join("t/a/x").exists());
    }
}
