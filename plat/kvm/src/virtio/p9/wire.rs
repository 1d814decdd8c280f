//! 9P2000.L messages on the wire: little-endian integers, strings as `len[2] bytes`,
//! every message `size[4] type[1] tag[2] body`.
//!
//! [`Writer`] builds a request into a fixed buffer and refuses (E2BIG... reported as
//! EINVAL by the caller) anything that would not fit; [`Reader`] takes a reply apart and
//! turns every length that points past the bytes the device wrote into EIO. Nothing here
//! indexes a slice without checking first, so a malformed reply can never panic.

pub use uk_abi::Errno;

/// Message types (requests; the reply is the request type + 1).
pub const TLERROR: u8 = 6;
pub const RLERROR: u8 = 7;
pub const TSTATFS: u8 = 8;
pub const TLOPEN: u8 = 12;
pub const TLCREATE: u8 = 14;
pub const TSYMLINK: u8 = 16;
pub const TREADLINK: u8 = 22;
pub const TGETATTR: u8 = 24;
pub const TSETATTR: u8 = 26;
pub const TREADDIR: u8 = 40;
pub const TFSYNC: u8 = 50;
pub const TLINK: u8 = 70;
pub const TMKDIR: u8 = 72;
pub const TRENAMEAT: u8 = 74;
pub const TUNLINKAT: u8 = 76;
pub const TVERSION: u8 = 100;
pub const TATTACH: u8 = 104;
pub const TWALK: u8 = 110;
pub const TREAD: u8 = 116;
pub const TWRITE: u8 = 118;
pub const TCLUNK: u8 = 120;

/// The tag of Tversion, and "no fid" for Tattach's afid.
pub const NOTAG: u16 = 0xffff;
pub const NOFID: u32 = 0xffff_ffff;

/// Tgetattr: the fields of `struct stat`.
pub const GETATTR_BASIC: u64 = 0x7ff;

/// Tsetattr `valid` bits.
pub const SETATTR_MODE: u32 = 0x1;
pub const SETATTR_UID: u32 = 0x2;
pub const SETATTR_GID: u32 = 0x4;
pub const SETATTR_SIZE: u32 = 0x8;
pub const SETATTR_ATIME: u32 = 0x10;
pub const SETATTR_MTIME: u32 = 0x20;
pub const SETATTR_ATIME_SET: u32 = 0x80;
pub const SETATTR_MTIME_SET: u32 = 0x100;

/// Bytes of a Tread/Rwrite header around the data: what a message of `msize` bytes
/// leaves for file data (the value Linux's client uses too).
pub const IOHDRSZ: usize = 24;

/// A server's file identity.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Qid {
    pub ty: u8,
    pub version: u32,
    pub path: u64,
}

/// Builds one request in `buf`. `finish` writes the size; `None` from it means the
/// request did not fit.
pub struct Writer<'a> {
    buf: &'a mut [u8],
    pos: usize,
    overflow: bool,
}

impl<'a> Writer<'a> {
    pub fn new(buf: &'a mut [u8], ty: u8, tag: u16) -> Writer<'a> {
        let mut w = Writer {
            buf,
            pos: 0,
            overflow: false,
        };
        w.u32(0);
        w.u8(ty);
        w.u16(tag);
        w
    }

    pub fn bytes(&mut self, b: &[u8]) {
        match self.buf.get_mut(self.pos..self.pos + b.len()) {
            Some(d) if !self.overflow => {
                d.copy_from_slice(b);
                self.pos += b.len();
            }
            _ => self.overflow = true,
        }
    }
    pub fn u8(&mut self, v: u8) {
        self.bytes(&[v]);
    }
    pub fn u16(&mut self, v: u16) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u32(&mut self, v: u32) {
        self.bytes(&v.to_le_bytes());
    }
    pub fn u64(&mut self, v: u64) {
        self.bytes(&v.to_le_bytes());
    }
    /// A string: `len[2] bytes`; longer than 65535 bytes is an overflow.
    pub fn str(&mut self, s: &[u8]) {
        match u16::try_from(s.len()) {
            Ok(n) => {
                self.u16(n);
                self.bytes(s);
            }
            Err(_) => self.overflow = true,
        }
    }

    /// Patch in the size; the message length, or `None` when it did not fit.
    pub fn finish(self) -> Option<usize> {
        if self.overflow {
            return None;
        }
        let n = self.pos as u32;
        self.buf.get_mut(..4)?.copy_from_slice(&n.to_le_bytes());
        Some(self.pos)
    }
}

/// Takes a reply apart; every read past the end is EIO.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], Errno> {
        let end = self.pos.checked_add(n).ok_or(Errno::EIO)?;
        let b = self.buf.get(self.pos..end).ok_or(Errno::EIO)?;
        self.pos = end;
        Ok(b)
    }
    pub fn u8(&mut self) -> Result<u8, Errno> {
        Ok(self.bytes(1)?[0])
    }
    pub fn u16(&mut self) -> Result<u16, Errno> {
        let b = self.bytes(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }
    pub fn u32(&mut self) -> Result<u32, Errno> {
        let b = self.bytes(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    pub fn u64(&mut self) -> Result<u64, Errno> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_le_bytes(a))
    }
    pub fn str(&mut self) -> Result<&'a [u8], Errno> {
        let n = self.u16()? as usize;
        self.bytes(n)
    }
    pub fn qid(&mut self) -> Result<Qid, Errno> {
        Ok(Qid {
            ty: self.u8()?,
            version: self.u32()?,
            path: self.u64()?,
        })
    }
}

/// Check a reply's header: the size field within the `len` bytes the device says it
/// wrote (and within the buffer), the tag ours, the type the expected reply or Rlerror.
/// Returns a reader over the body, or the error the reply carries (Rlerror's errno;
/// EIO for anything malformed).
pub fn open_reply(buf: &[u8], len: usize, tag: u16, want: u8) -> Result<Reader<'_>, Errno> {
    let avail = buf.get(..len).ok_or(Errno::EIO)?;
    let mut r = Reader::new(avail);
    let size = r.u32()? as usize;
    if size < 7 || size > avail.len() {
        return Err(Errno::EIO);
    }
    let ty = r.u8()?;
    let t = r.u16()?;
    if t != tag {
        return Err(Errno::EIO);
    }
    let body = Reader {
        buf: &avail[..size],
        pos: 7,
    };
    if ty == RLERROR {
        let mut b = body;
        let e = b.u32()?;
        return Err(if (1..4096).contains(&e) {
            Errno(e as i32)
        } else {
            Errno::EIO
        });
    }
    if ty != want {
        return Err(Errno::EIO);
    }
    Ok(body)
}

/// One entry of an Rreaddir payload.
#[derive(Debug, PartialEq, Eq)]
pub struct Dirent<'a> {
    pub qid: Qid,
    pub offset: u64,
    pub ty: u8,
    pub name: &'a [u8],
}

/// Parse one Rreaddir entry; names that could not come from a directory (empty, with
/// `/` or NUL) are EIO.
pub fn dirent<'a>(r: &mut Reader<'a>) -> Result<Dirent<'a>, Errno> {
    let qid = r.qid()?;
    let offset = r.u64()?;
    let ty = r.u8()?;
    let name = r.str()?;
    if name.is_empty() || name.iter().any(|&c| c == b'/' || c == 0) {
        return Err(Errno::EIO);
    }
    Ok(Dirent {
        qid,
        offset,
        ty,
        name,
    })
}

/// Convert the entries of an Rreaddir payload into `linux_dirent64` records in `out`
/// (d_ino = qid path, d_off = the entry's offset cookie). Stops at the first entry that
/// does not fit; returns the bytes written. EINVAL when not even one fits.
pub fn to_dirent64(mut data: Reader<'_>, out: &mut [u8]) -> Result<usize, Errno> {
    let mut n = 0;
    while data.remaining() > 0 {
        let d = dirent(&mut data)?;
        let reclen = (19 + d.name.len() + 1).div_ceil(8) * 8;
        let Some(rec) = out.get_mut(n..n + reclen) else {
            if n == 0 {
                return Err(Errno::EINVAL);
            }
            break;
        };
        rec.fill(0);
        rec[..8].copy_from_slice(&d.qid.path.to_le_bytes());
        rec[8..16].copy_from_slice(&d.offset.to_le_bytes());
        rec[16..18].copy_from_slice(&(reclen as u16).to_le_bytes());
        rec[18] = d.ty;
        rec[19..19 + d.name.len()].copy_from_slice(d.name);
        n += reclen;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(ty: u8, tag: u16, body: &[u8]) -> Vec<u8> {
        let mut v = ((7 + body.len()) as u32).to_le_bytes().to_vec();
        v.push(ty);
        v.extend_from_slice(&tag.to_le_bytes());
        v.extend_from_slice(body);
        v
    }

    #[test]
    fn writer_encodes_and_refuses_overflow() {
        let mut b = [0u8; 32];
        let mut w = Writer::new(&mut b, TWALK, 1);
        w.u32(5);
        w.u32(6);
        w.u16(1);
        w.str(b"ab");
        let n = w.finish().unwrap();
        assert_eq!(n, 21);
        assert_eq!(
            &b[..n],
            &[21, 0, 0, 0, TWALK, 1, 0, 5, 0, 0, 0, 6, 0, 0, 0, 1, 0, 2, 0, b'a', b'b']
        );
        let mut small = [0u8; 10];
        let mut w = Writer::new(&mut small, TWALK, 1);
        w.str(b"too long for ten bytes");
        assert_eq!(w.finish(), None);
        let mut big = vec![0u8; 70000];
        let mut w = Writer::new(&mut big, TWALK, 1);
        w.str(&[b'x'; 65536]);
        assert_eq!(w.finish(), None, "a string longer than u16 cannot be sent");
    }

    #[test]
    fn replies_are_checked_before_use() {
        let ok = reply(TCLUNK + 1, 1, &[]);
        assert!(open_reply(&ok, ok.len(), 1, TCLUNK + 1).is_ok());
        assert_eq!(
            open_reply(&ok, ok.len(), 2, TCLUNK + 1).err(),
            Some(Errno::EIO)
        );
        assert_eq!(
            open_reply(&ok, ok.len(), 1, TREAD + 1).err(),
            Some(Errno::EIO)
        );
        // The device claims fewer bytes than the size field.
        assert_eq!(open_reply(&ok, 5, 1, TCLUNK + 1).err(), Some(Errno::EIO));
        // The device claims more bytes than the buffer holds.
        assert_eq!(open_reply(&ok, 1000, 1, TCLUNK + 1).err(), Some(Errno::EIO));
        let mut huge = ok.clone();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            open_reply(&huge, huge.len(), 1, TCLUNK + 1).err(),
            Some(Errno::EIO)
        );
        let e = reply(RLERROR, 1, &2u32.to_le_bytes());
        assert_eq!(
            open_reply(&e, e.len(), 1, TCLUNK + 1).err(),
            Some(Errno::ENOENT)
        );
        let e = reply(RLERROR, 1, &0u32.to_le_bytes());
        assert_eq!(
            open_reply(&e, e.len(), 1, TCLUNK + 1).err(),
            Some(Errno::EIO)
        );
        let e = reply(RLERROR, 1, &[1]);
        assert_eq!(
            open_reply(&e, e.len(), 1, TCLUNK + 1).err(),
            Some(Errno::EIO)
        );
        // A body field that runs past the message (but inside the buffer) is EIO.
        let mut r = reply(TREADLINK + 1, 1, &[9, 0, b'a']);
        r.extend_from_slice(&[b'b'; 16]);
        let mut rd = open_reply(&r, r.len(), 1, TREADLINK + 1).unwrap();
        assert_eq!(rd.str().err(), Some(Errno::EIO));
    }

    fn entry(path: u64, off: u64, ty: u8, name: &[u8]) -> Vec<u8> {
        let mut v = vec![0u8; 13];
        v[5..13].copy_from_slice(&path.to_le_bytes());
        v.extend_from_slice(&off.to_le_bytes());
        v.push(ty);
        v.extend_from_slice(&(name.len() as u16).to_le_bytes());
        v.extend_from_slice(name);
        v
    }

    #[test]
    fn readdir_entries_become_dirent64_records() {
        let mut data = entry(7, 1, 4, b".");
        data.extend(entry(8, 2, 8, b"hello.txt"));
        let mut out = [0u8; 256];
        let n = to_dirent64(Reader::new(&data), &mut out).unwrap();
        assert_eq!(n, 24 + 32);
        assert_eq!(u64::from_le_bytes(out[..8].try_into().unwrap()), 7);
        assert_eq!(u16::from_le_bytes([out[16], out[17]]), 24);
        assert_eq!(&out[19..21], b".\0");
        assert_eq!(u64::from_le_bytes(out[32..40].try_into().unwrap()), 2);
        assert_eq!(out[24 + 18], 8);
        assert_eq!(&out[24 + 19..24 + 29], b"hello.txt\0");
        // Only the first fits: the second is left for the next call (by cookie).
        assert_eq!(to_dirent64(Reader::new(&data), &mut out[..40]), Ok(24));
        assert_eq!(
            to_dirent64(Reader::new(&data), &mut out[..10]),
            Err(Errno::EINVAL)
        );
        for bad in [&b""[..], b"a/b", b"a\0"] {
            let d = entry(1, 1, 8, bad);
            assert_eq!(to_dirent64(Reader::new(&d), &mut out), Err(Errno::EIO));
        }
        let mut cut = entry(1, 1, 8, b"name");
        cut.pop();
        assert_eq!(to_dirent64(Reader::new(&cut), &mut out), Err(Errno::EIO));
    }
}
