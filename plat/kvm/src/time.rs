//! Time on kvm: the TSC is the clock. Its frequency comes from the hypervisor's timing
//! CPUID leaf (0x40000010), else CPUID leaf 0x15, else a 10 ms measurement against the
//! PIT. Wall time is read once from the CMOS RTC at boot and advanced by the TSC.

/// Days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// A CMOS RTC reading, already decoded from BCD / 12-hour form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtcTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub min: u32,
    pub sec: u32,
}

impl RtcTime {
    /// Seconds since the Unix epoch (the RTC runs in UTC under QEMU by default).
    pub fn unix(&self) -> i64 {
        days_from_civil(self.year, self.month, self.day) * 86_400
            + (self.hour * 3600 + self.min * 60 + self.sec) as i64
    }

    /// Decode raw registers: `r` = [sec, min, hour, day, month, year, century],
    /// `status_b` = register 0x0b (bit 2: binary, bit 1: 24-hour).
    pub fn decode(r: [u8; 7], status_b: u8) -> RtcTime {
        let binary = status_b & 4 != 0;
        let conv = |v: u8| -> u32 {
            if binary {
                v as u32
            } else {
                ((v >> 4) * 10 + (v & 0xf)) as u32
            }
        };
        let pm = r[2] & 0x80 != 0;
        let mut hour = conv(r[2] & 0x7f);
        if status_b & 2 == 0 {
            // 12-hour clock: 12 AM is 0, 12 PM is 12.
            hour %= 12;
            if pm {
                hour += 12;
            }
        }
        let century = if r[6] != 0 { conv(r[6]) as i64 } else { 20 };
        RtcTime {
            year: century * 100 + conv(r[5]) as i64,
            month: conv(r[4]),
            day: conv(r[3]),
            hour,
            min: conv(r[1]),
            sec: conv(r[0]),
        }
    }
}

/// TSC ticks to nanoseconds and back, for a frequency in Hz.
#[derive(Clone, Copy, Debug)]
pub struct TscScale {
    pub hz: u64,
}

impl TscScale {
    pub fn ns(&self, ticks: u64) -> u64 {
        ((ticks as u128 * 1_000_000_000) / self.hz as u128) as u64
    }
    pub fn ticks(&self, ns: u64) -> u64 {
        let t = (ns as u128 * self.hz as u128) / 1_000_000_000;
        t.min(u64::MAX as u128) as u64
    }
}

#[cfg(not(test))]
pub mod hw {
    //! The hardware side: CPUID leaves, PIT, CMOS.
    use super::RtcTime;
    use uk_arch::cpu::cpuid;
    use uk_arch::ring0::{inb, outb};

    /// TSC and LAPIC-timer frequencies (Hz) the CPU or hypervisor states outright.
    pub fn cpuid_freqs() -> (Option<u64>, Option<u64>) {
        let hv = cpuid(0x4000_0000, 0);
        if cpuid(1, 0).ecx & (1 << 31) != 0 && hv.eax >= 0x4000_0010 {
            let t = cpuid(0x4000_0010, 0);
            if t.eax != 0 {
                let apic = (t.ebx != 0).then_some(t.ebx as u64 * 1000);
                return (Some(t.eax as u64 * 1000), apic);
            }
        }
        if cpuid(0, 0).eax >= 0x15 {
            let l = cpuid(0x15, 0);
            if l.eax != 0 && l.ebx != 0 && l.ecx != 0 {
                return (Some(l.ecx as u64 * l.ebx as u64 / l.eax as u64), None);
            }
        }
        (None, None)
    }

    /// Measure TSC ticks (and ticks of `lapic_count`, a down-counter started at
    /// u32::MAX by `lapic_start`) per second over 10 ms of PIT channel 0 (free-running
    /// in mode 2 and read with latch commands: this needs no speaker port 0x61, which
    /// QEMU's microvm lacks). `None` when no PIT counts.
    pub fn pit_measure(
        lapic_start: impl Fn(),
        lapic_count: impl Fn() -> u32,
    ) -> Option<(u64, u64)> {
        const PIT_HZ: u64 = 1_193_182;
        const WANT: u64 = PIT_HZ / 100;
        let read = || {
            // SAFETY: PIT ports; ring 0. Latch channel 0, then read low and high bytes.
            unsafe {
                outb(0x43, 0x00);
                let lo = inb(0x40) as u16;
                let hi = inb(0x40) as u16;
                hi << 8 | lo
            }
        };
        // SAFETY: PIT mode/command and channel 0 ports; ring 0. Channel 0 is not used
        // for anything else (its interrupt line is masked).
        unsafe {
            outb(0x43, 0x34); // channel 0, lo/hi byte, mode 2 (rate generator)
            outb(0x40, 0xff);
            outb(0x40, 0xff);
        }
        let mut last = read();
        let mut elapsed: u64 = 0;
        let mut stuck: u64 = 0;
        lapic_start();
        let t0 = uk_arch::rdtsc();
        while elapsed < WANT {
            let now = read();
            if now == last {
                stuck += 1;
                if stuck > 1_000_000 {
                    return None;
                }
                continue;
            }
            // Counting down; a wrap reloads 0xffff.
            elapsed += last.wrapping_sub(now) as u64 & 0xffff;
            last = now;
        }
        let t1 = uk_arch::rdtsc();
        let l = (u32::MAX - lapic_count()) as u64;
        let tsc = (t1 - t0) as u128 * PIT_HZ as u128 / elapsed as u128;
        let lapic = l as u128 * PIT_HZ as u128 / elapsed as u128;
        Some((tsc as u64, lapic as u64))
    }

    fn cmos(reg: u8) -> u8 {
        // SAFETY: CMOS index/data ports; ring 0. Bit 7 of the index keeps NMIs masked.
        unsafe {
            outb(0x70, 0x80 | reg);
            inb(0x71)
        }
    }

    /// RAM sizes from the CMOS, as QEMU's firmware interface sets them: bytes between
    /// 16 MiB and the PCI hole (registers 0x34/0x35, 64 KiB units; 0x30/0x31 in KiB
    /// above 1 MiB when that is zero) and above 4 GiB (0x5b-0x5d, 64 KiB units).
    pub fn cmos_ram() -> (u64, u64) {
        let below = (cmos(0x34) as u64 | (cmos(0x35) as u64) << 8) << 16;
        let below_end = if below != 0 {
            (16 << 20) + below
        } else {
            (1 << 20) + ((cmos(0x30) as u64 | (cmos(0x31) as u64) << 8) << 10)
        };
        let above =
            (cmos(0x5b) as u64 | (cmos(0x5c) as u64) << 8 | (cmos(0x5d) as u64) << 16) << 16;
        (below_end, above)
    }

    /// Read the RTC, avoiding an update in progress (read until two readings agree).
    /// `None` when no RTC answers (all registers read 0xff).
    pub fn rtc() -> Option<RtcTime> {
        let read = || {
            let mut spins = 0;
            while cmos(0x0a) & 0x80 != 0 && spins < 1_000_000 {
                spins += 1;
            }
            [
                cmos(0x00),
                cmos(0x02),
                cmos(0x04),
                cmos(0x07),
                cmos(0x08),
                cmos(0x09),
                cmos(0x32),
            ]
        };
        let mut a = read();
        for _ in 0..5 {
            let b = read();
            if a == b {
                break;
            }
            a = b;
        }
        if a.iter().all(|&x| x == 0xff) {
            return None;
        }
        Some(RtcTime::decode(a, cmos(0x0b)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_days() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
    }

    #[test]
    fn rtc_bcd_and_12_hour() {
        // 2023-11-24 14:05:09 in BCD, 24-hour mode.
        let t = RtcTime::decode([0x09, 0x05, 0x14, 0x24, 0x11, 0x23, 0x20], 0x02);
        assert_eq!(t.unix(), 1_700_834_709);
        // Same moment, 12-hour BCD: 2 PM.
        let t12 = RtcTime::decode([0x09, 0x05, 0x82, 0x24, 0x11, 0x23, 0x20], 0x00);
        assert_eq!(t12, t);
        // 12 AM is midnight, 12 PM noon; binary mode.
        let m = RtcTime::decode([0, 0, 12, 1, 1, 70, 19], 0x04);
        assert_eq!(m.unix(), 0);
        let n = RtcTime::decode([0, 0, 0x80 | 12, 1, 1, 70, 19], 0x04);
        assert_eq!(n.unix(), 12 * 3600);
    }

    #[test]
    fn tsc_scale_round_trip() {
        let s = TscScale { hz: 2_500_000_000 };
        assert_eq!(s.ns(2_500_000_000), 1_000_000_000);
        assert_eq!(s.ticks(1_000), 2_500);
        assert!(s.ns(s.ticks(123_456_789)).abs_diff(123_456_789) <= 1);
        // Huge spans saturate instead of wrapping.
        assert_eq!(s.ticks(u64::MAX), u64::MAX);
    }
}
