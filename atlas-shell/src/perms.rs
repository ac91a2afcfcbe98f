//! Group ownership and file modes: looking a group up in `/etc/group`, and
//! the recursive walk that resets group and modes without following links.

use std::io;
use std::os::unix::fs::lchown;
use std::path::Path;

use atlas_core::ExecError;

use crate::fs::{entry, io_err, list_dir, set_mode, Entry};

/// The gid of group `name` from `/etc/group` (`None`: no such group).
///
/// # Errors
/// `/etc/group` cannot be read.
pub(crate) fn group_id(name: &str) -> io::Result<Option<u32>> {
    let text = std::fs::read_to_string("/etc/group")?;
    Ok(parse_group(&text, name))
}

fn parse_group(text: &str, name: &str) -> Option<u32> {
    text.lines().filter(|l| !l.starts_with('#')).find_map(|l| {
        let mut f = l.split(':');
        let n = f.next()?;
        let _pw = f.next()?;
        let gid = f.next()?;
        (n == name).then(|| gid.parse().ok()).flatten()
    })
}

/// Modes (and optionally a group) to apply to a directory tree.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Modes {
    pub(crate) dir: u32,
    pub(crate) file: u32,
    pub(crate) gid: Option<u32>,
}

/// Sets `modes` on `top` and everything below it; symbolic links are
/// skipped (neither changed nor followed).
pub(crate) fn apply_recursive(top: &Path, modes: Modes) -> Result<(), ExecError> {
    let mut stack = vec![top.to_path_buf()];
    while let Some(p) = stack.pop() {
        let kind = entry(&p)?;
        match kind {
            Entry::Missing | Entry::Link(_) => continue,
            Entry::Dir => {
                for name in list_dir(&p)? {
                    stack.push(p.join(name));
                }
            }
            Entry::File => {}
        }
        if let Some(gid) = modes.gid {
            lchown(&p, None, Some(gid)).map_err(|e| io_err(e, "changing group of", &p))?;
        }
        set_mode(&p, if kind == Entry::Dir { modes.dir } else { modes.file })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    #[test]
    fn parse_group_finds_the_gid_by_exact_name() {
        let text = "# comment\nroot:x:0:\nwww-data:x:33:alice,bob\nwww:x:99:\n";
        assert_eq!(parse_group(text, "www-data"), Some(33));
        assert_eq!(parse_group(text, "www"), Some(99));
        assert_eq!(parse_group(text, "apache"), None);
    }

    #[test]
    fn apply_recursive_sets_modes_and_skips_links() {
        let tmp = tempfile::tempdir().unwrap();
        let top = tmp.path().join("top");
        std::fs::create_dir_all(top.join("sub")).unwrap();
        std::fs::write(top.join("sub/f"), b"x").unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, b"y").unwrap();
        std::fs::set_permissions(&outside, std::fs::Permissions::from_mode(0o600)).unwrap();
        symlink(&outside, top.join("link")).unwrap();
        apply_recursive(
            &top,
            Modes {
                dir: 0o770,
                file: 0o660,
                gid: None,
            },
        )
        .unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode(&top), 0o770);
        assert_eq!(mode(&top.join("sub")), 0o770);
        assert_eq!(mode(&top.join("sub/f")), 0o660);
        assert_eq!(mode(&outside), 0o600);
    }
}
