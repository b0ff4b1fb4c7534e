//! Calendar arithmetic for the SNMS date formats (`yyyy-MM-dd`,
//! `yyyy-MM-dd HH:mm:ss`) in a fixed UTC offset (China Standard Time, +8 h,
//! in real deployments). Pure functions over Unix seconds; proleptic
//! Gregorian calendar (Howard Hinnant's `civil_from_days`).

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01.
pub fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a civil date.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn local_secs(unix: u64, offset_minutes: i32) -> i64 {
    unix as i64 + i64::from(offset_minutes) * 60
}

/// `yyyy-MM-dd` of `unix` shifted by `day_shift` days, in the offset.
pub fn date(unix: u64, offset_minutes: i32, day_shift: i64) -> String {
    let days = local_secs(unix, offset_minutes).div_euclid(86_400) + day_shift;
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `yyyy-MM-dd HH:mm:ss` of `unix` in the offset.
pub fn date_time(unix: u64, offset_minutes: i32) -> String {
    let s = local_secs(unix, offset_minutes);
    let (y, m, d) = civil_from_days(s.div_euclid(86_400));
    let t = s.rem_euclid(86_400);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02}", t / 3600, t / 60 % 60, t % 60)
}

/// `yyyy-MM-dd` of a UTC day number (the store's counter days).
pub fn day_string(day: u32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Parses `yyyy-MM-dd` or `yyyy-MM-dd HH:mm:ss` (local time in the offset)
/// to Unix seconds; `None` when malformed.
pub fn parse(s: &str, offset_minutes: i32) -> Option<u64> {
    let s = s.trim();
    let (date, time) = match s.split_once(' ') {
        Some((d, t)) => (d, Some(t.trim())),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let y: i64 = dp.next()?.parse().ok()?;
    let m: u32 = dp.next()?.parse().ok()?;
    let d: u32 = dp.next()?.parse().ok()?;
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) || !(1970..=9999).contains(&y) {
        return None;
    }
    let (mut hh, mut mm, mut ss) = (0i64, 0i64, 0i64);
    if let Some(t) = time {
        let mut tp = t.split(':');
        hh = tp.next()?.parse().ok()?;
        mm = tp.next()?.parse().ok()?;
        ss = tp.next().map_or(Some(0), |x| x.parse().ok())?;
        if tp.next().is_some() || !(0..24).contains(&hh) || !(0..60).contains(&mm) || !(0..61).contains(&ss) {
            return None;
        }
    }
    let local = days_from_civil(y, m, d) * 86_400 + hh * 3600 + mm * 60 + ss;
    u64::try_from(local - i64::from(offset_minutes) * 60).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        // 2025-03-18T00:30:00+08:00 = 2025-03-17T16:30:00Z
        let t = 1_742_229_000;
        assert_eq!(date(t, 480, 0), "2025-03-18");
        assert_eq!(date(t, 0, 0), "2025-03-17");
        assert_eq!(date(t, 480, -1), "2025-03-17");
        assert_eq!(date_time(t, 480), "2025-03-18 00:30:00");
        assert_eq!(parse("2025-03-18 00:30:00", 480), Some(t));
        assert_eq!(parse("2025-03-18", 480), Some(t - 1800));
        assert_eq!(parse("2025-13-01", 480), None);
        assert_eq!(parse("x", 0), None);
        assert_eq!(day_string(0), "1970-01-01");
        for z in [-1000i64, 0, 59, 60, 11_016, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }
}
