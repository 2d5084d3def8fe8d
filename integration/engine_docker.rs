//! Docker 20.10 drives runc and nook unchanged: `docker run --runtime nook`
//! (a daemon.json runtime) through the same matrix of everyday operations
//! as podman (engines/cells.rs), against a private containerd and dockerd
//! this test starts and stops.
//!
//! `cargo test --test engine_docker -- --nocapture` prints the table.
//! `NOOK_ENGINE_CELLS=exec,pause` runs only the cells whose names contain
//! one of the words. Fails on any cell runc passes and nook does not.

mod common;
mod engines;

use engines::cells::docker_like_cells;
use engines::cli::Kind;
use engines::daemon::become_subreaper;
use engines::docker::Docker;
use engines::matrix::{run_matrix, runtimes};

#[test]
fn docker_matrix() {
    become_subreaper();
    let runtimes = runtimes();
    let docker = Docker::start(&runtimes);
    let matrix = run_matrix(
        "docker",
        &docker.cli,
        &runtimes,
        &docker_like_cells(Kind::Docker),
        |cli| cli.remove_all_containers(),
    );
    matrix.print();
    if !matrix.runc_failures().is_empty() {
        eprintln!("dockerd log ends:\n{}", docker.log_tail());
    }
    // Clean-up (and its check that nothing was left) before the verdict.
    drop(docker);
    matrix.check();
}
