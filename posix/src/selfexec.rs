//! execve of the image itself: a new process that runs the image's own program from
//! the start (docs/processes.md, "execve of the image itself").
//!
//! A program often starts itself again: CPython's `subprocess.run([sys.executable,
//! ...])`, a server re-executing its binary. The image is a static non-PIE program that
//! the loader cannot place a second time (its code and data sit at their link
//! addresses), but it does not have to: the code is already there, and only the
//! program's writable data (`Platform::program_data`) differs per process. A file whose
//! GNU build id is the running image's is such an execve: the new process gets a view
//! of the data range with fresh frames holding the file's initial `.data` and a zeroed
//! `.bss` (crate::view, as a fork child gets a copy), a new stack and argument block, and
//! enters musl's start-up as the boot program did.

use crate::file::File;
use crate::mm::AddressSpace;
use crate::{Errno, KResult};
use alloc::vec::Vec;
use object::elf::{FileHeader64, ET_EXEC, NT_GNU_BUILD_ID, PT_LOAD, PT_NOTE};
use object::read::elf::{FileHeader, ProgramHeader};
use object::LittleEndian as LE;

/// The running image: its program headers (address, count) and its build id.
struct Image {
    phdr: usize,
    phnum: usize,
    build_id: Vec<u8>,
}

static IMAGE: spin::Once<Image> = spin::Once::new();

/// Tell the loader about the running image (boot: the program headers the platform
/// passed; the build id is read from the PT_NOTE segment they name, in memory).
///
/// # Safety
/// `phdr` must point at `phnum` valid 56-byte program headers of the running image,
/// whose PT_NOTE segments are mapped at their addresses.
pub unsafe fn set_image(phdr: usize, phnum: usize) {
    let mut build_id = Vec::new();
    for i in 0..phnum {
        let h = phdr + i * 56;
        // SAFETY: inside the program header table (caller's guarantee).
        let (ty, va, sz) = unsafe {
            (
                core::ptr::read_unaligned(h as *const u32),
                core::ptr::read_unaligned((h + 16) as *const u64) as usize,
                core::ptr::read_unaligned((h + 32) as *const u64) as usize,
            )
        };
        if ty == PT_NOTE && sz > 0 && sz < 4096 {
            // SAFETY: a PT_NOTE segment of the running image, mapped (caller's
            // guarantee); the size was bounded above.
            let notes = unsafe { core::slice::from_raw_parts(va as *const u8, sz) };
            if let Some(id) = gnu_build_id(notes) {
                build_id = id.to_vec();
            }
        }
    }
    IMAGE.call_once(|| Image {
        phdr,
        phnum,
        build_id,
    });
}

/// The descriptor of NT_GNU_BUILD_ID in a note segment's bytes (name "GNU").
fn gnu_build_id(mut notes: &[u8]) -> Option<&[u8]> {
    let word = |b: &[u8], i: usize| -> Option<usize> {
        Some(u32::from_le_bytes(b.get(i..i + 4)?.try_into().ok()?) as usize)
    };
    let align = |n: usize| (n + 3) & !3;
    while notes.len() >= 12 {
        let (namesz, descsz, ty) = (word(notes, 0)?, word(notes, 4)?, word(notes, 8)?);
        let name_end = 12usize.checked_add(align(namesz))?;
        let desc_end = name_end.checked_add(align(descsz))?;
        if desc_end > notes.len() {
            return None;
        }
        if ty == NT_GNU_BUILD_ID as usize && notes.get(12..12 + namesz)? == b"GNU\0" && descsz > 0 {
            return notes.get(name_end..name_end + descsz);
        }
        notes = &notes[desc_end..];
    }
    None
}

/// Read exactly `buf.len()` bytes of `f` at `off` (EIO when the file is shorter).
fn read_at(f: &dyn File, mut buf: &mut [u8], mut off: u64) -> KResult<()> {
    while !buf.is_empty() {
        let n = f.pread(&mut buf, off)?;
        if n == 0 {
            return Err(Errno::EIO);
        }
        buf = &mut core::mem::take(&mut buf)[n..];
        off += n as u64;
    }
    Ok(())
}

/// The program headers of an x86-64 ET_EXEC file (`head`: its first 64 bytes), or None
/// when it is something else.
fn program_headers(f: &dyn File, head: &[u8]) -> KResult<Option<Vec<u8>>> {
    let Ok(h) = FileHeader64::<LE>::parse(head) else {
        return Ok(None);
    };
    let Ok(e) = h.endian() else {
        return Ok(None);
    };
    if h.e_machine(e) != object::elf::EM_X86_64 || h.e_type(e) != ET_EXEC {
        return Ok(None);
    }
    let (off, n) = (h.e_phoff(e), h.e_phnum(e) as usize);
    if usize::from(h.e_phentsize(e)) != 56 || n == 0 || n > 64 {
        return Ok(None);
    }
    let mut phs = alloc::vec![0u8; n * 56];
    read_at(f, &mut phs, off)?;
    Ok(Some(phs))
}

/// The program headers of `phs` as (type, file offset, vaddr, file size, memory size).
fn each_header(phs: &[u8]) -> impl Iterator<Item = (u32, u64, usize, usize, usize)> + '_ {
    phs.chunks_exact(56).filter_map(|c| {
        let ph = object::pod::from_bytes::<object::elf::ProgramHeader64<LE>>(c)
            .ok()?
            .0;
        Some((
            ph.p_type(LE),
            ph.p_offset(LE),
            ph.p_vaddr(LE) as usize,
            ph.p_filesz(LE) as usize,
            ph.p_memsz(LE) as usize,
        ))
    })
}

/// Is the file (`head`: its first 64 bytes) the running image? Only a file with the
/// same GNU build id is: an image without one is never recognised.
pub fn is_image(f: &dyn File, head: &[u8]) -> KResult<bool> {
    let Some(me) = IMAGE.get().filter(|i| !i.build_id.is_empty()) else {
        return Ok(false);
    };
    let Some(phs) = program_headers(f, head)? else {
        return Ok(false);
    };
    for (ty, off, _, fsz, _) in each_header(&phs) {
        if ty == PT_NOTE && fsz > 0 && fsz < 4096 {
            let mut notes = alloc::vec![0u8; fsz];
            read_at(f, &mut notes, off)?;
            if gnu_build_id(&notes) == Some(&me.build_id[..]) {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Set up `mm` (new, active) to run the image's program again from file `f` (the
/// image): the image's segments as static ranges, as at boot, and the program's data
/// range with fresh frames holding the file's initial bytes. Returns the program
/// headers' address and count for the auxiliary vector.
pub fn build(f: &dyn File, head: &[u8], mm: &AddressSpace) -> KResult<(usize, usize)> {
    let me = IMAGE.get().ok_or(Errno::ENOEXEC)?;
    let (start, end) = crate::lifecycle::program_data().ok_or_else(|| {
        uk_log::warn_once!(
            "execve of the image itself: its program data is not linked apart from the kernel's: ENOEXEC"
        );
        Errno::ENOEXEC
    })?;
    let phs = program_headers(f, head)?.ok_or(Errno::ENOEXEC)?;
    // SAFETY: the running image's program headers (recorded at boot).
    unsafe {
        uk_boot::for_each_segment(me.phdr, me.phnum, |s| {
            mm.add_static_range(s.start, s.end, s.writable)
        })
    };
    // The boot program's own data must not be lost when another view is shown there.
    crate::process::init()
        .mm
        .adopt_program_data_of_boot(start, end)?;
    mm.new_program_data(start, end, |frame| {
        for (ty, off, va, fsz, _) in each_header(&phs) {
            if ty != PT_LOAD || fsz == 0 {
                continue;
            }
            // The part of the segment's file bytes inside [start, end).
            let (a, b) = (va.max(start), (va + fsz).min(end));
            if a < b {
                // SAFETY: [frame + (a - start), +(b - a)) lies in the fresh frames of the
                // data range, which the caller owns until this returns.
                let dst = unsafe {
                    core::slice::from_raw_parts_mut((frame + (a - start)) as *mut u8, b - a)
                };
                read_at(f, dst, off + (a - va) as u64)?;
            }
        }
        Ok(())
    })?;
    Ok((me.phdr, me.phnum))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn build_ids_are_found_among_notes() {
        let mut notes = Vec::new();
        // An unrelated note first ("Xen", type 5, 4 bytes), then the build id.
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&5u32.to_le_bytes());
        notes.extend_from_slice(b"Xen\0");
        notes.extend_from_slice(&[1, 2, 3, 4]);
        notes.extend_from_slice(&4u32.to_le_bytes());
        notes.extend_from_slice(&3u32.to_le_bytes());
        notes.extend_from_slice(&(NT_GNU_BUILD_ID).to_le_bytes());
        notes.extend_from_slice(b"GNU\0");
        notes.extend_from_slice(&[9, 8, 7, 0]);
        assert_eq!(gnu_build_id(&notes), Some(&[9u8, 8, 7][..]));
        assert_eq!(gnu_build_id(&notes[..20]), None);
        assert_eq!(gnu_build_id(b""), None);
    }
}
