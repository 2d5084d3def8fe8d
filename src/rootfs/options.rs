//! `mounts[].options`: turning fstab-style option strings into mount(2)
//! flags, propagation changes, mount_setattr(2) recursive attributes and the
//! filesystem-specific data string (config.md#linux-mount-options).

use crate::rootfs::sys::MountAttr;

/// Whether a mount is id-mapped, and whether the mapping applies to submounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Idmap {
    /// `idmap`: only the top mount is id-mapped.
    Top,
    /// `ridmap`: the whole (rbind) tree is id-mapped.
    Recursive,
}

/// The parsed form of one mount's `options`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MountOptions {
    /// MS_* flags for mount(2) (including MS_BIND / MS_REC for bind and rbind).
    pub flags: libc::c_ulong,
    /// Propagation changes applied after the mount, in the order given.
    pub propagation: Vec<libc::c_ulong>,
    /// Recursive attributes (`rro`, `rnosuid`, ...) for mount_setattr(2) with AT_RECURSIVE.
    pub recursive_attr: MountAttr,
    /// `idmap` / `ridmap`.
    pub idmap: Option<Idmap>,
    /// `tmpcopyup`: copy the directory's contents into the new tmpfs.
    pub tmpcopyup: bool,
    /// Everything else, passed to the filesystem as the data string.
    pub data: Vec<String>,
}

impl MountOptions {
    /// `bind` or `rbind` was given.
    pub fn is_bind(&self) -> bool {
        self.flags & libc::MS_BIND != 0
    }

    /// The comma-separated data string for mount(2).
    pub fn data_string(&self) -> String {
        self.data.join(",")
    }
}

/// Whether an option sets or clears its flag.
#[derive(Clone, Copy)]
enum Effect {
    Set,
    Clear,
}

/// mount(8) flag options (filesystem-independent) and the MS_* flag each one touches.
fn flag_option(option: &str) -> Option<(Effect, libc::c_ulong)> {
    use Effect::{Clear, Set};
    let entry = match option {
        "acl" => (Set, libc::MS_POSIXACL),
        "noacl" => (Clear, libc::MS_POSIXACL),
        "async" => (Clear, libc::MS_SYNCHRONOUS),
        "sync" => (Set, libc::MS_SYNCHRONOUS),
        "atime" => (Clear, libc::MS_NOATIME),
        "noatime" => (Set, libc::MS_NOATIME),
        "bind" => (Set, libc::MS_BIND),
        "rbind" => (Set, libc::MS_BIND | libc::MS_REC),
        // `defaults` means "no change" (rw, suid, dev, exec, auto, nouser, async).
        "defaults" => (Set, 0),
        "dev" => (Clear, libc::MS_NODEV),
        "nodev" => (Set, libc::MS_NODEV),
        "diratime" => (Clear, libc::MS_NODIRATIME),
        "nodiratime" => (Set, libc::MS_NODIRATIME),
        "dirsync" => (Set, libc::MS_DIRSYNC),
        "exec" => (Clear, libc::MS_NOEXEC),
        "noexec" => (Set, libc::MS_NOEXEC),
        "iversion" => (Set, libc::MS_I_VERSION),
        "noiversion" => (Clear, libc::MS_I_VERSION),
        "lazytime" => (Set, libc::MS_LAZYTIME),
        "nolazytime" => (Clear, libc::MS_LAZYTIME),
        "loud" => (Clear, libc::MS_SILENT),
        "silent" => (Set, libc::MS_SILENT),
        "mand" => (Set, libc::MS_MANDLOCK),
        "nomand" => (Clear, libc::MS_MANDLOCK),
        "relatime" => (Set, libc::MS_RELATIME),
        "norelatime" => (Clear, libc::MS_RELATIME),
        "strictatime" => (Set, libc::MS_STRICTATIME),
        "nostrictatime" => (Clear, libc::MS_STRICTATIME),
        "nosuid" => (Set, libc::MS_NOSUID),
        "suid" => (Clear, libc::MS_NOSUID),
        "nosymfollow" => (Set, libc::MS_NOSYMFOLLOW),
        "symfollow" => (Clear, libc::MS_NOSYMFOLLOW),
        "remount" => (Set, libc::MS_REMOUNT),
        "ro" => (Set, libc::MS_RDONLY),
        "rw" => (Clear, libc::MS_RDONLY),
        _ => return None,
    };
    Some(entry)
}

/// A propagation option (`private`, `rslave`, ...) as the MS_* flags for mount(2).
/// Shared by `mounts[].options` and `linux.rootfsPropagation`.
pub fn propagation_flags(option: &str) -> Option<libc::c_ulong> {
    let flags = match option {
        "private" => libc::MS_PRIVATE,
        "rprivate" => libc::MS_PRIVATE | libc::MS_REC,
        "shared" => libc::MS_SHARED,
        "rshared" => libc::MS_SHARED | libc::MS_REC,
        "slave" => libc::MS_SLAVE,
        "rslave" => libc::MS_SLAVE | libc::MS_REC,
        "unbindable" => libc::MS_UNBINDABLE,
        "runbindable" => libc::MS_UNBINDABLE | libc::MS_REC,
        _ => return None,
    };
    Some(flags)
}

/// A recursive attribute option (`rro`, `rnoexec`, ...) and the MOUNT_ATTR_* it touches.
fn recursive_attr_option(option: &str) -> Option<(Effect, u64)> {
    use Effect::{Clear, Set};
    let entry = match option {
        "rro" => (Set, libc::MOUNT_ATTR_RDONLY),
        "rrw" => (Clear, libc::MOUNT_ATTR_RDONLY),
        "rnosuid" => (Set, libc::MOUNT_ATTR_NOSUID),
        "rsuid" => (Clear, libc::MOUNT_ATTR_NOSUID),
        "rnodev" => (Set, libc::MOUNT_ATTR_NODEV),
        "rdev" => (Clear, libc::MOUNT_ATTR_NODEV),
        "rnoexec" => (Set, libc::MOUNT_ATTR_NOEXEC),
        "rexec" => (Clear, libc::MOUNT_ATTR_NOEXEC),
        "rnodiratime" => (Set, libc::MOUNT_ATTR_NODIRATIME),
        "rdiratime" => (Clear, libc::MOUNT_ATTR_NODIRATIME),
        "rrelatime" => (Set, libc::MOUNT_ATTR_RELATIME),
        "rnorelatime" => (Clear, libc::MOUNT_ATTR_RELATIME),
        "rnoatime" => (Set, libc::MOUNT_ATTR_NOATIME),
        "ratime" => (Clear, libc::MOUNT_ATTR_NOATIME),
        "rstrictatime" => (Set, libc::MOUNT_ATTR_STRICTATIME),
        "rnostrictatime" => (Clear, libc::MOUNT_ATTR_STRICTATIME),
        "rnosymfollow" => (Set, libc::MOUNT_ATTR_NOSYMFOLLOW),
        "rsymfollow" => (Clear, libc::MOUNT_ATTR_NOSYMFOLLOW),
        _ => return None,
    };
    Some(entry)
}

/// Whether nook gives `option` a meaning of its own (a flag, propagation,
/// recursive attribute, idmap or tmpcopyup) rather than passing it to the
/// filesystem as data. `features` advertises only such options.
pub fn is_recognized(option: &str) -> bool {
    flag_option(option).is_some()
        || propagation_flags(option).is_some()
        || recursive_attr_option(option).is_some()
        || matches!(option, "idmap" | "ridmap" | "tmpcopyup")
}

/// Parse one mount's `options`. Later options win over earlier ones
/// (`ro,rw` is read-write), as with mount(8). Unknown options go to the
/// data string unchanged.
pub fn parse_mount_options(options: &[String]) -> MountOptions {
    let mut parsed = MountOptions::default();
    for option in options {
        let option = option.as_str();
        if let Some((effect, flag)) = flag_option(option) {
            match effect {
                Effect::Set => parsed.flags |= flag,
                Effect::Clear => parsed.flags &= !flag,
            }
        } else if let Some(flags) = propagation_flags(option) {
            parsed.propagation.push(flags);
        } else if let Some((effect, attr)) = recursive_attr_option(option) {
            let attrs = &mut parsed.recursive_attr;
            match effect {
                Effect::Set => {
                    attrs.attr_set |= attr;
                    attrs.attr_clr &= !attr;
                    // The access-time setting is a 3-bit field, not a flag:
                    // mount_setattr(2) wants the whole field cleared to set one value.
                    if attr & libc::MOUNT_ATTR__ATIME == attr {
                        attrs.attr_clr |= libc::MOUNT_ATTR__ATIME;
                    }
                }
                Effect::Clear => {
                    attrs.attr_clr |= attr;
                    attrs.attr_set &= !attr;
                }
            }
        } else {
            match option {
                "idmap" => parsed.idmap = Some(Idmap::Top),
                "ridmap" => parsed.idmap = Some(Idmap::Recursive),
                "tmpcopyup" => parsed.tmpcopyup = true,
                _ => parsed.data.push(option.to_string()),
            }
        }
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(options: &[&str]) -> MountOptions {
        let owned: Vec<String> = options.iter().map(|s| s.to_string()).collect();
        parse_mount_options(&owned)
    }

    #[test]
    fn every_set_flag_option_maps_to_its_flag() {
        let cases: &[(&str, libc::c_ulong)] = &[
            ("ro", libc::MS_RDONLY),
            ("nosuid", libc::MS_NOSUID),
            ("nodev", libc::MS_NODEV),
            ("noexec", libc::MS_NOEXEC),
            ("sync", libc::MS_SYNCHRONOUS),
            ("dirsync", libc::MS_DIRSYNC),
            ("remount", libc::MS_REMOUNT),
            ("mand", libc::MS_MANDLOCK),
            ("noatime", libc::MS_NOATIME),
            ("nodiratime", libc::MS_NODIRATIME),
            ("bind", libc::MS_BIND),
            ("rbind", libc::MS_BIND | libc::MS_REC),
            ("relatime", libc::MS_RELATIME),
            ("strictatime", libc::MS_STRICTATIME),
            ("nosymfollow", libc::MS_NOSYMFOLLOW),
            ("iversion", libc::MS_I_VERSION),
            ("lazytime", libc::MS_LAZYTIME),
            ("silent", libc::MS_SILENT),
            ("acl", libc::MS_POSIXACL),
        ];
        for (option, flag) in cases {
            let parsed = parse(&[option]);
            assert_eq!(parsed.flags, *flag, "option {option}");
            assert!(parsed.data.is_empty(), "option {option} leaked into data");
        }
    }

    #[test]
    fn every_clear_option_undoes_its_set_option() {
        let pairs = [
            ("ro", "rw"),
            ("nosuid", "suid"),
            ("nodev", "dev"),
            ("noexec", "exec"),
            ("sync", "async"),
            ("mand", "nomand"),
            ("noatime", "atime"),
            ("nodiratime", "diratime"),
            ("relatime", "norelatime"),
            ("strictatime", "nostrictatime"),
            ("nosymfollow", "symfollow"),
            ("iversion", "noiversion"),
            ("lazytime", "nolazytime"),
            ("silent", "loud"),
            ("acl", "noacl"),
        ];
        for (set, clear) in pairs {
            assert_eq!(parse(&[set, clear]).flags, 0, "{set},{clear}");
            assert_ne!(parse(&[clear, set]).flags, 0, "{clear},{set}");
            assert!(parse(&[set, clear]).data.is_empty());
        }
    }

    #[test]
    fn defaults_is_a_no_op_and_not_data() {
        let parsed = parse(&["defaults"]);
        assert_eq!(parsed, MountOptions::default());
    }

    #[test]
    fn unknown_options_become_data_in_order() {
        let parsed = parse(&["nosuid", "mode=755", "size=65536k", "strictatime", "uid=5"]);
        assert_eq!(parsed.flags, libc::MS_NOSUID | libc::MS_STRICTATIME);
        assert_eq!(parsed.data_string(), "mode=755,size=65536k,uid=5");
    }

    #[test]
    fn propagation_options_are_kept_in_order() {
        let parsed = parse(&["rbind", "rprivate", "shared", "runbindable"]);
        assert!(parsed.is_bind());
        assert_eq!(
            parsed.propagation,
            vec![
                libc::MS_PRIVATE | libc::MS_REC,
                libc::MS_SHARED,
                libc::MS_UNBINDABLE | libc::MS_REC
            ]
        );
        assert_eq!(parsed.flags, libc::MS_BIND | libc::MS_REC);
    }

    #[test]
    fn all_propagation_names_parse() {
        for (name, flags) in [
            ("private", libc::MS_PRIVATE),
            ("rprivate", libc::MS_PRIVATE | libc::MS_REC),
            ("shared", libc::MS_SHARED),
            ("rshared", libc::MS_SHARED | libc::MS_REC),
            ("slave", libc::MS_SLAVE),
            ("rslave", libc::MS_SLAVE | libc::MS_REC),
            ("unbindable", libc::MS_UNBINDABLE),
            ("runbindable", libc::MS_UNBINDABLE | libc::MS_REC),
        ] {
            assert_eq!(propagation_flags(name), Some(flags), "{name}");
        }
        assert_eq!(propagation_flags(""), None);
        assert_eq!(propagation_flags("Private"), None);
    }

    #[test]
    fn recursive_attributes_set_and_clear() {
        let parsed = parse(&[
            "rro",
            "rnosuid",
            "rnodev",
            "rnoexec",
            "rnosymfollow",
            "rnodiratime",
        ]);
        assert_eq!(
            parsed.recursive_attr.attr_set,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_NOSYMFOLLOW
                | libc::MOUNT_ATTR_NODIRATIME
        );
        assert_eq!(parsed.recursive_attr.attr_clr, 0);
        assert_eq!(parsed.flags, 0);

        let parsed = parse(&["rrw", "rsuid", "rdev", "rexec", "rsymfollow", "rdiratime"]);
        assert_eq!(parsed.recursive_attr.attr_set, 0);
        assert_eq!(
            parsed.recursive_attr.attr_clr,
            libc::MOUNT_ATTR_RDONLY
                | libc::MOUNT_ATTR_NOSUID
                | libc::MOUNT_ATTR_NODEV
                | libc::MOUNT_ATTR_NOEXEC
                | libc::MOUNT_ATTR_NOSYMFOLLOW
                | libc::MOUNT_ATTR_NODIRATIME
        );
        // The later option wins.
        let parsed = parse(&["rro", "rrw"]);
        assert_eq!(parsed.recursive_attr.attr_set, 0);
        assert_eq!(parsed.recursive_attr.attr_clr, libc::MOUNT_ATTR_RDONLY);
    }

    #[test]
    fn recursive_access_time_clears_the_whole_field() {
        for (option, attr) in [
            ("rnoatime", libc::MOUNT_ATTR_NOATIME),
            ("rstrictatime", libc::MOUNT_ATTR_STRICTATIME),
            ("rrelatime", libc::MOUNT_ATTR_RELATIME),
        ] {
            let parsed = parse(&[option]);
            assert_eq!(parsed.recursive_attr.attr_set, attr, "{option}");
            assert_eq!(
                parsed.recursive_attr.attr_clr,
                libc::MOUNT_ATTR__ATIME,
                "{option}"
            );
        }
        let parsed = parse(&["ratime"]);
        assert_eq!(parsed.recursive_attr.attr_clr, libc::MOUNT_ATTR_NOATIME);
        let parsed = parse(&["rnostrictatime"]);
        assert_eq!(parsed.recursive_attr.attr_clr, libc::MOUNT_ATTR_STRICTATIME);
    }

    #[test]
    fn idmap_and_tmpcopyup_are_not_data() {
        let parsed = parse(&["idmap", "tmpcopyup"]);
        assert_eq!(parsed.idmap, Some(Idmap::Top));
        assert!(parsed.tmpcopyup);
        assert!(parsed.data.is_empty());
        assert_eq!(parse(&["ridmap"]).idmap, Some(Idmap::Recursive));
    }

    #[test]
    fn bind_detection() {
        assert!(parse(&["bind"]).is_bind());
        assert!(parse(&["rbind", "ro"]).is_bind());
        assert!(!parse(&["ro", "nosuid"]).is_bind());
    }
}
