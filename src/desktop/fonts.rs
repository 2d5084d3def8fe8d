//! `run.nook.fonts` and `run.nook.icons`: the host's fonts, font cache and
//! icon themes, read-only at Flatpak's paths:
//!
//! | host                    | container                 |
//! |-------------------------|---------------------------|
//! | /usr/share/fonts        | /run/host/fonts           |
//! | /usr/local/share/fonts  | /run/host/local-fonts     |
//! | /var/cache/fontconfig   | /run/host/fonts-cache     |
//! | /usr/share/icons        | /run/host/share/icons     |
//!
//! plus a fontconfig file at /run/host/fonts.conf, named by FONTCONFIG_FILE:
//! it includes the image's /etc/fonts/fonts.conf and adds the font dirs,
//! remapped to their host paths so the host's cache files match (as
//! Flatpak's font-dirs.xml does). Nothing is written into the image (a
//! read-only rootfs works). The file is static, under nook's --root,
//! written once.
//!
//! Isolation: read-only files the user can read anyway; nothing else.
use super::host_path::Kind;
use super::Setup;
use anyhow::{Context, Result};
use std::path::{Path, PathBuf};

const FONT_DIRS: &[(&str, &str)] = &[
    ("/usr/share/fonts", "/run/host/fonts"),
    ("/usr/local/share/fonts", "/run/host/local-fonts"),
    ("/var/cache/fontconfig", "/run/host/fonts-cache"),
];

const SNIPPET_DESTINATION: &str = "/run/host/fonts.conf";

const SNIPPET: &str = r#"<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "urn:fontconfig:fonts.dtd">
<!-- Written by nook for run.nook.fonts: the host's fonts, read-only. -->
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <remap-dir as-path="/usr/share/fonts">/run/host/fonts</remap-dir>
  <remap-dir as-path="/usr/local/share/fonts">/run/host/local-fonts</remap-dir>
  <cachedir>/run/host/fonts-cache</cachedir>
</fontconfig>
"#;

pub(super) fn add(setup: &mut Setup<'_>) -> Result<()> {
    if setup.req.fonts {
        let mut any = false;
        for (host, inside) in FONT_DIRS {
            // Root-owned system directories; a missing one is skipped quietly
            // (/usr/local/share/fonts often does not exist).
            if Path::new(host).exists() {
                any |= setup.bind(
                    "run.nook.fonts",
                    Path::new(host),
                    Kind::Directory,
                    &[0],
                    PathBuf::from(inside),
                )?;
            }
        }
        if any {
            let snippet = write_snippet(&setup.state_root)?;
            setup.bind(
                "run.nook.fonts",
                &snippet,
                Kind::File,
                &[nix::unistd::geteuid().as_raw()],
                PathBuf::from(SNIPPET_DESTINATION),
            )?;
            setup.edits.set_env("FONTCONFIG_FILE", SNIPPET_DESTINATION);
        }
    }
    if setup.req.icons {
        setup.bind(
            "run.nook.icons",
            Path::new("/usr/share/icons"),
            Kind::Directory,
            &[0],
            PathBuf::from("/run/host/share/icons"),
        )?;
    }
    Ok(())
}

/// The snippet under --root (a file: `list` only looks at directories),
/// rewritten only when missing or different.
fn write_snippet(root: &Path) -> Result<PathBuf> {
    let path = root.join(".desktop-fonts.conf");
    if std::fs::read(&path).ok().as_deref() == Some(SNIPPET.as_bytes()) {
        return Ok(path);
    }
    let tmp = root.join(format!(".desktop-fonts.conf.{}", std::process::id()));
    std::fs::write(&tmp, SNIPPET).with_context(|| format!("run.nook.fonts: {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("run.nook.fonts: {}", path.display()))?;
    Ok(path)
}
