//! Fault injection for the reliability tests: `NOOK_TEST_STOP_AT=<step>`
//! makes nook SIGKILL itself when it reaches that named step of create,
//! start, exec or delete, so a test can check that whatever a killed nook
//! leaves behind is either a whole container or something `delete --force`
//! removes completely.
//!
//! It is compiled into every build on purpose: it lets the caller do nothing
//! it could not do already (kill its own nook process), only at a point it
//! could not otherwise hit reliably. Reading one environment variable at a
//! handful of points costs nothing measurable.
//!
//! Every step name is one of the constants below; the tests iterate over
//! [`ALL`].

/// The environment variable naming the step at which nook kills itself.
pub const STOP_AT_ENV: &str = "NOOK_TEST_STOP_AT";

/// create: the container directory exists and is locked, state.json not yet written.
pub const CREATE_RESERVED: &str = "create-reserved";
/// create: the first state.json (pid 0) is written.
pub const CREATE_STATE_SAVED: &str = "create-state-saved";
/// create: the child is cloned, not yet in its cgroup.
pub const CREATE_CLONED: &str = "create-cloned";
/// create: the child is in its cgroup with its limits set.
pub const CREATE_CGROUP_SET: &str = "create-cgroup-set";
/// create: the init has reported ready (waiting on the exec FIFO); its pid
/// is not yet in state.json.
pub const CREATE_INIT_READY: &str = "create-init-ready";
/// create: the final state.json (with the init's pid) is written.
pub const CREATE_DONE: &str = "create-done";
/// start: the init has been released from the exec FIFO.
pub const START_RELEASED: &str = "start-released";
/// exec: the intermediate process is cloned, not yet in the cgroup.
pub const EXEC_CLONED: &str = "exec-cloned";
/// exec: the intermediate process is in the container's cgroup.
pub const EXEC_IN_CGROUP: &str = "exec-in-cgroup";
/// delete: the container's processes are dead, its cgroup still there.
pub const DELETE_KILLED: &str = "delete-killed";
/// delete: the cgroup is removed, the state directory still there.
pub const DELETE_CGROUP_REMOVED: &str = "delete-cgroup-removed";

/// Every step, in the order a lifecycle reaches them.
pub const ALL: &[&str] = &[
    CREATE_RESERVED,
    CREATE_STATE_SAVED,
    CREATE_CLONED,
    CREATE_CGROUP_SET,
    CREATE_INIT_READY,
    CREATE_DONE,
    START_RELEASED,
    EXEC_CLONED,
    EXEC_IN_CGROUP,
    DELETE_KILLED,
    DELETE_CGROUP_REMOVED,
];

/// SIGKILL this process if `NOOK_TEST_STOP_AT` names `step`.
pub fn point(step: &str) {
    if std::env::var_os(STOP_AT_ENV).is_some_and(|v| v == step) {
        // SAFETY: raise(2) has no memory effects; SIGKILL cannot be caught,
        // so nothing of ours runs after it.
        unsafe { libc::raise(libc::SIGKILL) };
    }
}
