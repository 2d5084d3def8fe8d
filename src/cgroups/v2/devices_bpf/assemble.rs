//! A tiny assembler: instructions plus named jump targets (labels), so the
//! compiler can jump forward to code it has not emitted yet. Jumps are
//! patched with their relative offsets in `finish`.

use super::insn::Insn;
use anyhow::{bail, Result};

/// A jump target, placed once with `Assembler::place`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Label(usize);

#[derive(Default)]
pub struct Assembler {
    insns: Vec<Insn>,
    /// Where each label was placed (an instruction index), by label number.
    places: Vec<Option<usize>>,
    /// (index of a jump instruction, the label it jumps to).
    jumps: Vec<(usize, Label)>,
}

impl Assembler {
    pub fn new_label(&mut self) -> Label {
        self.places.push(None);
        Label(self.places.len() - 1)
    }

    /// The next instruction emitted is `label`'s target.
    pub fn place(&mut self, label: Label) {
        self.places[label.0] = Some(self.insns.len());
    }

    pub fn emit(&mut self, insn: Insn) {
        self.insns.push(insn);
    }

    /// Emit a jump instruction (built with any offset) that goes to `label`.
    pub fn emit_jump(&mut self, insn: Insn, label: Label) {
        self.jumps.push((self.insns.len(), label));
        self.insns.push(insn);
    }

    /// Whether some jump goes to `label` (the verifier rejects code that
    /// nothing reaches, so the compiler emits a target only when it is used).
    pub fn is_used(&self, label: Label) -> bool {
        self.jumps.iter().any(|(_, l)| *l == label)
    }

    /// The program with every jump's offset filled in.
    pub fn finish(mut self) -> Result<Vec<Insn>> {
        for (at, label) in &self.jumps {
            let Some(target) = self.places[label.0] else {
                bail!("device filter: jump at {at} to a label never placed");
            };
            // A jump's offset counts from the instruction after it.
            let off = target as i64 - (*at as i64 + 1);
            let Ok(off) = i16::try_from(off) else {
                bail!("device filter: jump at {at} too far ({off} instructions)");
            };
            self.insns[*at].off = off;
        }
        Ok(self.insns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cgroups::v2::devices_bpf::insn::Reg;

    #[test]
    fn jumps_get_offsets_relative_to_the_next_instruction() {
        let mut asm = Assembler::default();
        let end = asm.new_label();
        let start = asm.new_label();
        asm.place(start);
        asm.emit_jump(Insn::ja(0), end);
        asm.emit(Insn::mov64_imm(Reg::R0, 0));
        asm.emit_jump(Insn::jeq_imm(Reg::R0, 0, 0), start);
        asm.place(end);
        asm.emit(Insn::exit());
        assert!(asm.is_used(end));
        let insns = asm.finish().unwrap();
        assert_eq!(insns[0].off, 2);
        assert_eq!(insns[2].off, -3);
    }

    #[test]
    fn a_label_never_placed_is_an_error() {
        let mut asm = Assembler::default();
        let nowhere = asm.new_label();
        assert!(!asm.is_used(nowhere));
        asm.emit_jump(Insn::ja(0), nowhere);
        assert!(asm.finish().is_err());
    }
}
