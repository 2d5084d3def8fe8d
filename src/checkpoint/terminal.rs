//! Checkpoint and restore of a container with a terminal (`process.terminal`).
//!
//! The container's stdio is the slave of a pty whose master is outside the
//! container (with whoever received it over --console-socket), in the
//! container's own devpts instance, with /dev/console a bind mount of that
//! slave. runc restores it with criu's RPC-only "orphan-pts-master"; on the
//! command line nook does the equivalent itself:
//!
//! - dump: the slave is an external tty (`--external tty[RDEV:DEV]`) and the
//!   devpts holding it an external mount (`--external mnt[/dev/pts]:/dev/pts`);
//!   what restore needs is saved beside the images (terminal.json): the key,
//!   the pty's number, where the devpts is mounted and its options.
//! - restore: nook mounts a new devpts instance with those options, opens a
//!   pty in it with the same number, gives criu the devpts for the external
//!   mount and the slave for the tty (`--inherit-fd fd[N]:tty[RDEV:DEV]`).
//!   So the restored processes' stdio, /dev/console (a bind of the pty's
//!   node, restored from the external devpts) and /dev/pts all name the one
//!   new pty, in a devpts of the container's own as after `create`. The new
//!   master goes to --console-socket, as `create` sends it.

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

pub const TERMINAL_FILE: &str = "terminal.json";

/// The dumped terminal, as saved in the image directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terminal {
    /// st_rdev and st_dev of the pty slave: criu's key `tty[RDEV:DEV]`.
    pub rdev: u64,
    pub dev: u64,
    /// The pty's number in its devpts (/dev/pts/N).
    pub index: u32,
    /// Where the devpts instance holding the pty is mounted in the container.
    pub devpts: PathBuf,
    /// That devpts's superblock options (e.g. gid=5,mode=620,ptmxmode=666).
    pub devpts_options: Vec<String>,
}

/// The majors of Unix98 pty slaves (UNIX98_PTY_SLAVE_MAJOR and the 7 after it).
const PTY_SLAVE_MAJORS: std::ops::RangeInclusive<u64> = 136..=143;

fn major(dev: u64) -> u64 {
    u64::from(libc::major(dev))
}

fn minor(dev: u64) -> u64 {
    u64::from(libc::minor(dev))
}

impl Terminal {
    /// criu's name for the tty.
    pub fn key(&self) -> String {
        format!("tty[{:x}:{:x}]", self.rdev, self.dev)
    }

    /// Dump: `--external tty[..]` and `--external mnt[DEVPTS]:DEVPTS`.
    pub fn dump_args(&self) -> Vec<OsString> {
        vec![
            "--external".into(),
            self.key().into(),
            "--external".into(),
            mount_external(&self.devpts, &self.devpts),
        ]
    }
}

fn mount_external(key: &Path, value: &Path) -> OsString {
    let mut spec = OsString::from("mnt[");
    spec.push(key.as_os_str());
    spec.push("]:");
    spec.push(value.as_os_str());
    spec
}

/// Dump: the pty slave that is the init's stdin, stdout or stderr, with the
/// devpts mount in the container that holds it. None when no stdio fd is a
/// pty slave.
pub fn find(pid: i32) -> Result<Option<Terminal>> {
    let mut found: Option<(u64, u64)> = None;
    for fd in 0..3 {
        let Ok(meta) = std::fs::metadata(format!("/proc/{pid}/fd/{fd}")) else {
            continue;
        };
        let is_char = meta.mode() & libc::S_IFMT == libc::S_IFCHR;
        if !is_char || !PTY_SLAVE_MAJORS.contains(&major(meta.rdev())) {
            continue;
        }
        match found {
            None => found = Some((meta.rdev(), meta.dev())),
            Some(t) if t == (meta.rdev(), meta.dev()) => {}
            Some(_) => bail!(
                "the container's stdio are two different terminals: CRIU can restore only one"
            ),
        }
    }
    let Some((rdev, dev)) = found else {
        return Ok(None);
    };
    let index = (major(rdev) - PTY_SLAVE_MAJORS.start()) * 256 + minor(rdev);
    let index = u32::try_from(index).context("pty number out of range")?;
    let (devpts, devpts_options) = devpts_mount_of(pid, dev)?;
    Ok(Some(Terminal {
        rdev,
        dev,
        index,
        devpts,
        devpts_options,
    }))
}

/// The container's mount of the devpts instance `dev` (its root, not a bind
/// of one pty such as /dev/console), and its superblock options.
fn devpts_mount_of(pid: i32, dev: u64) -> Result<(PathBuf, Vec<String>)> {
    let path = format!("/proc/{pid}/mountinfo");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    for m in text
        .lines()
        .filter_map(crate::rootfs::mountinfo::parse_line)
    {
        if m.fstype != "devpts" || m.root != Path::new("/") {
            continue;
        }
        let inside = Path::new(&format!("/proc/{pid}/root")).join(
            m.mount_point
                .strip_prefix("/")
                .unwrap_or(m.mount_point.as_path()),
        );
        if std::fs::metadata(&inside).is_ok_and(|s| s.dev() == dev) {
            let options = m
                .super_options
                .into_iter()
                .filter(|o| o != "rw" && o != "ro")
                .collect();
            return Ok((m.mount_point, options));
        }
    }
    bail!("process.terminal: the container's pty is not in a devpts mounted in the container (a /dev/pts mount of type devpts): CRIU could not restore it")
}

pub fn save(t: &Terminal, image_dir: &Path) -> Result<()> {
    let path = image_dir.join(TERMINAL_FILE);
    let data = serde_json::to_vec(t).context("cannot encode the terminal record")?;
    std::fs::write(&path, data).with_context(|| format!("cannot write {}", path.display()))
}

/// The terminal saved at dump time, None for a checkpoint without one.
pub fn load(image_dir: &Path) -> Result<Option<Terminal>> {
    let path = image_dir.join(TERMINAL_FILE);
    match std::fs::read(&path) {
        Ok(data) => serde_json::from_slice(&data)
            .map(Some)
            .with_context(|| format!("corrupt {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Restore: a new devpts instance (mounted at `mount_point`) with a pty of
/// the dumped number in it. Unmounted on drop; the container keeps its own
/// bind of it.
pub struct NewTerminal {
    mount_point: PathBuf,
    master: Option<OwnedFd>,
    /// Inherited by criu (no FD_CLOEXEC).
    slave: Option<OwnedFd>,
}

impl NewTerminal {
    pub fn prepare(t: &Terminal, mount_point: &Path) -> Result<NewTerminal> {
        std::fs::create_dir(mount_point)
            .with_context(|| format!("cannot create {}", mount_point.display()))?;
        let mut data = vec!["newinstance".to_string()];
        data.extend(t.devpts_options.iter().cloned());
        if let Err(e) = nix::mount::mount(
            Some("devpts"),
            mount_point,
            Some("devpts"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NOEXEC,
            Some(data.join(",").as_str()),
        ) {
            let _ = std::fs::remove_dir(mount_point);
            bail!(
                "cannot mount a devpts ({}) on {} for the restored terminal: {e}",
                data.join(","),
                mount_point.display()
            );
        }
        let mut new = NewTerminal {
            mount_point: mount_point.to_path_buf(),
            master: None,
            slave: None,
        };
        let master = open_pty_numbered(&mount_point.join("ptmx"), t.index)?;
        unlock(&master)?;
        new.slave = Some(open_slave(&master)?);
        new.master = Some(master);
        Ok(new)
    }

    /// Restore: the devpts for the external mount, the slave for the tty.
    pub fn restore_args(&self, t: &Terminal) -> Vec<OsString> {
        let mut args = vec![
            "--external".into(),
            mount_external(&t.devpts, &self.mount_point),
        ];
        if let Some(slave) = &self.slave {
            args.push("--inherit-fd".into());
            args.push(format!("fd[{}]:{}", slave.as_raw_fd(), t.key()).into());
        }
        args
    }

    /// After criu ran: the master, to be sent over --console-socket. Our
    /// slave and the staging mount are let go.
    pub fn into_master(mut self) -> Option<OwnedFd> {
        self.master.take()
    }
}

impl Drop for NewTerminal {
    fn drop(&mut self) {
        self.slave = None;
        let _ = nix::mount::umount2(&self.mount_point, nix::mount::MntFlags::MNT_DETACH);
        let _ = std::fs::remove_dir(&self.mount_point);
    }
}

/// Open `ptmx` until the new pty has number `index` (a fresh devpts hands
/// out 0, 1, 2, ...; the ones below `index` are closed again).
fn open_pty_numbered(ptmx: &Path, index: u32) -> Result<OwnedFd> {
    let mut below = Vec::new();
    loop {
        let master = nix::fcntl::open(
            ptmx,
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .with_context(|| format!("cannot open {}", ptmx.display()))?;
        let number = pty_number(&master)?;
        if number == index {
            return Ok(master);
        }
        if number > index || below.len() > index as usize {
            bail!(
                "cannot get pty number {index} from {} (got {number})",
                ptmx.display()
            );
        }
        below.push(master);
    }
}

fn pty_number(master: &OwnedFd) -> Result<u32> {
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCGPTN writes one unsigned int into our stack variable.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("pty number (TIOCGPTN)");
    }
    Ok(number)
}

fn unlock(master: &OwnedFd) -> Result<()> {
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int from a pointer to our stack variable.
    let rc = unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error()).context("unlock pty (TIOCSPTLCK)");
    }
    Ok(())
}

/// The slave, through its master (TIOCGPTPEER), without FD_CLOEXEC so that
/// criu inherits it.
fn open_slave(master: &OwnedFd) -> Result<OwnedFd> {
    // SAFETY: TIOCGPTPEER takes open flags as its integer argument and
    // returns a new fd; no memory is passed.
    let fd = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY,
        )
    };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("open the pty slave (TIOCGPTPEER)");
    }
    // SAFETY: fd was just returned by the kernel and is owned by nobody else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Terminal {
        Terminal {
            rdev: 0x8800,
            dev: 0x30,
            index: 0,
            devpts: "/dev/pts".into(),
            devpts_options: vec!["gid=5".into(), "mode=620".into(), "ptmxmode=666".into()],
        }
    }

    #[test]
    fn dump_marks_the_tty_and_its_devpts_external() {
        let args: Vec<String> = sample()
            .dump_args()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            args,
            [
                "--external",
                "tty[8800:30]",
                "--external",
                "mnt[/dev/pts]:/dev/pts"
            ]
        );
    }

    #[test]
    fn save_and_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        assert_eq!(load(tmp.path()).unwrap(), None);
        save(&sample(), tmp.path()).unwrap();
        assert_eq!(load(tmp.path()).unwrap(), Some(sample()));
        std::fs::write(tmp.path().join(TERMINAL_FILE), b"{").unwrap();
        let err = load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains(TERMINAL_FILE), "{err}");
    }

    /// A child whose stdio is the slave of a pty from the host's /dev/ptmx
    /// is found with that pty's number and the host's /dev/pts; with
    /// /dev/null as stdio nothing is found.
    #[test]
    fn finds_the_pty_a_process_has_as_stdio() {
        use std::process::{Command, Stdio};
        let Ok(master) = open_pty_numbered_any(Path::new("/dev/ptmx")) else {
            eprintln!("no /dev/ptmx here: skipped");
            return;
        };
        unlock(&master).unwrap();
        let number = pty_number(&master).unwrap();
        let slave = open_slave(&master).unwrap();
        let mut child = Command::new("sleep")
            .arg("10")
            .stdin(Stdio::from(slave))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let found = find(child.id() as i32);
        let mut plain = Command::new("sleep")
            .arg("10")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let none = find(plain.id() as i32);
        for c in [&mut child, &mut plain] {
            let _ = c.kill();
            let _ = c.wait();
        }
        let t = found.unwrap().expect("the pty is found");
        assert_eq!(t.index, number);
        assert_eq!(t.devpts, Path::new("/dev/pts"));
        assert_eq!(major(t.rdev), 136 + u64::from(number / 256));
        assert!(t.key().starts_with("tty["), "{}", t.key());
        assert_eq!(none.unwrap(), None);
    }

    fn open_pty_numbered_any(ptmx: &Path) -> Result<OwnedFd> {
        Ok(nix::fcntl::open(
            ptmx,
            nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?)
    }
}
