//! The login throttle shared by every HTTP API (REST Basic and
//! `Authorization: Handle`, SNMS `/identity/token[/v1]`, admin Basic and
//! Bearer): failed logins are counted per client network and per account
//! with `governor` GCRA limiters; once either budget is spent, further
//! attempts are refused *before* any password is checked, with the number
//! of seconds to wait (the APIs answer a JSON 429 with `Retry-After`).
//!
//! Only failures cost budget, so a client that authenticates every request
//! (pyhandle sends Basic on each call) is never throttled for succeeding.
//! governor has no way to look without spending, so a spent budget is
//! remembered in a small bounded table of lock-outs until it refills.
//!
//! Keys: an IPv4 address, or the /64 of an IPv6 address; the account name
//! as presented (ASCII-lowercased, at most 256 bytes). Never logged here.

use std::collections::HashMap;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::HttpLimits;

/// Lock-outs remembered at once; past this, expired ones are dropped and a
/// new one is not recorded (its budget still refuses it at the next failure).
const MAX_LOCKOUTS: usize = 65_536;
/// Longest account key kept.
const MAX_ACCOUNT_KEY: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Net(IpAddr),
    Account(String),
}

/// Per-address and per-account budgets of failed logins.
#[derive(Debug)]
pub struct LoginThrottle {
    by_net: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    locked: Mutex<HashMap<Key, Instant>>,
}

/// `n` failures lock out: the first `n - 1` fit the burst, the `n`-th is
/// refused by the limiter and starts the lock-out; one failure's worth
/// refills every `window / n`.
fn quota(n: u32, window: Duration) -> Quota {
    let per = (window / n.max(1)).max(Duration::from_millis(1));
    let burst = NonZeroU32::new(n.saturating_sub(1).max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::with_period(per).unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN)).allow_burst(burst)
}

/// The client network a failure counts against.
pub fn network(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut o = v6.octets();
                o[8..].fill(0);
                IpAddr::V6(o.into())
            }
        },
    }
}

fn account_key(account: &str) -> String {
    let mut k = account.to_ascii_lowercase();
    if k.len() > MAX_ACCOUNT_KEY {
        let mut cut = MAX_ACCOUNT_KEY;
        while !k.is_char_boundary(cut) {
            cut -= 1;
        }
        k.truncate(cut);
    }
    k
}

impl LoginThrottle {
    pub fn new(limits: &HttpLimits) -> Self {
        let window = Duration::from_secs(limits.login_window_secs.max(1));
        LoginThrottle {
            by_net: RateLimiter::keyed(quota(limits.login_failures_per_address, window)),
            by_account: RateLimiter::keyed(quota(limits.login_failures_per_account, window)),
            locked: Mutex::new(HashMap::new()),
        }
    }

    fn keys(ip: Option<IpAddr>, account: Option<&str>) -> impl Iterator<Item = Key> {
        ip.map(|ip| Key::Net(network(ip))).into_iter().chain(account.map(|a| Key::Account(account_key(a))))
    }

    /// `Err(seconds to wait)` when this address or this account may not
    /// try to log in now. Costs nothing.
    pub fn check(&self, ip: Option<IpAddr>, account: Option<&str>) -> Result<(), u64> {
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        let mut wait = Duration::ZERO;
        for k in Self::keys(ip, account) {
            match locked.get(&k) {
                Some(until) if *until > now => wait = wait.max(*until - now),
                Some(_) => {
                    locked.remove(&k);
                }
                None => {}
            }
        }
        if wait.is_zero() { Ok(()) } else { Err(wait.as_secs() + 1) }
    }

    /// Counts a failed login of `account` from `ip`.
    pub fn failed(&self, ip: Option<IpAddr>, account: Option<&str>) {
        let clock = DefaultClock::default();
        let mut spent: Vec<(Key, Duration)> = Vec::new();
        if let Some(ip) = ip {
            let net = network(ip);
            if let Err(nu) = self.by_net.check_key(&net) {
                spent.push((Key::Net(net), nu.wait_time_from(clock.now())));
            }
        }
        if let Some(a) = account {
            let a = account_key(a);
            if let Err(nu) = self.by_account.check_key(&a) {
                spent.push((Key::Account(a), nu.wait_time_from(clock.now())));
            }
        }
        if spent.is_empty() {
            return;
        }
        let now = Instant::now();
        let mut locked = self.locked.lock().unwrap_or_else(|p| p.into_inner());
        if locked.len() >= MAX_LOCKOUTS {
            locked.retain(|_, until| *until > now);
            self.by_net.retain_recent();
            self.by_account.retain_recent();
        }
        for (k, wait) in spent {
            if locked.len() < MAX_LOCKOUTS || locked.contains_key(&k) {
                // At least one second: Retry-After has whole seconds.
                locked.insert(k, now + wait.max(Duration::from_secs(1)));
            }
        }
    }

    /// Forgets budgets that refilled (bounded memory; called periodically).
    pub fn sweep(&self) {
        let now = Instant::now();
        self.locked.lock().unwrap_or_else(|p| p.into_inner()).retain(|_, until| *until > now);
        self.by_net.retain_recent();
        self.by_account.retain_recent();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_addr: u32, per_account: u32) -> HttpLimits {
        HttpLimits {
            login_failures_per_address: per_addr,
            login_failures_per_account: per_account,
            login_window_secs: 300,
            ..HttpLimits::default()
        }
    }

    #[test]
    fn address_budget_then_lockout_other_address_free() {
        let t = LoginThrottle::new(&limits(3, 100));
        let a: IpAddr = "127.0.0.1".parse().unwrap();
        let b: IpAddr = "127.0.0.2".parse().unwrap();
        for _ in 0..2 {
            assert!(t.check(Some(a), Some("admin")).is_ok());
            t.failed(Some(a), Some("admin"));
        }
        assert!(t.check(Some(a), Some("admin")).is_ok(), "two failures are within the budget");
        t.failed(Some(a), Some("admin"));
        let wait = t.check(Some(a), Some("someone")).unwrap_err();
        assert!((1..=301).contains(&wait), "{wait}");
        assert!(t.check(Some(b), Some("admin")).is_ok(), "another address may still log in");
    }

    #[test]
    fn account_budget_spans_addresses_and_ipv6_nets() {
        let t = LoginThrottle::new(&limits(100, 2));
        for i in 0..2u8 {
            let ip = IpAddr::from([192, 0, 2, i]);
            t.failed(Some(ip), Some("Admin"));
        }
        assert!(t.check(Some("198.51.100.1".parse().unwrap()), Some("ADMIN")).is_err());
        assert!(t.check(Some("198.51.100.1".parse().unwrap()), Some("other")).is_ok());
        assert_eq!(network("2001:db8::1".parse().unwrap()), network("2001:db8::ffff".parse().unwrap()));
        assert_ne!(network("2001:db8:0:1::1".parse().unwrap()), network("2001:db8::1".parse().unwrap()));
    }
}
