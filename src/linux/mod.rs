//! Thin, testable wrappers that apply one part of `process` (or a UTS/sysctl
//! field) to the calling process. The init calls them in a fixed order (see
//! `launch::init`); each function is named after the spec field it applies.

pub mod apparmor;
pub mod capabilities;
pub mod exec;
pub mod exec_cpu_affinity;
pub mod fds;
pub mod hostname;
pub mod io_priority;
pub mod keyring;
pub mod no_new_privs;
pub mod oom_score_adj;
pub mod personality;
pub mod process;
pub mod procfs;
pub mod rlimits;
pub mod scheduler;
pub mod selinux;
pub mod sysctl;
pub mod time_offsets;
pub mod tty;
pub mod user;
pub mod userns;
