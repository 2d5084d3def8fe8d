//! The upstream runtime-spec schema samples (schema/test/config, copied to
//! integration/data/runtime-spec-schema-test/, see its NOTICE) through nook's
//! config loading: `spec::parse_config` then `spec::validate`, the checks
//! `nook create` runs on config.json before anything is created.
//!
//! Every sample has an entry in [`SAMPLES`] saying what nook does with it and
//! why; a sample file without an entry (or an entry without a file) fails the
//! test, so a refreshed copy of the samples is looked at one by one.
//!
//! The schema checks a document's shape; the runtime has more rules. Two kinds
//! of schema-valid samples are therefore refused as they are, and the test
//! says so instead of pretending otherwise:
//! - samples without `process`: runtime.md#start makes `process` REQUIRED
//!   when `start` is called, so `nook create` (like runc) refuses them with
//!   "process: missing". They are checked again "completed for start", with
//!   the process of minimal-for-start.json added, and must then be accepted
//!   (or, for bad samples, refused for the field the sample gets wrong);
//! - the FreeBSD and z/OS examples set `hostname` without a Linux UTS
//!   namespace (those platforms isolate the hostname their own way); on Linux
//!   that is refused, as runc does, naming `hostname`.
//!
//! A few samples also go through the real binary (`nook create` on a bundle
//! with that config.json) to show the error reaches the command line and
//! nothing is left behind.

mod common;

use common::{procfs, unique_id, Bundle, Runtime};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What nook must do with a sample.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Accepted as it is.
    Accepted,
    /// Refused as it is only for the missing `process`; accepted once a
    /// process is added.
    AcceptedForStart,
    /// Refused, and the error names this field (its JSON path, or the text
    /// that locates the fault).
    Refused(&'static str),
    /// Refused as it is for the missing `process`; once a process is added,
    /// refused naming this field.
    RefusedForStart(&'static str),
    /// Schema-invalid only in a section for another platform, which a Linux
    /// runtime does not read (config.md#platform-specific-configuration).
    OtherPlatformIgnored,
}

use Expect::*;

/// (directory, file, expectation). The field named for each bad sample is
/// the one the sample gets wrong against the schema.
const SAMPLES: &[(&str, &str, Expect)] = &[
    ("good", "minimal.json", AcceptedForStart),
    ("good", "minimal-for-start.json", Accepted),
    // Hooks, devices, mounts and namespaces the host may lack: validation
    // level only (nothing here is created). Its apparmorProfile is refused
    // on a host without AppArmor (see NEEDS_HOST).
    ("good", "spec-example.json", Accepted),
    ("good", "linux-netdevice.json", AcceptedForStart),
    ("good", "linux-rdma.json", AcceptedForStart),
    ("good", "freebsd-minimal.json", AcceptedForStart),
    ("good", "zos-minimal.json", AcceptedForStart),
    // hostname with no linux.namespaces (see the header).
    ("good", "freebsd-example.json", Refused("hostname")),
    ("good", "zos-example.json", Refused("hostname")),
    // `{]`: not JSON; the error gives the place.
    ("bad", "invalid-json.json", Refused("line 1 column 2")),
    // pageSize "64kB" does not match ^[1-9][0-9]*[KMG]B$ (lower-case k).
    (
        "bad",
        "linux-hugepage.json",
        RefusedForStart("linux.resources.hugepageLimits[0].pageSize"),
    ),
    // name is the integer 23, the schema says string.
    (
        "bad",
        "linux-netdevice.json",
        Refused("linux.netDevices.eth0.name"),
    ),
    // hcaHandles is a string, the schema says uint32.
    (
        "bad",
        "linux-rdma.json",
        Refused("linux.resources.rdma.mlx5_1.hcaHandles"),
    ),
    // freebsd.jail.vnet "disable" is not in the enum ("new", "inherit").
    ("bad", "freebsd-vnet-disable.json", OtherPlatformIgnored),
];

fn samples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("integration/data/runtime-spec-schema-test/config")
}

fn read_sample(dir: &str, file: &str) -> Vec<u8> {
    let path = samples_dir().join(dir).join(file);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The sample with the process of minimal-for-start.json added.
fn completed_for_start(text: &[u8]) -> Vec<u8> {
    let mut config: Value = serde_json::from_slice(text).expect("sample is JSON");
    assert!(
        config.get("process").is_none(),
        "sample already has a process"
    );
    config["process"] = json!({"cwd": "/", "args": ["sh"], "user": {"uid": 0, "gid": 0}});
    serde_json::to_vec_pretty(&config).expect("serialize")
}

/// What `nook create` checks in config.json before it creates anything.
fn load(text: &[u8]) -> Result<(), String> {
    let spec = nook::spec::parse_config(text).map_err(|e| format!("{e:#}"))?;
    nook::spec::validate(&spec).map_err(|e| format!("{e:#}"))
}

/// Fields whose check needs something of the host (validation asks the
/// kernel): (JSON pointer, the error when the host lacks it). A valid sample
/// refused only for one of these is accepted at validation level once the
/// field is taken out.
const NEEDS_HOST: &[(&str, &str)] = &[(
    "/process/apparmorProfile",
    "process.apparmorProfile \"acme_secure_profile\": AppArmor is not enabled on this host",
)];

/// Accepted, or refused only for what this host lacks (see [`NEEDS_HOST`]).
#[track_caller]
fn assert_accepted(label: &str, text: &[u8]) {
    let mut config: Value = serde_json::from_slice(text).expect("sample is JSON");
    loop {
        let text = serde_json::to_vec(&config).expect("serialize");
        let Err(e) = load(&text) else {
            return;
        };
        let Some((pointer, _)) = NEEDS_HOST.iter().find(|(_, msg)| e == *msg) else {
            panic!("{label}: refused: {e}");
        };
        eprintln!("{label}: {e} (accepted at validation level without it)");
        let (parent, key) = pointer.rsplit_once('/').expect("pointer");
        let removed = config
            .pointer_mut(parent)
            .and_then(|p| p.as_object_mut())
            .and_then(|p| p.remove(key));
        assert!(removed.is_some(), "{label}: {pointer} not in the sample");
    }
}

#[track_caller]
fn assert_refused(label: &str, result: Result<(), String>, field: &str) {
    match result {
        Ok(()) => panic!("{label}: accepted, but the sample gets {field} wrong"),
        Err(e) => assert!(
            e.contains(field),
            "{label}: error does not name {field}: {e}"
        ),
    }
}

#[test]
fn every_sample_has_an_expectation() {
    let mut on_disk = BTreeSet::new();
    for dir in ["good", "bad"] {
        for entry in std::fs::read_dir(samples_dir().join(dir)).expect("samples dir") {
            let name = entry.expect("dir entry").file_name();
            on_disk.insert((dir.to_string(), name.to_string_lossy().into_owned()));
        }
    }
    let listed: BTreeSet<_> = SAMPLES
        .iter()
        .map(|(d, f, _)| (d.to_string(), f.to_string()))
        .collect();
    assert_eq!(on_disk, listed, "samples on disk vs. SAMPLES");
}

#[test]
fn samples_are_accepted_or_refused_naming_the_field() {
    let (mut accepted, mut refused) = (0, 0);
    for (dir, file, expect) in SAMPLES {
        let label = format!("{dir}/{file}");
        let text = read_sample(dir, file);
        match expect {
            Accepted => {
                assert_accepted(&label, &text);
                accepted += 1;
            }
            AcceptedForStart => {
                // Shape fine, but no process to start.
                assert!(nook::spec::parse_config(&text).is_ok(), "{label}: parse");
                assert_refused(&label, load(&text), "process");
                assert_accepted(&format!("{label} + process"), &completed_for_start(&text));
                accepted += 1;
            }
            Refused(field) => {
                assert_refused(&label, load(&text), field);
                refused += 1;
            }
            RefusedForStart(field) => {
                assert_refused(&label, load(&text), "process");
                assert_refused(&label, load(&completed_for_start(&text)), field);
                refused += 1;
            }
            OtherPlatformIgnored => {
                assert_accepted(&format!("{label} + process"), &completed_for_start(&text));
            }
        }
    }
    // Every Linux-relevant bad sample is refused; the good ones accepted
    // except the two non-Linux examples (see the header).
    assert_eq!((accepted, refused), (7, 6));
}

/// No trace of container `id`: no state directory, no mount under the
/// bundle, no process carrying the id (Runtime's Drop checks cgroups too).
#[track_caller]
fn assert_nothing_left(rt: &Runtime, id: &str, bundle: &Path) {
    assert!(
        !rt.root().join(id).exists(),
        "state dir of {id} left behind"
    );
    let mounts = procfs::mounts_under(bundle);
    assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        assert!(
            !raw.split(|b| *b == 0).any(|a| a == id.as_bytes()),
            "process {pid} of {id} left behind"
        );
    }
}

/// `nook create` on a bundle whose config.json is `text`: fails, prints an
/// error naming `field`, leaves nothing.
#[track_caller]
fn create_refuses(label: &str, text: &[u8], field: &str) {
    let rt = Runtime::new();
    let id = unique_id(label);
    let bundle = Bundle::new(&["true"]);
    bundle.write_raw_config(std::str::from_utf8(text).expect("sample is UTF-8"));
    let out = rt.create(&id, &bundle, &[]);
    out.assert_fail();
    assert!(
        out.stderr.contains(field),
        "{label}: error lacks {field:?}: {out}"
    );
    assert_nothing_left(&rt, &id, bundle.path());
}

#[test]
fn nook_create_refuses_bad_samples_on_the_command_line() {
    create_refuses(
        "schema-json",
        &read_sample("bad", "invalid-json.json"),
        "line 1 column 2",
    );
    create_refuses(
        "schema-netdev",
        &read_sample("bad", "linux-netdevice.json"),
        "linux.netDevices.eth0.name",
    );
    create_refuses(
        "schema-rdma",
        &read_sample("bad", "linux-rdma.json"),
        "linux.resources.rdma.mlx5_1.hcaHandles",
    );
    create_refuses(
        "schema-hugepage",
        &completed_for_start(&read_sample("bad", "linux-hugepage.json")),
        "linux.resources.hugepageLimits[0].pageSize",
    );
    // As it is, the sample lacks a process: that is what create says.
    create_refuses(
        "schema-noproc",
        &read_sample("good", "minimal.json"),
        "process",
    );
}
