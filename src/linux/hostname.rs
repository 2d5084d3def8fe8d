//! `hostname` and `domainname` (config.md#hostname, #domainname): set in the
//! container's UTS namespace. spec::validate checks that a UTS namespace is
//! requested when either is set; here we only apply them.
use anyhow::{Context, Result};

/// Applies `hostname` (sethostname) and `domainname` (setdomainname). `None`
/// leaves the value inherited from the namespace's creator unchanged.
pub fn apply(hostname: Option<&str>, domainname: Option<&str>) -> Result<()> {
    if let Some(name) = hostname {
        nix::unistd::sethostname(name)
            .with_context(|| format!("hostname {name:?}: sethostname"))?;
    }
    if let Some(name) = domainname {
        set_domainname(name).with_context(|| format!("domainname {name:?}: setdomainname"))?;
    }
    Ok(())
}

fn set_domainname(name: &str) -> std::io::Result<()> {
    // SAFETY: setdomainname reads exactly `len` bytes from the pointer, which
    // points into `name` and is valid for that length.
    let rc = unsafe { libc::setdomainname(name.as_ptr().cast(), name.len()) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
