//! state.json: what nook remembers about a container between commands.
use super::rfc3339_now;
use crate::cgroups::CgroupSpec;
use crate::spec::Bundle;
use oci_spec::runtime::Spec;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    /// Host pid of the container's init; 0 until the init exists.
    pub pid: i32,
    /// The init's start time from /proc/PID/stat: guards against pid reuse.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    /// RFC 3339 creation time.
    pub created: String,
    /// uid of the user who created the container.
    pub owner_uid: u32,
    pub annotations: HashMap<String, String>,
    pub cgroup: CgroupSpec,
    /// A new pid namespace was created (killing the init kills everything).
    pub new_pid_namespace: bool,
    /// `create --no-new-keyring`: `exec` then keeps the caller's keyring too.
    #[serde(default)]
    pub no_new_keyring: bool,
    /// The config the container was created from: hooks for start and
    /// delete, and namespaces and process defaults for exec.
    pub config: Spec,
}

impl State {
    /// The state of a container about to be made from `bundle` by create or
    /// restore: no init yet (pid 0), created now, owned by the caller.
    pub fn for_new_container(
        id: &str,
        bundle: &Bundle,
        cgroup: CgroupSpec,
        new_pid_namespace: bool,
        no_new_keyring: bool,
    ) -> State {
        State {
            id: id.to_string(),
            pid: 0,
            pid_start_time: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: rfc3339_now(),
            owner_uid: nix::unistd::geteuid().as_raw(),
            annotations: bundle.spec.annotations().clone().unwrap_or_default(),
            cgroup,
            new_pid_namespace,
            no_new_keyring,
            config: bundle.spec.clone(),
        }
    }
}
