//! Whether nook itself runs inside a user namespace other than the initial
//! one, as under rootless Podman: there euid 0 is the user's own uid outside,
//! not the host's root, so nook must behave as rootless (as runc does).

/// The initial user namespace maps every uid to itself: "0 0 4294967295".
fn is_identity_map(uid_map: &str) -> bool {
    uid_map.split_whitespace().collect::<Vec<_>>() == ["0", "0", "4294967295"]
}

/// True when /proc/self/uid_map is not the identity map of the initial user
/// namespace (unreadable counts as the initial namespace: old kernels).
pub fn running_in_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => !is_identity_map(&map),
        Err(_) => false,
    }
}

/// Root of the host: euid 0 in the initial user namespace.
pub fn is_host_root() -> bool {
    nix::unistd::geteuid().is_root() && !running_in_user_namespace()
}

/// The parent namespace's id of `id` under `map` (the text of a
/// /proc/self/uid_map or gid_map, read from inside: "inside outside count"
/// lines), if mapped.
pub fn outer_id(map: &str, id: u32) -> Option<u32> {
    map_lines(map).find_map(|(inside, outside, count)| {
        let offset = id.checked_sub(inside)?;
        (offset < count)
            .then(|| outside.checked_add(offset))
            .flatten()
    })
}

/// This namespace's id of the parent's `outer` under `map`, if mapped.
pub fn inner_id(map: &str, outer: u32) -> Option<u32> {
    map_lines(map).find_map(|(inside, outside, count)| {
        let offset = outer.checked_sub(outside)?;
        (offset < count)
            .then(|| inside.checked_add(offset))
            .flatten()
    })
}

fn map_lines(map: &str) -> impl Iterator<Item = (u32, u32, u32)> + '_ {
    map.lines().filter_map(|l| {
        let mut f = l.split_whitespace().map(|n| n.parse::<u32>().ok());
        Some((f.next()??, f.next()??, f.next()??))
    })
}

/// nook's own uid map; the identity map when it cannot be read.
fn own_uid_map() -> String {
    std::fs::read_to_string("/proc/self/uid_map").unwrap_or_else(|_| "0 0 4294967295".into())
}

/// The uid that nook's `uid` is outside nook's user namespace (in the
/// parent namespace; the same uid in the initial one). Under rootless
/// Podman, uid 0 is the user's own uid there.
pub fn outer_uid(uid: u32) -> Option<u32> {
    outer_id(&own_uid_map(), uid)
}

/// What a file owned by the host's root shows as owner here: 0, or the
/// overflow uid (65534) in a user namespace that does not map root, as
/// rootless Podman's.
pub fn host_root_uid() -> u32 {
    inner_id(&own_uid_map(), 0).unwrap_or_else(|| {
        std::fs::read_to_string("/proc/sys/kernel/overflowuid")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(65534)
    })
}

/// Whether `gid`, the group of a file as nook sees it, is the overflow gid
/// that stands for "not mapped into nook's user namespace" (always false in
/// the initial namespace, where every group is mapped).
pub fn is_unmapped_gid(gid: u32) -> bool {
    running_in_user_namespace()
        && std::fs::read_to_string("/proc/sys/kernel/overflowgid")
            .ok()
            .and_then(|s| s.trim().parse::<u32>().ok())
            .unwrap_or(65534)
            == gid
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_translated_through_the_map() {
        let podman = "         0       1001          1\n         1     100000      65536\n";
        assert_eq!(outer_id(podman, 0), Some(1001));
        assert_eq!(outer_id(podman, 2), Some(100_001));
        assert_eq!(outer_id(podman, 65537), None);
        assert_eq!(inner_id(podman, 1001), Some(0));
        assert_eq!(inner_id(podman, 0), None);
        let initial = "0 0 4294967295\n";
        assert_eq!(outer_id(initial, 1000), Some(1000));
        assert_eq!(inner_id(initial, 0), Some(0));
        assert_eq!(outer_id("garbage\n", 0), None);
    }

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("         0       1000          1\n"));
        assert!(!is_identity_map("0 1000 1\n1 100000 65536\n"));
        assert!(!is_identity_map(""));
    }
}
