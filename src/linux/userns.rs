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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_full_identity_map_is_the_initial_namespace() {
        assert!(is_identity_map("         0          0 4294967295\n"));
        assert!(!is_identity_map("         0       1000          1\n"));
        assert!(!is_identity_map("0 1000 1\n1 100000 65536\n"));
        assert!(!is_identity_map(""));
    }
}
