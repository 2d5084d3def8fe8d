//! Root tests for src/linux: each case applies process attributes in a forked
//! child and checks them from /proc, syscalls or the pty. `main` forks before
//! any thread exists, so children may allocate freely; the host's hostname,
//! mounts and attributes are never touched (UTS and mount changes happen in
//! namespaces the child unshares).
use anyhow::{bail, ensure, Context, Result};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};
use nook::linux;
use oci_spec::runtime::{
    Box as ConsoleSize, BoxBuilder, Capability, IOPriorityClass, LinuxCapabilitiesBuilder,
    LinuxIOPriorityBuilder, LinuxPersonalityBuilder, LinuxPersonalityDomain, LinuxSchedulerFlag,
    LinuxSchedulerPolicy, PosixRlimitBuilder, PosixRlimitType, SchedulerBuilder, UserBuilder,
};
use std::collections::HashMap;
use std::io::Read;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

type Case = fn(&Path) -> Result<()>;

fn main() {
    let cases: Vec<(&str, Case)> = vec![
        (
            "hostname_and_domainname_in_new_uts_namespace",
            hostname_and_domainname,
        ),
        ("sysctl_writes_proc_sys", sysctl_writes_proc_sys),
        (
            "sysctl_refuses_non_procfs_proc_sys",
            sysctl_refuses_non_procfs,
        ),
        (
            "sysctl_refuses_bind_mount_over_a_key",
            sysctl_refuses_bind_mount_over_key,
        ),
        ("oom_score_adj_is_written", oom_score_adj_is_written),
        ("rlimits_are_set", rlimits_are_set),
        ("personality_linux32", personality_linux32),
        ("scheduler_batch_with_nice_and_flags", scheduler_batch),
        ("scheduler_fifo_priority", scheduler_fifo),
        ("io_priority_is_set", io_priority_is_set),
        ("caps_user_and_no_new_privs", caps_user_and_no_new_privs),
        (
            "ambient_caps_survive_exec_as_non_root",
            ambient_caps_survive_exec,
        ),
        (
            "absent_capabilities_mean_none",
            absent_capabilities_mean_none,
        ),
        ("console_pty_is_sent_and_becomes_stdio", console_pty),
        ("exec_runs_the_found_program", exec_runs_program),
        ("fds_beyond_preserved_become_cloexec", fds_become_cloexec),
        ("exec_cpu_affinity_final", exec_cpu_affinity_final),
        (
            "time_offsets_apply_to_the_next_child",
            time_offsets_apply_to_next_child,
        ),
    ];
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        println!(
            "process_attrs: not root, skipping {} root tests",
            cases.len()
        );
        return;
    }
    let mut failed = Vec::new();
    let mut ran = 0;
    for (name, case) in cases {
        if !filters.is_empty() && !filters.iter().any(|f| name.contains(f.as_str())) {
            continue;
        }
        ran += 1;
        let scratch = match tempfile::Builder::new()
            .prefix("nook-test-linux-")
            .tempdir()
        {
            Ok(d) => d,
            Err(e) => {
                println!("test {name} ... FAILED (tempdir: {e})");
                failed.push(name);
                continue;
            }
        };
        match run_in_child(case, scratch.path()) {
            Ok(()) => println!("test {name} ... ok"),
            Err(e) => {
                println!("test {name} ... FAILED: {e:#}");
                failed.push(name);
            }
        }
    }
    println!(
        "\nprocess_attrs: {} passed; {} failed",
        ran - failed.len(),
        failed.len()
    );
    if !failed.is_empty() {
        std::process::exit(1);
    }
}

/// Runs `case` in a forked child; its error text comes back on stderr and
/// its result as the exit status.
fn run_in_child(case: Case, scratch: &Path) -> Result<()> {
    // SAFETY: main is single-threaded when it forks (no test threads exist).
    match unsafe { fork() }.context("fork")? {
        ForkResult::Child => {
            let code = match case(scratch) {
                Ok(()) => 0,
                Err(e) => {
                    eprintln!("    child error: {e:#}");
                    1
                }
            };
            // SAFETY: _exit ends the child without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => match waitpid(child, None).context("waitpid")? {
            WaitStatus::Exited(_, 0) => Ok(()),
            status => bail!("child ended with {status:?}"),
        },
    }
}

/// A field of /proc/thread-self/status (capabilities are per thread).
fn status_field(name: &str) -> Result<String> {
    let text = std::fs::read_to_string("/proc/thread-self/status")?;
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
        .with_context(|| format!("no {name} in /proc/thread-self/status"))
}

fn cap_field(name: &str) -> Result<u64> {
    let hex = status_field(name)?;
    u64::from_str_radix(&hex, 16).with_context(|| format!("{name} {hex:?}"))
}

fn bit(cap: Capability) -> u64 {
    1u64 << linux::capabilities::index_of(cap).unwrap_or(63)
}

fn unshare(flags: nix::sched::CloneFlags) -> Result<()> {
    nix::sched::unshare(flags).context("unshare")
}

fn private_mount_namespace() -> Result<()> {
    unshare(nix::sched::CloneFlags::CLONE_NEWNS)?;
    nix::mount::mount(
        None::<&str>,
        "/",
        None::<&str>,
        nix::mount::MsFlags::MS_REC | nix::mount::MsFlags::MS_PRIVATE,
        None::<&str>,
    )
    .context("make / rprivate")
}

// config.md#hostname, #domainname
fn hostname_and_domainname(_: &Path) -> Result<()> {
    unshare(nix::sched::CloneFlags::CLONE_NEWUTS)?;
    linux::hostname::apply(Some("nook-test-host"), Some("nook.test"))?;
    let host = nix::unistd::gethostname()?
        .into_string()
        .unwrap_or_default();
    ensure!(host == "nook-test-host", "hostname is {host:?}");
    let domain = std::fs::read_to_string("/proc/sys/kernel/domainname")?;
    ensure!(domain.trim() == "nook.test", "domainname is {domain:?}");
    // None leaves the value alone.
    linux::hostname::apply(None, None)?;
    let host = nix::unistd::gethostname()?
        .into_string()
        .unwrap_or_default();
    ensure!(host == "nook-test-host", "hostname changed to {host:?}");
    Ok(())
}

// config-linux.md#sysctl (kernel.hostname is per UTS namespace, so this is safe)
fn sysctl_writes_proc_sys(_: &Path) -> Result<()> {
    unshare(nix::sched::CloneFlags::CLONE_NEWUTS)?;
    let mut map = HashMap::new();
    map.insert("kernel.hostname".to_string(), "from-sysctl".to_string());
    map.insert("kernel.domainname".to_string(), "sysctl.test".to_string());
    linux::sysctl::apply(&map)?;
    let host = nix::unistd::gethostname()?
        .into_string()
        .unwrap_or_default();
    ensure!(host == "from-sysctl", "hostname is {host:?}");

    let mut bad = HashMap::new();
    bad.insert("kernel.no_such_key_nook".to_string(), "1".to_string());
    let err = linux::sysctl::apply(&bad)
        .err()
        .context("missing key accepted")?;
    ensure!(
        format!("{err:#}").contains("kernel.no_such_key_nook"),
        "{err:#}"
    );
    Ok(())
}

fn sysctl_refuses_non_procfs(scratch: &Path) -> Result<()> {
    unshare(nix::sched::CloneFlags::CLONE_NEWUTS)?;
    private_mount_namespace()?;
    let _ = scratch;
    nix::mount::mount(
        Some("tmpfs"),
        "/proc/sys",
        Some("tmpfs"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )?;
    std::fs::create_dir("/proc/sys/kernel")?;
    std::fs::write("/proc/sys/kernel/hostname", "")?;
    let mut map = HashMap::new();
    map.insert("kernel.hostname".to_string(), "evil".to_string());
    let err = linux::sysctl::apply(&map)
        .err()
        .context("tmpfs /proc/sys accepted")?;
    ensure!(format!("{err:#}").contains("not on procfs"), "{err:#}");
    ensure!(std::fs::read_to_string("/proc/sys/kernel/hostname")?.is_empty());
    Ok(())
}

fn sysctl_refuses_bind_mount_over_key(scratch: &Path) -> Result<()> {
    unshare(nix::sched::CloneFlags::CLONE_NEWUTS)?;
    private_mount_namespace()?;
    let decoy = scratch.join("decoy");
    std::fs::write(&decoy, "")?;
    nix::mount::mount(
        Some(&decoy),
        "/proc/sys/kernel/domainname",
        None::<&str>,
        nix::mount::MsFlags::MS_BIND,
        None::<&str>,
    )?;
    let mut map = HashMap::new();
    map.insert("kernel.domainname".to_string(), "evil".to_string());
    let err = linux::sysctl::apply(&map)
        .err()
        .context("bind-mounted key accepted")?;
    ensure!(format!("{err:#}").contains("kernel.domainname"), "{err:#}");
    ensure!(
        std::fs::read_to_string(&decoy)?.is_empty(),
        "decoy was written"
    );
    Ok(())
}

// config.md#linux-process oomScoreAdj
fn oom_score_adj_is_written(_: &Path) -> Result<()> {
    let me = std::process::id() as i32;
    linux::oom_score_adj::apply_to(me, 345)?;
    let v = std::fs::read_to_string("/proc/self/oom_score_adj")?;
    ensure!(v.trim() == "345", "oom_score_adj is {v:?}");
    ensure!(linux::oom_score_adj::apply_to(me, 5000).is_err());
    Ok(())
}

// config.md#posix-process rlimits
fn rlimits_are_set(_: &Path) -> Result<()> {
    let nofile = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitNofile)
        .soft(123u64)
        .hard(456u64)
        .build()?;
    let core = PosixRlimitBuilder::default()
        .typ(PosixRlimitType::RlimitCore)
        .soft(u64::MAX)
        .hard(u64::MAX)
        .build()?;
    linux::rlimits::apply(&[nofile, core])?;
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = |prefix: &str| -> Result<Vec<String>> {
        let l = limits
            .lines()
            .find(|l| l.starts_with(prefix))
            .context("no line")?;
        Ok(l[prefix.len()..]
            .split_whitespace()
            .map(str::to_string)
            .collect())
    };
    let files = line("Max open files")?;
    ensure!(
        files[0] == "123" && files[1] == "456",
        "Max open files {files:?}"
    );
    let core = line("Max core file size")?;
    ensure!(
        core[0] == "unlimited" && core[1] == "unlimited",
        "core {core:?}"
    );
    Ok(())
}

// config-linux.md#personality
fn personality_linux32(_: &Path) -> Result<()> {
    let p = LinuxPersonalityBuilder::default()
        .domain(LinuxPersonalityDomain::PerLinux32)
        .build()?;
    linux::personality::apply(&p)?;
    // SAFETY: 0xffffffff queries the personality without changing it.
    let current = unsafe { libc::personality(0xffff_ffff) };
    ensure!(current & 0xff == 0x0008, "personality is {current:#x}");
    let machine = nix::sys::utsname::uname()?
        .machine()
        .to_string_lossy()
        .into_owned();
    if cfg!(target_arch = "x86_64") {
        ensure!(machine == "i686", "uname machine {machine:?}");
    }
    Ok(())
}

// config.md#linux-process scheduler
fn scheduler_batch(_: &Path) -> Result<()> {
    let s = SchedulerBuilder::default()
        .policy(LinuxSchedulerPolicy::SchedBatch)
        .nice(7)
        .flags(vec![LinuxSchedulerFlag::SchedResetOnFork])
        .build()?;
    linux::scheduler::apply(&s)?;
    let a = linux::scheduler::current()?;
    ensure!(a.sched_policy == 3, "policy {}", a.sched_policy);
    ensure!(a.sched_nice == 7, "nice {}", a.sched_nice);
    ensure!(a.sched_flags & 1 == 1, "flags {:#x}", a.sched_flags);
    Ok(())
}

fn scheduler_fifo(_: &Path) -> Result<()> {
    let s = SchedulerBuilder::default()
        .policy(LinuxSchedulerPolicy::SchedFifo)
        .priority(10)
        .build()?;
    linux::scheduler::apply(&s)?;
    let a = linux::scheduler::current()?;
    ensure!(a.sched_policy == 1 && a.sched_priority == 10, "{a:?}");
    Ok(())
}

// config.md#linux-process ioPriority
fn io_priority_is_set(_: &Path) -> Result<()> {
    let p = LinuxIOPriorityBuilder::default()
        .class(IOPriorityClass::IoprioClassBe)
        .priority(6)
        .build()?;
    linux::io_priority::apply(&p)?;
    let v = linux::io_priority::current()?;
    ensure!(v == (2 << 13) | 6, "ioprio {v:#x}");
    Ok(())
}

fn caps_of(names: &[Capability]) -> oci_spec::runtime::Capabilities {
    names.iter().copied().collect()
}

fn apply_user_and_caps(uid: u32) -> Result<()> {
    use Capability::*;
    let caps = LinuxCapabilitiesBuilder::default()
        .bounding(caps_of(&[Kill, NetBindService, Chown]))
        .effective(caps_of(&[Kill]))
        .permitted(caps_of(&[Kill, NetBindService]))
        .inheritable(caps_of(&[NetBindService]))
        .ambient(caps_of(&[NetBindService]))
        .build()?;
    linux::capabilities::validate(Some(&caps))?;
    linux::capabilities::apply_bounding(Some(&caps))?;
    let user = UserBuilder::default()
        .uid(uid)
        .gid(uid)
        .additional_gids(vec![2000u32, 2001])
        .umask(0o027u32)
        .build()?;
    linux::user::switch(&user)?;
    linux::capabilities::apply_sets(Some(&caps))?;
    linux::no_new_privs::set_no_new_privileges()
}

// config.md#linux-process capabilities, noNewPrivileges; config.md#posix-platform-user
fn caps_user_and_no_new_privs(_: &Path) -> Result<()> {
    use Capability::*;
    apply_user_and_caps(1000)?;
    ensure!(cap_field("CapBnd")? == bit(Kill) | bit(NetBindService) | bit(Chown));
    ensure!(
        cap_field("CapEff")? == bit(Kill),
        "CapEff {:#x}",
        cap_field("CapEff")?
    );
    ensure!(cap_field("CapPrm")? == bit(Kill) | bit(NetBindService));
    ensure!(cap_field("CapInh")? == bit(NetBindService));
    ensure!(cap_field("CapAmb")? == bit(NetBindService));
    ensure!(status_field("NoNewPrivs")? == "1");
    let uids = status_field("Uid")?;
    ensure!(uids.split_whitespace().all(|u| u == "1000"), "Uid {uids}");
    let gids = status_field("Gid")?;
    ensure!(gids.split_whitespace().all(|g| g == "1000"), "Gid {gids}");
    let groups = status_field("Groups")?;
    ensure!(groups == "2000 2001", "Groups {groups:?}");
    let umask = status_field("Umask")?;
    ensure!(umask == "0027", "Umask {umask}");
    Ok(())
}

/// After execve as a non-root user, the ambient capability is what remains:
/// the new program's permitted and effective sets are exactly the ambient set.
fn ambient_caps_survive_exec(scratch: &Path) -> Result<()> {
    let out = scratch.join("status");
    std::fs::set_permissions(scratch, std::os::unix::fs::PermissionsExt::from_mode(0o777))?;
    apply_user_and_caps(1000)?;
    let env = vec!["PATH=/usr/bin:/bin".to_string()];
    let sh = linux::exec::find_executable("sh", &env)?;
    let script = format!("grep Cap /proc/self/status > {}", out.display());
    // SAFETY: this child is single-threaded, so forking it is sound.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let err = linux::exec::execve(&sh, &["sh".into(), "-c".into(), script], &env);
            eprintln!("{err:#}");
            // SAFETY: _exit in the forked child after a failed exec.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None)?;
            ensure!(matches!(status, WaitStatus::Exited(_, 0)), "sh: {status:?}");
        }
    }
    let text = std::fs::read_to_string(&out)?;
    let field = |name: &str| -> Result<u64> {
        let v = text
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}:")))
            .context("missing field")?;
        Ok(u64::from_str_radix(v.trim(), 16)?)
    };
    let nbs = bit(Capability::NetBindService);
    ensure!(
        field("CapPrm")? == nbs,
        "CapPrm after exec {:#x}",
        field("CapPrm")?
    );
    ensure!(
        field("CapEff")? == nbs,
        "CapEff after exec {:#x}",
        field("CapEff")?
    );
    ensure!(field("CapAmb")? == nbs);
    Ok(())
}

/// No process.capabilities: every set is empty, bounding included, and an
/// inheritable set held before is not kept (CVE-2022-29162).
fn absent_capabilities_mean_none(_: &Path) -> Result<()> {
    let mut inh = caps::read(None, caps::CapSet::Inheritable)?;
    inh.insert(caps::Capability::CAP_SYS_ADMIN);
    caps::set(None, caps::CapSet::Inheritable, &inh)?;
    ensure!(cap_field("CapInh")? != 0);
    linux::capabilities::apply_bounding(None)?;
    linux::user::switch(&UserBuilder::default().uid(0u32).gid(0u32).build()?)?;
    linux::capabilities::apply_sets(None)?;
    for f in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
        ensure!(cap_field(f)? == 0, "{f} is {:#x}", cap_field(f)?);
    }
    let umask = status_field("Umask")?;
    ensure!(umask == "0022", "default Umask {umask}");
    let groups = status_field("Groups")?;
    ensure!(groups.is_empty(), "Groups {groups:?}");
    Ok(())
}

/// process.terminal: a private mount namespace with a fresh devpts, chrooted,
/// so /dev/ptmx and /dev/console are the test's own.
fn console_pty(scratch: &Path) -> Result<()> {
    use nix::mount::{mount, MsFlags};
    private_mount_namespace()?;
    mount(
        Some("tmpfs"),
        scratch,
        Some("tmpfs"),
        MsFlags::empty(),
        None::<&str>,
    )?;
    std::fs::create_dir_all(scratch.join("dev/pts"))?;
    mount(
        Some("devpts"),
        &scratch.join("dev/pts"),
        Some("devpts"),
        MsFlags::empty(),
        Some("newinstance,ptmxmode=0666,mode=0620"),
    )?;
    std::os::unix::fs::symlink("pts/ptmx", scratch.join("dev/ptmx"))?;
    std::fs::write(scratch.join("dev/console"), "")?;
    nix::unistd::chroot(scratch)?;
    std::env::set_current_dir("/")?;

    let (ours, theirs) = nix::sys::socket::socketpair(
        nix::sys::socket::AddressFamily::Unix,
        nix::sys::socket::SockType::Stream,
        None,
        nix::sys::socket::SockFlag::SOCK_CLOEXEC,
    )?;
    let size: ConsoleSize = BoxBuilder::default().height(24u64).width(80u64).build()?;
    // SAFETY: this child is single-threaded, so forking it is sound.
    let child = match unsafe { fork() }? {
        ForkResult::Child => {
            drop(ours);
            let code = match console_child(theirs.as_raw_fd(), &size) {
                Ok(()) => 0,
                Err(e) => {
                    // stderr is the pty now; the parent reads this text.
                    eprintln!("CONSOLE-ERROR {e:#}");
                    1
                }
            };
            // SAFETY: _exit in the forked child.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => child,
    };
    drop(theirs);
    let (name, master) = receive_fd(ours.as_raw_fd())?;
    ensure!(name == linux::tty::MASTER_NAME, "payload {name:?}");
    let mut output = String::new();
    let mut file = std::fs::File::from(master);
    let mut buf = [0u8; 512];
    // Reading the master ends with EIO once the child (the slave's last user) exits.
    while let Ok(n) = file.read(&mut buf) {
        if n == 0 {
            break;
        }
        output.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let status = waitpid(child, None)?;
    ensure!(
        output.contains("hello from the pty"),
        "pty output {output:?}"
    );
    ensure!(
        matches!(status, WaitStatus::Exited(_, 0)),
        "{status:?}: {output}"
    );
    Ok(())
}

fn console_child(socket: RawFd, size: &ConsoleSize) -> Result<()> {
    nix::unistd::setsid()?;
    linux::tty::setup_console(socket, Some(size))?;
    // SAFETY: isatty on an integer fd.
    ensure!(unsafe { libc::isatty(0) } == 1, "stdin is not a tty");
    // SAFETY: zeroed winsize is valid; TIOCGWINSZ writes one into it.
    let mut ws: libc::winsize = unsafe { std::mem::zeroed() };
    // SAFETY: TIOCGWINSZ writes one winsize into our stack variable.
    ensure!(unsafe { libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) } == 0);
    ensure!(
        ws.ws_row == 24 && ws.ws_col == 80,
        "size {}x{}",
        ws.ws_col,
        ws.ws_row
    );
    let mut sid: libc::pid_t = 0;
    // SAFETY: TIOCGSID writes one pid_t; it fails unless fd 0 is our controlling tty.
    ensure!(
        unsafe { libc::ioctl(0, libc::TIOCGSID, &mut sid) } == 0,
        "no controlling tty"
    );
    ensure!(sid == std::process::id() as libc::pid_t, "session {sid}");
    let console = nix::sys::stat::stat("/dev/console")?;
    // SAFETY: fd 2 is open (the pty).
    let stderr = nix::sys::stat::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(2) })?;
    ensure!(
        console.st_rdev == stderr.st_rdev,
        "/dev/console is not the pty"
    );
    println!("hello from the pty");
    Ok(())
}

fn receive_fd(socket: RawFd) -> Result<(String, OwnedFd)> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(socket, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    let mut fd = None;
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            fd = fds.first().copied();
        }
    }
    let len = msg.bytes;
    let fd = fd.context("no fd received")?;
    let name = String::from_utf8_lossy(&buf[..len]).into_owned();
    // SAFETY: the fd was just received with SCM_RIGHTS and nothing else owns it.
    Ok((name, unsafe { OwnedFd::from_raw_fd(fd) }))
}

fn exec_runs_program(_: &Path) -> Result<()> {
    let env = vec![
        "PATH=/nonexistent:/bin:/usr/bin".to_string(),
        "NOOK_X=7".to_string(),
    ];
    let sh = linux::exec::find_executable("sh", &env)?;
    // SAFETY: this child is single-threaded, so forking it is sound.
    match unsafe { fork() }? {
        ForkResult::Child => {
            let args = vec![
                "sh".to_string(),
                "-c".to_string(),
                "exit $NOOK_X".to_string(),
            ];
            let _ = linux::exec::execve(&sh, &args, &env);
            // SAFETY: _exit in the forked child after a failed exec.
            unsafe { libc::_exit(127) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None)?;
            ensure!(matches!(status, WaitStatus::Exited(_, 7)), "{status:?}");
        }
    }
    Ok(())
}

fn fd_is_cloexec(fd: RawFd) -> Result<bool> {
    // SAFETY: fcntl F_GETFD on an integer fd.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    ensure!(flags >= 0, "fd {fd} is not open");
    Ok(flags & libc::FD_CLOEXEC != 0)
}

/// `--preserve-fds` / LISTEN_FDS: fds 3..3+keep stay inheritable, later ones
/// become close-on-exec. Uses fds 20..22 with keep = 18 (so 3..=20 are kept).
fn fds_become_cloexec(_: &Path) -> Result<()> {
    let file = std::fs::File::open("/dev/null")?;
    for target in [20, 21, 22] {
        // SAFETY: dup2 onto fixed numbers in this single-threaded child; dup2
        // leaves the new fds without FD_CLOEXEC.
        ensure!(unsafe { libc::dup2(file.as_raw_fd(), target) } == target);
    }
    ensure!(!fd_is_cloexec(21)?, "dup2 set FD_CLOEXEC");
    linux::fds::close_on_exec_beyond(18)?;
    ensure!(!fd_is_cloexec(20)?, "fd 20 (preserved) became cloexec");
    ensure!(fd_is_cloexec(21)?, "fd 21 is not cloexec");
    ensure!(fd_is_cloexec(22)?, "fd 22 is not cloexec");
    ensure!(!fd_is_cloexec(0)?, "stdin became cloexec");
    Ok(())
}

// config.md#linux-process execCPUAffinity
fn exec_cpu_affinity_final(_: &Path) -> Result<()> {
    linux::exec_cpu_affinity::apply_final("0")?;
    let set = nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0))?;
    ensure!(set.is_set(0)?, "CPU 0 not set");
    for cpu in 1..nix::sched::CpuSet::count() {
        ensure!(!set.is_set(cpu)?, "CPU {cpu} still set");
    }
    Ok(())
}

fn monotonic_secs() -> Result<i64> {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)?;
    Ok(t.tv_sec())
}

// config-linux.md#offset-for-time-namespace
fn time_offsets_apply_to_next_child(_: &Path) -> Result<()> {
    const OFFSET: i64 = 10 * 365 * 24 * 3600;
    let before = monotonic_secs()?;
    unshare(nix::sched::CloneFlags::from_bits_retain(
        libc::CLONE_NEWTIME,
    ))?;
    let mut map = HashMap::new();
    map.insert(
        "monotonic".to_string(),
        oci_spec::runtime::LinuxTimeOffsetBuilder::default()
            .secs(OFFSET)
            .build()?,
    );
    linux::time_offsets::apply(&map)?;
    // SAFETY: this child is single-threaded, so forking it is sound.
    match unsafe { fork() }? {
        ForkResult::Child => {
            // The offset shifts the clock; compare with the reading taken
            // before, not with any expected elapsed time.
            let shifted = monotonic_secs().map(|now| now - before >= OFFSET);
            // SAFETY: _exit in the forked child.
            unsafe { libc::_exit(if matches!(shifted, Ok(true)) { 0 } else { 1 }) }
        }
        ForkResult::Parent { child } => {
            let status = waitpid(child, None)?;
            ensure!(
                matches!(status, WaitStatus::Exited(_, 0)),
                "monotonic clock not offset: {status:?}"
            );
        }
    }
    ensure!(
        monotonic_secs()? - before < OFFSET,
        "the unsharing process itself was offset"
    );
    Ok(())
}
