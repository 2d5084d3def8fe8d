//! config.md#hostname, #domainname, config-linux.md#sysctl, #seccomp, #personality.

use crate::ctx::{check, Ctx};
use crate::report::TestResult;
use serde_json::json;

const SYSCTL: &str = "config-linux.md#sysctl";
const SECCOMP: &str = "config-linux.md#seccomp";

pub fn run(ctx: &Ctx) -> Vec<TestResult> {
    let mut out = uts_and_sysctl(ctx);
    out.extend(seccomp(ctx));
    out.extend(personality(ctx));
    out
}

fn uts_and_sysctl(ctx: &Ctx) -> Vec<TestResult> {
    let sysctls = [
        ("net.ipv4.ip_forward", "1", "net/ipv4/ip_forward"),
        (
            "net.ipv4.ping_group_range",
            "0 2147483647",
            "net/ipv4/ping_group_range",
        ),
        ("kernel.shmmax", "65536000", "kernel/shmmax"),
        ("kernel.msgmax", "4096", "kernel/msgmax"),
        ("fs.mqueue.queues_max", "77", "fs/mqueue/queues_max"),
    ];
    let mut checks = vec![
        check(
            "hostname",
            "config.md#hostname",
            "hostname specifies the container's hostname as seen by processes in the container",
            json!({"probe": "uname", "field": "nodename", "value": "oci-host"}),
        ),
        check(
            "domainname",
            "config.md#domainname",
            "domainname specifies the container's domainname as seen by processes in the container",
            json!({"probe": "uname", "field": "domainname", "value": "oci.example"}),
        ),
    ];
    for (key, value, path) in sysctls {
        checks.push(check(
            &format!("linux.sysctl.{key}"),
            SYSCTL,
            &format!("sysctl {key}={value} is set for the container"),
            json!({"probe": "file", "path": format!("/proc/sys/{path}"), "value": value}),
        ));
    }
    ctx.scenario(
        "linux-uts-sysctl",
        |c| {
            c["hostname"] = json!("oci-host");
            c["domainname"] = json!("oci.example");
            let map: serde_json::Map<String, serde_json::Value> = sysctls
                .iter()
                .map(|(k, v, _)| (k.to_string(), json!(v)))
                .collect();
            c["linux"]["sysctl"] = json!(map);
        },
        checks,
    )
}

fn seccomp(ctx: &Ctx) -> Vec<TestResult> {
    let checks = vec![
        check(
            "linux.seccomp.filter-installed",
            SECCOMP,
            "seccomp: a filter is installed for the process (Seccomp: 2 in /proc/self/status)",
            json!({"probe": "status", "field": "Seccomp", "value": "2"}),
        ),
        check(
            "linux.seccomp.errnoRet",
            SECCOMP,
            "SCMP_ACT_ERRNO with errnoRet 99: the syscall fails with that errno",
            json!({"probe": "syscall_errno", "nr": libc::SYS_getppid, "args": [], "errno": 99}),
        ),
        check(
            "linux.seccomp.errno-default-eperm",
            SECCOMP,
            "SCMP_ACT_ERRNO without errnoRet returns EPERM",
            json!({"probe": "syscall_errno", "nr": libc::SYS_getpgid, "args": [0], "errno": libc::EPERM}),
        ),
        check(
            "linux.seccomp.args-match",
            SECCOMP,
            "a rule with args matches when the argument compares equal (SCMP_CMP_EQ)",
            json!({"probe": "syscall_errno", "nr": libc::SYS_getpriority, "args": [libc::PRIO_PGRP, 0], "errno": 98}),
        ),
        check(
            "linux.seccomp.args-nomatch",
            SECCOMP,
            "a rule with args does not match other argument values (defaultAction applies)",
            json!({"probe": "syscall_errno", "nr": libc::SYS_getpriority, "args": [libc::PRIO_PROCESS, 0], "errno": 0}),
        ),
        check(
            "linux.seccomp.defaultAction-allow",
            SECCOMP,
            "defaultAction SCMP_ACT_ALLOW lets unlisted syscalls through",
            json!({"probe": "syscall_errno", "nr": libc::SYS_getuid, "args": [], "errno": 0}),
        ),
    ];
    ctx.scenario(
        "linux-seccomp",
        |c| {
            c["linux"]["seccomp"] = json!({
                "defaultAction": "SCMP_ACT_ALLOW",
                "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                "syscalls": [
                    {"names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": 99},
                    {"names": ["getpgid"], "action": "SCMP_ACT_ERRNO"},
                    {"names": ["getpriority"], "action": "SCMP_ACT_ERRNO", "errnoRet": 98,
                     "args": [{"index": 0, "value": libc::PRIO_PGRP, "op": "SCMP_CMP_EQ"}]}
                ]
            });
        },
        checks,
    )
}

fn personality(ctx: &Ctx) -> Vec<TestResult> {
    const PER_LINUX32: u64 = 0x0008;
    let checks = vec![check(
        "linux.personality.linux32",
        "config-linux.md#personality",
        "personality domain LINUX32 sets the execution domain of the process",
        json!({"probe": "personality", "value": PER_LINUX32}),
    )];
    ctx.scenario(
        "linux-personality",
        |c| c["linux"]["personality"] = json!({"domain": "LINUX32"}),
        checks,
    )
}
