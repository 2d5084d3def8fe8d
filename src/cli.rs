//! The runc-compatible command line. Flag names, short forms and defaults
//! follow runc 1.1 so that engines can call nook unchanged.

use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "nook",
    about = "nook: an OCI container runtime",
    disable_version_flag = true,
    args_conflicts_with_subcommands = false
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,

    /// Print the version (three lines: version, commit, spec).
    #[arg(short = 'v', long = "version", global = false)]
    pub version: bool,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Clone, Args)]
pub struct GlobalOpts {
    /// Root directory for container state (default /run/nook, or
    /// $XDG_RUNTIME_DIR/nook when not root).
    #[arg(long, global = true, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Write log messages to FILE instead of standard error.
    #[arg(long, global = true, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log debug messages as well.
    #[arg(long, global = true)]
    pub debug: bool,
    /// Manage cgroups through systemd (cgroupsPath is slice:prefix:name).
    #[arg(long = "systemd-cgroup", global = true)]
    pub systemd_cgroup: bool,
    /// Run without privileges: auto, true or false (as runc). `--rootless`
    /// alone means true; a value needs `=` (`--rootless=auto`). For `spec`,
    /// writes a rootless config.
    #[arg(long, global = true, value_name = "VALUE", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub rootless: Option<String>,
    /// Path to the criu binary for checkpoint and restore (default: criu from PATH).
    #[arg(long, global = true, value_name = "PATH")]
    pub criu: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a container: the init waits for `start`.
    Create(CreateArgs),
    /// Run the user process of a created container.
    Start(IdArg),
    /// Print the state of a container as JSON.
    State(IdArg),
    /// Send a signal to the container's init (or every process with --all).
    Kill(KillArgs),
    /// Delete a container and everything it holds.
    Delete(DeleteArgs),
    /// Create and start a container, and wait for it unless --detach.
    Run(RunArgs),
    /// Run one more process in a container.
    Exec(Box<ExecArgs>),
    /// List containers.
    List(ListArgs),
    /// Write a default config.json.
    Spec(SpecArgs),
    /// Print the features this runtime supports, as JSON.
    Features,
    /// Change the cgroup limits of a container.
    Update(Box<UpdateArgs>),
    /// Freeze every process of a container.
    Pause(IdArg),
    /// Thaw a paused container.
    Resume(IdArg),
    /// Print a container's resource usage and OOM events as JSON lines.
    Events(EventsArgs),
    /// List the processes of a container.
    Ps(PsArgs),
    /// Checkpoint a running container with CRIU.
    Checkpoint(Box<CheckpointArgs>),
    /// Restore a container from a CRIU checkpoint.
    Restore(Box<RestoreArgs>),
}

#[derive(Debug, Clone, Args)]
pub struct IdArg {
    /// The container id.
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
}

#[derive(Debug, Clone, Args)]
pub struct CreateOpts {
    /// Path to the bundle (directory with config.json); default: the current directory.
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Unix socket path to which the pty master of a terminal container is sent.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Write the container's init pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not use pivot_root (for a ramdisk root).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass N more file descriptors (3..3+N) to the process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
}

#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    #[command(flatten)]
    pub opts: CreateOpts,
}

#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    #[command(flatten)]
    pub opts: CreateOpts,
    /// Do not wait for the container: return once it is started.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the container's state after it exits (no delete).
    #[arg(long)]
    pub keep: bool,
    /// Do not become a subreaper for the container's processes.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
}

#[derive(Debug, Clone, Args)]
pub struct KillArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// Signal name (TERM or SIGTERM) or number; default TERM.
    #[arg(value_name = "SIGNAL", default_value = "SIGTERM")]
    pub signal: String,
    /// Send the signal to every process in the container.
    #[arg(short = 'a', long)]
    pub all: bool,
}

#[derive(Debug, Clone, Args)]
pub struct DeleteArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// Kill the container first if it is still running.
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct ListArgs {
    /// Output format: table or json.
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: ListFormat,
    /// Print only the container ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SpecArgs {
    /// Directory in which to write config.json.
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
}

/// `update`: runc 1.1's flags. Values stay text here; the library parses
/// them so that its errors name the flag as runc's do.
#[derive(Debug, Clone, Args)]
pub struct UpdateArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// A linux.resources JSON file, or '-' for standard input (the other
    /// resource flags are then ignored).
    #[arg(short = 'r', long, value_name = "FILE")]
    pub resources: Option<String>,
    /// Block IO weight (10 to 1000).
    #[arg(long = "blkio-weight", value_name = "N", allow_hyphen_values = true)]
    pub blkio_weight: Option<String>,
    /// CPU CFS period in microseconds (0: unchanged).
    #[arg(long = "cpu-period", value_name = "US", allow_hyphen_values = true)]
    pub cpu_period: Option<String>,
    /// CPU CFS quota in microseconds per period (-1: no limit).
    #[arg(long = "cpu-quota", value_name = "US", allow_hyphen_values = true)]
    pub cpu_quota: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-share", value_name = "N", allow_hyphen_values = true)]
    pub cpu_share: Option<String>,
    /// Realtime period in microseconds.
    #[arg(long = "cpu-rt-period", value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_period: Option<String>,
    /// Realtime runtime in microseconds per period.
    #[arg(long = "cpu-rt-runtime", value_name = "US", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<String>,
    /// CPUs to use (e.g. 0-1,3).
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long = "cpuset-mems", value_name = "LIST")]
    pub cpuset_mems: Option<String>,
    /// Kernel memory limit (size, e.g. 64m).
    #[arg(
        long = "kernel-memory",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit (size).
    #[arg(
        long = "kernel-memory-tcp",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub kernel_memory_tcp: Option<String>,
    /// Memory limit (size, e.g. 512m, 1g; -1: no limit).
    #[arg(long, value_name = "SIZE", allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory reservation (soft limit).
    #[arg(
        long = "memory-reservation",
        value_name = "SIZE",
        allow_hyphen_values = true
    )]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap).
    #[arg(long = "memory-swap", value_name = "SIZE", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Maximum number of pids (-1: no limit).
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// Intel RDT L3 cache schema (not supported: an error).
    #[arg(long = "l3-cache-schema", value_name = "SCHEMA")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema (not supported: an error).
    #[arg(long = "mem-bw-schema", value_name = "SCHEMA")]
    pub mem_bw_schema: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct EventsArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// Time between stats events (a Go duration: 5s, 500ms, 1m).
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "5s",
        allow_hyphen_values = true
    )]
    pub interval: String,
    /// Print the stats once and exit.
    #[arg(long)]
    pub stats: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PsFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Args)]
pub struct PsArgs {
    /// Output format: table (the host's ps output) or json (a list of pids).
    #[arg(short = 'f', long, value_enum, default_value = "table")]
    pub format: PsFormat,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// Arguments for ps (default -ef).
    #[arg(
        value_name = "PS_ARGS",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub ps_args: Vec<String>,
}

#[derive(Debug, Clone, Args)]
#[command(trailing_var_arg = true)]
pub struct ExecArgs {
    /// The process as a JSON file (the spec's `process` object); replaces
    /// the command and every flag that sets a process field.
    #[arg(short = 'p', long, value_name = "FILE")]
    pub process: Option<PathBuf>,
    /// Allocate a pseudo-terminal for the process.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Unix socket path to which the pty master is sent (with --tty).
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the process is started; print nothing.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the process's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Set an environment variable NAME=VALUE (repeatable).
    #[arg(short = 'e', long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// uid[:gid] to run as (numbers).
    #[arg(short = 'u', long, value_name = "UID[:GID]")]
    pub user: Option<String>,
    /// An additional group id (repeatable).
    #[arg(
        short = 'g',
        long = "additional-gids",
        value_name = "GID",
        allow_negative_numbers = true
    )]
    pub additional_gids: Vec<i64>,
    /// Add a capability to the bounding, effective and permitted sets (repeatable).
    #[arg(short = 'c', long = "cap", value_name = "CAP")]
    pub cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// AppArmor profile for the process.
    #[arg(long, value_name = "PROFILE")]
    pub apparmor: Option<String>,
    /// SELinux label for the process.
    #[arg(long = "process-label", value_name = "LABEL")]
    pub process_label: Option<String>,
    /// Run in an existing sub-cgroup: [CONTROLLER[,CONTROLLER]:]PATH (repeatable).
    #[arg(long = "cgroup", value_name = "[CONTROLLER:]PATH")]
    pub cgroup: Vec<String>,
    /// Allow exec in a paused container (the process stays frozen until resumed).
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Pass N more file descriptors (3..3+N, after any LISTEN_FDS) to the process.
    #[arg(long = "preserve-fds", value_name = "N", default_value_t = 0)]
    pub preserve_fds: u32,
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    /// The command and its arguments.
    #[arg(value_name = "COMMAND", allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// CRIU options `checkpoint` and `restore` share (runc 1.1's flags).
#[derive(Debug, Clone, Args)]
pub struct CriuFlags {
    /// Directory of the CRIU image files (default: ./checkpoint).
    #[arg(long = "image-path", value_name = "DIR")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's work files and log (default: the image path).
    #[arg(long = "work-path", value_name = "DIR")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow shell jobs (a process whose session is outside the container).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Cgroups mode: soft (default), full, strict or ignore.
    #[arg(long = "manage-cgroups-mode", value_name = "MODE")]
    pub manage_cgroups_mode: Option<String>,
    /// Namespace to create but not restore the properties of (network).
    #[arg(long = "empty-ns", value_name = "NS")]
    pub empty_ns: Option<String>,
    /// Deduplicate memory images automatically.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Use userfaultfd to restore memory pages lazily.
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
}

#[derive(Debug, Clone, Args)]
pub struct CheckpointArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    #[command(flatten)]
    pub criu: CriuFlags,
    /// Images of a previous pre-dump (relative to the image path, or absolute).
    #[arg(long = "parent-path", value_name = "DIR")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the checkpoint.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump only the memory (the container keeps running); for a later
    /// checkpoint with --parent-path.
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// ADDRESS:PORT of a CRIU page server to send the memory pages to.
    #[arg(long = "page-server", value_name = "ADDRESS:PORT")]
    pub page_server: Option<String>,
    /// File descriptor CRIU writes \0 to once lazy pages are ready.
    #[arg(long = "status-fd", value_name = "FD", default_value_t = -1, allow_negative_numbers = true)]
    pub status_fd: i32,
}

#[derive(Debug, Clone, Args)]
pub struct RestoreArgs {
    #[arg(value_name = "CONTAINER_ID")]
    pub id: String,
    #[command(flatten)]
    pub criu: CriuFlags,
    /// Path to the bundle (directory with config.json); default: the current directory.
    #[arg(short = 'b', long, value_name = "DIR")]
    pub bundle: Option<PathBuf>,
    /// Unix socket path to which the pty master of a terminal container is sent.
    #[arg(long = "console-socket", value_name = "PATH")]
    pub console_socket: Option<PathBuf>,
    /// Return once the container is restored.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Write the restored init's pid to FILE.
    #[arg(long = "pid-file", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// Do not become a subreaper for the container's processes.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// As runc: CRIU always uses pivot_root; only refuses a [r]private rootfsPropagation.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile for the restored processes, TYPE:NAME.
    #[arg(long = "lsm-profile", value_name = "TYPE:NAME")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts.
    #[arg(long = "lsm-mount-context", value_name = "CONTEXT")]
    pub lsm_mount_context: Option<String>,
}
