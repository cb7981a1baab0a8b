//! Throttles on the REST endpoints anyone may call: sign-in (per e-mail address and per client
//! address), registration and guest tokens (per client address).
//!
//! Every counter is a [`State::count_in_window`] counter in the engine, so on Redis the limits
//! hold across all nodes, and every key expires: nothing keyed by client input outlives its
//! window. Each check runs before any password is hashed, so a refused request costs a few
//! engine calls and no Argon2 run.
//!
//! Sign-in, per e-mail address: the first `login_account_burst` failures pass at full speed;
//! after that each attempt waits `login_account_delay_ms`, doubled by every further failure
//! up to `login_account_max_delay_s`. Only attempts that were checked count: a refused attempt
//! does not lengthen the wait, so a stranger guessing at someone's account gets one guess per
//! wait, and the owner is kept out at most one wait (the cap) after a failure; a correct
//! password that arrives once the wait is over gets in and clears the account's failures. The
//! same rules apply whether the address has an account or not, so the answers tell nothing.
//! Per client address, failed and refused sign-ins over all accounts count against
//! `login_ip_limit` per window: that is what stops one guesser trying many accounts, and what
//! keeps one hammering guesser from taking every slot an account's wait leaves open.
//!
//! Keys: `throttle:login:account:<email>`, `throttle:login:wait:<email>`,
//! `throttle:login:ip:<client>`, `throttle:register:ip:<client>`, `throttle:guest:ip:<client>`,
//! where `<client>` is an IPv4 address or an IPv6 /64 network (one host's usual share).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::config::Throttle;
use crate::engine::{EngineError, State};

/// Why a throttled operation did not go ahead.
#[derive(Debug, thiserror::Error)]
pub enum ThrottleError {
    #[error("too many attempts; retry in {retry_after:?}")]
    Throttled { retry_after: Duration },
    #[error(transparent)]
    Engine(#[from] EngineError),
}

/// The throttles, over the engine's state.
#[derive(Clone)]
pub struct Throttles {
    state: Arc<dyn State>,
    clock: Clock,
    config: Throttle,
}

/// A sign-in the throttles let through; report how it ended with [`Throttles::login_failed`]
/// or [`Throttles::login_succeeded`].
#[derive(Debug)]
pub struct LoginAttempt {
    ip_key: String,
    failures_key: String,
    wait_key: String,
    /// The address's failures counting this attempt.
    attempt: i64,
}

/// E-mail addresses are at most 254 bytes once valid; a longer input is cut, so a key stays small.
const MAX_EMAIL_KEY: usize = 254;

/// The e-mail part of a key: normalised as sign-in does, so every spelling of one address
/// shares its counter.
fn email_part(email: &str) -> String {
    let mut key = crate::domain::account::normalize_email(email).unwrap_or_else(|| email.trim().to_lowercase());
    if key.len() > MAX_EMAIL_KEY {
        let mut end = MAX_EMAIL_KEY;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// The client part of a key: an IPv6 host usually holds a whole /64, so that is what counts.
pub fn client_part(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match ipnet::Ipv6Net::new(v6, 64) {
            Ok(net) => net.trunc().to_string(),
            Err(_) => v6.to_string(),
        },
    }
}

impl Throttles {
    pub fn new(state: Arc<dyn State>, clock: Clock, config: Throttle) -> Self {
        Self { state, clock, config }
    }

    fn now_ms(&self) -> u128 {
        u128::from(self.clock.now_ms())
    }

    fn ip_window(&self) -> Duration {
        Duration::from_secs(self.config.login_ip_window_s)
    }

    fn account_window(&self) -> Duration {
        Duration::from_secs(self.config.login_account_window_s)
    }

    /// The wait after `failures` failures (no wait within the burst).
    fn wait_after(&self, failures: i64) -> Duration {
        let burst = i64::from(self.config.login_account_burst);
        if failures < burst {
            return Duration::ZERO;
        }
        let doublings = (failures - burst).min(32) as u32;
        let wait = self.config.login_account_delay_ms.saturating_mul(1u64 << doublings);
        Duration::from_millis(wait.min(self.config.login_account_max_delay_s.saturating_mul(1000)))
    }

    /// Checks a sign-in to `email` from `ip` before its password is verified.
    pub async fn login_begin(&self, ip: IpAddr, email: &str) -> Result<LoginAttempt, ThrottleError> {
        // Every attempt counts against its address until it succeeds, so concurrent guesses
        // from one address cannot all pass one check either.
        let ip_key = format!("throttle:login:ip:{}", client_part(ip));
        let by_ip = self.state.count_in_window(&ip_key, 1, self.ip_window()).await?;
        if by_ip.count > i64::from(self.config.login_ip_limit) {
            return Err(ThrottleError::Throttled { retry_after: by_ip.resets_in });
        }
        let who = email_part(email);
        let failures_key = format!("throttle:login:account:{who}");
        let wait_key = format!("throttle:login:wait:{who}");
        // Counted before the password is checked, so concurrent guesses cannot all pass one
        // check: each sees the attempts in flight before it.
        let attempt = self.state.count_in_window(&failures_key, 1, self.account_window()).await?.count;
        let wait = self.wait_after(attempt - 1);
        if !wait.is_zero() {
            // Past the burst, an attempt needs the wait to be over, and taking the slot starts
            // the next wait at once, so one attempt per wait gets through however many race.
            let until = self.now_ms() + wait.as_millis();
            if !self.state.set_nx(&wait_key, until.to_string().as_bytes(), Some(wait)).await? {
                // Refused unchecked: not a failure of the account, so its owner's wait does not
                // grow; the address keeps it counted.
                self.state.count_in_window(&failures_key, -1, self.account_window()).await?;
                let until = self.state.get(&wait_key).await?;
                let left = until
                    .as_deref()
                    .and_then(|v| std::str::from_utf8(v).ok())
                    .and_then(|v| v.parse::<u128>().ok())
                    .map(|until| Duration::from_millis(until.saturating_sub(self.now_ms()) as u64));
                return Err(ThrottleError::Throttled { retry_after: left.unwrap_or(wait) });
            }
        }
        Ok(LoginAttempt { ip_key, failures_key, wait_key, attempt })
    }

    /// The password was wrong (or the address has no account); both counts stay.
    pub async fn login_failed(&self, attempt: LoginAttempt) -> Result<(), EngineError> {
        let wait = self.wait_after(attempt.attempt);
        if !wait.is_zero() {
            let until = self.now_ms() + wait.as_millis();
            self.state.set(&attempt.wait_key, until.to_string().as_bytes(), Some(wait)).await?;
        }
        Ok(())
    }

    /// The owner signed in: the e-mail address's failures are forgotten, and the attempt no
    /// longer counts against the client address (its earlier failures still do, since other
    /// people may share it).
    pub async fn login_succeeded(&self, attempt: LoginAttempt) -> Result<(), EngineError> {
        self.state.delete(&attempt.failures_key).await?;
        self.state.delete(&attempt.wait_key).await?;
        self.state.count_in_window(&attempt.ip_key, -1, self.ip_window()).await?;
        Ok(())
    }

    /// Counts one registration from `ip`, refused past the limit.
    pub async fn register(&self, ip: IpAddr) -> Result<(), ThrottleError> {
        let window = Duration::from_secs(self.config.register_ip_window_s);
        self.per_ip("register", ip, self.config.register_ip_limit, window).await
    }

    /// Counts one guest token for `ip`, refused past the limit.
    pub async fn guest(&self, ip: IpAddr) -> Result<(), ThrottleError> {
        let window = Duration::from_secs(self.config.guest_ip_window_s);
        self.per_ip("guest", ip, self.config.guest_ip_limit, window).await
    }

    async fn per_ip(&self, what: &str, ip: IpAddr, limit: u32, window: Duration) -> Result<(), ThrottleError> {
        let key = format!("throttle:{what}:ip:{}", client_part(ip));
        let counted = self.state.count_in_window(&key, 1, window).await?;
        if counted.count > i64::from(limit) {
            return Err(ThrottleError::Throttled { retry_after: counted.resets_in });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_hosts_count_by_their_64() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        let c: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert_eq!(client_part(a), client_part(b));
        assert_ne!(client_part(a), client_part(c));
        assert_eq!(client_part("::ffff:192.0.2.7".parse().unwrap()), "192.0.2.7");
        assert_eq!(client_part("192.0.2.7".parse().unwrap()), "192.0.2.7");
    }

    #[test]
    fn email_keys_are_normalised_and_bounded() {
        assert_eq!(email_part("  Ha@Example.VN "), "ha@example.vn");
        assert_eq!(email_part(&"é".repeat(400)).len(), 254);
    }
}
