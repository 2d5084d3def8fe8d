//! Who the container process is, inside and on the host: the desktop layer
//! needs the container uid (owner of the private XDG_RUNTIME_DIR) and the
//! host uid it maps to (whose session sockets it may be given).
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Spec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    /// process.user.uid / gid.
    pub uid: u32,
    pub gid: u32,
    /// The host ids they map to (equal without a user namespace).
    pub host_uid: u32,
    pub host_gid: u32,
    /// The container has a new user namespace.
    pub user_namespace: bool,
    /// The container shares the host's network namespace.
    pub host_network: bool,
}

pub fn of(spec: &Spec) -> Identity {
    let (uid, gid) = spec
        .process()
        .as_ref()
        .map(|p| (p.user().uid(), p.user().gid()))
        .unwrap_or((0, 0));
    let linux = spec.linux().as_ref();
    let namespaces = linux
        .and_then(|l| l.namespaces().clone())
        .unwrap_or_default();
    let user_namespace = namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::User);
    let host_network = !namespaces
        .iter()
        .any(|n| n.typ() == LinuxNamespaceType::Network);
    let (host_uid, host_gid) = if user_namespace {
        (
            map_id(linux.and_then(|l| l.uid_mappings().as_ref()), uid).unwrap_or(u32::MAX),
            map_id(linux.and_then(|l| l.gid_mappings().as_ref()), gid).unwrap_or(u32::MAX),
        )
    } else {
        (uid, gid)
    };
    Identity {
        uid,
        gid,
        host_uid,
        host_gid,
        user_namespace,
        host_network,
    }
}

/// The host id of container id `id` under `maps`, if mapped.
pub fn map_id(maps: Option<&Vec<LinuxIdMapping>>, id: u32) -> Option<u32> {
    maps?.iter().find_map(|m| {
        let offset = id.checked_sub(m.container_id())?;
        (offset < m.size()).then(|| m.host_id() + offset)
    })
}

/// Whether the host id `host` is visible inside the container's user
/// namespace (as what container id), for supplementary groups.
pub fn container_id_of(maps: Option<&Vec<LinuxIdMapping>>, host: u32) -> Option<u32> {
    maps?.iter().find_map(|m| {
        let offset = host.checked_sub(m.host_id())?;
        (offset < m.size()).then(|| m.container_id() + offset)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn without_user_namespace_ids_are_host_ids() {
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.0",
            "process": {"user": {"uid": 1000, "gid": 100}, "cwd": "/"},
            "linux": {"namespaces": [{"type": "mount"}]}
        }));
        let id = of(&s);
        assert_eq!((id.host_uid, id.host_gid), (1000, 100));
        assert!(id.host_network);
        assert!(!id.user_namespace);
    }

    #[test]
    fn user_namespace_maps_ids() {
        let s = spec(serde_json::json!({
            "ociVersion": "1.0.0",
            "process": {"user": {"uid": 0, "gid": 0}, "cwd": "/"},
            "linux": {
                "namespaces": [{"type": "user"}, {"type": "network"}],
                "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}]
            }
        }));
        let id = of(&s);
        assert_eq!((id.uid, id.host_uid), (0, 1000));
        assert!(!id.host_network);
        let maps = s.linux().as_ref().unwrap().gid_mappings().as_ref();
        assert_eq!(container_id_of(maps, 1000), Some(0));
        assert_eq!(container_id_of(maps, 44), None);
    }
}
