//! Podman 4.3 drives runc and nook unchanged: the matrix of everyday
//! operations (engines/cells.rs), each run with both runtimes.
//!
//! `cargo test --test engine_podman -- --nocapture` prints the table.
//! `NOOK_ENGINE_CELLS=exec,pause` runs only the cells whose names contain
//! one of the words. Fails on any cell runc passes and nook does not.

mod common;
mod engines;

use engines::cells::docker_like_cells;
use engines::cli::Kind;
use engines::matrix::{run_matrix, runtimes};
use engines::podman::Podman;

/// One test: the cells share one podman setup and run one after another
/// (this process is the subreaper of every conmon).
#[test]
fn podman_matrix() {
    let runtimes = runtimes();
    let podman = Podman::new(&runtimes);
    let matrix = run_matrix(
        "podman",
        &podman.cli,
        &runtimes,
        &docker_like_cells(Kind::Podman),
        |cli| cli.remove_all_containers(),
    );
    matrix.print();
    // Clean-up (and its check that nothing was left) before the verdict.
    drop(podman);
    matrix.check();
}
