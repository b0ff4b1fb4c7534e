//! Statistics (idis-node.md §4.6): registrations and resolutions per prefix
//! per UTC day, from the store's counters (persisted plus not yet persisted
//! counts). The admin API and the CLI call these.

use super::{Actor, ServiceError, dates};
use crate::model::DayCounters;
use crate::store::Store;

/// One day of one prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DayStat {
    /// Days since 1970-01-01 (UTC).
    pub day: u32,
    /// `yyyy-MM-dd` (UTC).
    pub date: String,
    pub registrations: u64,
    pub resolutions: u64,
}

/// The days of one prefix.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PrefixStats {
    pub prefix: String,
    pub days: Vec<DayStat>,
    pub registrations: u64,
    pub resolutions: u64,
}

fn stat(day: u32, c: DayCounters) -> DayStat {
    DayStat { day, date: dates::day_string(day), registrations: c.registrations, resolutions: c.resolutions }
}

/// Counters of `prefix` for days `from..=to` (days with no activity are
/// left out).
pub fn prefix_stats(store: &dyn Store, prefix: &str, from: u32, to: u32) -> Result<PrefixStats, ServiceError> {
    let days: Vec<DayStat> = store.counters(prefix, from, to)?.into_iter().map(|(d, c)| stat(d, c)).collect();
    Ok(PrefixStats {
        prefix: prefix.to_owned(),
        registrations: days.iter().map(|d| d.registrations).sum(),
        resolutions: days.iter().map(|d| d.resolutions).sum(),
        days,
    })
}

/// Counters of every prefix `actor` may see (admins and auditors: all;
/// enterprise users: their enterprise's), for days `from..=to`.
pub fn registration_stats(
    store: &dyn Store,
    actor: &Actor,
    from: u32,
    to: u32,
) -> Result<Vec<PrefixStats>, ServiceError> {
    let mut out = Vec::new();
    for p in store.list_prefixes()? {
        if actor.can_read_all() || (actor.enterprise_id.is_some() && p.enterprise_id == actor.enterprise_id) {
            out.push(prefix_stats(store, &p.prefix, from, to)?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::day_of;
    use crate::service::Limits;
    use crate::service::identifiers::{IdInput, IdValue};
    use crate::service::testutil::*;

    #[test]
    fn counts_registrations_per_day() {
        let f = fixture(Limits::default());
        let items: Vec<IdInput> = (0..3)
            .map(|n| IdInput {
                handle: format!("88.1.1/s{n}"),
                template_version: "1.0.0".into(),
                values: vec![IdValue {
                    index: 2000,
                    value_type: "model".into(),
                    auth: String::new(),
                    data: "m".into(),
                }],
            })
            .collect();
        f.reg.create_identifiers(&user(1), &items, NOW).unwrap();
        f.reg.identifier_detail(&user(1), "88.1.1/s0", NOW).unwrap();
        let day = day_of(NOW);
        let s = prefix_stats(&*f.store, "88.1.1", day, day).unwrap();
        assert_eq!((s.registrations, s.resolutions), (3, 1));
        assert_eq!(s.days[0].date, "2026-01-01");
        let all = registration_stats(&*f.store, &user(1), day, day).unwrap();
        assert_eq!(all.len(), 1);
        assert_eq!(registration_stats(&*f.store, &admin(), day, day).unwrap().len(), 3);
    }
}
