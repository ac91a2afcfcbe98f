//! The files part of a backup: a gzip-compressed tar archive of the
//! instance's files directory (`<files_root>/sitefiles/<sid>/files`, stored
//! as `files/…`), and its restore: unpacked into the sibling
//! `.files-restore/`, then swapped in by renames (live → `.files-old`,
//! restored → `files`, the old one removed).
//!
//! Links are archived as links, never followed; on unpack every entry must
//! lie under `files/`, a link's target must stay inside the restored
//! directory, and entries other than files, directories and links are
//! refused.

use std::fs;
use std::io::BufReader;
use std::path::{Component, Path, PathBuf};

use atlas_core::{BackupPart, BackupPartKind, ExecError};
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use tar::EntryType;

use super::{PartFile, FILES_FILE};
use crate::fs::{ensure_dir, ensure_root, entry, io_err, remove_tree, Entry};
use crate::paths::{confined, refused};

/// The top directory inside the archive.
const TOP: &str = "files";
/// Where an archive is unpacked, beside the live directory.
const STAGING: &str = ".files-restore";
/// Where the live directory goes during the swap.
const OLD: &str = ".files-old";

/// Checks that the files directory to archive exists (a directory, not a
/// link) under `files_root`.
pub(super) fn check_source(files_root: &Path, source: &Path) -> Result<(), ExecError> {
    confined(files_root, source)?;
    match entry(source)? {
        Entry::Dir => Ok(()),
        Entry::Missing => Err(refused(
            "files directory",
            format!(
                "{} is missing on this host: provision the instance here first",
                source.display()
            ),
        )),
        Entry::File | Entry::Link(_) => Err(refused(
            "files directory",
            format!("{} is not a directory", source.display()),
        )),
    }
}

/// Archives `source` into `<dir>/files.tar.gz`.
pub(super) fn archive(files_root: &Path, source: &Path, dir: &Path) -> Result<BackupPart, ExecError> {
    check_source(files_root, source)?;
    let (part, file) = PartFile::create(dir, FILES_FILE, BackupPartKind::Files)?;
    let write = || -> std::io::Result<_> {
        let mut tar = tar::Builder::new(GzEncoder::new(file, Compression::default()));
        tar.follow_symlinks(false);
        tar.append_dir_all(TOP, source)?;
        tar.into_inner()?.finish()
    };
    match write() {
        Ok(written) => part.commit(written),
        Err(e) => {
            part.discard();
            Err(io_err(e, "archiving", source))
        }
    }
}

/// Checks an archive entry's path: `files` or below, normal components.
fn check_entry_path(p: &Path) -> Result<Vec<String>, ExecError> {
    let mut comps = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => comps.push(n.to_string_lossy().into_owned()),
            Component::CurDir => {}
            _ => {
                return Err(refused(
                    "files archive",
                    format!("entry {} leaves the files directory", p.display()),
                ))
            }
        }
    }
    if comps.first().map(String::as_str) != Some(TOP) {
        return Err(refused(
            "files archive",
            format!("entry {} is not under {TOP}/", p.display()),
        ));
    }
    Ok(comps)
}

/// Checks that link `link` (its path's components) pointing at `target`
/// stays inside the top directory.
fn check_link_target(link: &[String], target: &Path) -> Result<(), ExecError> {
    let mut at: Vec<&str> = link[..link.len() - 1].iter().map(String::as_str).collect();
    for c in target.components() {
        match c {
            Component::Normal(n) => at.push(n.to_str().unwrap_or("?")),
            Component::CurDir => {}
            Component::ParentDir if at.len() > 1 => {
                at.pop();
            }
            _ => {
                return Err(refused(
                    "files archive",
                    format!(
                        "link {} points at {}, outside the files directory",
                        link.join("/"),
                        target.display()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Unpacks `archive` beside the live files directory of `base`
/// (`<files_root>/sitefiles/<sid>`); answers the unpacked directory. On
/// failure nothing is left behind and the live directory is untouched.
pub(super) fn stage(files_root: &Path, base: &Path, archive: &Path) -> Result<PathBuf, ExecError> {
    ensure_root(files_root)?;
    ensure_dir(files_root, base)?;
    let staging = base.join(STAGING);
    remove_tree(files_root, &staging)?;
    fs::create_dir(&staging).map_err(|e| io_err(e, "creating directory", &staging))?;
    let r = unpack(archive, &staging);
    if r.is_err() {
        let _ = remove_tree(files_root, &staging);
    }
    r
}

fn unpack(archive: &Path, staging: &Path) -> Result<PathBuf, ExecError> {
    let file = fs::File::open(archive).map_err(|e| io_err(e, "opening", archive))?;
    let mut ar = tar::Archive::new(GzDecoder::new(BufReader::new(file)));
    ar.set_preserve_permissions(false);
    ar.set_unpack_xattrs(false);
    ar.set_overwrite(true);
    let bad = |e: std::io::Error| io_err(e, "unpacking", archive);
    for e in ar.entries().map_err(bad)? {
        let mut e = e.map_err(bad)?;
        let path = e.path().map_err(bad)?.into_owned();
        let comps = check_entry_path(&path)?;
        match e.header().entry_type() {
            EntryType::Regular | EntryType::Directory => {}
            EntryType::Symlink => {
                let target = e.link_name().map_err(bad)?.ok_or_else(|| {
                    refused("files archive", format!("link {} has no target", path.display()))
                })?;
                check_link_target(&comps, &target)?;
            }
            other => {
                return Err(refused(
                    "files archive",
                    format!(
                        "entry {} is of type {other:?}; only files, directories and links are restored",
                        path.display()
                    ),
                ))
            }
        }
        if !e.unpack_in(staging).map_err(bad)? {
            return Err(refused(
                "files archive",
                format!("entry {} leaves the files directory", path.display()),
            ));
        }
    }
    let top = staging.join(TOP);
    match entry(&top)? {
        Entry::Dir => {}
        Entry::Missing => fs::create_dir(&top).map_err(|e| io_err(e, "creating directory", &top))?,
        Entry::File | Entry::Link(_) => {
            return Err(refused(
                "files archive",
                format!("{TOP} in the archive is not a directory"),
            ))
        }
    }
    Ok(top)
}

/// Removes a staged restore (after a failure elsewhere).
pub(super) fn discard(files_root: &Path, base: &Path) -> Result<(), ExecError> {
    remove_tree(files_root, &base.join(STAGING))
}

/// Swaps the staged directory `staged` in for `<base>/files`.
pub(super) fn swap(files_root: &Path, base: &Path, staged: &Path) -> Result<(), ExecError> {
    let live = base.join(TOP);
    let old = base.join(OLD);
    confined(files_root, &live)?;
    remove_tree(files_root, &old)?;
    match entry(&live)? {
        Entry::Missing => {}
        Entry::Dir => fs::rename(&live, &old).map_err(|e| io_err(e, "moving aside", &live))?,
        Entry::File | Entry::Link(_) => {
            return Err(refused(
                "files directory",
                format!("{} is not a directory; not replacing it", live.display()),
            ))
        }
    }
    if let Err(e) = fs::rename(staged, &live) {
        // Put the live directory back: the instance stays as it was.
        if entry(&old)? == Entry::Dir {
            fs::rename(&old, &live).map_err(|e| io_err(e, "moving back", &old))?;
        }
        return Err(io_err(e, "renaming into place", &live));
    }
    remove_tree(files_root, &old)?;
    remove_tree(files_root, &base.join(STAGING))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comps(p: &str) -> Vec<String> {
        check_entry_path(Path::new(p)).unwrap()
    }

    #[test]
    fn entries_must_lie_under_the_top_directory() {
        assert_eq!(comps("files/a/b.txt"), ["files", "a", "b.txt"]);
        assert_eq!(comps("./files"), ["files"]);
        for bad in ["../x", "/etc/passwd", "other/x", "files/../../x"] {
            assert!(check_entry_path(Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn link_targets_must_stay_inside_the_files_directory() {
        let link = comps("files/a/link");
        check_link_target(&link, Path::new("../b.txt")).unwrap();
        check_link_target(&link, Path::new("c/d")).unwrap();
        for bad in ["../../x", "/etc/passwd", "../../../etc"] {
            assert!(check_link_target(&link, Path::new(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn archive_then_stage_and_swap_replaces_the_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let froot = tmp.path().join("files");
        let base = froot.join("sitefiles/p1abcdef01");
        let live = base.join("files");
        fs::create_dir_all(live.join("sub")).unwrap();
        fs::write(live.join("sub/a.txt"), "a").unwrap();
        std::os::unix::fs::symlink("sub/a.txt", live.join("inside")).unwrap();
        std::os::unix::fs::symlink("/etc/hostname", live.join("outside")).unwrap();
        let out = tmp.path().join("out");
        fs::create_dir(&out).unwrap();

        // A link out of the directory is archived as a link, never
        // followed; the restore refuses to recreate it.
        let part = archive(&froot, &live, &out).unwrap();
        assert_eq!(part.size, fs::metadata(out.join(FILES_FILE)).unwrap().len());
        let e = stage(&froot, &base, &out.join(FILES_FILE))
            .unwrap_err()
            .to_string();
        assert!(e.contains("outside the files directory"), "{e}");
        assert_eq!(entry(&base.join(STAGING)).unwrap(), Entry::Missing);

        fs::remove_file(live.join("outside")).unwrap();
        archive(&froot, &live, &out).unwrap();
        fs::write(live.join("sub/a.txt"), "changed").unwrap();
        fs::write(live.join("new.txt"), "new").unwrap();
        let staged = stage(&froot, &base, &out.join(FILES_FILE)).unwrap();
        swap(&froot, &base, &staged).unwrap();
        assert_eq!(fs::read_to_string(live.join("sub/a.txt")).unwrap(), "a");
        assert_eq!(fs::read_to_string(live.join("inside")).unwrap(), "a");
        assert!(!live.join("new.txt").exists());
        assert_eq!(entry(&base.join(OLD)).unwrap(), Entry::Missing);
        assert_eq!(entry(&base.join(STAGING)).unwrap(), Entry::Missing);
    }
}
