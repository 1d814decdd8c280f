//! [`Hook`]: a function a higher layer provides for a lower one to call.
//!
//! Dependencies point down (docs/design.md), yet a few calls must go up: the platform
//! tells lib/netdev that frames arrived, the scheduler asks posix to unmap a finished
//! thread's stack. The higher layer registers the function once at boot; the lower
//! layer calls it through the hook. Set once, read with one atomic load, no transmutes.

/// A function pointer set once at boot (`Hook<fn()>`, `Hook<fn(usize, usize)>`, ...).
pub struct Hook<F: Copy> {
    f: spin::Once<F>,
}

impl<F: Copy> Hook<F> {
    /// An empty hook (for a `static`).
    pub const fn new() -> Self {
        Hook {
            f: spin::Once::new(),
        }
    }

    /// Register `f`. Returns false (and keeps the first) when one was already set: a
    /// hook has one owner, and a second registration is a wiring bug the caller logs.
    pub fn set(&self, f: F) -> bool {
        let mut fresh = false;
        self.f.call_once(|| {
            fresh = true;
            f
        });
        fresh
    }

    /// The registered function, if any.
    #[inline]
    pub fn get(&self) -> Option<F> {
        self.f.get().copied()
    }
}

impl<F: Copy> Default for Hook<F> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one() -> u32 {
        1
    }
    fn two() -> u32 {
        2
    }

    #[test]
    fn set_once_then_read() {
        let h: Hook<fn() -> u32> = Hook::new();
        assert!(h.get().is_none());
        assert!(h.set(one));
        assert!(!h.set(two), "a second registration is refused");
        assert_eq!(h.get().map(|f| f()), Some(1));
    }
}
