//! Database URLs and connections: `postgres://` and `postgresql://` URLs with libpq's
//! parameters (`?sslmode=verify-full&sslrootcert=ca.pem&connect_timeout=5`); TLS in `tls`.

use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;

use postgres::config::Host;
use postgres::Client;
use tokio_postgres_rustls::MakeRustlsConnect;

use super::error::storage;
use super::lease::{DEFAULT_LEASE_DURATION, MAX_LEASE_DURATION, MIN_LEASE_DURATION};
use super::tls;
use crate::error::{Error, Result};

/// Waiting longer than this for a connection gives up (the URL's `connect_timeout`
/// overrides it).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Sent data unacknowledged this long drops the connection, so a vanished server ends a
/// call with `IO` instead of hanging (the URL's `tcp_user_timeout` overrides it).
pub const DEFAULT_TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// Whether `location` names a PostgreSQL database rather than a store file.
pub fn is_database_url(location: &str) -> bool {
    let lower = location.get(..13).unwrap_or(location).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// A parsed database URL: how to connect, and a description of the target without
/// its password for messages.
#[derive(Clone)]
pub struct PgUrl {
    config: postgres::Config,
    tls: MakeRustlsConnect,
    target: String,
    lease_duration: Duration,
}

/// lnpaystore's own URL parameter (not libpq's): how long the writer lease lasts, in
/// seconds (docs/postgres.md, Lease protocol).
pub const LEASE_DURATION_PARAMETER: &str = "lease_duration";

impl std::fmt::Debug for PgUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.target)
    }
}

impl PgUrl {
    /// Parses a `postgres://` or `postgresql://` URL; the error names what is wrong but
    /// never repeats a password.
    pub fn parse(url: &str) -> Result<PgUrl> {
        if !is_database_url(url) {
            return Err(Error::invalid(
                "a database URL starts with postgres:// or postgresql://",
            ));
        }
        let mut names = tls::PARAMETERS.to_vec();
        names.push(LEASE_DURATION_PARAMETER);
        let (rest, ours) = take_parameters(url, &names)?;
        let tls = tls::TlsParams::from_url(&ours)?;
        let lease_duration = match ours.get(LEASE_DURATION_PARAMETER) {
            Some(value) => parse_lease_duration(value)?,
            None => DEFAULT_LEASE_DURATION,
        };
        let mut config = postgres::Config::from_str(&rest).map_err(|e| {
            // The crate's message is generic ("invalid connection string"); its source
            // names the parameter.
            match std::error::Error::source(&e) {
                Some(why) => Error::invalid(format!("database URL: {why}")),
                None => Error::invalid(format!("database URL: {e}")),
            }
        })?;
        config.ssl_mode(tls.mode);
        if config.get_hosts().is_empty() {
            return Err(Error::invalid("database URL: no host"));
        }
        if config.get_application_name().is_none() {
            config.application_name("lnpaystore");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
        }
        if config.get_tcp_user_timeout().is_none() {
            config.tcp_user_timeout(DEFAULT_TCP_USER_TIMEOUT);
        }
        let target = describe(&config);
        let tls = tls.connector()?;
        Ok(PgUrl {
            config,
            tls,
            target,
            lease_duration,
        })
    }

    /// `postgres://user@host:port/dbname`, without the password (for messages).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// How long the writer lease lasts (the URL's `lease_duration`, 10 s by default).
    pub fn lease_duration(&self) -> Duration {
        self.lease_duration
    }

    /// A new connection; failures name the target.
    pub fn connect(&self) -> Result<Client> {
        self.connect_with(&self.config)
    }

    /// A new connection that gives up after `limit` (for the lease's renewals, which
    /// must not outwait their deadline).
    pub fn connect_within(&self, limit: Duration) -> Result<Client> {
        let mut config = self.config.clone();
        let limit = limit.max(Duration::from_millis(100));
        if config.get_connect_timeout().is_none_or(|t| *t > limit) {
            config.connect_timeout(limit);
        }
        self.connect_with(&config)
    }

    fn connect_with(&self, config: &postgres::Config) -> Result<Client> {
        config.connect(self.tls.clone()).map_err(|e| {
            let mut err = storage(&format!("connect to {}", self.target), &e);
            // rustls's word for a certificate signed by no root it trusts.
            if let Error::Io(m) = &mut err {
                if m.ends_with("UnknownIssuer") {
                    m.push_str(" (the server's certificate chains to no root in sslrootcert)");
                }
            }
            err
        })
    }
}

/// `lease_duration=SECONDS` (a decimal number), within the bounds.
fn parse_lease_duration(value: &str) -> Result<Duration> {
    let bounds = (MIN_LEASE_DURATION.as_secs(), MAX_LEASE_DURATION.as_secs());
    let out_of_bounds = || {
        Error::invalid(format!(
            "database URL: {LEASE_DURATION_PARAMETER}={value}: the writer lease lasts {} to {} \
             seconds",
            bounds.0, bounds.1
        ))
    };
    let seconds: f64 = value.trim().parse().map_err(|_| out_of_bounds())?;
    let duration = Duration::try_from_secs_f64(seconds).map_err(|_| out_of_bounds())?;
    if !(MIN_LEASE_DURATION..=MAX_LEASE_DURATION).contains(&duration) {
        return Err(out_of_bounds());
    }
    Ok(duration)
}

/// The URL with the parameters named in `ours` taken out of its query (the client's
/// parser knows none of them), and their %-decoded values (the last one given wins).
fn take_parameters(url: &str, ours: &[&str]) -> Result<(String, HashMap<String, String>)> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let mut taken = HashMap::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if !ours.contains(&name) {
            kept.push(pair);
            continue;
        }
        let value = percent_decode(value)
            .ok_or_else(|| Error::invalid(format!("database URL: {name}: bad %-encoding")))?;
        taken.insert(name.to_string(), value);
    }
    let rest = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok((rest, taken))
}

/// `%XX` decoding of a URL query value (`+` stays itself, as libpq reads it).
fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn describe(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(Host::Unix(p)) => p.display().to_string(),
        None => String::new(),
    };
    let port = config
        .get_ports()
        .first()
        .map(|p| format!(":{p}"))
        .unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() { "" } else { "@" };
    format!("postgres://{user}{at}{host}{port}/{db}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_recognised_by_scheme() {
        assert!(is_database_url("postgres://h/db"));
        assert!(is_database_url("postgresql://h/db"));
        assert!(is_database_url("PostgreSQL://h/db"));
        assert!(!is_database_url("payments.db"));
        assert!(!is_database_url("host=h dbname=db"));
        assert!(!is_database_url("postgres:/h"));
        assert!(!is_database_url(""));
    }

    #[test]
    fn libpq_parameters_are_taken_and_the_password_never_shown() {
        let url = PgUrl::parse(
            "postgresql://pay:s3cret@db.example:6432/node?connect_timeout=3&application_name=n1&options=-csearch_path%3Dpay",
        )
        .unwrap();
        assert_eq!(url.target(), "postgres://pay@db.example:6432/node");
        assert!(!format!("{url:?}").contains("s3cret"));
        assert_eq!(
            url.config.get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        assert_eq!(url.config.get_application_name(), Some("n1"));
        assert_eq!(url.config.get_options(), Some("-csearch_path=pay"));
        let plain = PgUrl::parse("postgres://u@h/d").unwrap();
        assert_eq!(plain.config.get_application_name(), Some("lnpaystore"));
        assert_eq!(
            plain.config.get_connect_timeout(),
            Some(&DEFAULT_CONNECT_TIMEOUT)
        );
    }

    #[test]
    fn our_parameters_leave_the_url_and_the_rest_stays() {
        let (rest, ours) = take_parameters(
            "postgres://u@h/d?connect_timeout=3&sslmode=verify-full&sslrootcert=%2Ftmp%2Fca.pem&application_name=x",
            &tls::PARAMETERS,
        )
        .unwrap();
        assert_eq!(
            rest,
            "postgres://u@h/d?connect_timeout=3&application_name=x"
        );
        assert_eq!(ours["sslmode"], "verify-full");
        assert_eq!(ours["sslrootcert"], "/tmp/ca.pem");
        let (rest, _) =
            take_parameters("postgres://u@h/d?sslmode=disable", &tls::PARAMETERS).unwrap();
        assert_eq!(rest, "postgres://u@h/d");
        assert!(take_parameters("postgres://u@h/d?sslrootcert=%zz", &tls::PARAMETERS).is_err());
    }

    #[test]
    fn the_lease_duration_is_taken_within_its_bounds() {
        let lease =
            |q: &str| PgUrl::parse(&format!("postgres://u@h/d{q}")).map(|u| u.lease_duration());
        assert_eq!(lease("").unwrap(), DEFAULT_LEASE_DURATION);
        assert_eq!(
            lease("?lease_duration=2.5").unwrap(),
            Duration::from_millis(2500)
        );
        assert_eq!(
            lease("?connect_timeout=1&lease_duration=600").unwrap(),
            MAX_LEASE_DURATION
        );
        for bad in ["0.5", "601", "-1", "NaN", "inf", "ten", ""] {
            match lease(&format!("?lease_duration={bad}")) {
                Err(Error::InvalidArgument(m)) => assert!(m.contains("lease_duration"), "{m}"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn bad_urls_are_invalid_arguments_that_say_why() {
        let invalid = |url: &str| match PgUrl::parse(url) {
            Err(Error::InvalidArgument(m)) => m,
            other => panic!("{url}: {other:?}"),
        };
        assert!(invalid("payments.db").contains("postgres://"));
        assert!(invalid("postgres://u@h/d?sslmode=verify-full").contains("sslrootcert"));
        assert!(invalid("postgres://u@h/d?sslmode=bogus").contains("database URL"));
        assert!(invalid("postgres://u@h/d?nonsense=1").contains("nonsense"));
        assert!(!invalid("postgres://u:s3cret@h:notaport/d").contains("s3cret"));
    }
}
