//! A libseccomp filter → the classic BPF program the kernel runs, as bytes
//! (struct sock_filter, 8 bytes an instruction, host byte order).
//!
//! libseccomp 2.5.4 (Debian 12) can export only to a file descriptor
//! (seccomp_export_bpf; seccomp_export_bpf_mem is 2.6), so the program is
//! written into an anonymous memory file and read back.

use super::translate;
use anyhow::{bail, Context, Result};
use oci_spec::runtime::LinuxSeccomp;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::fd::{FromRawFd, OwnedFd};

/// One BPF instruction: u16 code, u8 jt, u8 jf, u32 k.
pub const INSTRUCTION_SIZE: usize = 8;
/// The kernel's BPF_MAXINSNS: a longer program is refused.
pub const MAX_INSTRUCTIONS: usize = 4096;

/// Compile `linux.seccomp` to a BPF program.
pub fn compile(seccomp: &LinuxSeccomp) -> Result<Vec<u8>> {
    let filter = translate::build_filter(seccomp)?;
    let file = memory_file()?;
    filter
        .export_bpf(&file)
        .context("linux.seccomp: libseccomp could not generate the BPF program")?;
    let mut file = file;
    file.seek(SeekFrom::Start(0))
        .context("cannot rewind the BPF program file")?;
    let mut program = Vec::new();
    file.read_to_end(&mut program)
        .context("cannot read the BPF program back")?;
    check_program(&program).context("linux.seccomp: libseccomp generated a bad program")?;
    Ok(program)
}

/// A program the kernel can take: whole instructions, 1 to BPF_MAXINSNS.
pub fn check_program(program: &[u8]) -> Result<()> {
    if program.is_empty() || program.len() % INSTRUCTION_SIZE != 0 {
        bail!(
            "{} bytes is not a whole number of {INSTRUCTION_SIZE}-byte BPF instructions",
            program.len()
        );
    }
    let count = program.len() / INSTRUCTION_SIZE;
    if count > MAX_INSTRUCTIONS {
        bail!("{count} BPF instructions, more than the kernel's limit of {MAX_INSTRUCTIONS}");
    }
    Ok(())
}

fn memory_file() -> Result<File> {
    // SAFETY: memfd_create reads the NUL-terminated name only; the returned
    // fd (checked below) is owned by nothing else.
    let fd = unsafe { libc::memfd_create(c"nook-seccomp-bpf".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error()).context("memfd_create for the BPF program");
    }
    // SAFETY: fd is a fresh descriptor we own (checked above).
    Ok(File::from(unsafe { OwnedFd::from_raw_fd(fd) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOCKER: &str =
        include_str!("../../integration/data/seccomp/docker-default.oci-amd64.json");

    #[test]
    fn docker_profile_compiles_to_the_same_program_every_time() {
        let profile: LinuxSeccomp = serde_json::from_str(DOCKER).unwrap();
        let a = compile(&profile).unwrap();
        let b = compile(&profile).unwrap();
        assert!(check_program(&a).is_ok());
        // The cache relies on it: one profile, one program.
        assert_eq!(a, b);
        // A different rule gives a different program.
        let mut other = profile.clone();
        other.set_default_errno_ret(Some(38));
        assert_ne!(compile(&other).unwrap(), a);
    }

    #[test]
    fn program_shape_is_checked() {
        assert!(check_program(&[]).is_err());
        assert!(check_program(&[0; 12]).is_err());
        assert!(check_program(&[0; 16]).is_ok());
        assert!(check_program(&vec![0; 8 * (MAX_INSTRUCTIONS + 1)]).is_err());
    }
}
