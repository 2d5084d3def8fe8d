//! config.md#process, #posix-process, #linux-process, #user: what the container
//! process runs as and with.

use crate::bundle::{cap_mask, DEFAULT_CAPS};
use crate::ctx::{check, Check, Ctx};
use crate::report::TestResult;
use serde_json::json;

const PROCESS: &str = "config.md#process";
const POSIX: &str = "config.md#posix-process";
const LINUX: &str = "config.md#linux-process";
const USER: &str = "config.md#posix-platform-user";

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = basics(ctx);
    out.extend(non_root_user(ctx));
    out.extend(capability_sets(ctx));
    out.extend(rlimits(ctx));
    out.extend(no_new_privileges_off(ctx));
    out.extend(oom_score_adj(ctx));
    out.extend(scheduler(ctx));
    out.extend(io_priority(ctx));
    out
}

/// The `runc spec`-like defaults: root, three capabilities, NOFILE 1024, no terminal.
fn basics(ctx: &Ctx) -> Vec<TestResult> {
    let args = [
        "/oci-checker",
        "run",
        "/checks.json",
        "two words",
        "--dash",
        "",
    ];
    let caps = cap_mask(&DEFAULT_CAPS);
    let mut checks: Vec<Check> = vec![
        check("process.args", PROCESS, "args are the executed program's argv (execvp semantics)", json!({"probe": "args", "value": args})),
        check("process.env.set", PROCESS, "env entries are the process environment (environ semantics)", json!({"probe": "env", "entry": "OCI_TEST=with space=and equals"})),
        check("process.env.path", PROCESS, "env PATH entry reaches the process", json!({"probe": "env", "entry": "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"})),
        check("process.env.empty-value", PROCESS, "an env entry with an empty value is kept", json!({"probe": "env", "entry": "EMPTY="})),
        check("process.cwd", PROCESS, "cwd is the working directory set for the executable", json!({"probe": "cwd", "value": "/etc"})),
        check("process.user.uid", USER, "uid specifies the user ID in the container namespace", json!({"probe": "ids", "uid": 0, "euid": 0})),
        check("process.user.gid", USER, "gid specifies the group ID in the container namespace", json!({"probe": "ids", "gid": 0, "egid": 0})),
        check("process.user.no-additional-gids", USER, "without additionalGids the process has no supplementary groups", json!({"probe": "groups", "value": []})),
        check("process.terminal.false.stdin", PROCESS, "terminal defaults to false: no pseudoterminal on stdin", json!({"probe": "isatty", "fd": 0, "value": false})),
        check("process.terminal.false.stdout", PROCESS, "terminal false: no pseudoterminal on stdout", json!({"probe": "isatty", "fd": 1, "value": false})),
        check("process.terminal.false.stderr", PROCESS, "terminal false: no pseudoterminal on stderr", json!({"probe": "isatty", "fd": 2, "value": false})),
        check("process.rlimits.nofile", POSIX, "rlim_cur and rlim_max MUST match the configured soft and hard values", json!({"probe": "rlimit", "resource": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024})),
        check("process.noNewPrivileges.true", LINUX, "noNewPrivileges true sets no_new_privs (prctl PR_SET_NO_NEW_PRIVS)", json!({"probe": "status", "field": "NoNewPrivs", "value": "1"})),
        check("process.oomScoreAdj.unset", LINUX, "if oomScoreAdj is not set, the runtime MUST NOT change oom_score_adj (the runtime's own is 0)", json!({"probe": "file", "path": "/proc/self/oom_score_adj", "value": "0"})),
        check("runtime-linux.fds.only-stdio", "runtime-linux.md#file-descriptors", "by default only stdin, stdout and stderr are kept open for the application", json!({"probe": "only_std_fds"})),
    ];
    for (set, field) in [
        ("bounding", "CapBnd"),
        ("effective", "CapEff"),
        ("permitted", "CapPrm"),
        ("ambient", "CapAmb"),
    ] {
        checks.push(check(
            &format!("process.capabilities.{set}"),
            LINUX,
            &format!("{set} is the array of {set} capabilities kept for the process"),
            json!({"probe": "status", "field": field, "value": caps}),
        ));
    }
    checks.push(check(
        "process.capabilities.inheritable",
        LINUX,
        "inheritable is the array of inheritable capabilities kept for the process",
        json!({"probe": "status", "field": "CapInh", "value": caps}),
    ));
    ctx.scenario(
        "process-basics",
        |c| {
            // Ambient capabilities must also be permitted and inheritable (capabilities(7)),
            // so all five sets are given the same three capabilities.
            c["process"]["capabilities"]["inheritable"] = json!(DEFAULT_CAPS);
            c["process"]["args"] = json!(args);
            c["process"]["cwd"] = json!("/etc");
            let env = c["process"]["env"].as_array_mut();
            if let Some(env) = env {
                env.push(json!("OCI_TEST=with space=and equals"));
                env.push(json!("EMPTY="));
            }
        },
        checks,
    )
}

/// A non-root user with supplementary groups and a umask.
fn non_root_user(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![
        check(
            "process.user.uid.nonroot",
            USER,
            "uid 1000 is the process's real and effective uid",
            json!({"probe": "ids", "uid": 1000, "euid": 1000}),
        ),
        check(
            "process.user.gid.nonroot",
            USER,
            "gid 1001 is the process's real and effective gid",
            json!({"probe": "ids", "gid": 1001, "egid": 1001}),
        ),
        check(
            "process.user.additionalGids",
            USER,
            "additionalGids are added to the process (supplementary groups)",
            json!({"probe": "groups", "value": [10, 20, 30]}),
        ),
        check(
            "process.user.umask",
            USER,
            "umask specifies the umask of the user",
            json!({"probe": "umask", "value": 0o027}),
        ),
        check(
            "process.cwd.nonroot",
            PROCESS,
            "cwd /tmp for a non-root user",
            json!({"probe": "cwd", "value": "/tmp"}),
        ),
        check(
            "process.capabilities.effective.nonroot",
            LINUX,
            "effective capabilities are kept for a non-root user too",
            json!({"probe": "status", "field": "CapEff", "value": cap_mask(&["CAP_KILL"])}),
        ),
        check(
            "process.capabilities.ambient.nonroot",
            LINUX,
            "ambient capabilities survive the switch to a non-root uid",
            json!({"probe": "status", "field": "CapAmb", "value": cap_mask(&["CAP_KILL"])}),
        ),
    ];
    ctx.scenario(
        "process-user",
        |c| {
            c["process"]["user"] = json!({"uid": 1000, "gid": 1001, "additionalGids": [10, 20, 30], "umask": 0o027});
            c["process"]["cwd"] = json!("/tmp");
            let kill = ["CAP_KILL"];
            c["process"]["capabilities"] = json!({
                "bounding": kill, "effective": kill, "permitted": kill, "inheritable": kill, "ambient": kill
            });
        },
        checks,
    )
}

/// Different capability sets, so a runtime that copies one set into another fails.
/// For uid 0, execve makes effective equal to permitted (capabilities(7)), and
/// no_new_privs keeps permitted from growing, so those two are given the same list.
fn capability_sets(ctx: &Ctx) -> Vec<TestResult> {
    let bounding = [
        "CAP_CHOWN",
        "CAP_KILL",
        "CAP_NET_RAW",
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_SYS_CHROOT",
    ];
    let permitted = ["CAP_CHOWN", "CAP_KILL", "CAP_NET_RAW", "CAP_SETUID"];
    let effective = permitted;
    let inheritable = ["CAP_KILL", "CAP_NET_RAW"];
    let ambient = ["CAP_KILL"];
    let mut checks = Vec::new();
    for (set, field, names) in [
        ("bounding", "CapBnd", &bounding[..]),
        ("permitted", "CapPrm", &permitted[..]),
        ("effective", "CapEff", &effective[..]),
        ("inheritable", "CapInh", &inheritable[..]),
        ("ambient", "CapAmb", &ambient[..]),
    ] {
        checks.push(check(
            &format!("process.capabilities.{set}.distinct"),
            LINUX,
            &format!("the {set} array is exactly the {set} set of the process"),
            json!({"probe": "status", "field": field, "value": cap_mask(names)}),
        ));
    }
    ctx.scenario(
        "process-caps",
        |c| {
            c["process"]["capabilities"] = json!({
                "bounding": bounding, "effective": effective, "permitted": permitted,
                "inheritable": inheritable, "ambient": ambient
            });
        },
        checks,
    )
}

/// Every rlimit type, each lowered to a distinct value (raising needs CAP_SYS_RESOURCE).
fn rlimits(ctx: &Ctx) -> Vec<TestResult> {
    let limits: [(&str, u64, u64); 15] = [
        ("RLIMIT_AS", 8 << 30, 16 << 30),
        ("RLIMIT_CORE", 0, 1 << 20),
        ("RLIMIT_CPU", 3600, 7200),
        ("RLIMIT_DATA", 4 << 30, 8 << 30),
        ("RLIMIT_FSIZE", 1 << 30, 2 << 30),
        ("RLIMIT_LOCKS", 100, 200),
        ("RLIMIT_MEMLOCK", 65536, 131072),
        ("RLIMIT_MSGQUEUE", 8192, 16384),
        ("RLIMIT_NICE", 0, 0),
        ("RLIMIT_NOFILE", 512, 768),
        ("RLIMIT_NPROC", 500, 600),
        ("RLIMIT_RSS", 1 << 30, 2 << 30),
        ("RLIMIT_RTPRIO", 0, 0),
        ("RLIMIT_SIGPENDING", 1000, 2000),
        ("RLIMIT_STACK", 8 << 20, 16 << 20),
    ];
    let checks = limits
        .iter()
        .map(|(name, soft, hard)| {
            check(
                &format!("process.rlimits.{}", name.trim_start_matches("RLIMIT_").to_lowercase()),
                POSIX,
                &format!("{name}: rlim_cur MUST match soft ({soft}) and rlim_max MUST match hard ({hard})"),
                json!({"probe": "rlimit", "resource": name, "soft": soft, "hard": hard}),
            )
        })
        .collect();
    ctx.scenario(
        "process-rlimits",
        |c| {
            c["process"]["rlimits"] = limits
                .iter()
                .map(|(name, soft, hard)| json!({"type": name, "soft": soft, "hard": hard}))
                .collect();
        },
        checks,
    )
}

fn no_new_privileges_off(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![check(
        "process.noNewPrivileges.false",
        LINUX,
        "noNewPrivileges false leaves no_new_privs unset",
        json!({"probe": "status", "field": "NoNewPrivs", "value": "0"}),
    )];
    ctx.scenario(
        "process-nnp-off",
        |c| c["process"]["noNewPrivileges"] = json!(false),
        checks,
    )
}

fn oom_score_adj(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![check(
        "process.oomScoreAdj.set",
        LINUX,
        "if oomScoreAdj is set, the runtime MUST set oom_score_adj to the given value",
        json!({"probe": "file", "path": "/proc/self/oom_score_adj", "value": "421"}),
    )];
    ctx.scenario(
        "process-oom",
        |c| c["process"]["oomScoreAdj"] = json!(421),
        checks,
    )
}

fn scheduler(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![check(
        "process.scheduler.batch-nice",
        LINUX,
        "scheduler.policy SCHED_BATCH with nice 7 is the process's scheduling policy and nice value",
        json!({"probe": "sched", "policy": libc::SCHED_BATCH, "nice": 7}),
    )];
    ctx.scenario(
        "process-sched",
        |c| c["process"]["scheduler"] = json!({"policy": "SCHED_BATCH", "nice": 7}),
        checks,
    )
}

fn io_priority(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![check(
        "process.ioPriority.be-6",
        LINUX,
        "ioPriority class IOPRIO_CLASS_BE priority 6 is applied to the container's processes",
        json!({"probe": "ioprio", "class": 2, "level": 6}),
    )];
    ctx.scenario(
        "process-ioprio",
        |c| c["process"]["ioPriority"] = json!({"class": "IOPRIO_CLASS_BE", "priority": 6}),
        checks,
    )
}
