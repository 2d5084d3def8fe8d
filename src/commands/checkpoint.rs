//! `nook checkpoint ID`: dump the container with CRIU (see src/checkpoint/).
use crate::checkpoint::{self, CgroupsMode, CheckpointRequest, Criu, CriuOptions};
use crate::cli::{CheckpointArgs, CriuFlags, GlobalOpts};
use anyhow::Result;
use std::path::PathBuf;

pub fn run(g: &GlobalOpts, a: &CheckpointArgs) -> Result<()> {
    let c = super::open_root(g)?.load_locked(&a.id)?;
    let req = CheckpointRequest {
        criu: Criu::new(g.criu.as_deref()),
        options: criu_options(&a.criu)?,
        parent_path: a.parent_path.clone(),
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        page_server: a.page_server.clone(),
        status_fd: (a.status_fd >= 0).then_some(a.status_fd),
    };
    checkpoint::checkpoint(c, &req)
}

/// The shared CRIU flags; --image-path defaults to ./checkpoint (runc's default).
pub fn criu_options(f: &CriuFlags) -> Result<CriuOptions> {
    let image_path = match &f.image_path {
        Some(p) => std::path::absolute(p)?,
        None => std::env::current_dir()?.join("checkpoint"),
    };
    let work_path: Option<PathBuf> = match &f.work_path {
        Some(p) => Some(std::path::absolute(p)?),
        None => None,
    };
    Ok(CriuOptions {
        image_path,
        work_path,
        tcp_established: f.tcp_established,
        ext_unix_sk: f.ext_unix_sk,
        shell_job: f.shell_job,
        file_locks: f.file_locks,
        cgroups_mode: CgroupsMode::parse(f.manage_cgroups_mode.as_deref())?,
        empty_network_ns: checkpoint::parse_empty_ns(f.empty_ns.as_deref())?,
        auto_dedup: f.auto_dedup,
        lazy_pages: f.lazy_pages,
    })
}
