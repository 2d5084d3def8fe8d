//! `run.nook.x11=:N`: the X server's one socket file in a private
//! /tmp/.X11-unix (a tmpfs, mode 1777), DISPLAY=:N, and, with
//! `run.nook.x11.xauthority=FILE`, an Xauthority holding only this host's
//! entries for display N (rewritten for any host name, as Flatpak does) at
//! $XDG_RUNTIME_DIR/Xauthority with XAUTHORITY set.
//!
//! Refused when the container shares the host's network namespace: the X
//! server also listens on the abstract socket `@/tmp/.X11-unix/XN`, which
//! any process in that namespace reaches whatever is mounted. Set
//! `run.nook.x11.host-network=1` to accept that.
//!
//! Isolation: none between X clients. Any client can read the keyboard,
//! take screenshots and inject input into other clients' windows.
//!
//! `run.nook.host-x11-dir` names another directory than /tmp/.X11-unix for
//! the host socket (a server started in a private /tmp, as the tests do).
use super::annotations::file_name;
use super::host_path::{self, Kind};
use super::Setup;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    let Some(display) = setup.req.x11 else {
        return Ok(());
    };
    if setup.ident.host_network && !setup.req.x11_host_network {
        bail!(
            "annotation run.nook.x11: the container shares the host's network namespace, where the X server's abstract socket @/tmp/.X11-unix/X{display} is reachable whatever is mounted; give the container a network namespace or set run.nook.x11.host-network=1"
        );
    }
    let dir = setup
        .req
        .host_x11_dir
        .clone()
        .unwrap_or_else(|| PathBuf::from("/tmp/.X11-unix"));
    let name = file_name(&format!("X{display}"))?;
    let host = dir.join(&name);
    // The server runs as the session user (Xwayland) or root (Xorg).
    let owners = [setup.session_uid, setup.host_root];
    let inside = Path::new("/tmp/.X11-unix").join(&name);
    if !setup.bind("run.nook.x11", &host, Kind::Socket, &owners, inside)? {
        return Ok(());
    }
    setup
        .edits
        .tmpfs(Path::new("/tmp/.X11-unix"), 0o1777, 0, 0)?;
    setup.edits.set_env("DISPLAY", format!(":{display}"));
    if let Some(source) = setup.req.xauthority.clone() {
        let filtered = filter_xauthority(&source, display, setup)?;
        setup.runtime_dir_file(&filtered, "Xauthority")?;
        let inside = setup.container_runtime_dir().join("Xauthority");
        setup
            .edits
            .set_env("XAUTHORITY", inside.display().to_string());
    }
    Ok(())
}

/// One Xauthority record: family, address, display number, auth name, data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XauthEntry {
    pub family: u16,
    pub address: Vec<u8>,
    pub number: Vec<u8>,
    pub name: Vec<u8>,
    pub data: Vec<u8>,
}

/// FamilyWild: the entry matches any host name.
const FAMILY_WILD: u16 = 0xffff;

pub fn parse_xauthority(mut bytes: &[u8]) -> Result<Vec<XauthEntry>> {
    fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
        if b.len() < n {
            bail!("truncated Xauthority");
        }
        let (head, tail) = b.split_at(n);
        *b = tail;
        Ok(head)
    }
    fn u16_of(b: &mut &[u8]) -> Result<u16> {
        let h = take(b, 2)?;
        Ok(u16::from_be_bytes([h[0], h[1]]))
    }
    fn field(b: &mut &[u8]) -> Result<Vec<u8>> {
        let n = u16_of(b)? as usize;
        Ok(take(b, n)?.to_vec())
    }
    let mut out = Vec::new();
    while !bytes.is_empty() {
        out.push(XauthEntry {
            family: u16_of(&mut bytes)?,
            address: field(&mut bytes)?,
            number: field(&mut bytes)?,
            name: field(&mut bytes)?,
            data: field(&mut bytes)?,
        });
    }
    Ok(out)
}

pub fn write_xauthority(entries: &[XauthEntry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        out.extend_from_slice(&e.family.to_be_bytes());
        for f in [&e.address, &e.number, &e.name, &e.data] {
            out.extend_from_slice(&(f.len() as u16).to_be_bytes());
            out.extend_from_slice(f);
        }
    }
    out
}

/// FamilyLocal: a Unix-socket server on the host named by the address.
const FAMILY_LOCAL: u16 = 256;

/// Only this host's entries for display `display`, rewritten for any host
/// name (the container has its own). Entries of other hosts (another
/// FamilyLocal name, a TCP address) are credentials for other servers that
/// happen to use the same display number: they are not the container's,
/// and libXau would pick the first of them.
pub fn filter_entries(entries: Vec<XauthEntry>, display: u32, hostname: &[u8]) -> Vec<XauthEntry> {
    let number = display.to_string().into_bytes();
    entries
        .into_iter()
        .filter(|e| e.number == number)
        .filter(|e| e.family == FAMILY_WILD || (e.family == FAMILY_LOCAL && e.address == hostname))
        .map(|e| XauthEntry {
            family: FAMILY_WILD,
            address: Vec::new(),
            ..e
        })
        .collect()
}

/// Read the session user's Xauthority (no symlinks), keep display N's
/// entries and write them to a file under --root, owned by the container
/// process's host uid, mode 0600. The file is removed once the container
/// exists (its bind mount keeps it).
fn filter_xauthority(source: &Path, display: u32, setup: &mut Setup<'_>) -> Result<PathBuf> {
    use std::io::Read;
    let checked = host_path::check(source, Kind::File, &[setup.session_uid])
        .context("run.nook.x11.xauthority")?
        .ok_or_else(|| {
            anyhow!(
                "run.nook.x11.xauthority {}: does not exist",
                source.display()
            )
        })?;
    let mut file = std::fs::File::open(format!("/proc/self/fd/{}", {
        use std::os::fd::AsRawFd;
        checked.fd.as_raw_fd()
    }))
    .with_context(|| format!("run.nook.x11.xauthority {}", source.display()))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .with_context(|| format!("run.nook.x11.xauthority {}", source.display()))?;
    let entries = parse_xauthority(&bytes)
        .with_context(|| format!("run.nook.x11.xauthority {}", source.display()))?;
    // The names libXau compares FamilyLocal entries with: nook runs in the
    // host's UTS namespace, as the session's clients do.
    let hostname = nix::unistd::gethostname().context("gethostname")?;
    let kept = filter_entries(
        entries,
        display,
        std::os::unix::ffi::OsStrExt::as_bytes(hostname.as_os_str()),
    );
    let path = setup.state_root.join(format!(".xauth-{}", setup.short_id));
    {
        use std::io::Write;
        use std::os::unix::fs::OpenOptionsExt;
        let _ = std::fs::remove_file(&path);
        let mut out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("{}", path.display()))?;
        out.write_all(&write_xauthority(&kept))?;
    }
    std::os::unix::fs::chown(
        &path,
        Some(setup.ident.host_uid),
        Some(setup.ident.host_gid),
    )
    .with_context(|| format!("chown {}", path.display()))?;
    setup.remove_after_create.push(path.clone());
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(family: u16, address: &[u8], number: &[u8], cookie: u8) -> XauthEntry {
        XauthEntry {
            family,
            address: address.to_vec(),
            number: number.to_vec(),
            name: b"MIT-MAGIC-COOKIE-1".to_vec(),
            data: vec![cookie; 16],
        }
    }

    #[test]
    fn xauthority_keeps_only_this_hosts_display_for_any_host() {
        const FAMILY_INTERNET: u16 = 0;
        let entries = vec![
            entry(FAMILY_LOCAL, b"otherhost", b"99", 3),
            entry(FAMILY_INTERNET, &[192, 0, 2, 7], b"99", 4),
            entry(FAMILY_LOCAL, b"host", b"99", 1),
            entry(FAMILY_LOCAL, b"host", b"0", 2),
            entry(FAMILY_WILD, b"", b"99", 5),
        ];
        let bytes = write_xauthority(&entries);
        let parsed = parse_xauthority(&bytes).unwrap();
        assert_eq!(parsed, entries);
        let kept = filter_entries(parsed, 99, b"host");
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept
            .iter()
            .all(|e| e.family == FAMILY_WILD && e.address.is_empty()));
        assert_eq!(kept[0].data, vec![1; 16]);
        assert_eq!(kept[1].data, vec![5; 16]);
        assert!(parse_xauthority(&bytes[..bytes.len() - 1]).is_err());
    }
}
