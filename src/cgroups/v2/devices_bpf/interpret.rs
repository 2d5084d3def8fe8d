//! Test support: run a compiled device filter the way the kernel would, for
//! only the instructions the compiler emits (anything else fails the test),
//! and check the structural rules the kernel's verifier enforces.

use super::insn::{
    Insn, CLASS_ALU, CLASS_ALU64, CLASS_JMP, CLASS_LDX, MODE_MEM, OP_AND, OP_EXIT, OP_JA, OP_JEQ,
    OP_JNE, OP_MOV, OP_RSH, SIZE_W, SRC_K, SRC_X,
};

/// The program's return value for the context
/// `struct bpf_cgroup_dev_ctx { access_type, major, minor }`.
pub fn run(program: &[Insn], access_type: u32, major: u32, minor: u32) -> u64 {
    let ctx = [access_type, major, minor];
    // R1 holds the context "pointer"; loads from it are checked against
    // this marker rather than real memory.
    const CTX: u64 = 0xc0_0000;
    let mut regs = [0u64; 11];
    regs[1] = CTX;
    let mut pc = 0usize;
    for _ in 0..100_000 {
        let insn = program
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} ran off the end"));
        let (dst, src) = (insn.dst() as usize, insn.src() as usize);
        pc += 1;
        match insn.code {
            c if c == CLASS_LDX | SIZE_W | MODE_MEM => {
                assert_eq!(regs[src], CTX, "load from a non-context register");
                let off = usize::try_from(insn.off).unwrap();
                assert!(off % 4 == 0 && off / 4 < ctx.len(), "ctx offset {off}");
                regs[dst] = u64::from(ctx[off / 4]);
            }
            c if c == CLASS_ALU | OP_AND | SRC_K => {
                regs[dst] = u64::from((regs[dst] as u32) & (insn.imm as u32));
            }
            c if c == CLASS_ALU | OP_RSH | SRC_K => {
                regs[dst] = u64::from((regs[dst] as u32) >> (insn.imm as u32));
            }
            c if c == CLASS_ALU64 | OP_MOV | SRC_X => regs[dst] = regs[src],
            c if c == CLASS_ALU64 | OP_MOV | SRC_K => regs[dst] = i64::from(insn.imm) as u64,
            c if c == CLASS_JMP | OP_JA => pc = jump(pc, insn),
            c if c == CLASS_JMP | OP_JEQ | SRC_K => {
                if regs[dst] == i64::from(insn.imm) as u64 {
                    pc = jump(pc, insn);
                }
            }
            c if c == CLASS_JMP | OP_JNE | SRC_K => {
                if regs[dst] != i64::from(insn.imm) as u64 {
                    pc = jump(pc, insn);
                }
            }
            c if c == CLASS_JMP | OP_EXIT => return regs[0],
            other => panic!("opcode {other:#04x} at {} not interpreted", pc - 1),
        }
    }
    panic!("program did not exit");
}

fn jump(pc: usize, insn: &Insn) -> usize {
    usize::try_from(pc as i64 + i64::from(insn.off)).unwrap()
}

/// The verifier's structural checks that a wrong compiler could break:
/// every jump lands inside the program, every instruction is reachable,
/// the program ends in an exit or jump, and there are no backward jumps.
pub fn check_structure(program: &[Insn]) {
    let mut reachable = vec![false; program.len()];
    reachable[0] = true;
    for (pc, insn) in program.iter().enumerate() {
        if !reachable[pc] {
            panic!("instruction {pc} is unreachable: {program:?}");
        }
        let is_exit = insn.code == CLASS_JMP | OP_EXIT;
        let is_ja = insn.code == CLASS_JMP | OP_JA;
        if insn.is_jump() {
            assert!(insn.off >= 0, "backward jump at {pc}");
            let target = pc + 1 + insn.off as usize;
            assert!(target < program.len(), "jump at {pc} out of the program");
            reachable[target] = true;
        }
        if !is_exit && !is_ja {
            assert!(pc + 1 < program.len(), "falls off the end at {pc}");
            reachable[pc + 1] = true;
        }
    }
}
