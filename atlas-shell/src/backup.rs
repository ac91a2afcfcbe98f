//! Backups of one instance on this host: a consistent dump of its database
//! ([`database`]) and an archive of its files directory ([`files`]).
//!
//! # On disk
//! ```text
//! <backup_root>/<sid>/<backup id>/database.sql.gz   mysqldump --single-transaction, gzip
//! <backup_root>/<sid>/<backup id>/files.tar.gz      <files_root>/sitefiles/<sid>/files as files/…
//! ```
//! A backup is written into `<backup id>.partial` (each part under a
//! temporary name, synced, renamed), which is renamed to `<backup id>`
//! once complete: a retry replaces a partial directory, and a complete
//! directory is never half-written. Directories are mode 0700 and parts
//! 0600: a dump holds the whole database, passwords included.
//!
//! # Restore
//! Every part's size and SHA-256 are checked before anything is touched
//! (a mismatch is a refusal naming the part). The files are unpacked beside
//! the live directory, the dump is loaded into a scratch database beside
//! the live one; only then are both swapped in (one atomic `RENAME TABLE`,
//! then two directory renames). A failure before the swap leaves the
//! instance as it was; a failure of the files swap puts the live files
//! directory back and takes the database swap back (a second `RENAME
//! TABLE`), so a failed restore leaves the instance as it was.

mod database;
mod files;

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use atlas_core::model::{Id, Sid};
use atlas_core::{BackupArtifact, BackupPart, BackupPartKind, ExecError, InstanceSpec};
use sha2::{Digest, Sha256};

use crate::config::ShellConfig;
use crate::fs::{blocking, ensure_dir, ensure_root, entry, io_err, prune_empty_dirs, remove_tree, Entry};
use crate::instance;
use crate::paths::{check_instance, check_sid, confined, refused, Layout};

/// File name of the database part.
pub(crate) const DATABASE_FILE: &str = "database.sql.gz";
/// File name of the files part.
pub(crate) const FILES_FILE: &str = "files.tar.gz";
/// Suffix of a backup directory being written.
const PARTIAL: &str = ".partial";
/// Mode of backup directories.
const DIR_MODE: u32 = 0o700;
/// Mode of backup parts.
const PART_MODE: u32 = 0o600;

/// A writer that counts and hashes the bytes going through it (what is
/// stored, so the record verifies the stored file).
pub(crate) struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    size: u64,
}

impl<W: Write> Hashing<W> {
    pub(crate) fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            size: 0,
        }
    }

    /// The inner writer, the byte count and the lower-case hex SHA-256.
    pub(crate) fn finish(self) -> (W, u64, String) {
        (self.inner, self.size, hex::encode(self.hasher.finalize()))
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.size += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Size and SHA-256 of the file at `p`.
fn hash_file(p: &Path) -> Result<(u64, String), ExecError> {
    let mut f = fs::File::open(p).map_err(|e| io_err(e, "opening", p))?;
    let mut h = Hashing::new(io::sink());
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f.read(&mut buf).map_err(|e| io_err(e, "reading", p))?;
        if n == 0 {
            break;
        }
        h.write_all(&buf[..n]).map_err(|e| io_err(e, "reading", p))?;
    }
    let (_, size, sha) = h.finish();
    Ok((size, sha))
}

/// A part being written: the temporary file `<dir>/.<name>.tmp` (created
/// new, mode 0600) and where it goes.
pub(crate) struct PartFile {
    tmp: PathBuf,
    dest: PathBuf,
    kind: BackupPartKind,
    name: &'static str,
}

impl PartFile {
    /// Creates the temporary file of part `name` in `dir`.
    pub(crate) fn create(
        dir: &Path,
        name: &'static str,
        kind: BackupPartKind,
    ) -> Result<(Self, Hashing<fs::File>), ExecError> {
        let tmp = dir.join(format!(".{name}.tmp"));
        if entry(&tmp)? != Entry::Missing {
            fs::remove_file(&tmp).map_err(|e| io_err(e, "removing", &tmp))?;
        }
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(PART_MODE)
            .open(&tmp)
            .map_err(|e| io_err(e, "creating", &tmp))?;
        let part = Self {
            tmp,
            dest: dir.join(name),
            kind,
            name,
        };
        Ok((part, Hashing::new(file)))
    }

    /// Syncs the written file, renames it into place and describes it.
    pub(crate) fn commit(self, written: Hashing<fs::File>) -> Result<BackupPart, ExecError> {
        let (file, size, sha256) = written.finish();
        file.sync_all().map_err(|e| io_err(e, "syncing", &self.tmp))?;
        drop(file);
        fs::rename(&self.tmp, &self.dest).map_err(|e| io_err(e, "renaming into place", &self.dest))?;
        Ok(BackupPart {
            kind: self.kind,
            file: self.name.to_owned(),
            size,
            sha256,
        })
    }

    /// Removes the temporary file (after a failure).
    pub(crate) fn discard(self) {
        let _ = fs::remove_file(&self.tmp);
    }
}

/// Syncs directory `p` (so renames in it are durable).
fn sync_dir(p: &Path) -> Result<(), ExecError> {
    fs::File::open(p)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_err(e, "syncing directory", p))
}

/// Where a backup lives: `<sid>/<backup id>` under the backup root, both
/// validated.
#[derive(Debug, Clone)]
pub(crate) struct BackupDir {
    sid: Sid,
    id: Id,
}

impl BackupDir {
    fn new(sid: &Sid, id: &Id) -> Result<Self, ExecError> {
        Self::parse(&format!("{}/{id}", sid.as_str()))
    }

    /// Parses and validates an artifact's `dir`.
    pub(crate) fn parse(dir: &str) -> Result<Self, ExecError> {
        let (sid, id) = dir
            .split_once('/')
            .ok_or_else(|| refused("backup directory", format!("'{dir}' is not <sid>/<backup id>")))?;
        let sid = check_sid(sid)?;
        let id = Id::parse(id).map_err(|e| refused("backup directory", format!("'{dir}': {e}")))?;
        Ok(Self { sid, id })
    }

    /// `<sid>/<backup id>`.
    fn rel(&self) -> String {
        format!("{}/{}", self.sid.as_str(), self.id)
    }

    fn sid_dir(&self, root: &Path) -> PathBuf {
        root.join(self.sid.as_str())
    }

    fn path(&self, root: &Path) -> PathBuf {
        self.sid_dir(root).join(self.id.to_string())
    }

    fn partial(&self, root: &Path) -> PathBuf {
        self.sid_dir(root).join(format!("{}{PARTIAL}", self.id))
    }
}

/// The one part of `kind` of `artifact`.
fn part_of(artifact: &BackupArtifact, kind: BackupPartKind) -> Result<&BackupPart, ExecError> {
    let what = match kind {
        BackupPartKind::Database => "database",
        BackupPartKind::Files => "files",
    };
    let mut it = artifact.parts.iter().filter(|p| p.kind == kind);
    match (it.next(), it.next()) {
        (Some(p), None) => {
            let f = &p.file;
            let plain = !f.is_empty()
                && !f.starts_with('.')
                && f.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._-".contains(&c));
            if plain {
                Ok(p)
            } else {
                Err(refused(
                    format!("backup part {f}"),
                    "the file name must be a plain name of letters, digits, '.', '_', '-'",
                ))
            }
        }
        (None, _) => Err(refused("backup", format!("{} has no {what} part", artifact.dir))),
        (Some(_), Some(_)) => Err(refused(
            "backup",
            format!("{} has more than one {what} part", artifact.dir),
        )),
    }
}

/// Checks that the part file exists under `root` and matches its record.
fn verify(root: &Path, dir: &Path, part: &BackupPart) -> Result<PathBuf, ExecError> {
    let p = dir.join(&part.file);
    confined(root, &p)?;
    let what = format!("backup part {}", part.file);
    match entry(&p)? {
        Entry::File => {}
        Entry::Missing => {
            return Err(refused(
                what,
                format!("{} is missing; nothing was restored", p.display()),
            ))
        }
        Entry::Dir | Entry::Link(_) => {
            return Err(refused(
                what,
                format!("{} is not a regular file; nothing was restored", p.display()),
            ))
        }
    }
    let (size, sha) = hash_file(&p)?;
    if size != part.size || !sha.eq_ignore_ascii_case(&part.sha256) {
        return Err(refused(
            what,
            format!(
                "{} does not match the backup record (size {size}, recorded {}; sha256 {sha}, recorded {}): \
                 the part is damaged or was replaced; nothing was restored",
                p.display(),
                part.size,
                part.sha256
            ),
        ));
    }
    Ok(p)
}

/// Takes a backup of `spec` into `<backup_root>/<sid>/<backup>` on this
/// host; the artifact names `host`.
pub(crate) async fn take(
    cfg: &ShellConfig,
    layout: &Layout,
    host: &str,
    spec: &InstanceSpec,
    backup: &Id,
) -> Result<BackupArtifact, ExecError> {
    check_instance(spec)?;
    let dir = BackupDir::new(&spec.sid, backup)?;
    let root = layout.backup_root.clone();
    let files_root = layout.files_root.clone();
    let source = layout.files_dir(&spec.sid).join("files");
    let partial = {
        let (root, dir, files_root, source) = (root.clone(), dir.clone(), files_root.clone(), source.clone());
        blocking(move || {
            files::check_source(&files_root, &source)?;
            ensure_root(&root)?;
            let sid_dir = dir.sid_dir(&root);
            ensure_dir(&root, &sid_dir)?;
            let partial = dir.partial(&root);
            remove_tree(&root, &partial)?;
            fs::DirBuilder::new()
                .mode(DIR_MODE)
                .create(&partial)
                .map_err(|e| io_err(e, "creating directory", &partial))?;
            Ok(partial)
        })
        .await?
    };
    let parts = async {
        let db_part = database::dump(cfg, &spec.database.name, &partial).await?;
        let partial = partial.clone();
        let files_part = blocking(move || files::archive(&files_root, &source, &partial)).await?;
        Ok::<_, ExecError>((db_part, files_part))
    };
    let (db_part, files_part) = match parts.await {
        Ok(p) => p,
        Err(e) => {
            let (root, partial) = (root.clone(), partial.clone());
            let _ = blocking(move || remove_tree(&root, &partial)).await;
            return Err(e);
        }
    };
    let host = host.to_owned();
    blocking(move || {
        sync_dir(&partial)?;
        let done = dir.path(&root);
        remove_tree(&root, &done)?;
        fs::rename(&partial, &done).map_err(|e| io_err(e, "renaming into place", &done))?;
        sync_dir(&dir.sid_dir(&root))?;
        Ok(BackupArtifact {
            host,
            dir: dir.rel(),
            parts: vec![db_part, files_part],
        })
    })
    .await
}

/// Restores `artifact` (on this host's backup root) onto `spec`.
pub(crate) async fn restore(
    cfg: &ShellConfig,
    layout: &Layout,
    spec: &InstanceSpec,
    artifact: &BackupArtifact,
) -> Result<(), ExecError> {
    check_instance(spec)?;
    let dir = BackupDir::parse(&artifact.dir)?;
    let db_part = part_of(artifact, BackupPartKind::Database)?.clone();
    let files_part = part_of(artifact, BackupPartKind::Files)?.clone();
    let root = layout.backup_root.clone();
    let (dump, archive) = blocking(move || {
        let d = dir.path(&root);
        Ok((verify(&root, &d, &db_part)?, verify(&root, &d, &files_part)?))
    })
    .await?;

    let files_root = layout.files_root.clone();
    let base = layout.files_dir(&spec.sid);
    let staged = {
        let (files_root, base) = (files_root.clone(), base.clone());
        blocking(move || files::stage(&files_root, &base, &archive)).await?
    };
    let discard = || {
        let (files_root, base) = (files_root.clone(), base.clone());
        blocking(move || files::discard(&files_root, &base))
    };
    let swapped = match database::restore(cfg, &spec.database.name, dump).await {
        Ok(s) => s,
        Err(e) => {
            let _ = discard().await;
            return Err(e);
        }
    };
    let swap = {
        let (files_root, base) = (files_root.clone(), base.clone());
        blocking(move || files::swap(&files_root, &base, &staged)).await
    };
    if let Err(e) = swap {
        // The files stayed as they were: take the database back too.
        let _ = discard().await;
        if let Err(undo) = swapped.undo(cfg).await {
            return Err(ExecError::Io(io::Error::other(format!(
                "restoring instance '{}': the files could not be swapped in ({e}) and putting its \
                 database back failed too ({undo}): its database holds the backup, its files do not; \
                 retry the restore",
                spec.sid
            ))));
        }
        return Err(e);
    }
    swapped.finish(cfg).await?;
    let (cfg, layout, spec) = (cfg.clone(), layout.clone(), spec.clone());
    blocking(move || instance::files_permissions(&cfg, &layout, &spec)).await
}

/// Removes the backup's directory (and a partial one). Idempotent.
pub(crate) async fn remove(layout: &Layout, artifact: &BackupArtifact) -> Result<(), ExecError> {
    let dir = BackupDir::parse(&artifact.dir)?;
    let root = layout.backup_root.clone();
    blocking(move || {
        remove_tree(&root, &dir.path(&root))?;
        remove_tree(&root, &dir.partial(&root))?;
        prune_empty_dirs(&root, dir.sid_dir(&root), &root)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backup_dirs_are_a_sid_and_an_id_only() {
        let ok = BackupDir::parse("p1abcdef01/0123456789abcdef01234567").unwrap();
        assert_eq!(ok.rel(), "p1abcdef01/0123456789abcdef01234567");
        for bad in [
            "p1abcdef01",
            "../0123456789abcdef01234567",
            "p1abcdef01/../../etc",
            "p1abcdef01/0123456789abcdef01234567/x",
            "/etc/0123456789abcdef01234567",
        ] {
            assert!(
                matches!(BackupDir::parse(bad), Err(ExecError::Refused { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn part_files_must_be_plain_names() {
        let mut a = BackupArtifact {
            host: "local".into(),
            dir: "p1abcdef01/0123456789abcdef01234567".into(),
            parts: vec![BackupPart {
                kind: BackupPartKind::Database,
                file: "../../etc/passwd".into(),
                size: 0,
                sha256: String::new(),
            }],
        };
        let e = part_of(&a, BackupPartKind::Database).unwrap_err().to_string();
        assert!(e.contains("plain name"), "{e}");
        let e = part_of(&a, BackupPartKind::Files).unwrap_err().to_string();
        assert!(e.contains("no files part"), "{e}");
        a.parts[0].file = DATABASE_FILE.into();
        assert!(part_of(&a, BackupPartKind::Database).is_ok());
    }

    #[test]
    fn hashing_counts_and_hashes_what_is_written() {
        let mut h = Hashing::new(Vec::new());
        h.write_all(b"abc").unwrap();
        let (inner, size, sha) = h.finish();
        assert_eq!(inner, b"abc");
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn verify_refuses_a_part_whose_bytes_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("backups");
        let dir = root.join("p1abcdef01/0123456789abcdef01234567");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(DATABASE_FILE), b"abc").unwrap();
        let mut part = BackupPart {
            kind: BackupPartKind::Database,
            file: DATABASE_FILE.into(),
            size: 3,
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        };
        verify(&root, &dir, &part).unwrap();
        fs::write(dir.join(DATABASE_FILE), b"abd").unwrap();
        let e = verify(&root, &dir, &part).unwrap_err();
        assert!(
            matches!(&e, ExecError::Refused { what, .. } if what == "backup part database.sql.gz"),
            "{e:?}"
        );
        part.file = FILES_FILE.into();
        let e = verify(&root, &dir, &part).unwrap_err().to_string();
        assert!(e.contains("missing"), "{e}");
    }
}
