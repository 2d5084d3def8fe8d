//! containerd 1.6 drives runc and nook unchanged through its runc shim
//! (io.containerd.runc.v2 with BinaryName set by `ctr run --runc-binary`):
//! the matrix of ctr operations (engines/ctr_cells.rs), each run with both
//! runtimes, against a private containerd this test starts and stops.
//!
//! `cargo test --test engine_containerd -- --nocapture` prints the table.
//! `NOOK_ENGINE_CELLS=exec,pause` runs only the cells whose names contain
//! one of the words. Fails on any cell runc passes and nook does not.

mod common;
mod engines;

use common::procfs::remove_dir_safely;
use engines::containerd::{Containerd, Ctr};
use engines::ctr_cells::ctr_cells;
use engines::daemon::become_subreaper;
use engines::host::remove_cgroup_trees;
use engines::image::write_oci_archive;
use engines::matrix::{run_matrix, runtimes};
use std::fs;

/// Removes the test directory and the namespace's cgroup tree even when
/// the test fails half-way (the Ctr's own clean-up runs first).
struct Leftovers {
    dir: std::path::PathBuf,
    /// The ctr namespace, which also names the containers' parent cgroup.
    cgroup: String,
}

impl Drop for Leftovers {
    fn drop(&mut self) {
        let problems = remove_cgroup_trees(&self.cgroup);
        // The runc shim makes an (empty) default runc root per namespace
        // even when every container has its own --runc-root.
        let _ = fs::remove_dir(format!("/run/containerd/runc/{}", self.cgroup));
        remove_dir_safely(&self.dir);
        if !problems.is_empty() && !std::thread::panicking() {
            panic!("containerd left: {problems:?}");
        }
    }
}

#[test]
fn containerd_matrix() {
    become_subreaper();
    let dir = tempfile::Builder::new()
        .prefix("nook-test-ctrd-")
        .tempdir()
        .expect("create containerd temp dir")
        .keep();
    // ctr's default spec puts each container in the cgroup /NAMESPACE/ID.
    let namespace = format!("nook-test-{}", std::process::id());
    let _leftovers = Leftovers {
        dir: dir.clone(),
        cgroup: namespace.clone(),
    };
    fs::create_dir_all(dir.join("scratch")).expect("create scratch dir");
    let archive = dir.join("busybox-oci.tar");
    let image = "localhost/busybox:latest".to_string();
    write_oci_archive(common::rootfs::shared_rootfs_tar(), &image, &archive);

    let mut ctr = Ctr {
        containerd: Containerd::start(&dir),
        namespace,
        image,
        scratch: dir.join("scratch"),
    };
    let out = ctr.exec(&["images", "import", &archive.to_string_lossy()]);
    assert!(
        out.success(),
        "import failed: {out}\ncontainerd log:\n{}",
        ctr.containerd.log_tail()
    );

    let runtimes = runtimes();
    let matrix = run_matrix("containerd", &ctr, &runtimes, &ctr_cells(), |ctr| {
        ctr.remove_all()
    });
    matrix.print();
    let problems = ctr.clean_up();
    assert!(problems.is_empty(), "containerd test left: {problems:?}");
    matrix.check();
}
