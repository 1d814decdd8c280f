//! Scheduler tests on the host: real context switches between stacks of this process.
//! The scheduler is global, so the scenarios run one after another in one test.

use super::*;
use core::sync::atomic::AtomicUsize;
use std::sync::Once;
use std::time::Instant;
use uk_plat::{ConsoleStream, MemRegion, Platform, TtyInfo};

struct P {
    t0: Instant,
    region: [MemRegion; 1],
}

impl Platform for P {
    fn name(&self) -> &'static str {
        "schedtest"
    }
    fn console_write(&self, _: ConsoleStream, b: &[u8]) -> Result<usize, uk_abi::Errno> {
        Ok(b.len())
    }
    fn console_read(&self, _: &mut [u8]) -> Result<usize, uk_abi::Errno> {
        Ok(0)
    }
    fn console_tty(&self, _: u32) -> TtyInfo {
        TtyInfo::default()
    }
    fn monotonic_ns(&self) -> u64 {
        self.t0.elapsed().as_nanos() as u64 + 1
    }
    fn wall_ns(&self) -> i64 {
        0
    }
    fn wait(&self, d: Option<u64>) {
        let d = d.expect("test scheduler idles only with a deadline");
        let now = self.monotonic_ns();
        if d > now {
            std::thread::sleep(std::time::Duration::from_nanos(d - now));
        }
    }
    fn memory(&self) -> &[MemRegion] {
        &self.region
    }
    fn release(&self, _: usize, _: usize) -> bool {
        false
    }
    fn entropy(&self, _: &mut [u8]) {}
    fn set_tls_base(&self, _: usize) {}
    fn exit(&self, s: i32) -> ! {
        panic!("exit {s}")
    }
}

fn setup() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let mem: &'static mut [u8] = Box::leak(vec![0u8; 8 << 20].into_boxed_slice());
        let start = (mem.as_ptr() as usize + 4095) & !4095;
        let region = MemRegion {
            start,
            len: (8 << 20) - 4096,
        };
        let p: &'static P = Box::leak(Box::new(P {
            t0: Instant::now(),
            region: [region],
        }));
        let d: &'static &'static dyn Platform = Box::leak(Box::new(p as &dyn Platform));
        uk_plat::register(d);
        // The region reads as zero (a zeroed vector) and the platform does not clear
        // released pages: what linuxu promises, with the clearing left to whoever frees.
        uk_alloc::PAGES.lock().set_free_is_zero(true);
        // SAFETY: leaked memory used by nothing else.
        unsafe { uk_alloc::PAGES.lock().add_region(region) };
        init(64 * 1024, 0);
    });
}

static LOG: spin::Mutex<Vec<(i32, usize)>> = spin::Mutex::new(Vec::new());
static Q: WaitQueue = WaitQueue::new();
static COUNTER: AtomicUsize = AtomicUsize::new(0);

extern "C" fn worker(n: usize) -> ! {
    for i in 0..3 {
        LOG.lock().push((current_tid(), n * 10 + i));
        yield_now();
    }
    exit_current(0)
}

extern "C" fn waiter(_: usize) -> ! {
    let r = Q.wait(None);
    assert_eq!(r, Wake::Woken);
    COUNTER.fetch_add(1, Ordering::SeqCst);
    exit_current(0)
}

extern "C" fn sleeper(_: usize) -> ! {
    let r = Q.wait(Some(uk_plat::get().monotonic_ns() + 2_000_000));
    assert_eq!(r, Wake::Timeout);
    COUNTER.fetch_add(100, Ordering::SeqCst);
    exit_current(0)
}

fn fired(arg: usize) {
    COUNTER.fetch_add(arg, Ordering::SeqCst);
}

/// Let the other threads run until only the main thread is left.
fn drain() {
    let t0 = Instant::now();
    while thread_count() > 1 {
        assert!(t0.elapsed().as_secs() < 5, "threads did not finish");
        let me = current();
        let _ = block(Some(uk_plat::get().monotonic_ns() + 100_000));
        assert_eq!(me.tid, 1);
    }
}

#[test]
fn scheduler_scenarios() {
    setup();
    // Round robin: two workers interleave.
    let a = spawn(worker, 1, None, 0).unwrap();
    let b = spawn(worker, 2, None, 0).unwrap();
    assert_ne!(a.tid, b.tid);
    drain();
    let log = LOG.lock().clone();
    assert_eq!(log.len(), 6);
    assert_eq!(log[0].1, 10);
    assert_eq!(
        log[1].1, 20,
        "the second worker ran after the first yielded"
    );
    assert!(a.has_exited() && b.has_exited());

    // A reserved id is the id of the thread started with it; others skip it.
    let r = reserve_tid().unwrap();
    let c = spawn(worker, 3, None, 0).unwrap();
    let d = spawn_as(Some(r), worker, 4, None, 0).unwrap();
    assert_eq!(d.tid, r);
    assert!(c.tid > r);
    assert!(d.is_kernel());
    d.mark_program();
    assert!(
        !d.is_kernel(),
        "a kernel-started thread that runs a program"
    );
    drain();
    LOG.lock().clear();

    // Wait queue: three waiters, wake two, then the rest.
    COUNTER.store(0, Ordering::SeqCst);
    for _ in 0..3 {
        spawn(waiter, 0, None, 0).unwrap();
    }
    yield_now();
    assert_eq!(Q.len(), 3);
    assert_eq!(Q.wake(2), 2);
    yield_now();
    assert_eq!(COUNTER.load(Ordering::SeqCst), 2);
    assert_eq!(Q.wake_all(), 1);
    drain();
    assert_eq!(COUNTER.load(Ordering::SeqCst), 3);

    // Timeouts and timers: the sleeper times out; a timer fires; a cancelled one not.
    COUNTER.store(0, Ordering::SeqCst);
    spawn(sleeper, 0, None, 0).unwrap();
    let now = uk_plat::get().monotonic_ns();
    add_timer(now + 1_000_000, fired, 7);
    let c = add_timer(now + 1_000_000, fired, 1000);
    assert!(cancel_timer(c));
    assert!(!cancel_timer(c));
    drain();
    // Wait out the timer if the sleeper finished first.
    let _ = block(Some(uk_plat::get().monotonic_ns() + 2_000_000));
    assert_eq!(COUNTER.load(Ordering::SeqCst), 107);
    // A deadline in the past returns at once.
    assert_eq!(block(Some(1)), Wake::Timeout);
    assert!(switches() > 0);

    // CPU time: the running thread's clock moves while it computes, not while the
    // image idles, and a thread that ran is charged for it.
    let me = current_tid();
    let t0 = thread_cpu_ns(me).unwrap();
    let spin_until = uk_plat::get().monotonic_ns() + 3_000_000;
    while uk_plat::get().monotonic_ns() < spin_until {}
    let t1 = thread_cpu_ns(me).unwrap();
    assert!(t1 - t0 >= 3_000_000, "{t0} -> {t1}");
    let _ = block(Some(uk_plat::get().monotonic_ns() + 20_000_000));
    let t2 = thread_cpu_ns(me).unwrap();
    assert!(t2 - t1 < 15_000_000, "idle charged: {t1} -> {t2}");
    assert_eq!(thread_cpu_ns(987_654), None);

    // An exited thread's kernel stack goes back to the page allocator cleared: free
    // pages are promised to read as zero, and program maps take them without clearing.
    let e = spawn(worker, 5, None, 0).unwrap();
    let (base, len) = e.stack.expect("a kernel stack");
    drop(e);
    drain();
    let _ = block(Some(uk_plat::get().monotonic_ns() + 100_000));
    assert!(!uk_alloc::PAGES.lock().is_allocated(base, len));
    // SAFETY: the pages are free memory of the test's region (nobody allocates them
    // between the check above and this read: one thread runs).
    let stack = unsafe { core::slice::from_raw_parts(base as *const u8, len) };
    assert!(
        stack.iter().all(|&b| b == 0),
        "a freed stack was left dirty"
    );
}
