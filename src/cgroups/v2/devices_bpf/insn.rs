//! eBPF instructions (`struct bpf_insn` of linux/bpf.h), only the few kinds
//! the device filter needs.
//!
//! An instruction is 8 bytes: an opcode, the destination and source
//! registers packed in one byte, a signed 16-bit offset (jumps: how many
//! instructions to skip after this one; loads: the byte offset) and a signed
//! 32-bit immediate.

/// Registers the filter uses. On entry R1 points at the context
/// (`struct bpf_cgroup_dev_ctx`); R0 is the return value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Reg {
    R0 = 0,
    R1 = 1,
    R2 = 2,
    R3 = 3,
    R4 = 4,
    R5 = 5,
}

// Opcode parts (linux/bpf_common.h and linux/bpf.h). An opcode is
// class | operation | source (or class | size | mode for loads).
/// Class: load into a register from memory.
pub const CLASS_LDX: u8 = 0x01;
/// Class: 32-bit arithmetic (the upper half of the destination is zeroed).
pub const CLASS_ALU: u8 = 0x04;
/// Class: 64-bit jumps and exit.
pub const CLASS_JMP: u8 = 0x05;
/// Class: 64-bit arithmetic.
pub const CLASS_ALU64: u8 = 0x07;
/// Load size: 4 bytes.
pub const SIZE_W: u8 = 0x00;
/// Load mode: from memory at register + offset.
pub const MODE_MEM: u8 = 0x60;
/// Operand is the immediate.
pub const SRC_K: u8 = 0x00;
/// Operand is the source register.
pub const SRC_X: u8 = 0x08;
pub const OP_AND: u8 = 0x50;
pub const OP_RSH: u8 = 0x70;
pub const OP_MOV: u8 = 0xb0;
/// Unconditional jump (`ja`).
pub const OP_JA: u8 = 0x00;
pub const OP_JEQ: u8 = 0x10;
pub const OP_JNE: u8 = 0x50;
pub const OP_EXIT: u8 = 0x90;

/// One instruction, laid out as the kernel reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(C)]
pub struct Insn {
    pub code: u8,
    /// `dst_reg:4, src_reg:4` as C bit fields: the first field takes the
    /// low bits on little-endian machines and the high bits on big-endian ones.
    regs: u8,
    pub off: i16,
    pub imm: i32,
}

impl Insn {
    fn new(code: u8, dst: Reg, src: Reg, off: i16, imm: i32) -> Insn {
        let (dst, src) = (dst as u8, src as u8);
        let regs = if cfg!(target_endian = "little") {
            dst | (src << 4)
        } else {
            (dst << 4) | src
        };
        Insn {
            code,
            regs,
            off,
            imm,
        }
    }

    #[cfg(test)]
    pub fn dst(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs & 0x0f
        } else {
            self.regs >> 4
        }
    }

    #[cfg(test)]
    pub fn src(&self) -> u8 {
        if cfg!(target_endian = "little") {
            self.regs >> 4
        } else {
            self.regs & 0x0f
        }
    }

    /// `dst = *(u32 *)(src + off)`, zero-extended to 64 bits.
    pub fn load_u32(dst: Reg, src: Reg, off: i16) -> Insn {
        Insn::new(CLASS_LDX | SIZE_W | MODE_MEM, dst, src, off, 0)
    }

    /// `dst = (u32)dst & imm`.
    pub fn and32_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(CLASS_ALU | OP_AND | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst = (u32)dst >> imm`.
    pub fn rsh32_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(CLASS_ALU | OP_RSH | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `dst = src` (64 bits).
    pub fn mov64_reg(dst: Reg, src: Reg) -> Insn {
        Insn::new(CLASS_ALU64 | OP_MOV | SRC_X, dst, src, 0, 0)
    }

    /// `dst = imm` (sign-extended to 64 bits).
    pub fn mov64_imm(dst: Reg, imm: i32) -> Insn {
        Insn::new(CLASS_ALU64 | OP_MOV | SRC_K, dst, Reg::R0, 0, imm)
    }

    /// `if dst == imm goto +off` (64-bit compare, imm sign-extended).
    pub fn jeq_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(CLASS_JMP | OP_JEQ | SRC_K, dst, Reg::R0, off, imm)
    }

    /// `if dst != imm goto +off` (64-bit compare, imm sign-extended).
    pub fn jne_imm(dst: Reg, imm: i32, off: i16) -> Insn {
        Insn::new(CLASS_JMP | OP_JNE | SRC_K, dst, Reg::R0, off, imm)
    }

    /// `goto +off`.
    pub fn ja(off: i16) -> Insn {
        Insn::new(CLASS_JMP | OP_JA, Reg::R0, Reg::R0, off, 0)
    }

    /// `return R0`.
    pub fn exit() -> Insn {
        Insn::new(CLASS_JMP | OP_EXIT, Reg::R0, Reg::R0, 0, 0)
    }

    /// Whether this is a jump whose `off` names a target.
    #[cfg(test)]
    pub fn is_jump(&self) -> bool {
        self.code & 0x07 == CLASS_JMP && self.code & 0xf0 != OP_EXIT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_as_the_kernel_lays_out_struct_bpf_insn() {
        assert_eq!(std::mem::size_of::<Insn>(), 8);
        // r2 = *(u32 *)(r1 + 4): opcode 0x61, dst 2 (low nibble), src 1.
        let insn = Insn::load_u32(Reg::R2, Reg::R1, 4);
        assert_eq!(
            (insn.code, insn.dst(), insn.src(), insn.off),
            (0x61, 2, 1, 4)
        );
        // SAFETY: Insn is repr(C) with no padding (1 + 1 + 2 + 4 bytes) and
        // every byte pattern of it is initialised, so viewing it as bytes is sound.
        let bytes: [u8; 8] = unsafe { std::mem::transmute(insn) };
        if cfg!(target_endian = "little") {
            assert_eq!(bytes, [0x61, 0x12, 4, 0, 0, 0, 0, 0]);
        }
        assert_eq!(Insn::exit().code, 0x95);
        assert_eq!(Insn::mov64_imm(Reg::R0, 1).code, 0xb7);
        assert_eq!(Insn::mov64_reg(Reg::R0, Reg::R3).code, 0xbf);
        assert_eq!(Insn::jne_imm(Reg::R4, 1, 2).code, 0x55);
        assert_eq!(Insn::jeq_imm(Reg::R0, 0, 2).code, 0x15);
        assert_eq!(Insn::and32_imm(Reg::R2, 0xffff).code, 0x54);
        assert_eq!(Insn::rsh32_imm(Reg::R3, 16).code, 0x74);
        assert_eq!(Insn::ja(3).code, 0x05);
        assert!(Insn::ja(3).is_jump() && !Insn::exit().is_jump());
    }
}
