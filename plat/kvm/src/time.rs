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
    /// u32::MAX by `lapic_start`) over 10 ms of PIT channel 2. `None` without a PIT.
    pub fn pit_measure(lapic_start: impl Fn(), lapic_count: impl Fn() -> u32) -> Option<(u64, u64)> {
        const PIT_HZ: u64 = 1_193_182;
        const COUNT: u64 = PIT_HZ / 100;
        // SAFETY: PIT (0x40-0x43) and the system control port 0x61; ring 0.
        unsafe {
            let v = inb(0x61);
            outb(0x61, (v & !0x02) & !0x01); // gate off, speaker off
            outb(0x43, 0xb0); // channel 2, lo/hi byte, mode 0 (interrupt on terminal count)
            outb(0x42, COUNT as u8);
            outb(0x42, (COUNT >> 8) as u8);
            let v = inb(0x61);
            outb(0x61, v | 0x01); // gate on: counting starts
            lapic_start();
            let t0 = uk_arch::rdtsc();
            let mut spins: u64 = 0;
            while inb(0x61) & 0x20 == 0 {
                spins += 1;
                if spins > 50_000_000 {
                    return None;
                }
            }
            let t1 = uk_arch::rdtsc();
            let l = u32::MAX - lapic_count();
            if spins < 10 {
                return None; // the output was high at once: no PIT behind the port
            }
            Some(((t1 - t0) * 100, l as u64 * 100))
        }
    }

    fn cmos(reg: u8) -> u8 {
        // SAFETY: CMOS index/data ports; ring 0. Bit 7 of the index keeps NMIs masked.
        unsafe {
            outb(0x70, 0x80 | reg);
            inb(0x71)
        }
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
        // 12 AM is midnight; binary mode.
        let m = RtcTime::decode([0, 0, 0x80 | 12, 1, 1, 70, 19], 0x04);
        assert_eq!(m.unix(), 0);
    }

    #[test]
    fn tsc_scale_round_trip() {
        let s = TscScale { hz: 2_500_000_000 };
        assert_eq!(s.ns(2_500_000_000), 1_000_000_000);
        assert_eq!(s.ticks(1_000), 2_500);
        assert_eq!(s.ns(s.ticks(123_456_789)), 123_456_789);
        // Huge spans saturate instead of wrapping.
        assert_eq!(s.ticks(u64::MAX), u64::MAX);
    }
}
