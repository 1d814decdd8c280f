//! socket(2): https://man7.org/linux/man-pages/man2/socket.2.html
//! The BSD socket calls (socket, socketpair, bind, listen, accept/accept4, connect,
//! getsockname, getpeername, shutdown, setsockopt/getsockopt) and the message calls
//! (send/recv through sendto/recvfrom, sendmsg/recvmsg, sendmmsg). Raw ABI only:
//! `sockaddr` bytes, `socklen_t` in/out, `msghdr`/`iovec` decoding; semantics are in
//! `uk_posix::socket`.

use crate::table::{row, Row};
use crate::{Args, Errno, KResult};
use alloc::vec::Vec;
use uk_abi::socket::{
    Cmsghdr, Mmsghdr, Msghdr, MSG_CMSG_CLOEXEC, MSG_CTRUNC, SCM_CREDENTIALS, SCM_RIGHTS,
    SOCKADDR_STORAGE_SIZE, SOL_SOCKET,
};
use uk_abi::sysno::{
    SYS_ACCEPT, SYS_ACCEPT4, SYS_BIND, SYS_CONNECT, SYS_GETPEERNAME, SYS_GETSOCKNAME,
    SYS_GETSOCKOPT, SYS_LISTEN, SYS_RECVFROM, SYS_RECVMSG, SYS_SENDMMSG, SYS_SENDMSG, SYS_SENDTO,
    SYS_SETSOCKOPT, SYS_SHUTDOWN, SYS_SOCKET, SYS_SOCKETPAIR,
};
use uk_abi::uio::IOV_MAX;
use uk_posix::process::current;
use uk_posix::socket::{self, Rights, Socket, SCM_MAX_FD};
use uk_posix::user;
use uk_posix::user::{UserBuf, UserPtr, UserSlice};

fn sock(fd_: usize) -> KResult<alloc::sync::Arc<dyn uk_posix::file::File>> {
    socket::get(fd_ as i32)
}

/// The `len` bytes of a `struct sockaddr *` from the program, copied.
fn addr_in(ptr: usize, len: usize) -> KResult<Vec<u8>> {
    if len as i32 <= 0 || len > SOCKADDR_STORAGE_SIZE {
        return Err(Errno::EINVAL);
    }
    UserSlice::new(ptr, len).to_vec()
}

/// Reads the in/out `socklen_t *` of an address result (EFAULT/EINVAL before the call
/// does anything).
fn addr_len_in(len_ptr: usize) -> KResult<u32> {
    let len: u32 = user::read(len_ptr)?;
    if (len as i32) < 0 {
        return Err(Errno::EINVAL);
    }
    Ok(len)
}

/// Copies an address result out: at most the caller's length, and the real length
/// into `*len_ptr`.
fn addr_out(ptr: usize, len_ptr: usize, cap: u32, bytes: &[u8]) -> KResult<()> {
    let n = bytes.len().min(cap as usize);
    user::copy_out(ptr, &bytes[..n])?;
    user::write(len_ptr, &(bytes.len() as u32))
}

pub fn sys_socket(a: &Args) -> KResult<usize> {
    socket::socket_fd(a[0] as i32, a[1] as u32, a[2] as i32).map(|f| f as usize)
}

pub fn sys_socketpair(a: &Args) -> KResult<usize> {
    user::check(a[3], 8, true)?;
    let (x, y) = socket::socketpair_fds(a[0] as i32, a[1] as u32, a[2] as i32)?;
    if let Err(e) = user::write(a[3], &[x, y]) {
        let _ = current().fds.close(x);
        let _ = current().fds.close(y);
        return Err(e);
    }
    Ok(0)
}

pub fn sys_bind(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    Socket::of(&f)?.bind(&addr_in(a[1], a[2])?)?;
    Ok(0)
}

pub fn sys_listen(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    Socket::of(&f)?.listen(a[1] as i32)?;
    Ok(0)
}

pub fn sys_connect(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    Socket::of(&f)?.connect(&addr_in(a[1], a[2])?)?;
    Ok(0)
}

fn accept(fd_: usize, addr: usize, len_ptr: usize, flags: u32) -> KResult<usize> {
    sock(fd_)?;
    let cap = if addr != 0 { addr_len_in(len_ptr)? } else { 0 };
    let (nfd, peer) = socket::accept_fd(fd_ as i32, flags)?;
    if addr != 0 {
        if let Err(e) = addr_out(addr, len_ptr, cap, &peer) {
            let _ = current().fds.close(nfd);
            return Err(e);
        }
    }
    Ok(nfd as usize)
}

pub fn sys_accept(a: &Args) -> KResult<usize> {
    accept(a[0], a[1], a[2], 0)
}

pub fn sys_accept4(a: &Args) -> KResult<usize> {
    accept(a[0], a[1], a[2], a[3] as u32)
}

pub fn sys_getsockname(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let cap = addr_len_in(a[2])?;
    let b = Socket::of(&f)?.local_addr()?;
    addr_out(a[1], a[2], cap, &b)?;
    Ok(0)
}

pub fn sys_getpeername(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let cap = addr_len_in(a[2])?;
    let b = Socket::of(&f)?.peer_addr()?;
    addr_out(a[1], a[2], cap, &b)?;
    Ok(0)
}

pub fn sys_shutdown(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    Socket::of(&f)?.shutdown(a[1] as i32)?;
    Ok(0)
}

pub fn sys_setsockopt(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let len = a[4] as u32 as i32;
    if len < 0 {
        return Err(Errno::EINVAL);
    }
    let val = UserSlice::new(a[3], (len as usize).min(256)).to_vec()?;
    Socket::of(&f)?.setsockopt(a[1] as i32, a[2] as i32, &val)?;
    Ok(0)
}

pub fn sys_getsockopt(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let cap = addr_len_in(a[4])?;
    let v = Socket::of(&f)?.getsockopt(a[1] as i32, a[2] as i32)?;
    let n = v.len().min(cap as usize);
    user::copy_out(a[3], &v[..n])?;
    user::write(a[4], &(n as u32))?;
    Ok(0)
}

pub fn sys_sendto(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let to = if a[4] != 0 {
        Some(addr_in(a[4], a[5])?)
    } else {
        None
    };
    Socket::of(&f)?.send(&UserBuf::new(a[1], a[2]), to.as_deref(), a[3] as u32)
}

pub fn sys_recvfrom(a: &Args) -> KResult<usize> {
    let f = sock(a[0])?;
    let cap = if a[4] != 0 { addr_len_in(a[5])? } else { 0 };
    let (n, from, _, _) = Socket::of(&f)?.recv(&mut UserBuf::new(a[1], a[2]), a[3] as u32)?;
    if a[4] != 0 {
        addr_out(a[4], a[5], cap, from.as_deref().unwrap_or(&[]))?;
    }
    Ok(n)
}

/// A `struct msghdr` and its iovecs as one buffer. More than IOV_MAX iovecs is
/// EMSGSIZE for the message calls (EINVAL for readv/writev).
fn read_msghdr(ptr: usize) -> KResult<(Msghdr, UserBuf)> {
    let h: Msghdr = UserPtr::new(ptr).read()?;
    if h.msg_iovlen > IOV_MAX as u64 {
        return Err(Errno::EMSGSIZE);
    }
    let buf = UserBuf::from_iovec(h.msg_iov as usize, h.msg_iovlen as usize)?;
    Ok((h, buf))
}

/// Largest control buffer a sendmsg may pass (Linux: net.core.optmem_max); more is
/// ENOBUFS.
const CONTROL_MAX: usize = 64 * 1024;

/// `CMSG_ALIGN`: control message headers and data are 8-byte aligned.
fn cmsg_align(n: usize) -> usize {
    (n + 7) & !7
}

/// The control messages of a sendmsg, as Linux's `__scm_send` reads them: SCM_RIGHTS
/// descriptors become the open files they name (now, so a close after sendmsg does not
/// matter; EBADF for one that is not open; EINVAL past SCM_MAX_FD in all), other levels
/// are ignored. SCM_CREDENTIALS is not implemented, so a message carrying it is refused
/// rather than delivered without it.
fn control_rights(m: &Msghdr) -> KResult<Rights> {
    let hdr = core::mem::size_of::<Cmsghdr>();
    let (control, len) = (m.msg_control as usize, m.msg_controllen as usize);
    let mut rights = Rights::default();
    if control == 0 || len < hdr {
        return Ok(rights);
    }
    if len > CONTROL_MAX {
        return Err(Errno::ENOBUFS);
    }
    let c = UserSlice::new(control, len).to_vec()?;
    let mut off = 0;
    while off + hdr <= c.len() {
        let (h, _) = uk_abi::FromBytes::read_from_prefix(&c[off..]).map_err(|_| Errno::EINVAL)?;
        let h: Cmsghdr = h;
        let clen = h.cmsg_len as usize;
        // CMSG_OK: a header that claims less than itself or more than is left.
        if clen < hdr || clen > c.len() - off {
            return Err(Errno::EINVAL);
        }
        if h.cmsg_level == SOL_SOCKET {
            match h.cmsg_type {
                SCM_RIGHTS => {
                    let data = &c[off + cmsg_align(hdr)..off + clen];
                    let fds = data.chunks_exact(4);
                    if rights.0.len() + fds.len() > SCM_MAX_FD {
                        return Err(Errno::EINVAL);
                    }
                    for fd in fds {
                        let fd = i32::from_ne_bytes([fd[0], fd[1], fd[2], fd[3]]);
                        rights.0.push(current().fds.get(fd)?);
                    }
                }
                SCM_CREDENTIALS => {
                    uk_log::warn_once!(
                        "sendmsg: SCM_CREDENTIALS is not supported by ukit (EOPNOTSUPP)"
                    );
                    return Err(Errno::EOPNOTSUPP);
                }
                _ => return Err(Errno::EINVAL),
            }
        }
        off += cmsg_align(clen);
    }
    Ok(rights)
}

fn sendmsg(fd_: usize, msg: usize, flags: u32) -> KResult<usize> {
    let f = sock(fd_)?;
    let s = Socket::of(&f)?;
    let (m, data) = read_msghdr(msg)?;
    let rights = control_rights(&m)?;
    let to = if m.msg_name != 0 && m.msg_namelen != 0 {
        Some(addr_in(m.msg_name as usize, m.msg_namelen as usize)?)
    } else {
        None
    };
    s.send_msg(&data, to.as_deref(), flags, rights)
}

/// Installs received files as new descriptors (lowest free; FD_CLOEXEC with
/// MSG_CMSG_CLOEXEC) and writes one SCM_RIGHTS message for them into the control
/// buffer, as Linux's `scm_detach_fds`: files that do not fit the buffer, or find no
/// free descriptor (EMFILE), are closed and MSG_CTRUNC is set. Returns the control
/// bytes used and the flags to add.
fn deliver_rights(m: &Msghdr, rights: Rights, cloexec: bool) -> KResult<(u64, u32)> {
    let hdr = core::mem::size_of::<Cmsghdr>();
    let len = m.msg_controllen as usize;
    if m.msg_control == 0 || rights.is_empty() {
        let flags = if rights.is_empty() { 0 } else { MSG_CTRUNC };
        return Ok((0, flags));
    }
    let room = if len > hdr { (len - hdr) / 4 } else { 0 };
    let p = current();
    let mut fds: Vec<i32> = Vec::new();
    let total = rights.0.len();
    for f in rights.0.into_iter().take(room) {
        match p.install(f, cloexec) {
            Ok(fd) => fds.push(fd),
            Err(_) => break,
        }
    }
    let flags = if fds.len() < total { MSG_CTRUNC } else { 0 };
    if fds.is_empty() {
        return Ok((0, flags));
    }
    let body = fds.len() * 4;
    let mut out = Vec::with_capacity(hdr + body);
    let h = Cmsghdr {
        cmsg_len: (hdr + body) as u64,
        cmsg_level: SOL_SOCKET,
        cmsg_type: SCM_RIGHTS,
    };
    out.extend_from_slice(uk_abi::IntoBytes::as_bytes(&h));
    for fd in &fds {
        out.extend_from_slice(&fd.to_ne_bytes());
    }
    if let Err(e) = user::copy_out(m.msg_control as usize, &out) {
        // Linux installs the descriptors before the copy; nobody could learn them.
        for fd in fds {
            let _ = p.fds.close(fd);
        }
        return Err(e);
    }
    // The descriptors were counted to fit; only the tail padding may be cut.
    Ok((cmsg_align(hdr + body).min(len) as u64, flags))
}

fn recvmsg(fd_: usize, msg: usize, flags: u32) -> KResult<usize> {
    let f = sock(fd_)?;
    let s = Socket::of(&f)?;
    let (m, mut data) = read_msghdr(msg)?;
    let hdr = UserPtr::<Msghdr>::new(msg);
    hdr.check_writable()?;
    let cloexec = flags & MSG_CMSG_CLOEXEC != 0;
    let flags = flags & !MSG_CMSG_CLOEXEC;
    let (n, from, out_flags, rights) = s.recv(&mut data, flags)?;
    let mut namelen = 0u32;
    if m.msg_name != 0 {
        if let Some(b) = from {
            let k = b.len().min(m.msg_namelen as usize);
            user::copy_out(m.msg_name as usize, &b[..k])?;
            namelen = b.len() as u32;
        }
    }
    let (controllen, ctrunc) = deliver_rights(&m, rights, cloexec)?;
    hdr.write(&Msghdr {
        msg_namelen: namelen,
        msg_controllen: controllen,
        msg_flags: (out_flags | ctrunc) as i32,
        ..m
    })?;
    Ok(n)
}

pub fn sys_sendmsg(a: &Args) -> KResult<usize> {
    sendmsg(a[0], a[1], a[2] as u32)
}

pub fn sys_recvmsg(a: &Args) -> KResult<usize> {
    recvmsg(a[0], a[1], a[2] as u32)
}

/// sendmmsg(2): sendmsg for each `struct mmsghdr` (msghdr + `msg_len`), stopping at the
/// first error after at least one message was sent.
pub fn sys_sendmmsg(a: &Args) -> KResult<usize> {
    sock(a[0])?;
    let vlen = a[2].min(IOV_MAX);
    let msgs = UserPtr::<Mmsghdr>::new(a[1]);
    let mut sent = 0;
    while sent < vlen {
        let h = msgs.at(sent)?;
        match sendmsg(a[0], h.addr(), a[3] as u32) {
            Ok(n) => {
                let mut m = h.read()?;
                m.msg_len = n as u32;
                h.write(&m)?;
            }
            Err(e) if sent == 0 => return Err(e),
            Err(_) => break,
        }
        sent += 1;
    }
    Ok(sent)
}

/// This family's rows of the system call table.
pub const ENTRIES: &[Row] = &[
    row(SYS_SOCKET, sys_socket),
    row(SYS_CONNECT, sys_connect),
    row(SYS_ACCEPT, sys_accept),
    row(SYS_SENDTO, sys_sendto),
    row(SYS_RECVFROM, sys_recvfrom),
    row(SYS_SENDMSG, sys_sendmsg),
    row(SYS_RECVMSG, sys_recvmsg),
    row(SYS_SHUTDOWN, sys_shutdown),
    row(SYS_BIND, sys_bind),
    row(SYS_LISTEN, sys_listen),
    row(SYS_GETSOCKNAME, sys_getsockname),
    row(SYS_GETPEERNAME, sys_getpeername),
    row(SYS_SOCKETPAIR, sys_socketpair),
    row(SYS_SETSOCKOPT, sys_setsockopt),
    row(SYS_GETSOCKOPT, sys_getsockopt),
    row(SYS_ACCEPT4, sys_accept4),
    row(SYS_SENDMMSG, sys_sendmmsg),
];

#[cfg(test)]
mod tests {
    use crate::dispatch;
    use crate::table::tests::buf;
    use uk_abi::sysno::{
        SYS_BIND, SYS_CLOSE, SYS_GETSOCKOPT, SYS_RECVFROM, SYS_RECVMSG, SYS_SENDMSG, SYS_SENDTO,
        SYS_SHUTDOWN, SYS_SOCKET, SYS_SOCKETPAIR,
    };
    use uk_abi::Errno;

    #[test]
    fn socketpair_send_recv_and_errors() {
        crate::table::tests::setup();
        let m = buf(4096);
        // socketpair(AF_UNIX, SOCK_STREAM, 0, sv)
        assert_eq!(dispatch(SYS_SOCKETPAIR, &[1, 1, 0, m, 0, 0]), 0);
        let sv: [i32; 2] = uk_posix::user::read(m).unwrap();
        let data = m + 64;
        // SAFETY: test buffer registered above.
        unsafe { core::ptr::copy_nonoverlapping(b"hello".as_ptr(), data as *mut u8, 5) };
        assert_eq!(dispatch(SYS_SENDTO, &[sv[0] as usize, data, 5, 0, 0, 0]), 5);
        let out = m + 256;
        // MSG_PEEK then a real read.
        assert_eq!(
            dispatch(SYS_RECVFROM, &[sv[1] as usize, out, 64, 2, 0, 0]),
            5
        );
        assert_eq!(
            dispatch(SYS_RECVFROM, &[sv[1] as usize, out, 64, 0x40, 0, 0]),
            5
        );
        assert_eq!(uk_posix::user::read::<[u8; 5]>(out), Ok(*b"hello"));
        assert_eq!(
            dispatch(SYS_RECVFROM, &[sv[1] as usize, out, 64, 0x40, 0, 0]),
            Errno::EAGAIN.as_neg(),
            "EAGAIN"
        );
        // getsockopt(SO_TYPE)
        let lenp = m + 512;
        uk_posix::user::write(lenp, &4u32).unwrap();
        assert_eq!(
            dispatch(SYS_GETSOCKOPT, &[sv[0] as usize, 1, 3, m + 520, lenp, 0]),
            0
        );
        assert_eq!(uk_posix::user::read::<i32>(m + 520), Ok(1));
        // Errors: bad fd, not a socket, bad pointer.
        assert_eq!(
            dispatch(SYS_BIND, &[999, data, 16, 0, 0, 0]),
            Errno::EBADF.as_neg(),
            "EBADF"
        );
        assert_eq!(
            dispatch(SYS_BIND, &[1, data, 16, 0, 0, 0]),
            Errno::ENOTSOCK.as_neg(),
            "ENOTSOCK"
        );
        assert_eq!(
            dispatch(SYS_SOCKETPAIR, &[1, 1, 0, 8, 0, 0]),
            Errno::EFAULT.as_neg(),
            "EFAULT"
        );
        assert_eq!(
            dispatch(SYS_SOCKET, &[77, 1, 0, 0, 0, 0]),
            Errno::EAFNOSUPPORT.as_neg(),
            "EAFNOSUPPORT"
        );
        // shutdown(SHUT_WR) -> the peer reads end of file.
        assert_eq!(dispatch(SYS_SHUTDOWN, &[sv[0] as usize, 1, 0, 0, 0, 0]), 0);
        assert_eq!(
            dispatch(SYS_RECVFROM, &[sv[1] as usize, out, 64, 0, 0, 0]),
            0
        );
        assert_eq!(dispatch(SYS_CLOSE, &[sv[0] as usize, 0, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_CLOSE, &[sv[1] as usize, 0, 0, 0, 0, 0]), 0);
    }

    #[test]
    fn msghdr_gather_scatter_on_dgram_pair() {
        crate::table::tests::setup();
        let m = buf(4096);
        assert_eq!(dispatch(SYS_SOCKETPAIR, &[1, 2, 0, m, 0, 0]), 0);
        let sv: [i32; 2] = uk_posix::user::read(m).unwrap();
        // Two iovecs "ab" + "cde".
        let d = m + 100;
        // SAFETY: test buffer registered above.
        unsafe { core::ptr::copy_nonoverlapping(b"abcde".as_ptr(), d as *mut u8, 5) };
        let iov = m + 200;
        uk_posix::user::write(iov, &[d, 2, d + 2, 3]).unwrap();
        let hdr = m + 300;
        uk_posix::user::write(hdr, &[0usize, 0, iov, 2, 0, 0, 0]).unwrap();
        assert_eq!(dispatch(SYS_SENDMSG, &[sv[0] as usize, hdr, 0, 0, 0, 0]), 5);
        // Receive into 2 + 2 bytes: MSG_TRUNC reported.
        let r = m + 1000;
        let riov = m + 400;
        uk_posix::user::write(riov, &[r, 2, r + 8, 2]).unwrap();
        let rh = m + 500;
        uk_posix::user::write(rh, &[0usize, 0, riov, 2, 0, 0, 0]).unwrap();
        assert_eq!(dispatch(SYS_RECVMSG, &[sv[1] as usize, rh, 0, 0, 0, 0]), 4);
        // SAFETY: as above.
        let got = unsafe { core::slice::from_raw_parts(r as *const u8, 10) };
        assert_eq!(&got[..2], b"ab");
        assert_eq!(&got[8..10], b"cd");
        assert_eq!(uk_posix::user::read::<i32>(rh + 48), Ok(0x20), "MSG_TRUNC");
        assert_eq!(dispatch(SYS_CLOSE, &[sv[0] as usize, 0, 0, 0, 0, 0]), 0);
        assert_eq!(dispatch(SYS_CLOSE, &[sv[1] as usize, 0, 0, 0, 0, 0]), 0);
    }
}
