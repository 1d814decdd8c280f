//! The lwIP instance: the core lock, the C functions lwIP calls (`sys_now`, memory,
//! random numbers, assertions), one netif per network device, and the "net" thread.

use alloc::boxed::Box;
use alloc::collections::VecDeque;
use alloc::vec::Vec;
use core::cell::UnsafeCell;
use core::ffi::{c_char, c_void};
use core::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use uk_lwip_sys as sys;
use uk_netdev::Interface;
use uk_sched::WaitQueue;

use crate::{addr, config};

/// The core lock: held around every lwIP call (lwIP's callbacks run inside it).
static CORE: spin::Mutex<()> = spin::Mutex::new(());
/// Wakes the net thread when a socket call armed an lwIP timer earlier than the one the
/// thread sleeps for.
static KICK: WaitQueue = WaitQueue::new();
/// When the net thread will wake up by itself (monotonic ns; u64::MAX: never).
static NET_DEADLINE: AtomicU64 = AtomicU64::new(u64::MAX);
static STARTED: AtomicBool = AtomicBool::new(false);
/// Set when a send left its segments queued for the net thread to transmit
/// ([`output`]); cleared by the net thread's flush.
static TX_DEFERRED: AtomicBool = AtomicBool::new(false);
/// When lwIP's next timer is due (monotonic ns; u64::MAX: none armed). Written under
/// the core lock after every round of lwIP calls, read without it by [`progress`].
static TIMER_DUE: AtomicU64 = AtomicU64::new(u64::MAX);
/// A device still had frames when its last round of input stopped at the budget.
static RX_MORE: AtomicBool = AtomicBool::new(false);
/// Frames one [`progress`] call feeds to lwIP at most (per device): a caller that must
/// not block does a bounded amount of the net thread's work.
const PROGRESS_BUDGET: usize = 64;
/// Frames one round of the net thread feeds to lwIP at most (per device).
const THREAD_BUDGET: usize = 256;

/// A buffer only touched under the core lock (frames in and out: no 9 KiB stack
/// buffer, zeroed on every call, per frame).
struct CoreBuf(UnsafeCell<[u8; FRAME_MAX]>);
// SAFETY: only used with CORE held (one user at a time).
unsafe impl Sync for CoreBuf {}
static RX_BUF: CoreBuf = CoreBuf(UnsafeCell::new([0; FRAME_MAX]));
static TX_BUF: CoreBuf = CoreBuf(UnsafeCell::new([0; FRAME_MAX]));

/// Where a TCP send stages bytes taken from its source (program memory, checked at the
/// copy) before lwIP copies them into its segments. Core lock held.
struct Stage(UnsafeCell<[u8; STAGE]>);
// SAFETY: only used with CORE held (one user at a time).
unsafe impl Sync for Stage {}
static STAGE_BUF: Stage = Stage(UnsafeCell::new([0; STAGE]));
/// Bytes staged per lwIP write.
pub(crate) const STAGE: usize = 16 * 1024;

/// The staging buffer. The caller holds the core lock (inside [`locked`]) and does not
/// keep the slice past it.
pub(crate) fn stage() -> &'static mut [u8] {
    // SAFETY: the core lock is held by the caller, so no one else uses STAGE_BUF, and
    // the slice does not outlive that lock (callers drop it within `locked`).
    unsafe { &mut *STAGE_BUF.0.get() }
}

/// Runs `f` under the core lock, then delivers loopback traffic `f` produced and makes
/// sure the net thread wakes for any timer `f` armed.
pub(crate) fn locked<R>(f: impl FnOnce() -> R) -> R {
    let g = CORE.lock();
    let r = f();
    after_calls();
    drop(g);
    r
}

fn now_ns() -> u64 {
    uk_plat::get().monotonic_ns()
}

/// True while some TCP connection still has data that is not sent or not yet
/// acknowledged by the peer (closed sockets included: lwIP finishes them on its own).
pub fn tcp_output_pending() -> bool {
    let _g = CORE.lock();
    // SAFETY: core lock held; lwIP's active list is a NULL-terminated chain of live pcbs.
    unsafe {
        let mut pcb = sys::tcp_active_pcbs;
        let mut budget = 1 << 16; // a corrupt list must not loop for ever
        while !pcb.is_null() && budget > 0 {
            if !(*pcb).unsent.is_null() || !(*pcb).unacked.is_null() {
                return true;
            }
            pcb = (*pcb).next;
            budget -= 1;
        }
    }
    false
}

/// Before the image stops: give TCP up to `max_ns` to deliver what the program wrote
/// (on Linux the kernel keeps sending after a process exits; a unikernel that stops
/// at once would cut replies short). Other threads, the net thread among them, run
/// meanwhile.
pub fn drain(max_ns: u64) {
    if !STARTED.load(Ordering::Relaxed) {
        return;
    }
    let deadline = now_ns().saturating_add(max_ns);
    while tcp_output_pending() && now_ns() < deadline {
        KICK.wake_all();
        let _ = uk_sched::block(Some(now_ns().saturating_add(1_000_000).min(deadline)));
    }
}

/// Unsent bytes up to which a send may leave its segments for the net thread: below
/// this, a response written in pieces (nginx: headers by writev, then the body by
/// sendfile) leaves as one segment instead of one per call; at or above it, TCP starts
/// sending at once so that bulk transfers stream while the program still writes.
const DEFER_MAX: u32 = 8 * sys::TCP_MSS;

/// True when `pcb`'s peer is this image itself (loopback, or one of its own addresses,
/// which lwIP also delivers through loopback): such data must be readable by the peer
/// socket as soon as send returns, as on Linux.
fn local_peer(pcb: &sys::tcp_pcb) -> bool {
    #[cfg(test)]
    if tests_hooks::DEFER_LOCAL.load(Ordering::Relaxed) {
        return false;
    }
    let r = addr::from_lwip(&pcb.remote_ip);
    r.is_loopback() || r == addr::from_lwip(&pcb.local_ip)
}

/// Transmits what a send queued on `pcb`, now or at the end of the caller's run.
///
/// Deferred: when the net thread runs (the program blocked or yielded; cooperative
/// scheduling, so that is when its burst of socket calls ends), [`flush_deferred`]
/// calls `tcp_output` for every connection with unsent data. Pieces written in one
/// burst then leave in full segments, one host write per segment instead of one per
/// call. Not deferred: loopback peers, more than [`DEFER_MAX`] bytes unsent, or no net
/// thread (nothing would flush).
///
/// # Safety
/// Core lock held; `pcb` is a live connected pcb.
pub(crate) unsafe fn output(pcb: *mut sys::tcp_pcb) {
    // SAFETY: per the contract.
    let p = unsafe { &*pcb };
    let unsent = p.snd_lbb.wrapping_sub(p.snd_nxt);
    if !STARTED.load(Ordering::Relaxed) || unsent >= DEFER_MAX || local_peer(p) {
        // SAFETY: per the contract.
        unsafe { sys::tcp_output(pcb) };
        return;
    }
    if !TX_DEFERRED.swap(true, Ordering::Relaxed) {
        KICK.wake_all();
    }
}

/// Sends what [`output`] left queued: `tcp_output` on every active connection with
/// unsent data (lwIP applies its own window, Nagle and persist rules). Core lock held.
fn flush_deferred() {
    if !TX_DEFERRED.swap(false, Ordering::Relaxed) {
        return;
    }
    // SAFETY: core lock held; lwIP's active list is a NULL-terminated chain of live
    // pcbs, and tcp_output neither frees pcbs nor unlinks them.
    unsafe {
        let mut pcb = sys::tcp_active_pcbs;
        let mut budget = 1 << 16; // a corrupt list must not loop for ever
        while !pcb.is_null() && budget > 0 {
            if !(*pcb).unsent.is_null() {
                sys::tcp_output(pcb);
            }
            pcb = (*pcb).next;
            budget -= 1;
        }
    }
}

/// Loopback delivery and the net thread's timer; called with the core lock held.
fn after_calls() {
    poll_loopback();
    trim_time_wait();
    if !STARTED.load(Ordering::Relaxed) {
        return;
    }
    if let Some(d) = next_timer() {
        if d < NET_DEADLINE.load(Ordering::Relaxed) {
            KICK.wake_all();
        }
    }
}

/// When lwIP's next timer is due (monotonic ns), also kept in [`TIMER_DUE`]. Core lock
/// held.
fn next_timer() -> Option<u64> {
    // SAFETY: core lock held.
    let sleep = unsafe { sys::sys_timeouts_sleeptime() };
    let due = (sleep != u32::MAX).then(|| now_ns().saturating_add(sleep as u64 * 1_000_000));
    TIMER_DUE.store(due.unwrap_or(u64::MAX), Ordering::Relaxed);
    due
}

/// Network progress for a caller that will not block: a poll, select or epoll_wait
/// with a zero timeout (`flush_tx`), or a non-blocking receive, accept or send that
/// found nothing to do. Cooperative scheduling runs the net thread only when the
/// program blocks, so a program that polls without ever blocking would never see its
/// input; here the caller does a bounded share of the net thread's work itself:
/// - received frames, at most [`PROGRESS_BUDGET`] per device, from devices that say a
///   look is due (`NetDevice::rx_check_due`: free on kvm, rate-limited on linuxu where a
///   look is a host call) or that had frames left last time;
/// - lwIP's timers (retransmission, delayed ACKs, keepalive) when one is due;
/// - with `flush_tx`, the output deferred to the end of the program's burst of calls
///   ([`output`]): a zero-timeout poll is such an end.
///
/// When none of these has anything to do, the cost is a few atomic loads and a clock
/// read. Returns true when frames were fed to lwIP or timers ran (readiness may have
/// changed: the caller looks again).
pub fn progress(flush_tx: bool) -> bool {
    if !STARTED.load(Ordering::Relaxed) {
        return false;
    }
    let timers = now_ns() >= TIMER_DUE.load(Ordering::Relaxed);
    let tx = flush_tx && TX_DEFERRED.load(Ordering::Relaxed);
    let more = RX_MORE.load(Ordering::Relaxed);
    // Bit n: interface n is worth a look (there are at most MAX_NET_DEVICES).
    let mut due = 0u32;
    for (n, i) in uk_netdev::interfaces().iter().enumerate().take(32) {
        if more || i.rx_check_due() {
            due |= 1 << n;
        }
    }
    let parked = parked_due();
    if !timers && !tx && due == 0 && !parked {
        return false;
    }
    let g = CORE.lock();
    if tx {
        flush_deferred();
    }
    if parked {
        retry_parked();
    }
    let fed = if due == 0 {
        0
    } else {
        poll_devices(PROGRESS_BUDGET, |n| n < 32 && due & (1 << n) != 0)
    };
    if timers {
        // SAFETY: core lock held.
        unsafe { sys::sys_check_timeouts() };
    }
    after_calls();
    drop(g);
    fed > 0 || timers || parked
}

/// Delivers packets queued on loopback (and answers they cause), a bounded number of
/// rounds. Core lock held.
fn poll_loopback() {
    for _ in 0..64 {
        // SAFETY: core lock held; netif_list is lwIP's list of live netifs.
        let pending = unsafe {
            let mut n = sys::netif_list;
            let mut any = false;
            while !n.is_null() {
                any |= !(*n).loop_first.is_null();
                n = (*n).next;
            }
            any
        };
        if !pending {
            return;
        }
        // SAFETY: core lock held.
        unsafe { sys::netif_poll_all() };
    }
}

// ---- C functions lwIP calls -----------------------------------------------------------

/// lwIP's clock: milliseconds, wrapping.
#[no_mangle]
pub extern "C" fn sys_now() -> u32 {
    (now_ns() / 1_000_000) as u32
}

const HDR: usize = 16;

/// `mem_malloc` and every memp pool: the kernel heap, with the size in a 16-byte header
/// so that `uk_net_free` can rebuild the layout. NULL when the heap is exhausted (lwIP
/// turns that into ERR_MEM, the socket layer into ENOMEM/EAGAIN).
#[no_mangle]
pub extern "C" fn uk_net_malloc(size: usize) -> *mut c_void {
    let Some(total) = size.checked_add(HDR) else {
        return core::ptr::null_mut();
    };
    let Ok(layout) = core::alloc::Layout::from_size_align(total, HDR) else {
        return core::ptr::null_mut();
    };
    // SAFETY: non-zero size (>= HDR).
    let p = unsafe { alloc::alloc::alloc(layout) };
    if p.is_null() {
        return core::ptr::null_mut();
    }
    // SAFETY: p has room for the header; it is 16-aligned.
    unsafe {
        (p as *mut usize).write(total);
        p.add(HDR) as *mut c_void
    }
}

#[no_mangle]
pub extern "C" fn uk_net_calloc(count: usize, size: usize) -> *mut c_void {
    let Some(n) = count.checked_mul(size) else {
        return core::ptr::null_mut();
    };
    let p = uk_net_malloc(n);
    if !p.is_null() {
        // SAFETY: p points to n writable bytes.
        unsafe { core::ptr::write_bytes(p as *mut u8, 0, n) };
    }
    p
}

/// # Safety
/// `p` is NULL or came from [`uk_net_malloc`]/[`uk_net_calloc`] and is freed once.
#[no_mangle]
pub unsafe extern "C" fn uk_net_free(p: *mut c_void) {
    if p.is_null() {
        return;
    }
    // SAFETY: per the contract, the header sits HDR bytes before p.
    unsafe {
        let base = (p as *mut u8).sub(HDR);
        let total = (base as *const usize).read();
        alloc::alloc::dealloc(
            base,
            core::alloc::Layout::from_size_align_unchecked(total, HDR),
        );
    }
}

/// The key of [`uk_net_tcp_isn`]'s hash, drawn from the kernel CSPRNG on first use.
static ISN_KEY: spin::Once<[u8; 16]> = spin::Once::new();

/// LWIP_HOOK_TCP_ISN: the initial sequence number of a new connection, made as Linux
/// makes it (docs/net.md, "TCP as Linux does it"): a keyed hash of the four-tuple, so it
/// cannot be guessed from outside, plus a clock that advances one every 64 ns, so that
/// a new connection between the same two ports starts above where an old one left off
/// (a peer's TIME_WAIT takes its SYN as new: see `tcp::uk_net_tcp_inpacket` for ours).
///
/// # Safety
/// lwIP passes its pcb's two addresses, valid for the call.
#[no_mangle]
pub unsafe extern "C" fn uk_net_tcp_isn(
    local_ip: *const sys::ip_addr_t,
    local_port: u16,
    remote_ip: *const sys::ip_addr_t,
    remote_port: u16,
) -> u32 {
    use core::hash::Hasher;
    let key = ISN_KEY.call_once(|| {
        let mut k = [0u8; 16];
        uk_random::fill(&mut k);
        k
    });
    let mut h = siphasher::sip::SipHasher24::new_with_key(key);
    for ip in [local_ip, remote_ip] {
        if !ip.is_null() {
            // SAFETY: per the contract.
            match addr::from_lwip(unsafe { &*ip }) {
                core::net::IpAddr::V4(a) => h.write(&a.octets()),
                core::net::IpAddr::V6(a) => h.write(&a.octets()),
            }
        }
    }
    h.write_u16(local_port);
    h.write_u16(remote_port);
    (h.finish() as u32).wrapping_add((now_ns() >> 6) as u32)
}

/// LWIP_RAND (ephemeral ports, DHCP xids): the kernel CSPRNG.
#[no_mangle]
pub extern "C" fn uk_net_rand() -> u32 {
    let mut b = [0u8; 4];
    uk_random::fill(&mut b);
    u32::from_ne_bytes(b)
}

fn c_str(p: *const c_char) -> &'static str {
    if p.is_null() {
        return "?";
    }
    // SAFETY: lwIP passes string literals (message and __FILE__).
    unsafe { core::ffi::CStr::from_ptr(p) }
        .to_str()
        .unwrap_or("?")
}

/// LWIP_PLATFORM_ASSERT: an lwIP invariant broke; stop through the kernel panic path.
#[no_mangle]
pub extern "C" fn uk_net_assert(msg: *const c_char, file: *const c_char, line: i32) -> ! {
    panic!(
        "lwIP assertion failed: {} ({}:{line})",
        c_str(msg),
        c_str(file)
    )
}

// ---- netifs over lib/netdev -------------------------------------------------------------

/// lwIP's two-letter name of the netifs made here (loopback is `lo`).
const OUR_NAME: [c_char; 2] = [b'e' as c_char, b'n' as c_char];

/// Largest frame handled: header + VLAN tag + 1500-byte MTU, with slack for bigger MTUs.
const FRAME_MAX: usize = 9216 + 18;

fn iface_of(netif: *mut sys::netif) -> Option<&'static Interface> {
    // SAFETY: `state` holds the interface index set in add_device.
    let i = unsafe { (*netif).state } as usize;
    uk_netdev::interfaces().get(i)
}

unsafe extern "C" fn linkoutput(netif: *mut sys::netif, p: *mut sys::pbuf) -> sys::err_t {
    let Some(iface) = iface_of(netif) else {
        return sys::err_enum_t::ERR_IF as sys::err_t;
    };
    // SAFETY: p is a valid pbuf chain given by lwIP for the duration of the call.
    let (len, single) = unsafe { ((*p).tot_len as usize, (*p).next.is_null()) };
    let frame: &[u8] = if single {
        // One pbuf (the usual case: lwIP builds headers and copied data in one): hand
        // its bytes to the device as they are.
        // SAFETY: a lone pbuf's payload holds tot_len (== len) bytes, alive for the call.
        unsafe { core::slice::from_raw_parts((*p).payload as *const u8, len) }
    } else {
        if len > FRAME_MAX {
            return sys::err_enum_t::ERR_BUF as sys::err_t;
        }
        // SAFETY: linkoutput runs inside lwIP, so under the core lock, which guards
        // TX_BUF; the buffer has room for len bytes.
        unsafe {
            let buf = &mut *TX_BUF.0.get();
            let n = sys::pbuf_copy_partial(p, buf.as_mut_ptr() as *mut c_void, len as u16, 0);
            &buf[..n as usize]
        }
    };
    match iface.transmit(frame) {
        Ok(()) => sys::err_enum_t::ERR_OK as sys::err_t,
        Err(_) => sys::err_enum_t::ERR_IF as sys::err_t,
    }
}

unsafe extern "C" fn netif_init(netif: *mut sys::netif) -> sys::err_t {
    let Some(iface) = iface_of(netif) else {
        return sys::err_enum_t::ERR_IF as sys::err_t;
    };
    // SAFETY: lwIP hands us the netif being added; we fill in the link layer.
    unsafe {
        let n = &mut *netif;
        n.hwaddr = iface.mac();
        n.hwaddr_len = 6;
        n.mtu = iface.mtu();
        n.mtu6 = iface.mtu();
        n.name = OUR_NAME;
        n.flags = (sys::NETIF_FLAG_BROADCAST
            | sys::NETIF_FLAG_ETHARP
            | sys::NETIF_FLAG_ETHERNET
            | sys::NETIF_FLAG_MLD6) as u8;
        n.output = Some(sys::etharp_output);
        n.output_ip6 = Some(sys::ethip6_output);
        n.linkoutput = Some(linkoutput);
    }
    sys::err_enum_t::ERR_OK as sys::err_t
}

/// Adds the netif for interface `idx`, configured from the boot options (first device
/// only: static address or DHCP). Core lock held.
fn add_device(idx: usize, iface: &Interface, cfg: &config::NetConfig) {
    let netif: *mut sys::netif = Box::leak(Box::new(sys::netif::default()));
    let (ip, mask, gw) = match (idx, cfg.ip) {
        (0, Some((ip, p))) => (ip, config::netmask(p), cfg.gw.unwrap_or(ZERO)),
        _ => (ZERO, ZERO, ZERO),
    };
    let (ip, mask, gw) = (addr::ip4(ip), addr::ip4(mask), addr::ip4(gw));
    // SAFETY: core lock held; netif lives forever (leaked); callbacks are ours.
    unsafe {
        if sys::netif_add(
            netif,
            &ip,
            &mask,
            &gw,
            idx as *mut c_void,
            Some(netif_init),
            Some(sys::ethernet_input),
        )
        .is_null()
        {
            uk_log::warn!("net: cannot add an interface for {}", iface.name());
            return;
        }
        (*netif).ip6_autoconfig_enabled = 1;
        sys::netif_create_ip6_linklocal_address(netif, 1);
        if idx == 0 {
            sys::netif_set_default(netif);
        }
        sys::netif_set_up(netif);
        if iface.link_up() {
            sys::netif_set_link_up(netif);
        }
        if idx == 0 && cfg.dhcp {
            sys::dhcp_start(netif);
        }
    }
    uk_log::info!(
        "net: {} up, mac {:02x?}, mtu {}",
        iface.name(),
        iface.mac(),
        iface.mtu()
    );
}

const ZERO: core::net::Ipv4Addr = core::net::Ipv4Addr::UNSPECIFIED;

/// The netif lwIP keeps for interface `idx` (by its state word).
fn netif_for(idx: usize) -> *mut sys::netif {
    // SAFETY: core lock held by the caller; walks lwIP's netif list.
    unsafe {
        let mut n = sys::netif_list;
        while !n.is_null() {
            if (*n).state as usize == idx && (*n).name == OUR_NAME {
                return n;
            }
            n = (*n).next;
        }
    }
    core::ptr::null_mut()
}

/// Feeds up to `budget` received frames of each device `pick` selects (by index) into
/// lwIP, and records in [`RX_MORE`] whether a device had frames left. Returns how many
/// frames were fed. Core lock held.
fn poll_devices(budget: usize, pick: impl Fn(usize) -> bool) -> usize {
    let mut more = false;
    let mut fed = 0;
    // SAFETY: core lock held by the caller: RX_BUF is ours.
    let buf = unsafe { &mut *RX_BUF.0.get() };
    for (idx, iface) in uk_netdev::interfaces().iter().enumerate() {
        let netif = netif_for(idx);
        if netif.is_null() || !pick(idx) {
            continue;
        }
        let mut n = 0;
        while n < budget {
            let Some(len) = iface.receive(buf) else {
                break;
            };
            n += 1;
            input_frame(netif, &buf[..len]);
        }
        fed += n;
        more |= n == budget;
    }
    RX_MORE.store(more, Ordering::Relaxed);
    fed
}

/// Hands one received frame to lwIP; then ends a TIME_WAIT connection that the TCP
/// hook asked to end, and hands the frame over once more if it was a new SYN for it;
/// or keeps a SYN the hook parked (see [`PARKED`]). Core lock held.
fn input_frame(netif: *mut sys::netif, frame: &[u8]) {
    input_frame_at(netif, frame, None);
}

/// [`input_frame`] for a frame that first arrived at `arrived` (monotonic ns; None:
/// now, read only if the frame is parked): a parked SYN keeps its first arrival time
/// however often it is parked again.
fn input_frame_at(netif: *mut sys::netif, frame: &[u8], arrived: Option<u64>) {
    for _ in 0..2 {
        // SAFETY: core lock held; the pbuf is filled before lwIP sees it, and freed
        // here when lwIP refuses it (lwIP owns it on ERR_OK).
        unsafe {
            let len = frame.len() as u16;
            let p = sys::pbuf_alloc(sys::pbuf_layer_PBUF_RAW, len, sys::pbuf_type_PBUF_POOL);
            if p.is_null() {
                return; // out of memory: drop, TCP retransmits
            }
            sys::pbuf_take(p, frame.as_ptr() as *const c_void, len);
            let input = (*netif).input.expect("netif_add set input");
            DEVICE_INPUT.store(true, Ordering::Relaxed);
            if input(p, netif) != sys::err_enum_t::ERR_OK as sys::err_t {
                sys::pbuf_free(p);
            }
            DEVICE_INPUT.store(false, Ordering::Relaxed);
        }
        if PARK_NOW.swap(false, Ordering::Relaxed) {
            // SAFETY: core lock held; a netif of ours keeps its index as its state.
            let idx = unsafe { (*netif).state } as usize;
            park(idx, frame, arrived.unwrap_or_else(now_ns));
            return;
        }
        if !end_time_wait() {
            return;
        }
    }
}

/// SYNs that found their listener's accept queue full, kept to be handed to lwIP again
/// when the program accepts (docs/net.md, "A full accept queue"). Linux drops such a
/// SYN and the client sends it again a second later; passt never sends a SYN again (it
/// resets the connection after 10 s), so a burst of connections larger than the
/// backlog would lose the rest. Oldest first; at most [`PARKED_MAX`], each for at most
/// [`PARKED_TTL_NS`]. Core lock held.
static PARKED: spin::Mutex<VecDeque<Parked>> = spin::Mutex::new(VecDeque::new());
/// `PARKED.len()`, read without the lock by [`accepted`].
static PARKED_LEN: AtomicUsize = AtomicUsize::new(0);
/// Set by the TCP hook (through [`request_park`]) for the frame being handed over.
static PARK_NOW: AtomicBool = AtomicBool::new(false);
/// Connections the program has accepted, and the count when parked SYNs were last
/// handed over: each accept makes room for one.
static ACCEPTED: AtomicU64 = AtomicU64::new(0);
static RETRIED_AT: AtomicU64 = AtomicU64::new(0);
/// Linux's somaxconn: no more SYNs wait than one listener could have queued.
const PARKED_MAX: usize = 4096;
/// A client gives up on a SYN after about this (passt: 10 s); older ones are dropped.
const PARKED_TTL_NS: u64 = 10_000_000_000;

struct Parked {
    arrived: u64,
    idx: usize,
    frame: Vec<u8>,
}

/// From the TCP input hook: the SYN being handed over found its listener's accept
/// queue full; keep it for later instead of dropping it. Only for device input (a
/// loopback frame cannot be handed over again): false then, and the caller drops it.
pub(crate) fn request_park() -> bool {
    if !DEVICE_INPUT.load(Ordering::Relaxed) {
        return false;
    }
    PARK_NOW.store(true, Ordering::Relaxed);
    true
}

/// Keeps a parked SYN (the oldest goes when the queue is full). Core lock held.
fn park(idx: usize, frame: &[u8], arrived: u64) {
    let mut q = PARKED.lock();
    if q.len() >= PARKED_MAX {
        q.pop_front();
    }
    q.push_back(Parked {
        arrived,
        idx,
        frame: frame.to_vec(),
    });
    PARKED_LEN.store(q.len(), Ordering::Relaxed);
}

/// The program accepted a connection: a parked SYN may now find room.
pub(crate) fn accepted() {
    ACCEPTED.fetch_add(1, Ordering::Relaxed);
    if PARKED_LEN.load(Ordering::Relaxed) > 0 {
        KICK.wake_all();
    }
}

/// True when accepts made room since parked SYNs were last handed over.
fn parked_due() -> bool {
    PARKED_LEN.load(Ordering::Relaxed) > 0
        && ACCEPTED.load(Ordering::Relaxed) != RETRIED_AT.load(Ordering::Relaxed)
}

/// Hands as many parked SYNs to lwIP again as connections were accepted since the last
/// time (a SYN whose listener is still full is parked again). Core lock held.
fn retry_parked() {
    if !parked_due() {
        return;
    }
    let acc = ACCEPTED.load(Ordering::Relaxed);
    let room = acc.wrapping_sub(RETRIED_AT.swap(acc, Ordering::Relaxed)) as usize;
    let now = now_ns();
    let batch: Vec<Parked> = {
        let mut q = PARKED.lock();
        q.retain(|p| now.saturating_sub(p.arrived) < PARKED_TTL_NS);
        let n = room.min(q.len());
        let b = q.drain(..n).collect();
        PARKED_LEN.store(q.len(), Ordering::Relaxed);
        b
    };
    for p in batch {
        let netif = netif_for(p.idx);
        if !netif.is_null() {
            input_frame_at(netif, &p.frame, Some(p.arrived));
        }
    }
}

/// True while lwIP processes a frame from a device (which [`input_frame`] can hand
/// over again), false for loopback input.
static DEVICE_INPUT: AtomicBool = AtomicBool::new(false);
/// A TIME_WAIT pcb the TCP hook asked to end after the current frame, and whether the
/// frame is to be handed over again. Core lock held (atomics for `static` only).
static END_TW: core::sync::atomic::AtomicPtr<sys::tcp_pcb> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());
static END_TW_REFEED: AtomicBool = AtomicBool::new(false);

/// From the TCP input hook (inside lwIP, which must not change its lists there): end
/// TIME_WAIT `pcb` once lwIP is done with the current frame, and feed the frame again
/// if `refeed` (a new SYN then finds the listener). Only for device input: returns
/// false (lwIP's own handling stays) for loopback frames, which cannot be fed again.
pub(crate) fn request_time_wait_end(pcb: *mut sys::tcp_pcb, refeed: bool) -> bool {
    if !DEVICE_INPUT.load(Ordering::Relaxed) {
        return false;
    }
    END_TW.store(pcb, Ordering::Relaxed);
    END_TW_REFEED.store(refeed, Ordering::Relaxed);
    true
}

/// The most connections kept in TIME_WAIT. lwIP keeps each one as a pcb on one list
/// that every arriving SYN walks (and, once the pcb pool is used up, every new
/// connection too, to find the oldest to end): with a thousand of them, connections
/// closed by this side at a few thousand per second made the walks most of the CPU
/// time (a new connection cost 3-4 times what it cost with few). Past this many the
/// oldest are ended, as Linux ends them past `tcp_max_tw_buckets`; the walks then stay
/// short and in cache. docs/net.md, "TIME_WAIT".
pub(crate) const TIME_WAIT_MAX: usize = 128;
/// The head of lwIP's TIME_WAIT list when [`trim_time_wait`] last looked: new
/// TIME_WAIT pcbs go in at the head, so an unchanged head means nothing to do.
static TW_SEEN: core::sync::atomic::AtomicPtr<sys::tcp_pcb> =
    core::sync::atomic::AtomicPtr::new(core::ptr::null_mut());

/// Ends the TIME_WAIT connections past [`TIME_WAIT_MAX`], oldest first (the list is
/// newest first). Core lock held, outside lwIP.
fn trim_time_wait() {
    // SAFETY: core lock held and lwIP not running: its TIME_WAIT list is a
    // NULL-terminated chain of live pcbs that only this code changes now. The tail cut
    // off is a list of its own, each pcb removed from its head (so lwIP's unlinking
    // finds it at once) and freed as lwIP frees an ended TIME_WAIT pcb (a TIME_WAIT
    // pcb has no callbacks and sends nothing when it ends).
    unsafe {
        let head = sys::tcp_tw_pcbs;
        if head == TW_SEEN.load(Ordering::Relaxed) {
            return;
        }
        let mut p = head;
        let mut kept = 1;
        while !p.is_null() && kept < TIME_WAIT_MAX {
            p = (*p).next;
            kept += 1;
        }
        if !p.is_null() {
            let mut tail = (*p).next;
            (*p).next = core::ptr::null_mut();
            while !tail.is_null() {
                let pcb = tail;
                sys::tcp_pcb_remove(&mut tail, pcb);
                sys::tcp_free(pcb);
            }
        }
        TW_SEEN.store(sys::tcp_tw_pcbs, Ordering::Relaxed);
    }
}

/// How many connections are in TIME_WAIT (tests).
#[cfg(test)]
pub(crate) fn time_wait_count() -> usize {
    let _g = CORE.lock();
    let mut n = 0;
    // SAFETY: core lock held: the list is a NULL-terminated chain of live pcbs.
    unsafe {
        let mut p = sys::tcp_tw_pcbs;
        while !p.is_null() {
            n += 1;
            p = (*p).next;
        }
    }
    n
}

/// Ends the TIME_WAIT pcb the hook named (if it is still one): returns whether the
/// frame should be handed over again. Core lock held, outside lwIP.
fn end_time_wait() -> bool {
    let pcb = END_TW.swap(core::ptr::null_mut(), Ordering::Relaxed);
    let refeed = END_TW_REFEED.swap(false, Ordering::Relaxed);
    if pcb.is_null() {
        return false;
    }
    // SAFETY: core lock held; lwIP's TIME_WAIT list is a NULL-terminated chain of live
    // pcbs. `pcb` is only used once found on it.
    unsafe {
        let mut p = sys::tcp_tw_pcbs;
        let mut budget = 1 << 20; // a corrupt list must not loop for ever
        while !p.is_null() && p != pcb && budget > 0 {
            p = (*p).next;
            budget -= 1;
        }
        if p != pcb {
            return false;
        }
        // A TIME_WAIT pcb has no callbacks and sends nothing when aborted: lwIP
        // unlinks and frees it.
        sys::tcp_abort(pcb);
    }
    refeed
}

/// One round of the net thread's work: device input, loopback, timers. Returns the
/// deadline of lwIP's next timer (monotonic ns), or `Some(now)` when input is left over.
pub(crate) fn service() -> Option<u64> {
    let g = CORE.lock();
    flush_deferred();
    retry_parked();
    poll_devices(THREAD_BUDGET, |_| true);
    // SAFETY: core lock held.
    unsafe { sys::sys_check_timeouts() };
    poll_loopback();
    trim_time_wait();
    let due = next_timer();
    drop(g);
    if RX_MORE.load(Ordering::Relaxed) {
        Some(now_ns())
    } else {
        due
    }
}

extern "C" fn net_thread(_: usize) -> ! {
    loop {
        let deadline = service();
        if deadline.is_some_and(|d| d <= now_ns()) {
            uk_sched::yield_now();
            continue;
        }
        NET_DEADLINE.store(deadline.unwrap_or(u64::MAX), Ordering::Relaxed);
        let mut queues: Vec<&WaitQueue> = uk_netdev::interfaces()
            .iter()
            .map(|i| i.rx_queue())
            .collect();
        queues.push(&KICK);
        uk_sched::wait_any(&queues, deadline);
        NET_DEADLINE.store(0, Ordering::Relaxed);
    }
}

static LWIP_UP: AtomicBool = AtomicBool::new(false);

/// Starts lwIP once (loopback comes up with it). Core lock held.
pub(crate) fn lwip_init_once() {
    if !LWIP_UP.swap(true, Ordering::AcqRel) {
        // SAFETY: first and only call, under the core lock.
        unsafe { sys::lwip_init() };
    }
}

/// Brings networking up: lwIP with loopback, one interface per network device the
/// platform registered (configured by the boot options), and the "net" thread.
/// Call once at boot, after the scheduler is initialised.
pub fn init() {
    let ifaces = uk_netdev::init();
    let cfg = config::current();
    {
        let _g = CORE.lock();
        lwip_init_once();
        for (i, iface) in ifaces.iter().enumerate() {
            add_device(i, iface, &cfg);
        }
    }
    if ifaces.is_empty() && (cfg.ip.is_some() || cfg.dhcp) {
        uk_log::warn!(
            "net: ip= given but the image has no network device (net=tap:... or net=passt:...)"
        );
    }
    if uk_sched::spawn(net_thread, 0, None, 0).is_none() {
        uk_log::error!("net: cannot start the net thread (out of memory): no device input");
        return;
    }
    STARTED.store(true, Ordering::Relaxed);
}

/// Counters of every network device, by name.
pub fn interface_stats() -> Vec<(&'static str, uk_netdev::Stats)> {
    uk_netdev::interfaces()
        .iter()
        .map(|i| (i.device().name(), i.stats()))
        .collect()
}

/// Switches for host tests, which have no net thread and only loopback peers.
#[cfg(test)]
pub(crate) mod tests_hooks {
    use super::*;
    /// Treat loopback peers like remote ones (so that deferral can be observed).
    pub(crate) static DEFER_LOCAL: AtomicBool = AtomicBool::new(false);
    /// Pretend the net thread runs (or not).
    pub(crate) fn set_started(on: bool) {
        STARTED.store(on, Ordering::Relaxed);
    }
    pub(crate) fn tx_deferred() -> bool {
        TX_DEFERRED.load(Ordering::Relaxed)
    }
    /// Pretend lwIP's next timer is due now; returns when it was due before.
    pub(crate) fn timer_due_now() -> u64 {
        TIMER_DUE.swap(0, Ordering::Relaxed)
    }
    pub(crate) fn timer_due() -> u64 {
        TIMER_DUE.load(Ordering::Relaxed)
    }
}
