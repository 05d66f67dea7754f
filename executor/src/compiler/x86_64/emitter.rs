//! The buffer the compiler writes machine code into: dynasm's assembler traits over a `Vec<u8>`
//! that we own.
//!
//! dynasm's own `VecAssembler` gives its bytes away (`take`) and starts the next program with an
//! empty vector, so every compile allocated and page-faulted in megabytes of fresh buffer (Doom:
//! 2.3 MB of native code), and the bytes could only be patched after being taken out. Here the
//! buffer stays with the thread's scratch: the branch fixups and the jump table are patched in
//! place, the code is copied to its executable mapping from here, and the next compile writes
//! over the same pages. The label and relocation bookkeeping is dynasm's (`components`); we use
//! labels only for the few local jumps of the prologue and the longer instruction sequences.

use dynasmrt::components::{LabelRegistry, RelocRegistry, StaticLabel};
use dynasmrt::x64::X64Relocation;
use dynasmrt::{AssemblyOffset, DynamicLabel, DynasmApi, DynasmError, DynasmLabelApi, LabelKind, TargetKind};

/// Machine code being assembled, with dynasm's labels.
#[derive(Debug)]
pub(super) struct Emitter {
    code: Vec<u8>,
    labels: LabelRegistry,
    relocs: RelocRegistry<X64Relocation>,
    /// The first label error, reported by [`Emitter::commit`] (the traits' methods cannot fail).
    error: Option<DynasmError>,
}

impl Emitter {
    pub fn new() -> Emitter {
        Emitter { code: Vec::new(), labels: LabelRegistry::new(), relocs: RelocRegistry::new(), error: None }
    }

    /// Empties it for the next program, keeping its allocations.
    pub fn clear(&mut self) {
        self.code.clear();
        self.labels.clear();
        // A compile that failed may have left references unresolved.
        self.relocs.take_statics().for_each(drop);
        self.relocs.take_dynamics().for_each(drop);
        self.error = None;
    }

    /// Makes room for `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.code.reserve(additional);
    }

    /// Resolves every label reference made so far.
    pub fn commit(&mut self) -> Result<(), DynasmError> {
        if let Some(error) = self.error.take() {
            return Err(error);
        }
        // Base address 0: the code is position independent (label references are relative; the
        // absolute addresses are patched in by `CompiledProgram::finish`).
        for (location, label) in self.relocs.take_statics() {
            let target = self.labels.resolve_static(&label)?;
            let kind = if label.is_global() {
                TargetKind::Global(label.get_name())
            } else {
                TargetKind::Local(label.get_name())
            };
            location
                .patch(&mut self.code[location.range(0)], 0, target.0)
                .map_err(|_| DynasmError::ImpossibleRelocation(kind))?;
        }
        for (location, id) in self.relocs.take_dynamics() {
            let target = self.labels.resolve_dynamic(id)?;
            location
                .patch(&mut self.code[location.range(0)], 0, target.0)
                .map_err(|_| DynasmError::ImpossibleRelocation(TargetKind::Dynamic(id)))?;
        }
        Ok(())
    }

    /// Appends the first `length` bytes of `bytes`: one copy and a length update, where
    /// appending byte by byte (what dynasm's macros do) costs a capacity check and a length
    /// update per byte. For the hand-assembled hottest instructions, whose lengths are
    /// constants once inlined (see `encode::emit_with_rex`), so that the copy is of exactly
    /// the instruction's bytes.
    #[inline(always)]
    pub fn chunk(&mut self, bytes: [u8; 16], length: usize) {
        self.code.extend_from_slice(&bytes[..length]);
    }

    /// The code so far, to patch (after [`Emitter::commit`]).
    pub fn code_mut(&mut self) -> &mut [u8] {
        &mut self.code
    }
}

impl Extend<u8> for Emitter {
    #[inline]
    fn extend<T: IntoIterator<Item = u8>>(&mut self, iter: T) {
        self.code.extend(iter);
    }
}

impl<'a> Extend<&'a u8> for Emitter {
    #[inline]
    fn extend<T: IntoIterator<Item = &'a u8>>(&mut self, iter: T) {
        self.code.extend(iter);
    }
}

impl DynasmApi for Emitter {
    #[inline]
    fn offset(&self) -> AssemblyOffset {
        AssemblyOffset(self.code.len())
    }

    #[inline]
    fn push(&mut self, byte: u8) {
        self.code.push(byte);
    }

    fn align(&mut self, alignment: usize, with: u8) {
        let misalignment = self.code.len() % alignment;
        if misalignment != 0 {
            self.code.resize(self.code.len() + alignment - misalignment, with);
        }
    }

    // Immediates as one slice copy each, rather than through the generic `Extend`.
    #[inline]
    fn push_i16(&mut self, value: i16) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn push_i32(&mut self, value: i32) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn push_i64(&mut self, value: i64) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn push_u16(&mut self, value: u16) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn push_u32(&mut self, value: u32) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }

    #[inline]
    fn push_u64(&mut self, value: u64) {
        self.code.extend_from_slice(&value.to_le_bytes());
    }
}

impl DynasmLabelApi for Emitter {
    type Relocation = X64Relocation;

    fn local_label(&mut self, name: &'static str) {
        let offset = self.offset();
        self.labels.define_local(name, offset);
    }

    fn global_label(&mut self, name: &'static str) {
        let offset = self.offset();
        if let Err(error) = self.labels.define_global(name, offset) {
            self.error.get_or_insert(error);
        }
    }

    fn dynamic_label(&mut self, id: DynamicLabel) {
        let offset = self.offset();
        if let Err(error) = self.labels.define_dynamic(id, offset) {
            self.error.get_or_insert(error);
        }
    }

    fn global_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: X64Relocation,
    ) {
        let location = self.offset();
        let patch = dynasmrt::components::PatchLoc::new(location, target_offset, field_offset, ref_offset, kind);
        self.relocs.add_static(StaticLabel::global(name), patch);
    }

    fn dynamic_relocation(
        &mut self,
        id: DynamicLabel,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: X64Relocation,
    ) {
        let location = self.offset();
        let patch = dynasmrt::components::PatchLoc::new(location, target_offset, field_offset, ref_offset, kind);
        self.relocs.add_dynamic(id, patch);
    }

    fn forward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: X64Relocation,
    ) {
        let location = self.offset();
        // The next definition of `name`: after the latest one placed so far, or the first.
        let label = match self.labels.place_local_reference(name) {
            Some(label) => label.next(),
            None => StaticLabel::first(name),
        };
        let patch = dynasmrt::components::PatchLoc::new(location, target_offset, field_offset, ref_offset, kind);
        self.relocs.add_static(label, patch);
    }

    fn backward_relocation(
        &mut self,
        name: &'static str,
        target_offset: isize,
        field_offset: u8,
        ref_offset: u8,
        kind: X64Relocation,
    ) {
        let location = self.offset();
        let Some(label) = self.labels.place_local_reference(name) else {
            self.error.get_or_insert(DynasmError::UnknownLabel(LabelKind::Local(name)));
            return;
        };
        let patch = dynasmrt::components::PatchLoc::new(location, target_offset, field_offset, ref_offset, kind);
        self.relocs.add_static(label, patch);
    }

    fn value_relocation(&mut self, value: usize, field_offset: u8, ref_offset: u8, kind: X64Relocation) {
        let location = self.offset();
        let patch = dynasmrt::components::PatchLoc::new(location, 0, field_offset, ref_offset, kind);
        if patch.patch(&mut self.code[patch.range(0)], 0, value).is_err() {
            self.error.get_or_insert(DynasmError::ImpossibleRelocation(TargetKind::Value(value)));
        }
    }
}
