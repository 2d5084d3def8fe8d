//! Compile a device rule list into a BPF_PROG_TYPE_CGROUP_DEVICE program.
//!
//! Semantics (config-linux.md#allowed-device-list): rules are read in
//! order and the LAST rule that matches decides; nothing matches = deny.
//! (The v1 controller differs in one corner: there a deny only removes an
//! allow with the very same type and numbers, so `allow c 1:* r` then
//! `deny c 1:3 r` still lets 1:3 be read; here the deny wins.) A rule matches a device when its
//! type is the device's or `a`, and its major and minor are the device's or
//! wildcards.
//!
//! Access is decided one kind at a time: a request for `rw` (open with
//! O_RDWR) is allowed only if the last rule matching the device that names
//! `r` allows, and the last one naming `w` allows. So `allow c 1:3 rwm`
//! followed by `deny c 1:3 r` denies reads and read-writes, as on v1, and
//! `allow c 1:3 r` plus `allow c 1:3 w` allow `rw`.
//!
//! The program the kernel runs for each access (`struct bpf_cgroup_dev_ctx`
//! in linux/bpf.h: u32 access_type, u32 major, u32 minor):
//!
//! ```text
//!     r2 = access_type & 0xffff     device type: 1 block, 2 char
//!     r3 = access_type >> 16        access: 1 mknod, 2 read, 4 write
//!     r4 = major; r5 = minor
//!   for each access kind K in m, r, w:
//!     if !(r3 & K) goto next_K
//!     for each rule naming K, last first:
//!       if r2 != type  goto next_rule   (omitted for `a`)
//!       if r4 != major goto next_rule   (omitted for a wildcard)
//!       if r5 != minor goto next_rule   (omitted for a wildcard)
//!       goto allow ? next_K : deny
//!     next_rule:
//!     goto deny                         (no rule matched)
//!   next_K:
//!     return 1
//!   deny:
//!     return 0
//! ```
//! A rule with no condition at all (`a *:* K`) decides every request that
//! reaches it, so the rules before it are not emitted (the verifier rejects
//! code nothing reaches); `allow a *:* rwm` compiles to "return 1".

use super::assemble::Assembler;
use super::insn::{Insn, Reg};
use crate::cgroups::devices::DeviceRule;
use anyhow::Result;

/// `struct bpf_cgroup_dev_ctx` field offsets.
const CTX_ACCESS_TYPE: i16 = 0;
const CTX_MAJOR: i16 = 4;
const CTX_MINOR: i16 = 8;

/// `BPF_DEVCG_DEV_BLOCK`, `BPF_DEVCG_DEV_CHAR`: the low 16 bits of access_type.
pub const DEV_BLOCK: u32 = 1;
pub const DEV_CHAR: u32 = 2;
/// `BPF_DEVCG_ACC_*`: the high 16 bits of access_type.
pub const ACC_MKNOD: u32 = 1;
pub const ACC_READ: u32 = 2;
pub const ACC_WRITE: u32 = 4;

/// Each access letter of a rule and its `BPF_DEVCG_ACC_*` bit.
const ACCESS_KINDS: [(char, u32); 3] = [('m', ACC_MKNOD), ('r', ACC_READ), ('w', ACC_WRITE)];

const REG_TYPE: Reg = Reg::R2;
const REG_ACCESS: Reg = Reg::R3;
const REG_MAJOR: Reg = Reg::R4;
const REG_MINOR: Reg = Reg::R5;

/// The program for `rules` (already validated and in order).
pub fn compile(rules: &[DeviceRule]) -> Result<Vec<Insn>> {
    let mut asm = Assembler::default();
    let deny = asm.new_label();

    asm.emit(Insn::load_u32(REG_TYPE, Reg::R1, CTX_ACCESS_TYPE));
    asm.emit(Insn::and32_imm(REG_TYPE, 0xffff));
    asm.emit(Insn::load_u32(REG_ACCESS, Reg::R1, CTX_ACCESS_TYPE));
    asm.emit(Insn::rsh32_imm(REG_ACCESS, 16));
    asm.emit(Insn::load_u32(REG_MAJOR, Reg::R1, CTX_MAJOR));
    asm.emit(Insn::load_u32(REG_MINOR, Reg::R1, CTX_MINOR));

    for (letter, bit) in ACCESS_KINDS {
        let next_kind = asm.new_label();
        // Skip this kind when the request does not ask for it.
        asm.emit(Insn::mov64_reg(Reg::R0, REG_ACCESS));
        asm.emit(Insn::and32_imm(Reg::R0, bit as i32));
        asm.emit_jump(Insn::jeq_imm(Reg::R0, 0, 0), next_kind);
        let verdict_for = |rule: &DeviceRule| if rule.allow { next_kind } else { deny };

        let mut decided = false;
        for rule in rules.iter().rev().filter(|r| r.access.contains(letter)) {
            let Some(conditions) = conditions(rule) else {
                continue;
            };
            if conditions.is_empty() {
                asm.emit_jump(Insn::ja(0), verdict_for(rule));
                decided = true;
                break;
            }
            let next_rule = asm.new_label();
            for (reg, value) in conditions {
                asm.emit_jump(Insn::jne_imm(reg, value, 0), next_rule);
            }
            asm.emit_jump(Insn::ja(0), verdict_for(rule));
            asm.place(next_rule);
        }
        if !decided {
            asm.emit_jump(Insn::ja(0), deny);
        }
        asm.place(next_kind);
    }
    asm.emit(Insn::mov64_imm(Reg::R0, 1));
    asm.emit(Insn::exit());
    if asm.is_used(deny) {
        asm.place(deny);
        asm.emit(Insn::mov64_imm(Reg::R0, 0));
        asm.emit(Insn::exit());
    }
    asm.finish()
}

/// What a device must equal for `rule` to match it: (register, value)
/// pairs, none for wildcards. `None` when the rule can match no device.
fn conditions(rule: &DeviceRule) -> Option<Vec<(Reg, i32)>> {
    let mut conditions = Vec::new();
    match rule.kind {
        'b' => conditions.push((REG_TYPE, DEV_BLOCK as i32)),
        'c' => conditions.push((REG_TYPE, DEV_CHAR as i32)),
        _ => {} // `a`: block and char
    }
    for (reg, number) in [(REG_MAJOR, rule.major), (REG_MINOR, rule.minor)] {
        if let Some(number) = number {
            // The jump compares 64-bit registers with a sign-extended 32-bit
            // immediate. Linux device numbers are far smaller (12-bit majors,
            // 20-bit minors), so a number beyond i32 matches no device, which
            // is exactly what leaving the rule out means.
            let value = i32::try_from(number).ok()?;
            conditions.push((reg, value));
        }
    }
    Some(conditions)
}

#[cfg(test)]
mod tests {
    use super::super::interpret::{check_structure, run};
    use super::*;

    fn rule(
        allow: bool,
        kind: char,
        major: Option<i64>,
        minor: Option<i64>,
        a: &str,
    ) -> DeviceRule {
        DeviceRule {
            allow,
            kind,
            major,
            minor,
            access: a.to_string(),
        }
    }

    /// Whether the program for `rules` allows `access` ("r", "rw", "m") to
    /// the device `kind major:minor`.
    fn allows(rules: &[DeviceRule], kind: char, major: u32, minor: u32, access: &str) -> bool {
        let program = compile(rules).unwrap();
        check_structure(&program);
        let dev_type = if kind == 'b' { DEV_BLOCK } else { DEV_CHAR };
        let access_bits = access
            .chars()
            .map(|c| ACCESS_KINDS.iter().find(|(l, _)| *l == c).unwrap().1)
            .fold(0, |a, b| a | b);
        match run(&program, (access_bits << 16) | dev_type, major, minor) {
            1 => true,
            0 => false,
            other => panic!("program returned {other}"),
        }
    }

    #[test]
    fn no_rules_deny_everything() {
        for access in ["r", "w", "m", "rwm"] {
            assert!(!allows(&[], 'c', 1, 3, access), "{access}");
            assert!(!allows(&[], 'b', 8, 0, access), "{access}");
        }
    }

    #[test]
    fn allow_all_is_a_tiny_program_that_allows_everything() {
        let rules = [rule(true, 'a', None, None, "rwm")];
        assert!(allows(&rules, 'b', 8, 0, "rwm"));
        assert!(allows(&rules, 'c', 4095, 1048575, "r"));
        // 6 loads + 3 x (3 kind checks + 1 verdict) + return 1.
        assert_eq!(compile(&rules).unwrap().len(), 6 + 3 * 4 + 2);
    }

    #[test]
    fn the_last_matching_rule_wins() {
        let deny_read_last = [
            rule(true, 'c', Some(1), Some(3), "rwm"),
            rule(false, 'c', Some(1), Some(3), "r"),
        ];
        assert!(!allows(&deny_read_last, 'c', 1, 3, "r"));
        assert!(allows(&deny_read_last, 'c', 1, 3, "w"));
        assert!(allows(&deny_read_last, 'c', 1, 3, "m"));
        assert!(!allows(&deny_read_last, 'c', 1, 3, "rw"));
        assert!(!allows(&deny_read_last, 'c', 1, 5, "w"));

        let allow_last = [
            rule(false, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(1), Some(3), "rwm"),
        ];
        assert!(allows(&allow_last, 'c', 1, 3, "rw"));

        let deny_all_then_allow_one = [
            rule(false, 'a', None, None, "rwm"),
            rule(true, 'c', Some(1), Some(3), "rw"),
        ];
        assert!(allows(&deny_all_then_allow_one, 'c', 1, 3, "rw"));
        assert!(!allows(&deny_all_then_allow_one, 'c', 1, 3, "m"));
        assert!(!allows(&deny_all_then_allow_one, 'c', 1, 5, "r"));

        let allow_all_then_deny_one = [
            rule(true, 'a', None, None, "rwm"),
            rule(false, 'c', Some(1), Some(3), "w"),
        ];
        assert!(allows(&allow_all_then_deny_one, 'c', 1, 3, "r"));
        assert!(!allows(&allow_all_then_deny_one, 'c', 1, 3, "w"));
        assert!(!allows(&allow_all_then_deny_one, 'c', 1, 3, "rw"));
        assert!(allows(&allow_all_then_deny_one, 'b', 1, 3, "w"));
        assert!(allows(&allow_all_then_deny_one, 'c', 1, 4, "w"));
    }

    #[test]
    fn access_is_decided_per_kind() {
        let split = [
            rule(true, 'c', Some(1), Some(3), "r"),
            rule(true, 'c', Some(1), Some(3), "w"),
        ];
        assert!(allows(&split, 'c', 1, 3, "rw"));
        assert!(!allows(&split, 'c', 1, 3, "rwm"));
        assert!(!allows(&split, 'c', 1, 3, "m"));
    }

    #[test]
    fn wildcards_and_type_a() {
        let ptys = [rule(true, 'c', Some(136), None, "rw")];
        assert!(allows(&ptys, 'c', 136, 5, "rw"));
        assert!(!allows(&ptys, 'c', 137, 5, "r"));
        assert!(!allows(&ptys, 'b', 136, 5, "r"));

        let any_major_minor_zero = [rule(true, 'b', None, Some(0), "m")];
        assert!(allows(&any_major_minor_zero, 'b', 9, 0, "m"));
        assert!(!allows(&any_major_minor_zero, 'b', 9, 1, "m"));
        assert!(!allows(&any_major_minor_zero, 'c', 9, 0, "m"));

        let both_types = [rule(true, 'a', Some(1), Some(3), "r")];
        assert!(allows(&both_types, 'b', 1, 3, "r"));
        assert!(allows(&both_types, 'c', 1, 3, "r"));
        assert!(!allows(&both_types, 'c', 1, 3, "w"));
    }

    #[test]
    fn a_number_no_device_can_have_never_matches() {
        let rules = [
            rule(true, 'a', None, None, "r"),
            rule(false, 'c', Some(1 << 40), None, "r"),
        ];
        assert!(allows(&rules, 'c', 0, 0, "r"));
        let rules = [rule(true, 'c', Some(1), Some(i64::from(u32::MAX) + 3), "r")];
        assert!(!allows(&rules, 'c', 1, 3, "r"));
    }
}
